//! The arithmetic of the dense operators: matrix products blocked in registers (in
//! `aigis-kernels`, which picks an AVX2 build at run time), convolution as one product per
//! sample over an im2col buffer (one shifted copy per kernel tap for stride-1 "same"
//! convolutions), pooling with plain index loops and the 2×2, stride-2 case special-cased.
//! Forward and backward passes share these; every fast path is tested against the general one
//! or against the definition.

use crate::engine::Window;

/// Lanes of the partial sums (the compiler keeps them in one vector register).
const LANES: usize = 8;

/// `Σ a[i]·b[i]`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        // Fixed-size views: no bounds checks, one vector operation per line.
        let (x, y): (&[f32; LANES], &[f32; LANES]) = match (x.try_into(), y.try_into()) {
            (Ok(x), Ok(y)) => (x, y),
            _ => continue,
        };
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

pub(crate) use aigis_kernels::{axpy, gemm_acc, gemm_set};

/// `A [m, k] · op(B)`, `op(B)` = B `[k, cols]`, or Bᵀ when `tb` (B stored `[cols, k]`). Both go
/// through [`gemm_set`]: products with few output columns (a classifier's last layer) as
/// `op(B)ᵀ · Aᵀ`, whose `m` columns fill the vector blocks that `cols` would leave mostly
/// empty, then transposed back — each output is the same sum in the same order (products
/// commute exactly), so the bits do not change.
pub(crate) fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, cols: usize, tb: bool) -> Vec<f32> {
    let (a, b) = (&a[..m * k], &b[..k * cols]);
    if cols < NARROW && m >= NARROW {
        // op(B)ᵀ [cols, k] is B itself when `tb`.
        let bt = if tb {
            std::borrow::Cow::Borrowed(b)
        } else {
            std::borrow::Cow::Owned(transpose(b, k, cols))
        };
        let mut ot = vec![0f32; cols * m];
        gemm_set(&bt, &transpose(a, m, k), &mut ot, cols, k, m);
        return transpose(&ot, cols, m);
    }
    let mut out = vec![0f32; m * cols];
    if tb {
        gemm_set(a, &transpose(b, cols, k), &mut out, m, k, cols);
    } else {
        gemm_set(a, b, &mut out, m, k, cols);
    }
    out
}

/// Output columns below which [`matmul`] takes the transposed product.
const NARROW: usize = 16;

/// `t [r, c]` transposed to `[c, r]`.
pub(crate) fn transpose(t: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut o = vec![0f32; r * c];
    // Output row by output row (contiguous writes), in the widest vectors the CPU has.
    aigis_kernels::widest(|| {
        for (j, orow) in o.chunks_exact_mut(r.max(1)).take(c).enumerate() {
            for (i, v) in orow.iter_mut().enumerate() {
                *v = t[i * c + j];
            }
        }
    });
    o
}

