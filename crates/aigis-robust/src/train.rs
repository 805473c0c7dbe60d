//! Adversarial training (Madry et al., 2018): fine-tune a model's weights on PGD adversarial
//! examples of its training data, made afresh against the current weights for every
//! minibatch, with Adam on the mean softmax cross-entropy. The trained weights are written
//! back into the original ONNX file by [`crate::onnx::with_weights`], so the hardened model
//! keeps its graph, inputs and outputs.
//!
//! Which weights train: the matrices and biases of `Gemm`, `MatMul`, `Conv`, the scale and
//! shift of `BatchNormalization` (its running statistics stay fixed: inference mode, as when
//! fine-tuning) and initializer operands of `Add`/`Sub` (biases of exported `MatMul` + `Add`
//! layers). Other constants (normalisation by `Mul`/`Div`, `Reshape` shapes) are not touched.

use std::collections::{HashMap, HashSet};

use crate::attack::{self, Norm, Range};
use crate::engine::Session;
use crate::{Error, Tensor};

/// What [`harden`] runs.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Perturbation budget of the training attack.
    pub eps: f32,
    /// PGD steps per minibatch (random start in the ball, step 2.5·ε/steps).
    pub steps: usize,
    /// Norm of the budget.
    pub norm: Norm,
    /// Passes over the training data.
    pub epochs: usize,
    /// Rows per minibatch.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f32,
    /// Seed of the shuffles and random starts.
    pub seed: u64,
    /// The valid input range.
    pub range: Range,
}

/// One finished epoch.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// Mean cross-entropy on the adversarial examples trained on.
    pub adversarial_loss: f64,
}

/// The initializers adversarial training updates, sorted by name.
pub fn trainable(s: &Session) -> Result<Vec<String>, Error> {
    let m = &s.model;
    let is_float_weight =
        |name: &String| m.initializers.contains_key(name) && !s.synthetic.contains(name);
    let mut train = HashSet::new();
    let mut fixed = HashSet::new();
    for n in &m.nodes {
        let slots: &[usize] = match n.op.as_str() {
            "Gemm" | "Conv" | "BatchNormalization" => &[1, 2],
            "MatMul" => &[1],
            "Add" | "Sub" => &[0, 1],
            _ => &[],
        };
        for (k, name) in n.inputs.iter().enumerate() {
            if !is_float_weight(name) {
                continue;
            }
            if slots.contains(&k) {
                train.insert(name.clone());
            } else {
                fixed.insert(name.clone());
            }
        }
    }
    if let Some(n) = m.nodes.iter().find(|n| n.op == "TreeEnsembleClassifier") {
        return Err(Error::Unsupported {
            op: n.op.clone(),
            node: n.name.clone(),
            why: "trees are not trained by gradients; retrain the ensemble on adversarial examples in its own framework".into(),
        });
    }
    if !s.synthetic.is_empty() {
        return Err(Error::Unsupported {
            op: "LinearClassifier".into(),
            node: "-".into(),
            why: "its weights are attributes of an ai.onnx.ml operator, not initializers; harden trains initializers (export the model as MatMul/Gemm layers)".into(),
        });
    }
    // A constant also used where it must not change (a shared normalisation value) stays.
    let mut names: Vec<String> = train.difference(&fixed).cloned().collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::Unsupported {
            op: "graph".into(),
            node: "-".into(),
            why: "no weights of Gemm, MatMul, Conv, BatchNormalization or Add to train".into(),
        });
    }
    Ok(names)
}

/// Adam's state for one weight.
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

/// Rows `idx` of `x` and their labels.
fn gather(x: &Tensor, y: &[i64], idx: &[usize]) -> (Tensor, Vec<i64>) {
    let per = x.data.len() / x.shape.first().copied().unwrap_or(1).max(1);
    let mut data = Vec::with_capacity(idx.len() * per);
    for &i in idx {
        data.extend_from_slice(&x.data[i * per..(i + 1) * per]);
    }
    let mut shape = x.shape.clone();
    if let Some(f) = shape.first_mut() {
        *f = idx.len();
    }
    (Tensor { shape, data }, idx.iter().map(|&i| y[i]).collect())
}

