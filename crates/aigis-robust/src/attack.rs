//! White-box evasion attacks in DESIGN.md §3's conventions (those of the Adversarial
//! Robustness Toolbox): L∞ norm, softmax cross-entropy on the logits against the true label,
//! FGSM `x' = clip(x + ε·sign(∇ₓL), lo, hi)`, PGD from `x` with step `α = 2.5·ε/steps`,
//! projected onto the ε-ball and clipped to the valid range after each step.

use rayon::prelude::*;

use crate::engine::Session;
use crate::{Error, Tensor};

/// The valid input range.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// Lowest value.
    pub lo: f32,
    /// Highest value.
    pub hi: f32,
}

/// The index of the largest value (the first on ties).
pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
            if v > b.1 { (i, v) } else { b }
        })
        .0
}

/// Rows of `x` and values per row, checked against the labels.
pub(crate) fn rows_of(x: &Tensor, y: &[i64]) -> Result<(usize, usize), Error> {
    let rows = x.shape.first().copied().unwrap_or(0);
    if rows != y.len() {
        return Err(Error::Shape(format!("{rows} inputs, {} labels", y.len())));
    }
    Ok((rows, x.data.len() / rows.max(1)))
}

/// Pull `a` back onto the L2 ball of radius `eps` around `o` (`tol` keeps the division finite
/// at the centre; PGD uses ART's 1e-7).
pub(crate) fn project_l2(a: &mut [f32], o: &[f32], eps: f32, tol: f32) {
    let d = a
        .iter()
        .zip(o)
        .map(|(a, o)| (a - o) * (a - o))
        .sum::<f32>()
        .sqrt();
    let f = (eps / (d + tol)).min(1.0);
    for (a, &o) in a.iter_mut().zip(o) {
        *a = o + (*a - o) * f;
    }
}

pub(crate) use aigis_kernels::{clamp, sign};

/// Runs `f(block of adv, same rows of x, their labels, the block's shape)` on blocks of
/// [`Session::rows_per_block`] rows in parallel. Each call owns its rows for all of an attack's
/// steps: the block stays in cache and no step waits for the slowest block of the batch.
/// Rows are independent, so the result is the same on any number of threads.
fn par_blocks(
    s: &Session,
    x: &Tensor,
    adv: &mut Tensor,
    y: &[i64],
    f: impl Fn(&mut [f32], &[f32], &[i64], &[usize]) -> Result<(), Error> + Sync,
) -> Result<(), Error> {
    let (n, per) = rows_of(x, y)?;
    if adv.data.len() != x.data.len() {
        return Err(Error::Shape(format!(
            "a start of shape {:?} for inputs of shape {:?}",
            adv.shape, x.shape
        )));
    }
    if n == 0 || per == 0 {
        return Ok(());
    }
    let block = s.rows_per_block(x)?;
    adv.data
        .par_chunks_mut(per * block)
        .zip(x.data.par_chunks(per * block))
        .zip(y.par_chunks(block))
        .try_for_each(|((a, o), yb)| {
            let mut shape = x.shape.clone();
            shape[0] = yb.len();
            f(a, o, yb, &shape)
        })
}

/// The gradient of a block's rows (copied into a tensor of the block's shape).
fn block_gradient(s: &Session, a: &[f32], y: &[i64], shape: &[usize]) -> Result<Tensor, Error> {
    let t = Tensor {
        shape: shape.to_vec(),
        data: a.to_vec(),
    };
    s.block_gradient(&t, y)
}

/// FGSM adversarial examples of `x` at `eps`.
pub fn fgsm(s: &Session, x: &Tensor, y: &[i64], eps: f32, r: Range) -> Result<Tensor, Error> {
    let mut adv = x.clone();
    par_blocks(s, x, &mut adv, y, |a, _, yb, shape| {
        let g = block_gradient(s, a, yb, shape)?;
        for (v, &d) in a.iter_mut().zip(&g.data) {
            *v = clamp(*v + eps * sign(d), r.lo, r.hi);
        }
        Ok(())
    })?;
    Ok(adv)
}

/// The norm of a perturbation budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Largest absolute change of any value (steps follow the gradient's sign).
    Linf,
    /// Euclidean length of each sample's change (steps follow the normalised gradient).
    L2,
}

/// PGD adversarial examples of `x` at `eps` (L∞) after `steps` steps from `x`.
pub fn pgd(
    s: &Session,
    x: &Tensor,
    y: &[i64],
    eps: f32,
    steps: usize,
    r: Range,
) -> Result<Tensor, Error> {
    pgd_from(s, x, x, y, eps, steps, Norm::Linf, r)
}

/// Values of one sample.
fn rows(t: &Tensor) -> usize {
    t.shape.first().copied().unwrap_or(0)
}

