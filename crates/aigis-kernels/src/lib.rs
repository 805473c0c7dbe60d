//! The dense kernels of aigis-robust's ONNX engine, with run-time CPU dispatch: matrix
//! products blocked so that partial sums stay in registers (an AVX-512 build for products 16
//! columns wide or more, an AVX2 build, the baseline x86-64 build elsewhere), the backward pass
//! of 2×2 max pooling ([`max_pool_2x2_backward`], AVX2 four windows at a time) and of Relu
//! ([`relu_backward`]), the L∞ PGD step ([`linf_step`]) and [`widest`], which runs any
//! element-wise loop compiled for the widest vectors the CPU has. The `unsafe` of this crate is
//! that dispatch (a `#[target_feature]` function may only be called once the feature is known
//! to be present) and, in the pooling and Relu kernels, the vector loads and stores of whole
//! fixed-size arrays; the products are safe Rust. Every build sums each output in the same
//! order (products by fused multiply-adds) and selects the same cells, so results are
//! bit-identical across CPUs (tested).

mod pool;
mod relu;
mod step;

pub use pool::max_pool_2x2_backward;
pub use relu::relu_backward;
pub use step::{clamp, linf_step, sign};

/// Columns per block of the baseline build and of narrow AVX2 products: 8 f32 sums, one AVX2
/// register or two SSE2 ones (wider products take 16: one AVX-512 register or two AVX2 ones).
const LANES: usize = 8;

/// Runs `f` inside a function compiled for the widest vectors the CPU has (AVX-512, AVX2,
/// else the baseline), so that an element-wise loop in `f` — inlined there — is vectorised for
/// them. The loop's operations are the same in every build (Rust never fuses or reorders
/// float arithmetic), so the bits are too; a closure the compiler does not inline just runs
/// at the baseline's speed.
#[inline]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: `in_avx512` requires AVX-512F, which the CPU was just found to have; it
            // only calls `f`, safe code.
            #[allow(unsafe_code)]
            return unsafe { in_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, for AVX2.
            #[allow(unsafe_code)]
            return unsafe { in_avx2(f) };
        }
    }
    f()
}

/// Calls `f` with AVX-512 enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn in_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Calls `f` with AVX2 enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn in_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `y += a·x`.
#[inline]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Rows of A per block of [`gemm_acc`].
const MR: usize = 4; // the kernel below zips four rows of A

/// `out [m, n] += A [m, k] · B [k, n]`, all row-major. Each output is summed from its current
/// value by fused multiply-adds, `p = 0..k` in order (see [`dispatch`]); the work is done in
/// blocks of [`MR`] rows × `LANES` columns whose sums stay in registers, reading each row of B
/// once per block instead of once per output row.
pub fn gemm_acc(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    dispatch::<true>(a, b, out, m, k, n);
}

/// `out [m, n] = A [m, k] · B [k, n]`: [`gemm_acc`] onto zeros, without zeroing `out` first.
pub fn gemm_set(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    dispatch::<false>(a, b, out, m, k, n);
}

/// The AVX-512 build of [`gemm`] for products at least 16 columns wide where the CPU has
/// AVX-512F, else the AVX2 build where it has AVX2 and FMA, else the baseline build. Each
/// output's sum is the same sequence of fused multiply-adds (`f32::mul_add`, one rounding per
/// step) in all three — the block width only changes which outputs are summed side by side —
/// so the CPU changes the speed, never a bit of the result. Fused, because a multiply and an
/// add cost a vector unit twice what one fused multiply-add does (on Intel cores both run on
/// the FMA ports; on AMD's the add waits for the multiply's rounding); the baseline build, on
/// x86-64 CPUs without FMA (before 2013), computes the same correctly rounded `fmaf` in
/// software, slowly.
fn dispatch<const ACC: bool>(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if n >= 16
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: `gemm_avx512` requires AVX-512F and FMA, which the CPU was just found to
        // have; its body is the safe `gemm`. Narrower products stay on 8-column blocks.
        #[allow(unsafe_code)]
        unsafe {
            gemm_avx512::<ACC>(a, b, out, m, k, n);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: `gemm_avx2` requires AVX2 and FMA, which the CPU was just found to have; its
        // body is the safe `gemm` (bounds-checked slices, no raw pointers).
        #[allow(unsafe_code)]
        unsafe {
            gemm_avx2::<ACC>(a, b, out, m, k, n);
        }
        return;
    }
    gemm::<ACC, LANES>(a, b, out, (m, k, n));
}

/// [`gemm`] compiled for AVX-512, 16 columns per block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gemm_avx512<const ACC: bool>(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) {
    gemm::<ACC, 16>(a, b, out, (m, k, n));
}