/// Fine-tune `s`'s trainable weights by PGD adversarial training on (`x`, `y`); `on_epoch` is
/// called after each epoch. The session holds the trained weights afterwards; the result is
/// the weights by name, ready for [`crate::onnx::with_weights`].
pub fn harden(
    s: &mut Session,
    x: &Tensor,
    y: &[i64],
    c: &Config,
    on_epoch: &mut dyn FnMut(Epoch),
) -> Result<HashMap<String, Tensor>, Error> {
    let rows = x.shape.first().copied().unwrap_or(0);
    if rows == 0 || rows != y.len() {
        return Err(Error::Shape(format!(
            "{rows} training inputs, {} labels",
            y.len()
        )));
    }
    if c.batch == 0 || c.epochs == 0 || c.steps == 0 {
        return Err(Error::Shape(
            "batch size, epochs and steps must be at least 1".into(),
        ));
    }
    let names = trainable(s)?;
    let wanted: HashSet<String> = names.iter().cloned().collect();
    let mut moments: HashMap<String, Moments> = names
        .iter()
        .filter_map(|n| s.model.initializers.get(n).map(|t| (n, t.data.len())))
        .map(|(n, len)| {
            (
                n.clone(),
                Moments {
                    m: vec![0.0; len],
                    v: vec![0.0; len],
                },
            )
        })
        .collect();
    let (b1, b2, tiny) = (0.9f32, 0.999f32, 1e-8f32);
    let mut t = 0i32;
    let mut st = c.seed;
    let mut order: Vec<usize> = (0..rows).collect();
    for epoch in 1..=c.epochs {
        // Fisher-Yates with the seeded stream: the same order for the same seed.
        for i in (1..rows).rev() {
            let j = (crate::fingerprint::uniform(&mut st) * (i + 1) as f32) as usize;
            order.swap(i, j.min(i));
        }
        let mut loss = 0.0;
        for idx in order.chunks(c.batch) {
            let (xb, yb) = gather(x, y, idx);
            let start = attack::random_start(&xb, c.eps, c.norm, c.range, &mut st);
            let adv = attack::pgd_from(s, &xb, &start, &yb, c.eps, c.steps, c.norm, c.range)?;
            let g = s.gradients(&adv, &yb, &wanted)?;
            loss += g.loss;
            t += 1;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            let scale = 1.0 / idx.len() as f32;
            for (name, grad) in &g.params {
                let (Some(w), Some(mo)) =
                    (s.model.initializers.get_mut(name), moments.get_mut(name))
                else {
                    continue;
                };
                for (((w, &gr), m), v) in w
                    .data
                    .iter_mut()
                    .zip(&grad.data)
                    .zip(&mut mo.m)
                    .zip(&mut mo.v)
                {
                    let gr = gr * scale;
                    *m = b1 * *m + (1.0 - b1) * gr;
                    *v = b2 * *v + (1.0 - b2) * gr * gr;
                    *w -= c.lr * (*m / c1) / ((*v / c2).sqrt() + tiny);
                }
            }
        }
        if !loss.is_finite() {
            return Err(Error::Shape(format!(
                "training diverged in epoch {epoch} (the loss is not finite); lower the learning rate"
            )));
        }
        on_epoch(Epoch {
            epoch,
            adversarial_loss: loss / rows as f64,
        });
    }
    Ok(names
        .into_iter()
        .filter_map(|n| s.model.initializers.get(&n).cloned().map(|t| (n, t)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{put_bytes, put_uint};

    /// A ModelProto: input `x` [N, 2], one node, an optional [2, 2] weight of `dtype`.
    fn model(op: &str, weight_dtype: Option<u64>) -> Vec<u8> {
        let mut g = Vec::new();
        let mut node = Vec::new();
        put_bytes(&mut node, 1, b"x");
        if weight_dtype.is_some() {
            put_bytes(&mut node, 1, b"w");
        }
        put_bytes(&mut node, 2, b"y");
        put_bytes(&mut node, 4, op.as_bytes());
        put_bytes(&mut g, 1, &node);
        if let Some(t) = weight_dtype {
            let mut w = Vec::new();
            put_bytes(&mut w, 1, &[2, 2]);
            put_uint(&mut w, 2, t);
            put_bytes(&mut w, 8, b"w");
            let width = if t == 11 { 8 } else { 4 };
            put_bytes(&mut w, 9, &vec![0u8; 4 * width]);
            put_bytes(&mut g, 5, &w);
        }
        for (field, name) in [(11u32, "x"), (12, "y")] {
            let mut vi = Vec::new();
            put_bytes(&mut vi, 1, name.as_bytes());
            put_bytes(&mut g, field, &vi);
        }
        let mut m = Vec::new();
        put_uint(&mut m, 1, 8);
        put_bytes(&mut m, 7, &g);
        m
    }

    #[test]
    fn a_model_without_weights_is_refused_by_name() {
        let s = Session::new(crate::onnx::parse(&model("Softmax", None)).expect("parses"))
            .expect("runs");
        let e = trainable(&s).expect_err("nothing to train");
        assert!(e.to_string().contains("no weights of Gemm"), "{e}");
    }

    #[test]
    fn double_weights_are_not_written_as_float() {
        let bytes = model("MatMul", Some(11));
        let s = Session::new(crate::onnx::parse(&bytes).expect("parses")).expect("runs");
        assert_eq!(trainable(&s).expect("trainable"), vec!["w".to_string()]);
        let w: HashMap<String, Tensor> = [("w".to_string(), s.model.initializers["w"].clone())]
            .into_iter()
            .collect();
        let e = crate::onnx::with_weights(&bytes, &w, &[]).expect_err("DOUBLE");
        assert!(e.to_string().contains("`w` has data type 11"), "{e}");
        let ok = model("MatMul", Some(1));
        assert!(crate::onnx::with_weights(&ok, &w, &[]).is_ok());
    }
}
