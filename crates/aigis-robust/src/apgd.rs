//! APGD-CE (Croce & Hein, 2020), the white-box half of AutoAttack: PGD on the cross-entropy
//! with momentum (α = 0.75) and a step size that needs no tuning — it starts at 2ε and halves,
//! per sample, at checkpoints where the loss stopped rising (fewer than ρ = 75% of the steps
//! since the last checkpoint raised it, or the step size and the best loss were both
//! unchanged), restarting from the best point found. A sample counts as fooled when any
//! iterate was misclassified.

use crate::attack::{Norm, Range, argmax, random_start, rows_of, sign};
use crate::engine::Session;
use crate::{Error, Tensor};

/// The checkpoints (iteration numbers) for `steps` iterations: p₀ = 0, p₁ = 0.22,
/// pⱼ₊₁ = pⱼ + max(pⱼ − pⱼ₋₁ − 0.03, 0.06), in whole iterations as AutoAttack counts them
/// (periods of ⌊0.22·steps⌋, shrinking by ⌊0.03·steps⌋ down to ⌊0.06·steps⌋, each at least 1).
pub fn checkpoints(steps: usize) -> Vec<usize> {
    let (mut period, shrink, least) = (
        (steps * 22 / 100).max(1),
        (steps * 3 / 100).max(1),
        (steps * 6 / 100).max(1),
    );
    let mut w = vec![0usize];
    let mut at = 0usize;
    while at + period <= steps {
        at += period;
        w.push(at);
        period = period.saturating_sub(shrink).max(least);
    }
    w
}

/// Per-sample cross-entropy and whether the model labels it correctly, from its logits.
fn loss_and_correct(logits: &Tensor, y: &[i64]) -> Vec<(f32, bool)> {
    let classes = logits.shape.last().copied().unwrap_or(1).max(1);
    logits
        .data
        .chunks(classes)
        .zip(y)
        .map(|(row, &label)| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
            let l = usize::try_from(label).unwrap_or(0).min(classes - 1);
            (lse - row[l], argmax(row) == l)
        })
        .collect()
}

/// Project `a` onto the ε-ball around `o` and the valid range.
fn project(a: &mut [f32], o: &[f32], eps: f32, norm: Norm, r: Range) {
    match norm {
        Norm::Linf => {
            for (a, &o) in a.iter_mut().zip(o) {
                *a = a.clamp(o - eps, o + eps).clamp(r.lo, r.hi);
            }
        }
        Norm::L2 => {
            for a in a.iter_mut() {
                *a = a.clamp(r.lo, r.hi);
            }
            crate::attack::project_l2(a, o, eps, 1e-12);
        }
    }
}

/// A step of size `eta` along the gradient `g` in the norm's geometry.
fn step(a: &[f32], g: &[f32], eta: f32, norm: Norm) -> Vec<f32> {
    match norm {
        Norm::Linf => a.iter().zip(g).map(|(a, g)| a + eta * sign(*g)).collect(),
        Norm::L2 => {
            let n = g.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-12;
            a.iter().zip(g).map(|(a, g)| a + eta * g / n).collect()
        }
    }
}

/// APGD-CE adversarial examples of `x` within `eps` after `steps` iterations from a seeded
/// random start; for each sample, the first misclassified iterate, else the highest-loss one.
// `row` indexes the per-sample state (step size, losses, counters) and the batch alike.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub fn apgd_ce(
    s: &Session,
    x: &Tensor,
    y: &[i64],
    eps: f32,
    steps: usize,
    norm: Norm,
    seed: u64,
    r: Range,
) -> Result<Tensor, Error> {
    let (rows, per) = rows_of(x, y)?;
    let steps = steps.max(1);
    let marks = checkpoints(steps);
    let (alpha, rho) = (0.75f32, 0.75f32);
    let mut st = seed;
    let mut cur = random_start(x, eps, norm, r, &mut st);
    let (logits, mut grad) = s.loss_gradient(&cur, y)?;
    let lc = loss_and_correct(&logits, y);
    let mut best = cur.clone();
    let mut best_loss: Vec<f32> = lc.iter().map(|v| v.0).collect();
    let mut fooled: Vec<bool> = lc.iter().map(|v| !v.1).collect();
    let mut eta = vec![2.0 * eps; rows];
    let mut prev = cur.clone();
    let mut prev_loss = best_loss.clone();
    let mut rises = vec![0usize; rows];
    // At the last checkpoint: whether the step size was halved, and the best loss.
    let mut halved = vec![false; rows];
    let mut best_at_mark = best_loss.clone();
    let mut last_mark = 0usize;
    for k in 0..steps {
        let mut next = cur.clone();
        for row in 0..rows {
            let span = row * per..(row + 1) * per;
            let o = &x.data[span.clone()];
            let c = &cur.data[span.clone()];
            let mut z = step(c, &grad.data[span.clone()], eta[row], norm);
            project(&mut z, o, eps, norm, r);
            let n = &mut next.data[span.clone()];
            if k == 0 {
                n.copy_from_slice(&z);
            } else {
                let p = &prev.data[span];
                for (((n, &z), &c), &p) in n.iter_mut().zip(&z).zip(c).zip(p) {
                    *n = c + alpha * (z - c) + (1.0 - alpha) * (c - p);
                }
                project(n, o, eps, norm, r);
            }
        }
        prev = std::mem::replace(&mut cur, next);
        let (logits, g) = s.loss_gradient(&cur, y)?;
        grad = g;
        for (row, (l, ok)) in loss_and_correct(&logits, y).into_iter().enumerate() {
            if l > prev_loss[row] {
                rises[row] += 1;
            }
            prev_loss[row] = l;
            let span = row * per..(row + 1) * per;
            if !fooled[row] && (!ok || l > best_loss[row]) {
                best.data[span.clone()].copy_from_slice(&cur.data[span]);
                best_loss[row] = best_loss[row].max(l);
                fooled[row] = !ok;
            }
        }
        if marks.contains(&(k + 1)) && k + 1 < steps {
            let since = (k + 1 - last_mark).max(1) as f32;
            for row in 0..rows {
                let stalled = (rises[row] as f32) < rho * since
                    || (!halved[row] && best_loss[row] <= best_at_mark[row]);
                best_at_mark[row] = best_loss[row];
                rises[row] = 0;
                halved[row] = stalled && !fooled[row];
                if halved[row] {
                    eta[row] /= 2.0;
                    let span = row * per..(row + 1) * per;
                    cur.data[span.clone()].copy_from_slice(&best.data[span.clone()]);
                    prev.data[span.clone()].copy_from_slice(&best.data[span]);
                }
            }
            last_mark = k + 1;
            // The gradient at the points restarted from.
            grad = s.loss_gradient(&cur, y)?.1;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_the_paper() {
        // 100 iterations: periods 22, 19, 16, 13, 10, 7, 6, 6.
        assert_eq!(checkpoints(100), [0, 22, 41, 57, 70, 80, 87, 93, 99]);
        let w = checkpoints(20);
        assert!(w.windows(2).all(|p| p[0] < p[1]));
        assert!(*w.last().unwrap_or(&0) <= 100);
        assert_eq!(checkpoints(1)[0], 0);
    }
}
