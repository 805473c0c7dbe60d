//! The backward pass of 2×2, stride-2 max pooling (the commonest pooling of CNNs): each
//! window's gradient goes to its first largest cell. An AVX2 build takes four windows at a
//! time where the CPU has it; both builds write the same bits.

/// Gradients of the 2×2 windows of `planes` planes of `h`×`w` values `x` (`oh`×`ow` windows
/// per plane, stride 2, all inside the plane: `2·oh ≤ h`, `2·ow ≤ w`), from the pooled
/// output's gradient `gy`: each window's first largest cell (in the order top left, top
/// right, bottom left, bottom right; a later cell wins only when strictly larger, so a NaN
/// wins only as the first cell) gets `0 + g`, its other cells 0. Cells outside every window
/// are left as they are in `d`.
///
/// # Panics
/// When a slice is shorter than the dimensions say.
#[allow(clippy::too_many_arguments)]
pub fn max_pool_2x2_backward(
    x: &[f32],
    gy: &[f32],
    d: &mut [f32],
    planes: usize,
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
) {
    assert!(2 * oh <= h && 2 * ow <= w, "windows outside the plane");
    if oh == 0 || ow == 0 {
        // No windows: nothing to write (and no zero-sized chunks to split by).
        return;
    }
    let (x, d, gy) = (
        &x[..planes * h * w],
        &mut d[..planes * h * w],
        &gy[..planes * oh * ow],
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `backward_avx2` requires AVX2, which the CPU was just found to have.
        #[allow(unsafe_code)]
        unsafe {
            backward_avx2(x, gy, d, (h, w), (oh, ow));
        }
        return;
    }
    backward::<false>(x, gy, d, (h, w), (oh, ow));
}

/// The cells' shares of one window's gradient `g`: `[top left, top right, bottom left,
/// bottom right]`.
#[inline]
fn window(top: &[f32], bottom: &[f32], g: f32) -> [f32; 4] {
    let cells = [top[0], top[1], bottom[0], bottom[1]];
    let (mut at, mut best) = (0, cells[0]);
    for (i, &v) in cells.iter().enumerate().skip(1) {
        let larger = v > best;
        at = if larger { i } else { at };
        best = if larger { v } else { best };
    }
    let mut out = [0f32; 4];
    // 0 + g, as accumulating onto a zeroed gradient gives (−0 becomes +0).
    out[at] = 0.0 + g;
    out
}

/// Row pair by row pair; with `QUADS`, four windows at a time by [`quad`] (AVX2 only).
#[allow(clippy::inline_always)]
#[inline(always)]
fn backward<const QUADS: bool>(
    x: &[f32],
    gy: &[f32],
    d: &mut [f32],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
) {
    let quads = if QUADS { ow / 4 } else { 0 };
    for ((xp, dp), gp) in x
        .chunks_exact(h * w)
        .zip(d.chunks_exact_mut(h * w))
        .zip(gy.chunks_exact(oh * ow))
    {
        for (yo, grow) in gp.chunks_exact(ow).enumerate() {
            let (top, bottom) = xp[2 * yo * w..(2 * yo + 2) * w].split_at(w);
            let (dtop, dbottom) = dp[2 * yo * w..(2 * yo + 2) * w].split_at_mut(w);
            #[cfg(target_arch = "x86_64")]
            for q in 0..quads {
                let c = 8 * q..8 * q + 8;
                let (Ok(t), Ok(b), Ok(g)) = (
                    <&[f32; 8]>::try_from(&top[c.clone()]),
                    <&[f32; 8]>::try_from(&bottom[c.clone()]),
                    <&[f32; 4]>::try_from(&grow[4 * q..4 * q + 4]),
                ) else {
                    continue;
                };
                // SAFETY: only reached with QUADS, which only `backward_avx2` (AVX2 present)
                // sets.
                #[allow(unsafe_code)]
                let (dt, db) = unsafe { quad(t, b, g) };
                dtop[c.clone()].copy_from_slice(&dt);
                dbottom[c].copy_from_slice(&db);
            }
            for (xo, &g) in grow.iter().enumerate().skip(4 * quads) {
                let c = 2 * xo..2 * xo + 2;
                let s = window(&top[c.clone()], &bottom[c.clone()], g);
                dtop[c.clone()].copy_from_slice(&s[..2]);
                dbottom[c].copy_from_slice(&s[2..]);
            }
        }
    }
}

/// [`backward`] with AVX2, four windows at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn backward_avx2(x: &[f32], gy: &[f32], d: &mut [f32], hw: (usize, usize), o: (usize, usize)) {
    backward::<true>(x, gy, d, hw, o);
}