/// PGD from `start` (projected around `x`), in the `norm`'s geometry (ART's steps: move,
/// clip to the valid range, project onto the ball around `x`).
#[allow(clippy::too_many_arguments)]
pub fn pgd_from(
    s: &Session,
    x: &Tensor,
    start: &Tensor,
    y: &[i64],
    eps: f32,
    steps: usize,
    norm: Norm,
    r: Range,
) -> Result<Tensor, Error> {
    let alpha = 2.5 * eps / steps.max(1) as f32;
    let (_, per) = rows_of(x, y)?;
    let per = per.max(1);
    let mut adv = start.clone();
    // Each block of rows takes all its steps on one thread (see `par_blocks`).
    par_blocks(s, x, &mut adv, y, |a, orig, yb, shape| {
        for _ in 0..steps {
            let g = block_gradient(s, a, yb, shape)?;
            for ((a, gr), orig) in a
                .chunks_mut(per)
                .zip(g.data.chunks(per))
                .zip(orig.chunks(per))
            {
                match norm {
                    Norm::Linf => {
                        // clamp(a + α·sign(g), lo, hi), then onto [o − ε, o + ε].
                        aigis_kernels::linf_step(a, gr, orig, alpha, (r.lo, r.hi), eps);
                    }
                    Norm::L2 => {
                        // ART's tolerances: 1e-7 on the gradient's norm, 1e-7 on the projection.
                        let gn = gr.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-7;
                        for (a, &d) in a.iter_mut().zip(gr) {
                            *a = clamp(*a + alpha * d / gn, r.lo, r.hi);
                        }
                        project_l2(a, orig, eps, 1e-7);
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(adv)
}

/// PGD with `restarts` runs: the first from `x`, the others from uniform random points of the
/// ε-ball (seeded); each sample keeps the run that fooled the model, or the last — so the
/// robust accuracy is the per-sample worst case over the runs.
#[allow(clippy::too_many_arguments)]
pub fn pgd_restarts(
    s: &Session,
    x: &Tensor,
    y: &[i64],
    eps: f32,
    steps: usize,
    norm: Norm,
    restarts: usize,
    seed: u64,
    r: Range,
) -> Result<Tensor, Error> {
    let mut best = pgd_from(s, x, x, y, eps, steps, norm, r)?;
    let mut fooled = wrong(s, &best, y)?;
    let n = rows(x).max(1);
    let per = x.data.len() / n;
    let mut st = seed;
    for _ in 1..restarts.max(1) {
        let start = random_start(x, eps, norm, r, &mut st);
        let adv = pgd_from(s, x, &start, y, eps, steps, norm, r)?;
        let now = wrong(s, &adv, y)?;
        for row in 0..rows(x) {
            if now[row] && !fooled[row] {
                best.data[row * per..(row + 1) * per]
                    .copy_from_slice(&adv.data[row * per..(row + 1) * per]);
                fooled[row] = true;
            }
        }
    }
    Ok(best)
}

/// A uniform random point of each sample's ε-ball around `x` (L∞: every value uniform in
/// ±ε; L2: a random direction at a random radius within ε), clipped to the valid range.
pub(crate) fn random_start(x: &Tensor, eps: f32, norm: Norm, r: Range, st: &mut u64) -> Tensor {
    let n = rows(x).max(1);
    let per = (x.data.len() / n).max(1);
    let mut start = x.clone();
    for chunk in start.data.chunks_mut(per) {
        let noise: Vec<f32> = (0..chunk.len())
            .map(|_| (crate::fingerprint::uniform(st) * 2.0 - 1.0) * eps)
            .collect();
        let scale = match norm {
            Norm::Linf => 1.0,
            Norm::L2 => {
                let l = noise.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                crate::fingerprint::uniform(st) * eps / l
            }
        };
        for (v, d) in chunk.iter_mut().zip(noise) {
            *v = (*v + d * scale).clamp(r.lo, r.hi);
        }
    }
    start
}

fn wrong(s: &Session, x: &Tensor, y: &[i64]) -> Result<Vec<bool>, Error> {
    Ok(correct(s, x, y)?.into_iter().map(|c| !c).collect())
}

/// Which rows of `x` the model labels correctly.
pub fn correct(s: &Session, x: &Tensor, y: &[i64]) -> Result<Vec<bool>, Error> {
    let logits = s.run(x)?;
    let classes = *logits.shape.last().unwrap_or(&1);
    Ok(logits
        .data
        .chunks(classes.max(1))
        .zip(y)
        .map(|(row, label)| argmax(row) as i64 == *label)
        .collect())
}

/// The share of rows of `x` the model labels correctly.
pub fn accuracy(s: &Session, x: &Tensor, y: &[i64]) -> Result<f64, Error> {
    let c = correct(s, x, y)?;
    Ok(c.iter().filter(|v| **v).count() as f64 / y.len().max(1) as f64)
}
