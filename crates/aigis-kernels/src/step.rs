//! The L∞ PGD step, the element-wise loop of every PGD iteration, run in [`crate::widest`]
//! (the same operations in every build, so the same bits).

/// One L∞ PGD step on `a`, in place: `v = clamp(a + alpha·sign(g), lo, hi)`, then
/// `a = clamp(v, o − eps, o + eps)`, where `clamp(v, l, h)` is `l` if `v < l`, `h` if `v > h`,
/// else `v`, and `sign` is −1, 0 or 1 (0 for zero and NaN). Stops at the shortest slice.
pub fn linf_step(a: &mut [f32], g: &[f32], o: &[f32], alpha: f32, range: (f32, f32), eps: f32) {
    crate::widest(|| step(a, g, o, alpha, range, eps));
}

/// `l` if `v < l`, `h` if `v > h`, else `v`: `f32::clamp` (NaN stays NaN) without its panic
/// when `l > h` — a check per value that keeps update loops from being vectorised; callers
/// check their ranges where they read them, and a reversed range yields `h`, not a panic.
#[inline]
pub fn clamp(v: f32, l: f32, h: f32) -> f32 {
    let v = if v < l { l } else { v };
    if v > h { h } else { v }
}

/// −1, 0 or 1 by the sign of `v` (0 for zero and NaN), without branches: gradient signs are
/// unpredictable, and mispredicted branches made the PGD step a tenth of an attack's time.
#[inline]
pub fn sign(v: f32) -> f32 {
    f32::from(u8::from(v > 0.0)) - f32::from(u8::from(v < 0.0))
}

/// [`linf_step`]'s loop. Always inlined, so each build of [`crate::widest`] compiles it with
/// its features.
#[allow(clippy::inline_always)]
#[inline(always)]
fn step(a: &mut [f32], g: &[f32], o: &[f32], alpha: f32, (lo, hi): (f32, f32), eps: f32) {
    for ((a, &d), &o) in a.iter_mut().zip(g).zip(o) {
        let v = clamp(*a + alpha * sign(d), lo, hi);
        *a = clamp(v, o - eps, o + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every build gives the scalar definition's bits, on values at and past both bounds,
    /// NaNs and signed zeros in every operand, and lengths with remainders.
    #[test]
    fn every_build_steps_as_the_definition() {
        let specials = [
            0.0,
            -0.0,
            0.3,
            -0.7,
            1.2,
            f32::NAN,
            0.05,
            1.0,
            -1e-9,
            f32::INFINITY,
        ];
        let len = 67;
        let pick = |k: usize| (0..len).map(move |i| specials[(i * k + i / 3) % specials.len()]);
        let (a0, g, o): (Vec<f32>, Vec<f32>, Vec<f32>) = (
            pick(3).collect(),
            pick(7).collect(),
            pick(11).map(|v| v * 0.5).collect(),
        );
        let (alpha, range, eps) = (0.0125, (0.0, 1.0), 0.1);
        let want: Vec<u32> = a0
            .iter()
            .zip(&g)
            .zip(&o)
            .map(|((&a, &d), &o)| {
                let s = if d > 0.0 {
                    1.0
                } else if d < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                let v = a + alpha * s;
                let v = if v < range.0 {
                    range.0
                } else if v > range.1 {
                    range.1
                } else {
                    v
                };
                let v = if v < o - eps {
                    o - eps
                } else if v > o + eps {
                    o + eps
                } else {
                    v
                };
                v.to_bits()
            })
            .collect();
        let run = |f: &dyn Fn(&mut [f32])| {
            let mut a = a0.clone();
            f(&mut a);
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(&|a| step(a, &g, &o, alpha, range, eps)), want);
        assert_eq!(run(&|a| linf_step(a, &g, &o, alpha, range, eps)), want);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected.
                #[allow(unsafe_code)]
                let got =
                    run(&|a| unsafe { crate::in_avx2(|| step(a, &g, &o, alpha, range, eps)) });
                assert_eq!(got, want, "avx2");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F was detected.
                #[allow(unsafe_code)]
                let got =
                    run(&|a| unsafe { crate::in_avx512(|| step(a, &g, &o, alpha, range, eps)) });
                assert_eq!(got, want, "avx512f");
            }
        }
    }
}
