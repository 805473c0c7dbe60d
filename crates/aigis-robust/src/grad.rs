//! Input gradients by reverse-mode differentiation of the same graph [`Session::run`] runs:
//! the gradient of the softmax cross-entropy of the logits against the true labels, with
//! respect to the input (DESIGN.md §3's loss). A model whose output is a `Softmax` is
//! differentiated from the Softmax's input (its logits), as the conventions ask.

use std::collections::{HashMap, HashSet};

use crate::engine::{Session, float, int, kernel_attr, two_d, unsupported, window};
use crate::kernels;
use crate::onnx::Node;
use crate::{Error, Tensor};

/// Gradients of one backward pass.
pub(crate) struct Grads {
    /// The logits of the batch.
    pub(crate) logits: Tensor,
    /// The gradient of each sample's loss with respect to its input.
    pub(crate) input: Tensor,
    /// Gradients of the summed loss with respect to the trainable weights asked for, by name.
    pub(crate) params: HashMap<String, Tensor>,
    /// The summed cross-entropy loss of the batch (computed when weights are asked for, 0
    /// otherwise).
    pub(crate) loss: f64,
}

impl Session {
    /// The logits of `x` and the gradient of each sample's cross-entropy loss with respect
    /// to its input (summed over the batch, so each row is its own sample's gradient).
    pub fn loss_gradient(&self, x: &Tensor, labels: &[i64]) -> Result<(Tensor, Tensor), Error> {
        let g = self.gradients(x, labels, &HashSet::new())?;
        Ok((g.logits, g.input))
    }

    /// The input gradient of one block of rows, on the calling thread (for attack loops that
    /// keep each block in cache across their steps, run from their own parallel loop).
    pub(crate) fn block_gradient(&self, x: &Tensor, labels: &[i64]) -> Result<Tensor, Error> {
        Ok(self.gradient_rows(x, labels, &HashSet::new())?.input)
    }

    /// One backward pass over `x` in chunks across cores: input gradients, and the gradients
    /// of the summed loss with respect to the initializers named in `params` (added chunk by
    /// chunk in order, so the result does not depend on the thread count).
    pub(crate) fn gradients(
        &self,
        x: &Tensor,
        labels: &[i64],
        params: &HashSet<String>,
    ) -> Result<Grads, Error> {
        let rows = x.shape.first().copied().unwrap_or(0);
        if rows != labels.len() {
            return Err(Error::Shape(format!(
                "{rows} inputs, {} labels",
                labels.len()
            )));
        }
        let per = x.data.len() / rows.max(1);
        let parts = crate::batch::map_rows(x, |chunk| {
            let start = chunk.offset / per.max(1);
            let n = chunk.tensor.shape.first().copied().unwrap_or(0);
            self.gradient_rows(&chunk.tensor, &labels[start..start + n], params)
        })?;
        let mut logits = Vec::with_capacity(parts.len());
        let mut inputs = Vec::with_capacity(parts.len());
        let mut sum: HashMap<String, Tensor> = HashMap::new();
        let mut loss = 0.0;
        for p in parts {
            logits.push(p.logits);
            inputs.push(p.input);
            loss += p.loss;
            for (k, t) in p.params {
                add_into(&mut sum, k, t);
            }
        }
        Ok(Grads {
            logits: crate::batch::concat(logits)?,
            input: crate::batch::concat(inputs)?,
            params: sum,
            loss,
        })
    }