/// The outputs `o` (a half-open range) whose tap at kernel offset `off` reads inside an input
/// of `n_in` values: `0 ≤ o·stride + off − pad < n_in`.
fn valid(off: usize, pad: usize, stride: usize, n_in: usize, n_out: usize) -> (usize, usize) {
    let lo = if pad > off {
        (pad - off).div_ceil(stride)
    } else {
        0
    };
    let hi = if n_in + pad > off {
        ((n_in - 1 + pad - off) / stride + 1).min(n_out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Dimensions of a 2-D convolution.
pub(crate) struct ConvDims {
    /// Batch, input channels, input height, input width.
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    /// Output channels.
    pub(crate) oc: usize,
}

/// For each tap (ci, i, j) and output row `yo`: the input row and the valid output columns,
/// calling `f(w index, out offset, in offset, columns)`; stride 1 in x makes the columns of
/// input and output contiguous.
fn taps(g: &Window, d: &ConvDims, mut f: impl FnMut(usize, usize, usize, usize)) {
    for ci in 0..d.c {
        for i in 0..g.kh {
            let (ylo, yhi) = valid(i, g.pt, g.sh, d.h, g.oh);
            for j in 0..g.kw {
                let (xlo, xhi) = valid(j, g.pl, g.sw, d.w, g.ow);
                if xlo >= xhi {
                    continue;
                }
                for yo in ylo..yhi {
                    let iy = yo * g.sh + i - g.pt;
                    let ix0 = xlo * g.sw + j - g.pl;
                    f(
                        (ci * g.kh + i) * g.kw + j,
                        yo * g.ow + xlo,
                        (ci * d.h + iy) * d.w + ix0,
                        xhi - xlo,
                    );
                }
            }
        }
    }
}

/// Most values of one im2col buffer; batches are split so that one stays below it.
const COL_LIMIT: usize = 1 << 22;

/// Samples per im2col pass.
fn sub_batch(g: &Window, d: &ConvDims) -> usize {
    let per = (d.c * g.kh * g.kw * g.oh * g.ow).max(1);
    (COL_LIMIT / per).clamp(1, d.n.max(1))
}

/// Whether every tap row of a convolution is its input plane shifted by one offset: stride
/// 1 with as many output columns as input columns ("same" padding across).
fn shifted(g: &Window, d: &ConvDims) -> bool {
    g.sh == 1 && g.sw == 1 && g.ow == d.w
}

/// One tap of a [`shifted`] convolution: outputs `o0..o1` of its row read input `o + i0 − o0`
/// of channel `ci`'s plane, except the wrapped cells (columns past the left and right edges,
/// which would read the neighbouring input row and must count as padding).
struct Shift {
    ci: usize,
    tap: usize,
    o0: usize,
    o1: usize,
    i0: usize,
    /// Rows and valid columns: in rows `ylo..yhi`, columns outside `xlo..xhi` wrapped.
    ylo: usize,
    yhi: usize,
    xlo: usize,
    xhi: usize,
}

impl Shift {
    /// Zero the wrapped cells of `row` (a tap row of one sample).
    fn clear_wrapped(&self, row: &mut [f32], w: usize) {
        // Column by column down the rows: the wrapped runs are a pad wide (usually one
        // cell), and a `fill` per row was a library call per cell.
        for x in 0..self.xlo {
            for yo in self.ylo + 1..self.yhi {
                row[yo * w + x] = 0.0;
            }
        }
        for x in self.xhi..w {
            for yo in self.ylo..self.yhi.saturating_sub(1) {
                row[yo * w + x] = 0.0;
            }
        }
    }
}

/// The taps of a [`shifted`] convolution that read any input, in (ci, i, j) order.
fn shifts(g: &Window, d: &ConvDims, mut f: impl FnMut(&Shift)) {
    let w = d.w;
    for ci in 0..d.c {
        for i in 0..g.kh {
            let (ylo, yhi) = valid(i, g.pt, 1, d.h, g.oh);
            for j in 0..g.kw {
                let (xlo, xhi) = valid(j, g.pl, 1, w, g.ow);
                if ylo >= yhi || xlo >= xhi {
                    continue;
                }
                f(&Shift {
                    ci,
                    tap: (ci * g.kh + i) * g.kw + j,
                    o0: ylo * w + xlo,
                    o1: (yhi - 1) * w + xhi,
                    i0: (ylo + i - g.pt) * w + xlo + j - g.pl,
                    ylo,
                    yhi,
                    xlo,
                    xhi,
                });
            }
        }
    }
}

/// im2col of samples `b0..b0 + nb`: row `(ci, i, j)` holds, for each sample and output
/// position, the input value that tap reads (0 in the padding). `col` is empty or the buffer
/// of an earlier call with the same window and dimensions.
fn im2col(x: &[f32], g: &Window, d: &ConvDims, b0: usize, nb: usize, col: &mut Vec<f32>) {
    let (plane, per_in) = (g.oh * g.ow, d.c * d.h * d.w);
    let width = nb * plane;
    // The cells never written (padding) are the same on every call with one geometry and
    // batch size: a buffer of the right size from such a call holds their zeros already.
    let len = d.c * g.kh * g.kw * width;
    if col.len() != len {
        col.clear();
        col.resize(len, 0.0);
    }
    if !shifted(g, d) {
        im2col_taps(x, g, d, b0, nb, col);
        return;
    }
    // One copy per tap and sample (and the wrapped cells zeroed) instead of one short copy
    // per output row.
    let hw = d.h * d.w;
    for k in 0..nb {
        let xb = &x[(b0 + k) * per_in..(b0 + k + 1) * per_in];
        shifts(g, d, |t| {
            let row = &mut col[t.tap * width + k * plane..t.tap * width + (k + 1) * plane];
            let xp = &xb[t.ci * hw..(t.ci + 1) * hw];
            row[t.o0..t.o1].copy_from_slice(&xp[t.i0..t.i0 + (t.o1 - t.o0)]);
            t.clear_wrapped(row, d.w);
        });
    }
}

/// [`im2col`] for any geometry, one output row of one tap at a time (`col` already sized and
/// zeroed).
fn im2col_taps(x: &[f32], g: &Window, d: &ConvDims, b0: usize, nb: usize, col: &mut [f32]) {
    let (plane, per_in) = (g.oh * g.ow, d.c * d.h * d.w);
    let width = nb * plane;
    for k in 0..nb {
        let xb = &x[(b0 + k) * per_in..(b0 + k + 1) * per_in];
        taps(g, d, |wi, oo, io, len| {
            let row = &mut col[wi * width + k * plane..wi * width + (k + 1) * plane];
            if g.sw == 1 {
                row[oo..oo + len].copy_from_slice(&xb[io..io + len]);
            } else {
                for t in 0..len {
                    row[oo + t] = xb[io + t * g.sw];
                }
            }
        });
    }
}

/// Convolution forward: `[n, c, h, w]` with kernels `[oc, c, kh, kw]` (+ bias) →
/// `[n, oc, oh, ow]`, as one matrix product per sample: `W [oc, c·kh·kw] · col`.
pub(crate) fn conv(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Window,
    d: &ConvDims,
) -> Vec<f32> {
    let (plane, taps_n) = (g.oh * g.ow, d.c * g.kh * g.kw);
    let mut out = Vec::with_capacity(d.n * d.oc * plane);
    let mut col = Vec::new();
    // One sample at a time: its output [oc, plane] is contiguous, so the product is written
    // in place (no reordering copy), and its im2col buffer stays in cache. Each sample's
    // output starts as its bias (zeros without one), written once.
    for k in 0..d.n {
        im2col(x, g, d, k, 1, &mut col);
        let start = out.len();
        for &bv in bias.unwrap_or_default().iter().take(d.oc) {
            out.extend(std::iter::repeat_n(bv, plane));
        }
        out.resize(start + d.oc * plane, 0.0);
        gemm_acc(wt, &col, &mut out[start..], d.oc, taps_n, plane);
    }
    out
}

/// Convolution backward from the output gradient `gy`: the input gradient (`dx`), the kernels'
/// (`dw`) and the bias's (`db`), each computed only when its buffer is given; the same
/// im2col layout as [`conv`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_backward(
    x: &[f32],
    wt: &[f32],
    gy: &[f32],
    g: &Window,
    d: &ConvDims,
    dx: Option<&mut [f32]>,
    mut dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    let (plane, taps_n, per_in) = (g.oh * g.ow, d.c * g.kh * g.kw, d.c * d.h * d.w);
    if let Some(dx) = dx {
        // Wᵀ [taps, oc], for dcol = Wᵀ · gy.
        let mut wt_t = vec![0f32; taps_n * d.oc];
        for o in 0..d.oc {
            for k in 0..taps_n {
                wt_t[k * d.oc + o] = wt[o * taps_n + k];
            }
        }
        let mut dcol = Vec::new();
        // One sample at a time (as in `conv`): dcol [taps, plane] = Wᵀ · gy of the sample
        // (already [oc, plane]), then scattered back onto its input (col2im).
        for (xb, gk) in dx
            .chunks_exact_mut(per_in.max(1))
            .zip(gy.chunks_exact((d.oc * plane).max(1)))
            .take(d.n)
        {
            dcol.resize(taps_n * plane, 0.0);
            gemm_set(&wt_t, gk, &mut dcol, taps_n, d.oc, plane);
            if shifted(g, d) {
                // As in `im2col`: one contiguous add per tap, wrapped cells zeroed first.
                let hw = d.h * d.w;
                shifts(g, d, |t| {
                    let row = &mut dcol[t.tap * plane..(t.tap + 1) * plane];
                    t.clear_wrapped(row, d.w);
                    let xp = &mut xb[t.ci * hw..(t.ci + 1) * hw];
                    aigis_kernels::widest(|| {
                        for (a, b) in xp[t.i0..t.i0 + (t.o1 - t.o0)]
                            .iter_mut()
                            .zip(&row[t.o0..t.o1])
                        {
                            *a += b;
                        }
                    });
                });
                continue;
            }
            taps(g, d, |wi, oo, io, len| {
                let row = &dcol[wi * plane..(wi + 1) * plane];
                if g.sw == 1 {
                    for (a, b) in xb[io..io + len].iter_mut().zip(&row[oo..oo + len]) {
                        *a += b;
                    }
                } else {
                    for t in 0..len {
                        xb[io + t * g.sw] += row[oo + t];
                    }
                }
            });
        }
    }
    if dw.is_none() && db.is_none() {
        return;
    }
    let (mut col, mut gt) = (Vec::new(), Vec::new());
    let sb = sub_batch(g, d);
    for b0 in (0..d.n).step_by(sb) {
        let nb = sb.min(d.n - b0);
        let width = nb * plane;
        // The output gradient as [oc, nb·plane].
        gt.clear();
        gt.resize(d.oc * width, 0.0);
        for k in 0..nb {
            for o in 0..d.oc {
                let src = ((b0 + k) * d.oc + o) * plane;
                gt[o * width + k * plane..o * width + (k + 1) * plane]
                    .copy_from_slice(&gy[src..src + plane]);
            }
        }
        if let Some(db) = db.as_deref_mut() {
            for o in 0..d.oc {
                db[o] += gt[o * width..(o + 1) * width].iter().sum::<f32>();
            }
        }
        if let Some(dw) = dw.as_deref_mut() {
            im2col(x, g, d, b0, nb, &mut col);
            for o in 0..d.oc {
                let go = &gt[o * width..(o + 1) * width];
                for k in 0..taps_n {
                    dw[o * taps_n + k] += dot(go, &col[k * width..(k + 1) * width]);
                }
            }
        }
    }
}

/// The kernel rows (or columns) of window `o` that fall inside `n` input values.
fn window_span(o: usize, stride: usize, pad: usize, k: usize, n: usize) -> (usize, usize, usize) {
    let start = o * stride;
    let lo = pad.saturating_sub(start);
    let hi = (n + pad).saturating_sub(start).min(k);
    (lo, hi.max(lo), start)
}

/// What a pooling operator pools: `planes` planes of `h`×`w` values, by maximum or mean
/// (over the window's cells inside the input, or over the whole window with `include_pad`).
#[derive(Clone, Copy)]
pub(crate) struct PoolDims {
    pub(crate) planes: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) max: bool,
    pub(crate) include_pad: bool,
}

/// The commonest pooling: 2×2 windows with stride 2, which the kernels below special-case
/// (the general loops spend most of their time on bookkeeping for four cells).
fn halving(g: &Window) -> bool {
    g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.oh > 0 && g.ow > 0
}

/// Whether every pooling window lies inside the `h`×`w` input (no padding on any side is
/// reached), so the fast paths need no clipping.
fn inside(g: &Window, h: usize, w: usize) -> bool {
    g.pt == 0
        && g.pl == 0
        && g.oh.saturating_sub(1) * g.sh + g.kh <= h
        && g.ow.saturating_sub(1) * g.sw + g.kw <= w
}

/// Keeps (`cell`, `best`) at the first largest value seen: `v` at `c` replaces it only when
/// strictly larger (so NaN never does), by selects — on real data which cell wins is
/// unpredictable, and mispredicted branches had made pooling's backward pass the slowest kernel.
#[inline]
fn keep_larger(cell: &mut usize, best: &mut f32, c: usize, v: f32) {
    let gt = v > *best;
    *cell = if gt { c } else { *cell };
    *best = if gt { v } else { *best };
}

/// Pooling forward.
pub(crate) fn pool(x: &[f32], g: &Window, p: &PoolDims) -> Vec<f32> {
    let PoolDims {
        planes,
        h,
        w,
        max,
        include_pad,
    } = *p;
    let mut out = vec![0f32; planes * g.oh * g.ow];
    let inside = inside(g, h, w);
    if max && inside && halving(g) {
        for (p, op) in out
            .chunks_exact_mut((g.oh * g.ow).max(1))
            .enumerate()
            .take(planes)
        {
            let xp = &x[p * h * w..(p + 1) * h * w];
            for (yo, orow) in op.chunks_exact_mut(g.ow).enumerate() {
                let (r0, r1) = (2 * yo * w, (2 * yo + 1) * w);
                let (top, bottom) = (&xp[r0..r0 + 2 * g.ow], &xp[r1..r1 + 2 * g.ow]);
                for ((o, a), b) in orow
                    .iter_mut()
                    .zip(top.chunks_exact(2))
                    .zip(bottom.chunks_exact(2))
                {
                    // The same order of `max` as the general loop below.
                    *o = f32::NEG_INFINITY.max(a[0]).max(a[1]).max(b[0]).max(b[1]);
                }
            }
        }
        return out;
    }
    if max && inside && g.oh > 0 && g.ow > 0 {
        // Every window lies inside the input (no padding on any side is reached).
        for (p, op) in out
            .chunks_exact_mut((g.oh * g.ow).max(1))
            .enumerate()
            .take(planes)
        {
            let xp = &x[p * h * w..(p + 1) * h * w];
            for yo in 0..g.oh {
                for xo in 0..g.ow {
                    let base = yo * g.sh * w + xo * g.sw;
                    let mut acc = f32::NEG_INFINITY;
                    for i in 0..g.kh {
                        for &v in &xp[base + i * w..base + i * w + g.kw] {
                            acc = acc.max(v);
                        }
                    }
                    op[yo * g.ow + xo] = acc;
                }
            }
        }
        return out;
    }
    for (p, op) in out
        .chunks_exact_mut((g.oh * g.ow).max(1))
        .enumerate()
        .take(planes)
    {
        let xp = &x[p * h * w..(p + 1) * h * w];
        for yo in 0..g.oh {
            let (ilo, ihi, y0) = window_span(yo, g.sh, g.pt, g.kh, h);
            for xo in 0..g.ow {
                let (jlo, jhi, x0) = window_span(xo, g.sw, g.pl, g.kw, w);
                let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
                if ilo >= ihi || jlo >= jhi {
                    // A window wholly in the padding: no cells (−∞ for a maximum, 0 for a mean).
                    op[yo * g.ow + xo] = if max { acc } else { 0.0 };
                    continue;
                }
                // Columns inside the input: jlo ≥ pl − x0 keeps x0 + jlo − pl from going below 0.
                let (c0, c1) = (x0 + jlo - g.pl, x0 + jhi - g.pl);
                for i in ilo..ihi {
                    let r = (y0 + i - g.pt) * w;
                    for &v in &xp[r + c0..r + c1] {
                        if max {
                            acc = acc.max(v);
                        } else {
                            acc += v;
                        }
                    }
                }
                op[yo * g.ow + xo] = if max {
                    acc
                } else {
                    let count = if include_pad {
                        g.kh * g.kw
                    } else {
                        ((ihi - ilo) * (jhi - jlo)).max(1)
                    };
                    acc / count as f32
                };
            }
        }
    }
    out
}

/// Pooling backward: the input gradient from the output's. A maximum passes its gradient to
/// the first largest cell of the window (as PyTorch does); a mean spreads it evenly.
pub(crate) fn pool_backward(x: &[f32], gy: &[f32], g: &Window, p: &PoolDims) -> Vec<f32> {
    let PoolDims {
        planes,
        h,
        w,
        max,
        include_pad,
    } = *p;
    let mut d = vec![0f32; x.len()];
    let inside = inside(g, h, w);
    if max && inside && halving(g) {
        // Every window's four cells written once (the first largest takes the gradient), four
        // windows at a time where the CPU has AVX2.
        aigis_kernels::max_pool_2x2_backward(x, gy, &mut d, planes, (h, w), (g.oh, g.ow));
        return d;
    }
    for p in 0..planes {
        let (xp, dp) = (&x[p * h * w..(p + 1) * h * w], p * h * w);
        let gp = &gy[p * g.oh * g.ow..(p + 1) * g.oh * g.ow];
        for yo in 0..g.oh {
            let (ilo, ihi, y0) = window_span(yo, g.sh, g.pt, g.kh, h);
            for xo in 0..g.ow {
                let (jlo, jhi, x0) = window_span(xo, g.sw, g.pl, g.kw, w);
                let gv = gp[yo * g.ow + xo];
                if ilo >= ihi || jlo >= jhi {
                    // A window wholly in the padding passes nothing back.
                    continue;
                }
                if max {
                    // The first largest cell takes the gradient.
                    let (c0, c1) = (x0 + jlo - g.pl, x0 + jhi - g.pl);
                    let mut cell = (y0 + ilo - g.pt) * w + c0;
                    let mut best = xp[cell];
                    for i in ilo..ihi {
                        let r = (y0 + i - g.pt) * w;
                        for (j, &v) in xp[r + c0..r + c1].iter().enumerate() {
                            keep_larger(&mut cell, &mut best, r + c0 + j, v);
                        }
                    }
                    d[dp + cell] += gv;
                } else {
                    let count = if include_pad {
                        g.kh * g.kw
                    } else {
                        ((ihi - ilo) * (jhi - jlo)).max(1)
                    };
                    let share = gv / count as f32;
                    let (c0, c1) = (x0 + jlo - g.pl, x0 + jhi - g.pl);
                    for i in ilo..ihi {
                        let r = dp + (y0 + i - g.pt) * w;
                        for v in &mut d[r + c0..r + c1] {
                            *v += share;
                        }
                    }
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The taps `(i·kw + j)` of output `(yo, xo)`'s window that fall inside an `h`×`w` input,
    /// with the input cell each reads (`iy·w + ix`).
    fn taps_inside(
        (yo, xo): (usize, usize),
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        (pt, pl): (usize, usize),
        (h, w): (usize, usize),
    ) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for i in 0..kh {
            for j in 0..kw {
                let (iy, ix) = ((yo * sh + i).checked_sub(pt), (xo * sw + j).checked_sub(pl));
                if let (Some(iy), Some(ix)) = (iy, ix)
                    && iy < h
                    && ix < w
                {
                    out.push((i * kw + j, iy * w + ix));
                }
            }
        }
        out
    }

    /// The window of a `(kh, kw, sh, sw, pt, pl, pb, pr)` geometry over an `h`×`w` input.
    fn geometry(
        h: usize,
        w: usize,
        k: (usize, usize, usize, usize, usize, usize, usize, usize),
    ) -> Window {
        let (kh, kw, sh, sw, pt, pl, pb, pr) = k;
        Window::new((h, w), (kh, kw), (sh, sw), (pt, pl, pb, pr)).expect("a valid geometry")
    }

    #[test]
    fn dot_and_matmul_match_the_definition() {
        let a: Vec<f32> = (0..19).map(|v| v as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..19).map(|v| (v as f32).sin()).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - want).abs() < 1e-4);
        // [2, 3] · [3, 2] and the same with B stored transposed.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let bt = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0];
        let want = vec![58.0, 64.0, 139.0, 154.0];
        assert_eq!(matmul(&a, &b, 2, 3, 2, false), want);
        assert_eq!(matmul(&a, &bt, 2, 3, 2, true), want);
    }

    /// Pooling against a direct definition, over geometries whose windows start in the
    /// padding (and, with pads as large as the kernel, lie wholly in it).
    #[test]
    fn pooling_matches_the_definition_with_padding() {
        let (h, w) = (5usize, 4usize);
        let x: Vec<f32> = (0..h * w).map(|v| ((v * 7) % 11) as f32 - 5.0).collect();
        for (kh, kw, sh, sw, pt, pl, pb, pr) in [
            (3, 3, 1, 1, 1, 1, 1, 1),
            (2, 3, 2, 1, 1, 2, 1, 2),
            (2, 2, 1, 2, 2, 2, 2, 2),
            (1, 2, 3, 1, 0, 1, 0, 1),
            // Padding on the bottom and right only: windows run past the input's end.
            (3, 2, 1, 1, 0, 0, 2, 1),
            (2, 2, 2, 2, 0, 0, 1, 1),
            // Windows wholly past the end.
            (2, 2, 3, 3, 0, 0, 5, 5),
            // No padding: the 2x2, stride 2 kernels (the odd last row and column unused).
            (2, 2, 2, 2, 0, 0, 0, 0),
            (3, 3, 2, 1, 0, 0, 0, 0),
        ] {
            let g = geometry(h, w, (kh, kw, sh, sw, pt, pl, pb, pr));
            for max in [true, false] {
                let dims = PoolDims {
                    planes: 1,
                    h,
                    w,
                    max,
                    include_pad: false,
                };
                let got = pool(&x, &g, &dims);
                let gy: Vec<f32> = (0..g.oh * g.ow).map(|v| v as f32 + 1.0).collect();
                let back = pool_backward(&x, &gy, &g, &dims);
                let mut want_back = vec![0f32; x.len()];
                for yo in 0..g.oh {
                    for xo in 0..g.ow {
                        let cells: Vec<usize> =
                            taps_inside((yo, xo), (kh, kw), (sh, sw), (pt, pl), (h, w))
                                .into_iter()
                                .map(|(_, cell)| cell)
                                .collect();
                        let o = got[yo * g.ow + xo];
                        let gv = gy[yo * g.ow + xo];
                        if cells.is_empty() {
                            if max {
                                assert_eq!(o.to_bits(), f32::NEG_INFINITY.to_bits());
                            }
                            continue;
                        }
                        if max {
                            let best = cells
                                .iter()
                                .copied()
                                .fold(cells[0], |b, c| if x[c] > x[b] { c } else { b });
                            assert_eq!(o.to_bits(), x[best].to_bits());
                            want_back[best] += gv;
                        } else {
                            let mean =
                                cells.iter().map(|&c| x[c]).sum::<f32>() / cells.len() as f32;
                            assert!((o - mean).abs() < 1e-6);
                            for &c in &cells {
                                want_back[c] += gv / cells.len() as f32;
                            }
                        }
                    }
                }
                for (a, b) in back.iter().zip(&want_back) {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "{kh}x{kw} s{sh},{sw} p{pt},{pl} max {max}"
                    );
                }
            }
        }
    }

    /// The 2×2, stride 2 kernels over several planes of odd size, with ties (the first
    /// largest cell takes the gradient) and a NaN (never the maximum).
    #[test]
    fn halving_pool_matches_the_definition_on_every_plane() {
        let (planes, h, w) = (3usize, 5usize, 7usize);
        let mut x: Vec<f32> = (0..planes * h * w).map(|v| ((v * 5) % 7) as f32).collect();
        x[h * w + 1] = f32::NAN;
        let g = Window {
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pt: 0,
            pl: 0,
            oh: h / 2,
            ow: w / 2,
        };
        let dims = PoolDims {
            planes,
            h,
            w,
            max: true,
            include_pad: false,
        };
        let got = pool(&x, &g, &dims);
        let gy: Vec<f32> = (0..planes * g.oh * g.ow).map(|v| v as f32 + 1.0).collect();
        let back = pool_backward(&x, &gy, &g, &dims);
        let mut want_back = vec![0f32; x.len()];
        for p in 0..planes {
            for yo in 0..g.oh {
                for xo in 0..g.ow {
                    let at = |i: usize, j: usize| p * h * w + (2 * yo + i) * w + 2 * xo + j;
                    let cells = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                    let o = (p * g.oh + yo) * g.ow + xo;
                    let top = cells
                        .iter()
                        .map(|&c| x[c])
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(got[o].to_bits(), top.to_bits(), "plane {p} ({yo}, {xo})");
                    let best = cells
                        .iter()
                        .copied()
                        .fold(cells[0], |b, c| if x[c] > x[b] { c } else { b });
                    want_back[best] += gy[o];
                }
            }
        }
        assert!(got.iter().all(|v| !v.is_nan()));
        assert_eq!(back, want_back);
    }

    /// Narrow products (few output columns, many rows), taken transposed, give the bits of
    /// the direct product: each output the same sum in the same order.
    #[test]
    fn narrow_products_keep_their_bits() {
        for (m, k, cols) in [(30, 128, 10), (17, 5, 1), (64, 32, 15), (16, 9, 3)] {
            let a: Vec<f32> = (0..m * k)
                .map(|v| ((v * 37) % 19) as f32 / 7.0 - 1.3)
                .collect();
            let b: Vec<f32> = (0..k * cols)
                .map(|v| ((v * 11) % 13) as f32 / 3.0 - 2.1)
                .collect();
            let mut want = vec![0f32; m * cols];
            gemm_set(&a, &b, &mut want, m, k, cols);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&matmul(&a, &b, m, k, cols, false)),
                bits(&want),
                "{m}x{k}x{cols}"
            );
            let bt = transpose(&b, k, cols);
            assert_eq!(
                bits(&matmul(&a, &bt, m, k, cols, true)),
                bits(&want),
                "{m}x{k}x{cols} tb"
            );
        }
    }

    /// Convolution forward against its definition, with and without a bias, over shifted
    /// ("same") and strided, padded geometries.
    #[test]
    fn conv_matches_its_definition() {
        let (n, c, h, w, oc) = (2usize, 2usize, 5usize, 6usize, 3usize);
        let x: Vec<f32> = (0..n * c * h * w)
            .map(|v| ((v * 13) % 7) as f32 - 3.0)
            .collect();
        for (kh, kw, sh, sw, pt, pl, pb, pr) in [
            (3, 3, 1, 1, 1, 1, 1, 1),
            (2, 3, 2, 1, 0, 1, 1, 1),
            (1, 1, 1, 1, 0, 0, 0, 0),
        ] {
            let g = geometry(h, w, (kh, kw, sh, sw, pt, pl, pb, pr));
            let wt: Vec<f32> = (0..oc * c * kh * kw)
                .map(|v| ((v * 5) % 9) as f32 * 0.5 - 2.0)
                .collect();
            let d = ConvDims { n, c, h, w, oc };
            for bias in [None, Some(vec![0.5f32, -1.0, 2.0])] {
                let got = conv(&x, &wt, bias.as_deref(), &g, &d);
                assert_eq!(got.len(), n * oc * g.oh * g.ow);
                for (idx, &v) in got.iter().enumerate() {
                    let (b, o, yo, xo) = (
                        idx / (oc * g.oh * g.ow),
                        idx / (g.oh * g.ow) % oc,
                        idx / g.ow % g.oh,
                        idx % g.ow,
                    );
                    let mut want = bias.as_ref().map_or(0.0, |bv| bv[o]);
                    for ci in 0..c {
                        for (tap, cell) in
                            taps_inside((yo, xo), (kh, kw), (sh, sw), (pt, pl), (h, w))
                        {
                            want +=
                                wt[(o * c + ci) * kh * kw + tap] * x[(b * c + ci) * h * w + cell];
                        }
                    }
                    assert!(
                        (v - want).abs() < 1e-4,
                        "{kh}x{kw} s{sh} bias {bias:?} at {idx}: {v} vs {want}"
                    );
                }
            }
        }
    }

    /// The shifted-plane im2col (stride 1, output as wide as the input) against the one that
    /// copies output row by output row, over symmetric, lopsided and oversized pads.
    #[test]
    fn shifted_im2col_equals_the_row_by_row_one() {
        let (c, h, w, nb) = (2usize, 5usize, 6usize, 2usize);
        let x: Vec<f32> = (0..nb * c * h * w).map(|v| v as f32 + 1.0).collect();
        // (kh, kw, pt, pl, pb, pr) with pl + pr = kw − 1, so that ow = w.
        for (kh, kw, pt, pl, pb, pr) in [
            (3, 3, 1, 1, 1, 1),
            (5, 5, 2, 2, 2, 2),
            (3, 3, 0, 2, 2, 0),
            (2, 4, 1, 0, 0, 3),
            (1, 1, 0, 0, 0, 0),
            (7, 3, 6, 1, 0, 1),
        ] {
            assert_eq!(pl + pr, kw - 1);
            let g = geometry(h, w, (kh, kw, 1, 1, pt, pl, pb, pr));
            let d = ConvDims {
                n: nb,
                c,
                h,
                w,
                oc: 1,
            };
            let mut fast = Vec::new();
            im2col(&x, &g, &d, 0, nb, &mut fast);
            let mut slow = vec![0f32; fast.len()];
            im2col_taps(&x, &g, &d, 0, nb, &mut slow);
            assert_eq!(fast, slow, "{kh}x{kw} pads {pt},{pl},{pb},{pr}");
            // A buffer reused from the previous sample (as `conv` does) ends up the same as a
            // fresh one: the padding it is not rewritten in still holds zeros.
            let (mut reused, mut fresh) = (Vec::new(), Vec::new());
            im2col(&x, &g, &d, 0, 1, &mut reused);
            im2col(&x, &g, &d, 1, 1, &mut reused);
            im2col(&x, &g, &d, 1, 1, &mut fresh);
            assert_eq!(reused, fresh, "{kh}x{kw} pads {pt},{pl},{pb},{pr}: reused");
        }
    }

    /// The convolution's input gradient (the shifted col2im and the row-by-row one) against
    /// its definition: dx[ci, iy, ix] = Σ w[o, ci, i, j] · gy[o, yo, xo] over the taps that
    /// read (iy, ix).
    #[test]
    fn input_gradient_matches_the_definition() {
        let (c, h, w, oc) = (2usize, 5usize, 6usize, 3usize);
        for (kh, kw, sh, sw, pt, pl, pb, pr) in [
            (3, 3, 1, 1, 1, 1, 1, 1),
            (3, 3, 1, 1, 0, 2, 2, 0),
            (2, 4, 1, 1, 1, 0, 0, 3),
            (3, 3, 2, 2, 1, 1, 1, 1),
            (3, 2, 1, 1, 0, 0, 0, 0),
        ] {
            let g = geometry(h, w, (kh, kw, sh, sw, pt, pl, pb, pr));
            let d = ConvDims { n: 1, c, h, w, oc };
            let x = vec![0f32; c * h * w];
            let wt: Vec<f32> = (0..oc * c * kh * kw)
                .map(|v| ((v * 7) % 5) as f32 - 2.0)
                .collect();
            let gy: Vec<f32> = (0..oc * g.oh * g.ow)
                .map(|v| ((v * 3) % 4) as f32 + 0.5)
                .collect();
            let mut dx = vec![0f32; x.len()];
            conv_backward(&x, &wt, &gy, &g, &d, Some(&mut dx), None, None);
            let mut want = vec![0f32; x.len()];
            for o in 0..oc {
                for ci in 0..c {
                    for yo in 0..g.oh {
                        for xo in 0..g.ow {
                            for (tap, cell) in
                                taps_inside((yo, xo), (kh, kw), (sh, sw), (pt, pl), (h, w))
                            {
                                want[ci * h * w + cell] += wt[(o * c + ci) * kh * kw + tap]
                                    * gy[(o * g.oh + yo) * g.ow + xo];
                            }
                        }
                    }
                }
            }
            for (a, b) in dx.iter().zip(&want) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "{kh}x{kw} s{sh} pads {pt},{pl},{pb},{pr}"
                );
            }
        }
    }

    #[test]
    fn valid_ranges_cover_exactly_the_taps_inside() {
        for (pad, stride, n_in, k) in [(1, 1, 8, 3), (0, 2, 8, 2), (2, 3, 7, 5), (0, 1, 3, 3)] {
            let n_out = (n_in + 2 * pad - k) / stride + 1;
            for off in 0..k {
                let (lo, hi) = valid(off, pad, stride, n_in, n_out);
                for o in 0..n_out {
                    let pos = (o * stride + off) as i64 - pad as i64;
                    let inside = pos >= 0 && pos < n_in as i64;
                    assert_eq!(
                        inside,
                        (lo..hi).contains(&o),
                        "pad {pad} stride {stride} off {off} o {o}"
                    );
                }
            }
        }
    }
}
