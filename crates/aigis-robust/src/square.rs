//! Square Attack (Andriushchenko et al., 2020), L∞, score-based black-box: it reads only the
//! model's output scores, never a gradient, so it still works where gradients are masked.
//! It starts from vertical stripes of ±ε and then, once per query, proposes changing one
//! random square window (every channel set to ±ε around the original) and keeps the proposal
//! when the margin loss `score[y] − max_{j≠y} score[j]` falls; the window's area follows the
//! paper's schedule (a share p of the image, halved at set query counts). Inputs without
//! spatial dimensions (`[N, F]`) are treated as a single row of F features.

use crate::attack::Range;
use crate::engine::Session;
use crate::fingerprint::uniform;
use crate::{Error, Tensor};

/// The margin `score[y] − max_{j≠y} score[j]` of each row (negative: misclassified).
pub(crate) fn margins(scores: &Tensor, y: &[i64]) -> Vec<f32> {
    let classes = scores.shape.last().copied().unwrap_or(1).max(1);
    scores
        .data
        .chunks(classes)
        .zip(y)
        .map(|(row, &label)| {
            let l = usize::try_from(label).unwrap_or(0).min(classes - 1);
            let other = row
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != l)
                .map(|(_, &v)| v)
                .fold(f32::NEG_INFINITY, f32::max);
            row[l] - other
        })
        .collect()
}

/// The share of the input a window covers after `i` of `n` queries (the paper's schedule
/// for 10,000 queries, rescaled to `n`).
fn p_at(p_init: f32, i: usize, n: usize) -> f32 {
    let i = (i as f64 * 10_000.0 / n.max(1) as f64) as usize;
    let halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000]
        .iter()
        .filter(|&&t| i > t)
        .count();
    p_init / (1u32 << halvings) as f32
}

/// The window's height and width for share `p` of an `h`×`w` sample: a square of side
/// √(p·h·w), at least 1 and below the shorter side (unless that is 1); for a flat sample
/// (`h` = 1) a run of side² values. Never larger than the sample.
fn window(p: f32, h: usize, w: usize) -> (usize, usize) {
    let side = ((p * (h * w) as f32).sqrt().round() as usize).max(1);
    if h == 1 {
        return (1, (side * side).clamp(1, w.max(1)));
    }
    let short = h.min(w).max(1);
    let side = side.min(if short > 1 { short - 1 } else { 1 });
    (side, side)
}

/// Layout of one sample: channels, height, width.
fn layout(x: &Tensor) -> (usize, usize, usize) {
    match x.shape.as_slice() {
        [_, c, h, w] => (*c, *h, *w),
        [_, c, w] => (*c, 1, *w),
        s => (1, 1, s.iter().skip(1).product()),
    }
}

/// Square Attack adversarial examples of `x` within `eps` (L∞) with at most `queries` model
/// queries per sample (the initial stripes count as one); seeded.
pub fn square(
    s: &Session,
    x: &Tensor,
    y: &[i64],
    eps: f32,
    queries: usize,
    seed: u64,
    r: Range,
) -> Result<Tensor, Error> {
    let (rows, per) = crate::attack::rows_of(x, y)?;
    let (c, h, w) = layout(x);
    let mut st = seed;
    let pm = |st: &mut u64| if uniform(st) < 0.5 { -eps } else { eps };
    // Vertical stripes: one sign per (channel, column).
    let mut adv = x.clone();
    for row in 0..rows {
        for ch in 0..c {
            for col in 0..w {
                let d = pm(&mut st);
                for yy in 0..h {
                    let i = row * per + (ch * h + yy) * w + col;
                    adv.data[i] = (x.data[i] + d).clamp(r.lo, r.hi);
                }
            }
        }
    }
    let mut margin = margins(&s.run(&adv)?, y);
    let mut active: Vec<usize> = (0..rows).filter(|&i| margin[i] > 0.0).collect();
    let mut i = 1usize;
    while i < queries && !active.is_empty() {
        let p = p_at(0.8, i, queries);
        // The window's side: √(p·H·W), at least 1, below the shorter side unless it is 1.
        let (sh, sw) = window(p, h, w);
        let mut cand = Tensor {
            shape: {
                let mut s = x.shape.clone();
                s[0] = active.len();
                s
            },
            data: Vec::with_capacity(active.len() * per),
        };
        for &row in &active {
            let base = row * per;
            let mut v = adv.data[base..base + per].to_vec();
            let top = (uniform(&mut st) * (h - sh + 1) as f32) as usize;
            let left = (uniform(&mut st) * (w - sw + 1) as f32) as usize;
            for ch in 0..c {
                let d = pm(&mut st);
                for yy in top..(top + sh).min(h) {
                    for xx in left..(left + sw).min(w) {
                        let k = (ch * h + yy) * w + xx;
                        v[k] = (x.data[base + k] + d).clamp(r.lo, r.hi);
                    }
                }
            }
            cand.data.extend_from_slice(&v);
        }
        let labels: Vec<i64> = active.iter().map(|&row| y[row]).collect();
        let m = margins(&s.run(&cand)?, &labels);
        for (k, &row) in active.iter().enumerate() {
            if m[k] < margin[row] {
                margin[row] = m[k];
                adv.data[row * per..(row + 1) * per]
                    .copy_from_slice(&cand.data[k * per..(k + 1) * per]);
            }
        }
        active.retain(|&row| margin[row] > 0.0);
        i += 1;
    }
    Ok(adv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_halves_and_margins_sign_the_decision() {
        assert!((p_at(0.8, 0, 10_000) - 0.8).abs() < 1e-6);
        assert!((p_at(0.8, 11, 10_000) - 0.4).abs() < 1e-6);
        assert!((p_at(0.8, 9_000, 10_000) - 0.8 / 512.0).abs() < 1e-6);
        // Rescaled: 1% of 1,000 queries is past the first halving.
        assert!((p_at(0.8, 2, 1_000) - 0.4).abs() < 1e-6);
        // Windows fit any sample shape, tall and thin ones included.
        for (h, w) in [(8, 1), (1, 8), (1, 1), (5, 3), (2, 64), (28, 28)] {
            for p in [0.8f32, 0.1, 0.001] {
                let (a, b) = window(p, h, w);
                assert!(
                    a >= 1 && b >= 1 && a <= h && b <= w,
                    "{h}x{w} p {p}: {a}x{b}"
                );
            }
        }
        let scores = Tensor::new(vec![2, 3], vec![3.0, 1.0, 0.0, 0.0, 2.0, 1.0]).expect("t");
        assert_eq!(margins(&scores, &[0, 0]), vec![2.0, -2.0]);
    }
}