    /// Where the loss is taken: the logits a final `Softmax` reads (through `Identity`,
    /// `Dropout`, float casts and an L1 `Normalizer`, which leave probabilities unchanged) —
    /// with the nodes after them, which the backward pass skips — or, for a graph that ends
    /// in probabilities some other way (`Sigmoid` + `Normalizer`), those probabilities
    /// (`probabilities` = true: the loss is −ln p[y]); otherwise the output, as logits.
    fn loss_target(&self) -> (String, Vec<usize>, bool) {
        let nodes = &self.model.nodes;
        let mut at = self.output.clone();
        let mut skipped = Vec::new();
        let mut normalized = false;
        while let Some(i) = nodes
            .iter()
            .rposition(|n| crate::engine::main_output(n) == Some(&at))
        {
            let n = &nodes[i];
            let passes = match n.op.as_str() {
                "Identity" | "Dropout" | "Cast" => true,
                "Normalizer" => {
                    normalized = true;
                    true
                }
                "Softmax" => {
                    skipped.push(i);
                    return (n.inputs[0].clone(), skipped, false);
                }
                _ => false,
            };
            if !passes || n.inputs.first().is_none_or(String::is_empty) {
                break;
            }
            skipped.push(i);
            at.clone_from(&n.inputs[0]);
        }
        if normalized {
            (self.output.clone(), Vec::new(), true)
        } else {
            (self.output.clone(), Vec::new(), false)
        }
    }

    fn gradient_rows(
        &self,
        x: &Tensor,
        labels: &[i64],
        params: &HashSet<String>,
    ) -> Result<Grads, Error> {
        let nodes = &self.model.nodes;
        let vals = self.values(x)?;
        let (logits_name, skip, probabilities) = self.loss_target();
        let logits = vals
            .get(logits_name.as_str())
            .cloned()
            .ok_or_else(|| Error::Onnx("the logits were not computed".into()))?;
        let [rows, classes] = logits.shape.as_slice() else {
            return Err(Error::Shape(format!(
                "logits of shape {:?}; a classifier's are [N, classes]",
                logits.shape
            )));
        };
        if *rows != labels.len() {
            return Err(Error::Shape(format!(
                "{rows} rows of logits, {} labels",
                labels.len()
            )));
        }
        if *classes == 0 {
            return Err(Error::Shape(
                "the model's output has no classes (shape [N, 0])".into(),
            ));
        }
        let mut g = logits.clone();
        let mut loss = 0.0f64;
        // The loss value is reported by training only; attacks need just the gradient.
        let want_loss = !params.is_empty();
        for (r, row) in g.data.chunks_mut(*classes).enumerate() {
            let label = usize::try_from(labels[r])
                .ok()
                .filter(|&l| l < *classes)
                .ok_or_else(|| Error::Shape(format!("label {} outside 0..{classes}", labels[r])))?;
            if probabilities {
                // −ln p[y] on probabilities the graph computed (no softmax of its own).
                let p = row[label].max(1e-12);
                if want_loss {
                    loss -= f64::from(p).ln();
                }
                row.fill(0.0);
                row[label] = -1.0 / p;
                continue;
            }
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (*v - m).exp();
                s += *v;
            }
            for v in row.iter_mut() {
                *v /= s;
            }
            if want_loss {
                loss -= f64::from(row[label].max(1e-30)).ln();
            }
            row[label] -= 1.0;
        }
        let mut grads: HashMap<String, Tensor> = HashMap::new();
        grads.insert(logits_name, g);
        for (i, n) in nodes.iter().enumerate().rev() {
            if skip.contains(&i) {
                continue;
            }
            let Some(gout) = crate::engine::main_output(n).and_then(|o| grads.remove(o)) else {
                continue;
            };
            let val = |k: usize| -> Result<&Tensor, Error> {
                let name = &n.inputs[k];
                vals.get(name.as_str())
                    .or_else(|| self.model.initializers.get(name))
                    .ok_or_else(|| Error::Onnx(format!("`{name}` is not defined")))
            };
            let wants = |k: usize| {
                n.inputs.get(k).is_some_and(|s| {
                    !s.is_empty()
                        && (!self.model.initializers.contains_key(s) || params.contains(s))
                })
            };
            let out = crate::engine::main_output(n).and_then(|o| vals.get(o.as_str()));
            let init = |k: usize| {
                n.inputs
                    .get(k)
                    .is_some_and(|s| self.model.initializers.contains_key(s))
            };
            for (k, gin) in backward(n, gout, &val, &wants, &init, out)? {
                add_into(&mut grads, n.inputs[k].clone(), gin);
            }
        }
        let input = self.raw_gradient(grads.remove(&self.input).unwrap_or_else(|| Tensor {
            shape: x.shape.clone(),
            data: vec![0.0; x.data.len()],
        }));
        grads.retain(|k, _| params.contains(k));
        Ok(Grads {
            logits,
            input,
            params: grads,
            loss,
        })
    }
}