/// [`gemm`] compiled for AVX2 (the same code), 16 or 8 columns per block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2<const ACC: bool>(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    // 16 columns (two registers per row of A) where the product is that wide: eight
    // independent chains of adds instead of four, which the adds' latency left waiting
    // (−5% on a CNN's PGD on a Zen 1 EPYC, whose vector units are 128 bits wide).
    if n >= 16 {
        gemm::<ACC, 16>(a, b, out, (m, k, n));
    } else {
        gemm::<ACC, LANES>(a, b, out, (m, k, n));
    }
}

/// [`gemm_acc`] (`ACC`) or [`gemm_set`]. Always inlined: inside `gemm_avx2` it must be
/// compiled with that function's target features.
#[allow(clippy::inline_always)]
#[inline(always)]
fn gemm<const ACC: bool, const LANES: usize>(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    (m, k, n): (usize, usize, usize),
) {
    if n == 0 {
        // No outputs (and `chunks_exact(0)` below would panic).
        return;
    }
    let (a, b, out) = (&a[..m * k], &b[..k * n], &mut out[..m * n]);
    let full = n - n % LANES;
    // The last columns when fewer than a block: copied into a block of B's rows padded with
    // zeros (once per product), so they are summed in registers like the others instead of
    // one output at a time along a chain of dependent adds.
    let rem = n - full;
    let tail: Vec<f32> = if rem > 0 && m >= MR {
        b.chunks_exact(n)
            .flat_map(|row| (0..LANES).map(move |l| row.get(full + l).copied().unwrap_or(0.0)))
            .collect()
    } else {
        Vec::new()
    };
    let mut i0 = 0;
    while i0 + MR <= m {
        // The four rows of A side by side (no index arithmetic or bounds checks in the loop).
        let arow = |r: usize| &a[(i0 + r) * k..(i0 + r + 1) * k];
        let rows = || arow(0).iter().zip(arow(1)).zip(arow(2)).zip(arow(3));
        for j in (0..full).step_by(LANES) {
            let cols = j..j + LANES;
            let mut acc = [[0f32; LANES]; MR];
            if ACC {
                for (r, acc) in acc.iter_mut().enumerate() {
                    acc.copy_from_slice(&out[(i0 + r) * n..(i0 + r + 1) * n][cols.clone()]);
                }
            }
            let brows = b.chunks_exact(n).map(|row| &row[cols.clone()]);
            block(&mut acc, rows(), brows);
            for (r, acc) in acc.iter().enumerate() {
                out[(i0 + r) * n..(i0 + r + 1) * n][cols.clone()].copy_from_slice(acc);
            }
        }
        if rem > 0 {
            let mut acc = [[0f32; LANES]; MR];
            if ACC {
                for (r, acc) in acc.iter_mut().enumerate() {
                    acc[..rem].copy_from_slice(&out[(i0 + r) * n + full..(i0 + r + 1) * n]);
                }
            }
            block(&mut acc, rows(), tail.chunks_exact(LANES));
            for (r, acc) in acc.iter().enumerate() {
                out[(i0 + r) * n + full..(i0 + r + 1) * n].copy_from_slice(&acc[..rem]);
            }
        }
        i0 += MR;
    }
    for r in i0..m {
        let row = &mut out[r * n..(r + 1) * n];
        if !ACC {
            row.fill(0.0);
        }
        for (&x, brow) in a[r * k..(r + 1) * k].iter().zip(b.chunks_exact(n)) {
            for (o, &bv) in row.iter_mut().zip(brow) {
                *o = x.mul_add(bv, *o);
            }
        }
    }
}

