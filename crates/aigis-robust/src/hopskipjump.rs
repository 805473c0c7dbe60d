//! HopSkipJump (Chen, Jordan & Wainwright, 2020), decision-based black-box: it reads only the
//! model's label. From a misclassified starting point it walks along the decision boundary
//! towards the original input: binary search to the boundary, a gradient direction estimated
//! from the labels of random points around the boundary point (with baseline subtraction), a
//! geometric step search along it, and again a binary search. It finds a small perturbation
//! rather than attacking a fixed budget; a sample counts as fooled at ε when the point it
//! returns — the boundary point pulled into the ε-ball — is misclassified.
//!
//! Each sample has its own query budget and seeded random stream (seed + row), and samples
//! run in parallel, so results do not depend on the thread count.

use rayon::prelude::*;

use crate::attack::{Norm, Range};
use crate::engine::Session;
use crate::fingerprint::uniform;
use crate::{Error, Tensor};

/// One sample's search.
struct Search<'a> {
    s: &'a Session,
    shape: Vec<usize>,
    label: i64,
    queries: usize,
    budget: usize,
    norm: Norm,
    r: Range,
}

impl Search<'_> {
    /// Whether each point (rows of `pts`, each `per` values) is misclassified; counts queries.
    fn adversarial(&mut self, pts: &[f32], per: usize) -> Result<Vec<bool>, Error> {
        let n = pts.len() / per.max(1);
        self.queries += n;
        let mut shape = self.shape.clone();
        shape[0] = n;
        let out = self.s.run(&Tensor::new(shape, pts.to_vec())?)?;
        let classes = out.shape.last().copied().unwrap_or(1).max(1);
        Ok(out
            .data
            .chunks(classes)
            .map(|row| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    );
                best.0 as i64 != self.label
            })
            .collect())
    }

    fn left(&self) -> usize {
        self.budget.saturating_sub(self.queries)
    }
}

/// The distance of two samples in the norm.
pub(crate) fn dist(a: &[f32], b: &[f32], norm: Norm) -> f32 {
    match norm {
        Norm::L2 => a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt(),
        Norm::Linf => a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max),
    }
}

/// The point between `x` and `a` at `t`: L2, the fraction `t` of the way; L∞, `a` clipped to
/// the box of radius `t` around `x`.
fn blend(x: &[f32], a: &[f32], t: f32, norm: Norm) -> Vec<f32> {
    match norm {
        Norm::L2 => x.iter().zip(a).map(|(x, a)| x + t * (a - x)).collect(),
        Norm::Linf => x
            .iter()
            .zip(a)
            .map(|(x, a)| a.clamp(x - t, x + t))
            .collect(),
    }
}