fn add_into(acc: &mut HashMap<String, Tensor>, name: String, g: Tensor) {
    match acc.get_mut(&name) {
        Some(a) => {
            for (a, b) in a.data.iter_mut().zip(&g.data) {
                *a += b;
            }
        }
        None => {
            acc.insert(name, g);
        }
    }
}

/// `g` summed onto a tensor of `like`'s size that was broadcast over it (same shape, a
/// scalar, or a suffix of its shape: index `i` of `g` came from `i % len`).
fn reduce_to(like: &Tensor, g: &Tensor) -> Tensor {
    let m = like.data.len().max(1);
    let mut d = vec![0f32; like.data.len()];
    for (i, &v) in g.data.iter().enumerate() {
        if let Some(o) = d.get_mut(i % m) {
            *o += v;
        }
    }
    Tensor {
        shape: like.shape.clone(),
        data: d,
    }
}

/// `f(x, g)` value by value (generic, so the closure is inlined into the loop).
fn elementwise(x: &Tensor, g: &Tensor, f: impl Fn(f32, f32) -> f32) -> Tensor {
    like(
        x,
        x.data.iter().zip(&g.data).map(|(&a, &b)| f(a, b)).collect(),
    )
}

fn like(t: &Tensor, data: Vec<f32>) -> Tensor {
    Tensor {
        shape: t.shape.clone(),
        data,
    }
}

