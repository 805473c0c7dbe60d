//! White-box evasion attacks in DESIGN.md §3's conventions (those of the Adversarial
//! Robustness Toolbox): L∞ norm, softmax cross-entropy on the logits against the true label,
//! FGSM `x' = clip(x + ε·sign(∇ₓL), lo, hi)`, PGD from `x` with step `α = 2.5·ε/steps`,
//! projected onto the ε-ball and clipped to the valid range after each step.

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

fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// FGSM adversarial examples of `x` at `eps`.
pub fn fgsm(s: &Session, x: &Tensor, y: &[i64], eps: f32, r: Range) -> Result<Tensor, Error> {
    let (_, g) = s.loss_gradient(x, y)?;
    Ok(Tensor {
        shape: x.shape.clone(),
        data: x
            .data
            .iter()
            .zip(&g.data)
            .map(|(&v, &d)| (v + eps * sign(d)).clamp(r.lo, r.hi))
            .collect(),
    })
}

/// PGD adversarial examples of `x` at `eps` after `steps` steps (no random start).
pub fn pgd(
    s: &Session,
    x: &Tensor,
    y: &[i64],
    eps: f32,
    steps: usize,
    r: Range,
) -> Result<Tensor, Error> {
    let alpha = 2.5 * eps / steps.max(1) as f32;
    let mut adv = x.clone();
    for _ in 0..steps {
        let (_, g) = s.loss_gradient(&adv, y)?;
        for ((a, &d), &orig) in adv.data.iter_mut().zip(&g.data).zip(&x.data) {
            let stepped = *a + alpha * sign(d);
            *a = stepped.clamp(orig - eps, orig + eps).clamp(r.lo, r.hi);
        }
    }
    Ok(adv)
}

/// The share of rows of `x` the model labels correctly.
pub fn accuracy(s: &Session, x: &Tensor, y: &[i64]) -> Result<f64, Error> {
    let logits = s.run(x)?;
    let classes = *logits.shape.last().unwrap_or(&1);
    let right = logits
        .data
        .chunks(classes.max(1))
        .zip(y)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
                    if v > b.1 { (i, v) } else { b }
                });
            best.0 as i64 == **label
        })
        .count();
    Ok(right as f64 / y.len().max(1) as f64)
}