/// Four windows side by side (cells `t[2i], t[2i+1]` over `b[2i], b[2i+1]`, gradient `g[i]`):
/// the shares [`window`] gives, by comparing every cell with its window's maximum.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn quad(t: &[f32; 8], b: &[f32; 8], g: &[f32; 4]) -> ([f32; 8], [f32; 8]) {
    use std::arch::x86_64::{
        _CMP_EQ_OQ, _CMP_NLT_UQ, _mm_loadu_ps, _mm256_add_ps, _mm256_and_ps, _mm256_andnot_ps,
        _mm256_blendv_ps, _mm256_castps128_ps256, _mm256_castsi256_ps, _mm256_cmp_ps,
        _mm256_loadu_ps, _mm256_max_ps, _mm256_or_ps, _mm256_permute_ps, _mm256_permutevar8x32_ps,
        _mm256_set_epi32, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    // Each lane and its window partner (lanes 2i and 2i + 1 swapped).
    const SWAP: i32 = 0b10_11_00_01;
    // SAFETY: the loads and stores read and write whole arrays of 8 (or 4) f32.
    #[allow(unsafe_code)]
    let (t, b, g4) = unsafe {
        (
            _mm256_loadu_ps(t.as_ptr()),
            _mm256_loadu_ps(b.as_ptr()),
            _mm_loadu_ps(g.as_ptr()),
        )
    };
    let neg = _mm256_set1_ps(f32::NEG_INFINITY);
    // `max_ps(v, −∞)` is v, or −∞ where v is NaN (the second operand wins on NaN): the
    // window's maximum over its non-NaN cells, in both of its lanes of each row.
    let (t0, b0) = (_mm256_max_ps(t, neg), _mm256_max_ps(b, neg));
    let m = _mm256_max_ps(
        _mm256_max_ps(t0, _mm256_permute_ps::<SWAP>(t0)),
        _mm256_max_ps(b0, _mm256_permute_ps::<SWAP>(b0)),
    );
    // A cell is its window's first largest when it equals the maximum and no earlier cell
    // does; the first cell also when it is NaN (not less than the maximum, unordered).
    let odd = _mm256_castsi256_ps(_mm256_set_epi32(-1, 0, -1, 0, -1, 0, -1, 0));
    let et = _mm256_blendv_ps(
        _mm256_cmp_ps::<_CMP_NLT_UQ>(t, m),
        _mm256_cmp_ps::<_CMP_EQ_OQ>(t, m),
        odd,
    );
    let eb = _mm256_cmp_ps::<_CMP_EQ_OQ>(b, m);
    let (et_partner, eb_partner) = (_mm256_permute_ps::<SWAP>(et), _mm256_permute_ps::<SWAP>(eb));
    // Top right loses to top left; bottom cells lose to either top cell, bottom right to
    // bottom left.
    let top_wins = _mm256_andnot_ps(_mm256_and_ps(et_partner, odd), et);
    let top_taken = _mm256_or_ps(et, et_partner);
    let bottom_wins = _mm256_andnot_ps(_mm256_or_ps(top_taken, _mm256_and_ps(eb_partner, odd)), eb);
    // g[i] in lanes 2i and 2i + 1; 0 + g as in `window`.
    let gu = _mm256_permutevar8x32_ps(
        _mm256_castps128_ps256(g4),
        _mm256_set_epi32(3, 3, 2, 2, 1, 1, 0, 0),
    );
    let zero = _mm256_setzero_ps();
    let (dt, db) = (
        _mm256_add_ps(_mm256_and_ps(top_wins, gu), zero),
        _mm256_add_ps(_mm256_and_ps(bottom_wins, gu), zero),
    );
    let (mut out_t, mut out_b) = ([0f32; 8], [0f32; 8]);
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_storeu_ps(out_t.as_mut_ptr(), dt);
        _mm256_storeu_ps(out_b.as_mut_ptr(), db);
    }
    (out_t, out_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No windows (a plane too small for one): nothing is written, nothing panics.
    #[test]
    fn planes_without_windows_are_left_alone() {
        let mut d = vec![7.0f32; 3];
        max_pool_2x2_backward(&[1.0, 2.0, 3.0], &[], &mut d, 3, (1, 1), (0, 0));
        assert_eq!(d, [7.0; 3]);
    }

    /// Windows with ties, NaNs in every position, signed zeros and infinities: the AVX2
    /// build gives the scalar build's bits, and the scalar build follows the definition.
    #[test]
    fn both_builds_give_the_first_largest_cell_its_gradient() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            1.0,
            -2.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            3.5,
        ];
        let (planes, h, w) = (3usize, 5usize, 19usize);
        let (oh, ow) = (h / 2, w / 2);
        let x: Vec<f32> = (0..planes * h * w)
            .map(|i| specials[(i * 7 + i / 5) % specials.len()])
            .collect();
        let gy: Vec<f32> = (0..planes * oh * ow)
            .map(|i| [1.5, -0.0, -3.0, 0.25][i % 4])
            .collect();
        let fill = 9.0;
        let mut want = vec![fill; x.len()];
        for p in 0..planes {
            for yo in 0..oh {
                for xo in 0..ow {
                    let at = |i: usize, j: usize| p * h * w + (2 * yo + i) * w + 2 * xo + j;
                    let cells = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                    let best = cells
                        .iter()
                        .copied()
                        .fold(cells[0], |b, c| if x[c] > x[b] { c } else { b });
                    for c in cells {
                        want[c] = 0.0;
                    }
                    want[best] += gy[(p * oh + yo) * ow + xo];
                }
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let mut scalar = vec![fill; x.len()];
        backward::<false>(&x, &gy, &mut scalar, (h, w), (oh, ow));
        assert_eq!(bits(&scalar), bits(&want));
        let mut dispatched = vec![fill; x.len()];
        max_pool_2x2_backward(&x, &gy, &mut dispatched, planes, (h, w), (oh, ow));
        assert_eq!(bits(&dispatched), bits(&want));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut wide = vec![fill; x.len()];
            // SAFETY: AVX2 was detected.
            #[allow(unsafe_code)]
            unsafe {
                backward_avx2(&x, &gy, &mut wide, (h, w), (oh, ow));
            }
            assert_eq!(bits(&wide), bits(&want));
        } else {
            eprintln!("SKIPPED the AVX2 build: this CPU has no AVX2");
        }
    }
}