/// Gradients of the node's inputs that are `wants`ed (computed values, and the weights being
/// trained), by input index, from its output's gradient.
fn backward<'a>(
    n: &Node,
    g_owned: Tensor,
    val: &dyn Fn(usize) -> Result<&'a Tensor, Error>,
    wants: &dyn Fn(usize) -> bool,
    init: &dyn Fn(usize) -> bool,
    out: Option<&Tensor>,
) -> Result<Vec<(usize, Tensor)>, Error> {
    // Owned so that element-wise passes can write their result into it.
    let g = &g_owned;
    let y = || out.ok_or_else(|| Error::Onnx(format!("node `{}` has no output", n.name)));
    Ok(match n.op.as_str() {
        "Identity" | "Dropout" => vec![(0, g_owned)],
        // A cast between float types passes the gradient; one to integers has none.
        "Cast" if matches!(int(n, "to", 0), 1 | 10 | 11 | 16) => vec![(0, g_owned)],
        "Cast" => Vec::new(),
        "Normalizer" => vec![(0, crate::ml::normalizer_backward(n, val(0)?, g)?)],
        "Transpose" => {
            // The gradient goes back through the inverse permutation.
            let p = crate::engine::perm(n, g.shape.len())?;
            let mut inv = vec![0usize; p.len()];
            for (i, &a) in p.iter().enumerate() {
                inv[a] = i;
            }
            vec![(0, crate::engine::transpose_axes(g, &inv)?)]
        }
        "TreeEnsembleClassifier" => {
            return Err(unsupported(
                n,
                "trees have no gradient: test this model with the black-box attacks (--attack square or hopskipjump)",
            ));
        }
        // In place on the output's gradient, from the output (the input may have been
        // overwritten, see `Session::in_place`): max(x, 0) > 0 exactly when x > 0, NaN included.
        "Relu" => {
            let y = y()?;
            if y.data.len() != g_owned.data.len() {
                return Err(unsupported(n, "output and gradient sizes do not match"));
            }
            let mut d = g_owned;
            aigis_kernels::relu_backward(&y.data, &mut d.data);
            d.shape.clone_from(&y.shape);
            vec![(0, d)]
        }
        "LeakyRelu" => {
            let a = float(n, "alpha", 0.01);
            vec![(
                0,
                elementwise(val(0)?, g, |x, g| if x < 0.0 { a * g } else { g }),
            )]
        }
        "Sigmoid" | "Tanh" => {
            // Both derivatives are functions of the output.
            let y = y()?;
            let sigmoid = n.op == "Sigmoid";
            let d = y
                .data
                .iter()
                .zip(&g.data)
                .map(|(&v, &g)| {
                    if sigmoid {
                        g * v * (1.0 - v)
                    } else {
                        g * (1.0 - v * v)
                    }
                })
                .collect();
            vec![(0, like(y, d))]
        }
        "Flatten" | "Reshape" => {
            let x = val(0)?;
            vec![(0, like(x, g_owned.data))]
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let (a, b) = (val(0)?, val(1)?);
            let mut v = Vec::new();
            for k in [0usize, 1] {
                if !wants(k) {
                    continue;
                }
                let (me, other) = if k == 0 { (a, b) } else { (b, a) };
                // Either operand may be broadcast over the output (same shape, a scalar or a
                // suffix of its shape): index i of the output reads i % len of each.
                let m = other.data.len().max(1);
                let o = |i: usize| other.data.get(i % m).copied().unwrap_or(0.0);
                let mm = me.data.len().max(1);
                let mine = |i: usize| me.data.get(i % mm).copied().unwrap_or(0.0);
                let d: Vec<f32> = g
                    .data
                    .iter()
                    .enumerate()
                    .map(|(i, &gv)| match (n.op.as_str(), k) {
                        ("Add", _) | ("Sub", 0) => gv,
                        ("Sub", _) => -gv,
                        ("Mul", _) => gv * o(i),
                        ("Div", 0) => gv / o(i),
                        // d(a/b)/db = -a/b²
                        _ => -gv * o(i) / (mine(i) * mine(i)),
                    })
                    .collect();
                let full = like(g, d);
                v.push((
                    k,
                    if me.shape == g.shape {
                        full
                    } else {
                        reduce_to(me, &full)
                    },
                ));
            }
            v
        }
        "Softmax" => {
            let y = y()?;
            let w = *y.shape.last().unwrap_or(&1);
            let mut d = vec![0f32; y.data.len()];
            for ((yr, gr), dr) in y.data.chunks(w).zip(g.data.chunks(w)).zip(d.chunks_mut(w)) {
                let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
                for ((o, &yv), &gv) in dr.iter_mut().zip(yr).zip(gr) {
                    *o = yv * (gv - dot);
                }
            }
            vec![(0, like(y, d))]
        }
        "MatMul" | "Gemm" => {
            if wants(0) && wants(1) && !init(1) {
                return Err(unsupported(n, "gradients when both operands are computed"));
            }
            let (a, b) = (val(0)?, val(1)?);
            let gemm = n.op == "Gemm";
            let alpha = if gemm { float(n, "alpha", 1.0) } else { 1.0 };
            let (ta, tb) = if gemm {
                (int(n, "transA", 0) != 0, int(n, "transB", 0) != 0)
            } else {
                (false, false)
            };
            let (ar, ac) = two_d(n, a)?;
            let (br, bc) = two_d(n, b)?;
            let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
            let cols = if tb { br } else { bc };
            if g.data.len() != m * cols || a.data.len() != m * k || b.data.len() != k * cols {
                return Err(unsupported(n, "operand sizes do not match"));
            }
            let aat = |i: usize, p: usize| if ta { p * m + i } else { i * k + p };
            let mut v = Vec::new();
            if wants(0) {
                // d op(A) [m, k] = alpha * g [m, cols] · op(B)ᵀ
                let mut d = vec![0f32; m * k];
                if tb && !ta {
                    // alpha·G [m, cols] · B [cols, k] in one blocked product (g·alpha is what
                    // the row loop below multiplies by, so the sums agree; alpha is 1 in
                    // exported models, and then G itself is used, not a copy).
                    let scaled: Vec<f32>;
                    let gs = if alpha.to_bits() == 1.0f32.to_bits() {
                        &g.data
                    } else {
                        scaled = g.data.iter().map(|v| v * alpha).collect();
                        &scaled
                    };
                    kernels::gemm_acc(gs, &b.data, &mut d, m, cols, k);
                } else {
                    let mut scratch = vec![0f32; if ta { k } else { 0 }];
                    for i in 0..m {
                        let gr = &g.data[i * cols..(i + 1) * cols];
                        // Without transA the row of dA is contiguous: write it in place.
                        let row: &mut [f32] = if ta {
                            scratch.fill(0.0);
                            &mut scratch
                        } else {
                            &mut d[i * k..(i + 1) * k]
                        };
                        if tb {
                            // op(B)ᵀ is B [cols, k]: rows of B scaled by g.
                            for (j, &gv) in gr.iter().enumerate() {
                                if gv != 0.0 {
                                    kernels::axpy(row, gv * alpha, &b.data[j * k..(j + 1) * k]);
                                }
                            }
                        } else {
                            // op(B)ᵀ[j, p] = B[p, j]: dot products of g with rows of B.
                            for (p, o) in row.iter_mut().enumerate() {
                                *o = alpha * kernels::dot(gr, &b.data[p * cols..(p + 1) * cols]);
                            }
                        }
                        if ta {
                            for (p, &val) in scratch.iter().enumerate() {
                                d[aat(i, p)] = val;
                            }
                        }
                    }
                }
                v.push((0, like(a, d)));
            }
            if wants(1) {
                // d op(B) [k, cols] = alpha * op(A)ᵀ · g
                let mut d = vec![0f32; k * cols];
                for i in 0..m {
                    let gr = &g.data[i * cols..(i + 1) * cols];
                    for p in 0..k {
                        let av = a.data[aat(i, p)] * alpha;
                        if av == 0.0 {
                            continue;
                        }
                        if tb {
                            // B [cols, k]: column p.
                            for (j, &gv) in gr.iter().enumerate() {
                                d[j * k + p] += av * gv;
                            }
                        } else {
                            kernels::axpy(&mut d[p * cols..(p + 1) * cols], av, gr);
                        }
                    }
                }
                v.push((1, like(b, d)));
            }
            if gemm && wants(2) {
                let c = val(2)?;
                let beta = float(n, "beta", 1.0);
                let mut d = reduce_to(c, g);
                for x in &mut d.data {
                    *x *= beta;
                }
                v.push((2, d));
            }
            v
        }
        "Conv" => {
            let (x, w) = (val(0)?, val(1)?);
            let (oc, kh, kw) = (w.shape[0], w.shape[2], w.shape[3]);
            let geo = window(n, x, (kh, kw))?;
            let (batch, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            let (want_x, want_w, want_b) = (wants(0), wants(1), wants(2));
            let mut dx = vec![0f32; if want_x { x.data.len() } else { 0 }];
            let mut dw = vec![0f32; if want_w { w.data.len() } else { 0 }];
            let mut db = vec![0f32; if want_b { oc } else { 0 }];
            kernels::conv_backward(
                &x.data,
                &w.data,
                &g.data,
                &geo,
                &kernels::ConvDims {
                    n: batch,
                    c,
                    h,
                    w: wd,
                    oc,
                },
                want_x.then_some(dx.as_mut_slice()),
                want_w.then_some(dw.as_mut_slice()),
                want_b.then_some(db.as_mut_slice()),
            );
            let mut v = Vec::new();
            if want_x {
                v.push((0, like(x, dx)));
            }
            if want_w {
                v.push((1, like(w, dw)));
            }
            if want_b {
                v.push((2, Tensor::new(vec![oc], db)?));
            }
            v
        }
        "MaxPool" | "AveragePool" => {
            let x = val(0)?;
            let geo = window(n, x, kernel_attr(n)?)?;
            let (batch, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            let max = n.op == "MaxPool";
            let include_pad = int(n, "count_include_pad", 0) != 0;
            let d = kernels::pool_backward(
                &x.data,
                &g.data,
                &geo,
                &kernels::PoolDims {
                    planes: batch * c,
                    h,
                    w: wd,
                    max,
                    include_pad,
                },
            );
            vec![(0, like(x, d))]
        }
        "BatchNormalization" => {
            // Inference mode: the running mean and variance are constants (never trained).
            let x = val(0)?;
            let (scale, mean, var) = (val(1)?, val(3)?, val(4)?);
            let eps = float(n, "epsilon", 1e-5);
            let c = x.shape[1];
            let inner: usize = x.shape[2..].iter().product();
            let ch = |i: usize| (i / inner.max(1)) % c;
            let inv = |i: usize| 1.0 / (var.data[ch(i)] + eps).sqrt();
            let mut v = Vec::new();
            if wants(0) {
                let d = g
                    .data
                    .iter()
                    .enumerate()
                    .map(|(i, &gv)| gv * scale.data[ch(i)] * inv(i))
                    .collect();
                v.push((0, like(x, d)));
            }
            if wants(1) || wants(2) {
                let (mut ds, mut db) = (vec![0f32; c], vec![0f32; c]);
                for (i, &gv) in g.data.iter().enumerate() {
                    ds[ch(i)] += gv * (x.data[i] - mean.data[ch(i)]) * inv(i);
                    db[ch(i)] += gv;
                }
                if wants(1) {
                    v.push((1, like(scale, ds)));
                }
                if wants(2) {
                    v.push((2, like(val(2)?, db)));
                }
            }
            v
        }
        _ => return Err(unsupported(n, "no gradient for this operator")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
    }

    /// Weight gradients against central finite differences of the summed loss.
    #[test]
    fn weight_gradients_match_finite_differences() {
        for (model, data, shape) in [
            ("mlp.onnx", "digits-test.npz", vec![8, 64]),
            ("cnn.onnx", "digits-test-img.npz", vec![8, 1, 8, 8]),
        ] {
            let mut s = Session::new(crate::onnx::parse(&fixture(model)).expect("parses"))
                .expect("supported");
            let (x, y) = crate::npz::load_xy(data, &fixture(data)).expect("data");
            let per: usize = shape[1..].iter().product();
            let x = Tensor::new(shape, x.data[..8 * per].to_vec()).expect("rows");
            let y = &y[..8];
            let names: HashSet<String> = crate::train::trainable(&s)
                .expect("trainable")
                .into_iter()
                .collect();
            let g = s.gradients(&x, y, &names).expect("gradients");
            assert_eq!(
                g.params.len(),
                names.len(),
                "{model}: every weight has a gradient"
            );
            for name in &names {
                let grad = &g.params[name];
                // A few entries spread over the tensor, the largest among them included.
                let len = grad.data.len();
                let mut picks: Vec<usize> = (0..5).map(|i| i * len / 5).collect();
                picks.push(
                    (0..len)
                        .max_by(|&a, &b| grad.data[a].abs().total_cmp(&grad.data[b].abs()))
                        .unwrap_or(0),
                );
                for i in picks {
                    let h = 1e-3f32;
                    let orig = s.model.initializers[name].data[i];
                    let mut loss_at = |v: f32| {
                        s.model.initializers.get_mut(name).expect("weight").data[i] = v;
                        s.gradients(&x, y, &names).expect("loss").loss
                    };
                    let numeric = (loss_at(orig + h) - loss_at(orig - h)) / (2.0 * f64::from(h));
                    loss_at(orig);
                    let analytic = f64::from(grad.data[i]);
                    assert!(
                        (numeric - analytic).abs() <= 0.02 * analytic.abs().max(0.05),
                        "{model} {name}[{i}]: analytic {analytic}, numeric {numeric}"
                    );
                }
            }
        }
    }
}