/// `acc[r][l] = a_r[p] · b_p[l] + acc[r][l]` (fused) for `p` in order: four rows of A side by
/// side against a block of `LANES` columns of B's rows, the sums held in registers.
#[allow(clippy::inline_always)]
#[inline(always)]
fn block<'b, const LANES: usize>(
    acc: &mut [[f32; LANES]; MR],
    rows: impl Iterator<Item = (((&'b f32, &'b f32), &'b f32), &'b f32)>,
    brows: impl Iterator<Item = &'b [f32]>,
) {
    for ((((&x0, &x1), &x2), &x3), brow) in rows.zip(brows) {
        let Ok(bv) = <&[f32; LANES]>::try_from(brow) else {
            continue;
        };
        for (acc, x) in acc.iter_mut().zip([x0, x1, x2, x3]) {
            for l in 0..LANES {
                acc[l] = x.mul_add(bv[l], acc[l]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Operands with row and column remainders.
    const SHAPES: [(usize, usize, usize); 8] = [
        (1, 1, 1),
        (4, 3, 8),
        (5, 7, 19),
        (9, 1, 17),
        (3, 9, 64),
        (8, 0, 8),
        (13, 10, 33),
        (4, 32, 10),
    ];

    fn operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let a = (0..m * k)
            .map(|v| ((v * 37) % 17) as f32 / 7.0 - 1.1)
            .collect();
        let b = (0..k * n)
            .map(|v| ((v * 53) % 23) as f32 / 3.0 - 3.3)
            .collect();
        let init = (0..m * n).map(|v| v as f32 * 0.01).collect();
        (a, b, init)
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The blocked product sums each output by fused multiply-adds in the order of the plain
    /// loop over `p`, so it is bit-identical to it; the overwriting form equals accumulating
    /// onto zeros.
    #[test]
    fn blocked_product_is_bit_identical_to_the_fused_loop() {
        for (m, k, n) in SHAPES {
            let (a, b, init) = operands(m, k, n);
            let mut want = init.clone();
            for i in 0..m {
                for p in 0..k {
                    for j in 0..n {
                        want[i * n + j] = a[i * k + p].mul_add(b[p * n + j], want[i * n + j]);
                    }
                }
            }
            let mut got = init.clone();
            gemm_acc(&a, &b, &mut got, m, k, n);
            assert_eq!(bits(&got), bits(&want), "{m}x{k}x{n}");
            let mut from_zero = vec![0f32; m * n];
            gemm_acc(&a, &b, &mut from_zero, m, k, n);
            let mut set = init;
            gemm_set(&a, &b, &mut set, m, k, n);
            assert_eq!(bits(&set), bits(&from_zero), "{m}x{k}x{n} set");
        }
    }

    /// Products with no columns, rows or inner dimension are no work, not a panic (a model can
    /// declare a zero-sized dimension).
    #[test]
    fn empty_products_leave_the_output_alone() {
        for (m, k, n) in [(5usize, 3usize, 0usize), (0, 3, 4), (5, 0, 4), (7, 2, 0)] {
            let (a, b) = (vec![1.0; m * k], vec![1.0; k * n]);
            // Four cells past the product's end: nothing may be written there.
            let mut out = vec![2.0; m * n + 4];
            gemm_acc(&a, &b, &mut out, m, k, n);
            assert!(
                out.iter().all(|v| v.to_bits() == 2f32.to_bits()),
                "{m}x{k}x{n}"
            );
            gemm_set(&a, &b, &mut out, m, k, n);
            assert!(out[..m * n].iter().all(|v| v.to_bits() == 0), "{m}x{k}x{n}");
            assert!(
                out[m * n..].iter().all(|v| v.to_bits() == 2f32.to_bits()),
                "{m}x{k}x{n}: written past the product"
            );
        }
    }

    /// Every output of every build is a fused multiply-add: (1 + 2⁻¹²)² − (1 + 2⁻¹¹) is 2⁻²⁴
    /// exactly, and 0 when the product is rounded before the add — in blocks of rows, the last
    /// rows, the padded last columns and the wide builds alike.
    #[test]
    fn every_output_is_summed_by_fused_multiply_adds() {
        let x = 1.0 + 2f32.powi(-12);
        let fused = 2f32.powi(-24).to_bits();
        for (m, n) in [(5usize, 19usize), (4, 8), (9, 40), (1, 3)] {
            let (a, b) = (vec![x; m], vec![x; n]);
            let mut out = vec![-(1.0 + 2f32.powi(-11)); m * n];
            gemm_acc(&a, &b, &mut out, m, 1, n);
            assert!(out.iter().all(|v| v.to_bits() == fused), "{m}x{n}: {out:?}");
            let mut base = vec![-(1.0 + 2f32.powi(-11)); m * n];
            gemm::<true, LANES>(&a, &b, &mut base, (m, 1, n));
            assert!(
                base.iter().all(|v| v.to_bits() == fused),
                "baseline {m}x{n}"
            );
        }
    }

    /// The AVX2 and AVX-512 builds give the baseline build's bits (what the dispatch relies
    /// on), on shapes with remainders of either block width.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wide_builds_give_the_same_bits() {
        type Build = unsafe fn(&[f32], &[f32], &mut [f32], usize, usize, usize);
        let builds: [(&str, bool, Build); 2] = [
            (
                "avx2",
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma"),
                gemm_avx2::<true>,
            ),
            (
                "avx512f",
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma"),
                gemm_avx512::<true>,
            ),
        ];
        for (name, present, build) in builds {
            if !present {
                eprintln!("SKIPPED the {name} build: this CPU lacks it");
                continue;
            }
            for (m, k, n) in SHAPES
                .into_iter()
                .chain([(6, 5, 40), (4, 9, 16), (7, 3, 31)])
            {
                let (a, b, init) = operands(m, k, n);
                let (mut base, mut wide) = (init.clone(), init);
                gemm::<true, LANES>(&a, &b, &mut base, (m, k, n));
                // SAFETY: the CPU has the build's features (checked above).
                #[allow(unsafe_code)]
                unsafe {
                    build(&a, &b, &mut wide, m, k, n);
                }
                assert_eq!(bits(&base), bits(&wide), "{name} {m}x{k}x{n}");
            }
        }
    }
}