fn gaussian(st: &mut u64) -> f32 {
    let u1 = uniform(st).max(1e-7);
    let u2 = uniform(st);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Binary search between `x` (correct) and `adv` (misclassified) to within `theta`; the
/// misclassified end.
fn to_boundary(se: &mut Search<'_>, x: &[f32], adv: &[f32], theta: f32) -> Result<Vec<f32>, Error> {
    let per = x.len();
    let (mut lo, mut hi) = match se.norm {
        Norm::L2 => (0.0f32, 1.0f32),
        Norm::Linf => (0.0, dist(x, adv, Norm::Linf)),
    };
    let mut best = adv.to_vec();
    while hi - lo > theta && se.left() > 0 {
        let mid = f32::midpoint(lo, hi);
        let p = blend(x, adv, mid, se.norm);
        if se.adversarial(&p, per)?[0] {
            hi = mid;
            best = p;
        } else {
            lo = mid;
        }
    }
    Ok(best)
}

/// One sample: the boundary point found, or `None` when no misclassified start was found.
fn attack_one(
    se: &mut Search<'_>,
    x: &[f32],
    seed: u64,
    max_iter: usize,
) -> Result<Option<Vec<f32>>, Error> {
    let per = x.len();
    let d = per as f32;
    let theta = match se.norm {
        Norm::L2 => 1.0 / (d * d.sqrt()),
        Norm::Linf => 1.0 / (d * d),
    };
    let mut st = seed;
    // A misclassified start: uniform noise over the valid range, 10 tries at a time.
    let mut start = None;
    for _ in 0..10 {
        if se.left() < 10 {
            break;
        }
        let pts: Vec<f32> = (0..10 * per)
            .map(|_| se.r.lo + uniform(&mut st) * (se.r.hi - se.r.lo))
            .collect();
        if let Some(k) = se.adversarial(&pts, per)?.iter().position(|&a| a) {
            start = Some(pts[k * per..(k + 1) * per].to_vec());
            break;
        }
    }
    let Some(start) = start else { return Ok(None) };
    let mut xb = to_boundary(se, x, &start, theta)?;
    for t in 1..=max_iter {
        if se.left() == 0 {
            break;
        }
        let dn = dist(&xb, x, se.norm);
        let delta = if t == 1 {
            0.1 * (se.r.hi - se.r.lo)
        } else {
            match se.norm {
                Norm::L2 => d.sqrt() * theta * dn,
                Norm::Linf => d * theta * dn,
            }
        };
        // Estimate the gradient direction from the labels of points around xb.
        let evals = ((100.0 * (t as f32).sqrt()) as usize)
            .min(1000)
            .min(se.left() / 2)
            .max(1);
        let mut us = Vec::with_capacity(evals * per);
        for _ in 0..evals {
            let u: Vec<f32> = (0..per)
                .map(|_| match se.norm {
                    Norm::L2 => gaussian(&mut st),
                    Norm::Linf => uniform(&mut st) * 2.0 - 1.0,
                })
                .collect();
            let n = u.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            us.extend(u.into_iter().map(|v| v / n));
        }
        let pts: Vec<f32> = us
            .chunks(per)
            .flat_map(|u| {
                xb.iter()
                    .zip(u)
                    .map(|(b, u)| (b + delta * u).clamp(se.r.lo, se.r.hi))
                    .collect::<Vec<_>>()
            })
            .collect();
        let hits = se.adversarial(&pts, per)?;
        let all_same = hits.iter().all(|&h| h) || !hits.iter().any(|&h| h);
        let phi: Vec<f32> = hits.iter().map(|&a| if a { 1.0 } else { -1.0 }).collect();
        let mean = phi.iter().sum::<f32>() / phi.len() as f32;
        let mut v = vec![0f32; per];
        for (u, &p) in us.chunks(per).zip(&phi) {
            // Baseline subtraction, unless every point fell on one side.
            let wgt = if all_same { p } else { p - mean };
            for (v, u) in v.iter_mut().zip(u) {
                *v += wgt * u;
            }
        }
        let update: Vec<f32> = match se.norm {
            Norm::L2 => {
                let n = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
                v.iter().map(|a| a / n).collect()
            }
            Norm::Linf => v
                .iter()
                .map(|a| a.signum() * f32::from(*a != 0.0))
                .collect(),
        };
        // Geometric step search: halve until the step stays misclassified.
        let mut eps_t = dn / (t as f32).sqrt();
        let mut moved = None;
        for _ in 0..25 {
            if se.left() == 0 || eps_t <= 0.0 {
                break;
            }
            let cand: Vec<f32> = xb
                .iter()
                .zip(&update)
                .map(|(b, u)| (b + eps_t * u).clamp(se.r.lo, se.r.hi))
                .collect();
            if se.adversarial(&cand, per)?[0] {
                moved = Some(cand);
                break;
            }
            eps_t /= 2.0;
        }
        if let Some(c) = moved {
            xb = to_boundary(se, x, &c, theta)?;
        }
    }
    Ok(Some(xb))
}

/// HopSkipJump on every row of `x` with at most `queries` model queries per sample; returns
/// each sample's boundary point pulled into the ε-ball around it (the original row when no
/// misclassified point was found, or when the model already misclassifies it).
#[allow(clippy::too_many_arguments)]
pub fn hop_skip_jump(
    s: &Session,
    x: &Tensor,
    y: &[i64],
    eps: f32,
    norm: Norm,
    queries: usize,
    seed: u64,
    r: Range,
) -> Result<Tensor, Error> {
    let (rows, per) = crate::attack::rows_of(x, y)?;
    let mut shape = x.shape.clone();
    if let Some(f) = shape.first_mut() {
        *f = 1;
    }
    let already = crate::attack::correct(s, x, y)?;
    let out: Vec<Vec<f32>> = (0..rows)
        .into_par_iter()
        .map(|row| -> Result<Vec<f32>, Error> {
            let xr = &x.data[row * per..(row + 1) * per];
            if !already[row] {
                return Ok(xr.to_vec());
            }
            let mut se = Search {
                s,
                shape: shape.clone(),
                label: y[row],
                queries: 0,
                budget: queries,
                norm,
                r,
            };
            let found = attack_one(&mut se, xr, seed.wrapping_add(row as u64), 64)?;
            Ok(match found {
                Some(b) if dist(&b, xr, norm) <= eps => b,
                Some(b) => {
                    // Pull the boundary point into the budget: L2 along the line, L∞ clipped.
                    let t = match norm {
                        Norm::L2 => eps / dist(&b, xr, norm).max(1e-12),
                        Norm::Linf => eps,
                    };
                    blend(xr, &b, t, norm)
                }
                None => xr.to_vec(),
            })
        })
        .collect::<Result<_, _>>()?;
    Tensor::new(x.shape.clone(), out.concat())
}
