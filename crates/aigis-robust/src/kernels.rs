//! The arithmetic of the dense operators, written so the compiler vectorises it: contiguous
//! dot products and `y += a·x` over rows, convolution as row-wise `y += w·x` over the valid
//! output range of each kernel tap (no per-position bounds checks or iterators), and pooling
//! with plain index loops. Forward and backward passes share these.

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

/// `y += a·x`.
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `A [m, k] · op(B)`, `op(B)` = B `[k, cols]`, or Bᵀ when `tb` (B stored `[cols, k]`).
pub(crate) fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, cols: usize, tb: bool) -> Vec<f32> {
    let mut out = vec![0f32; m * cols];
    for (i, row) in out.chunks_exact_mut(cols.max(1)).enumerate().take(m) {
        let ar = &a[i * k..(i + 1) * k];
        if tb {
            for (j, o) in row.iter_mut().enumerate() {
                *o = dot(ar, &b[j * k..(j + 1) * k]);
            }
        } else {
            for (p, &av) in ar.iter().enumerate() {
                if av != 0.0 {
                    axpy(row, av, &b[p * cols..(p + 1) * cols]);
                }
            }
        }
    }
    out
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

/// im2col of samples `b0..b0 + nb`: row `(ci, i, j)` holds, for each sample and output
/// position, the input value that tap reads (0 in the padding).
fn im2col(x: &[f32], g: &Window, d: &ConvDims, b0: usize, nb: usize, col: &mut Vec<f32>) {
    let (plane, per_in) = (g.oh * g.ow, d.c * d.h * d.w);
    let width = nb * plane;
    col.clear();
    col.resize(d.c * g.kh * g.kw * width, 0.0);
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
/// `[n, oc, oh, ow]`, as one matrix product per sub-batch: `W [oc, c·kh·kw] · col`.
pub(crate) fn conv(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Window,
    d: &ConvDims,
) -> Vec<f32> {
    let (plane, taps_n) = (g.oh * g.ow, d.c * g.kh * g.kw);
    let mut out = vec![0f32; d.n * d.oc * plane];
    let sb = sub_batch(g, d);
    let (mut col, mut prod) = (Vec::new(), Vec::new());
    for b0 in (0..d.n).step_by(sb) {
        let nb = sb.min(d.n - b0);
        let width = nb * plane;
        im2col(x, g, d, b0, nb, &mut col);
        prod.clear();
        prod.resize(d.oc * width, 0.0);
        for o in 0..d.oc {
            let row = &mut prod[o * width..(o + 1) * width];
            if let Some(bv) = bias.and_then(|t| t.get(o)) {
                row.fill(*bv);
            }
            for (k, &wv) in wt[o * taps_n..(o + 1) * taps_n].iter().enumerate() {
                if wv != 0.0 {
                    axpy(row, wv, &col[k * width..(k + 1) * width]);
                }
            }
        }
        for k in 0..nb {
            for o in 0..d.oc {
                let dst = ((b0 + k) * d.oc + o) * plane;
                out[dst..dst + plane]
                    .copy_from_slice(&prod[o * width + k * plane..o * width + (k + 1) * plane]);
            }
        }
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
    mut dx: Option<&mut [f32]>,
    mut dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    let (plane, taps_n, per_in) = (g.oh * g.ow, d.c * g.kh * g.kw, d.c * d.h * d.w);
    let sb = sub_batch(g, d);
    let (mut col, mut gt, mut dcol) = (Vec::new(), Vec::new(), Vec::new());
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
        if let Some(dx) = dx.as_deref_mut() {
            // dcol [taps, width] = Wᵀ · gt, then scattered back onto the input (col2im).
            dcol.clear();
            dcol.resize(taps_n * width, 0.0);
            for o in 0..d.oc {
                let go = &gt[o * width..(o + 1) * width];
                for k in 0..taps_n {
                    let wv = wt[o * taps_n + k];
                    if wv != 0.0 {
                        axpy(&mut dcol[k * width..(k + 1) * width], wv, go);
                    }
                }
            }
            for k in 0..nb {
                let xb = &mut dx[(b0 + k) * per_in..(b0 + k + 1) * per_in];
                taps(g, d, |wi, oo, io, len| {
                    let row = &dcol[wi * width + k * plane..wi * width + (k + 1) * plane];
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
    let inside = g.pt == 0
        && g.pl == 0
        && g.oh.saturating_sub(1) * g.sh + g.kh <= h
        && g.ow.saturating_sub(1) * g.sw + g.kw <= w;
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
                    // The window is never empty (the kernel fits the padded input and the
                    // padding is smaller than the kernel), so a cell is always found.
                    let (c0, c1) = (x0 + jlo - g.pl, x0 + jhi - g.pl);
                    let mut found: Option<(usize, f32)> = None;
                    for i in ilo..ihi {
                        let r = (y0 + i - g.pt) * w;
                        for (j, &v) in xp[r + c0..r + c1].iter().enumerate() {
                            if found.is_none_or(|(_, b)| v > b) {
                                found = Some((r + c0 + j, v));
                            }
                        }
                    }
                    // A window wholly in the padding has no cell and passes nothing back.
                    if let Some((cell, _)) = found {
                        d[dp + cell] += gv;
                    }
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
        ] {
            let g = Window {
                kh,
                kw,
                sh,
                sw,
                pt,
                pl,
                oh: (h + pt + pb - kh) / sh + 1,
                ow: (w + pl + pr - kw) / sw + 1,
            };
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
                        let mut cells = Vec::new();
                        for i in 0..kh {
                            for j in 0..kw {
                                let (iy, ix) = (
                                    (yo * sh + i) as i64 - pt as i64,
                                    (xo * sw + j) as i64 - pl as i64,
                                );
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    cells.push(iy as usize * w + ix as usize);
                                }
                            }
                        }
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
