//! Input gradients by reverse-mode differentiation of the same graph [`Session::run`] runs:
//! the gradient of the softmax cross-entropy of the logits against the true labels, with
//! respect to the input (DESIGN.md §3's loss). A model whose output is a `Softmax` is
//! differentiated from the Softmax's input (its logits), as the conventions ask.

use std::collections::HashMap;

use crate::engine::{Session, float, int, kernel_attr, two_d, unsupported, window};
use crate::onnx::Node;
use crate::{Error, Tensor};

impl Session {
    /// The logits of `x` and the gradient of each sample's cross-entropy loss with respect
    /// to its input (summed over the batch, so each row is its own sample's gradient).
    pub fn loss_gradient(&self, x: &Tensor, labels: &[i64]) -> Result<(Tensor, Tensor), Error> {
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
            self.loss_gradient_rows(&chunk.tensor, &labels[start..start + n])
        })?;
        let (logits, grads): (Vec<Tensor>, Vec<Tensor>) = parts.into_iter().unzip();
        Ok((crate::batch::concat(logits)?, crate::batch::concat(grads)?))
    }

    fn loss_gradient_rows(&self, x: &Tensor, labels: &[i64]) -> Result<(Tensor, Tensor), Error> {
        let nodes = &self.model.nodes;
        let vals = self.values(x)?;
        // The logits: the output, or the input of a final Softmax.
        let (logits_name, skip) = match nodes
            .iter()
            .rposition(|n| n.outputs.first() == Some(&self.output))
        {
            Some(i) if nodes[i].op == "Softmax" => (nodes[i].inputs[0].clone(), Some(i)),
            _ => (self.output.clone(), None),
        };
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
        let mut g = logits.clone();
        for (r, row) in g.data.chunks_mut(*classes).enumerate() {
            let label = usize::try_from(labels[r])
                .ok()
                .filter(|&l| l < *classes)
                .ok_or_else(|| Error::Shape(format!("label {} outside 0..{classes}", labels[r])))?;
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (*v - m).exp();
                s += *v;
            }
            for v in row.iter_mut() {
                *v /= s;
            }
            row[label] -= 1.0;
        }
        let mut grads: HashMap<String, Tensor> = HashMap::new();
        grads.insert(logits_name, g);
        for (i, n) in nodes.iter().enumerate().rev() {
            if Some(i) == skip {
                continue;
            }
            let Some(gout) = n.outputs.first().and_then(|o| grads.remove(o)) else {
                continue;
            };
            let val = |k: usize| -> Result<&Tensor, Error> {
                let name = &n.inputs[k];
                vals.get(name.as_str())
                    .or_else(|| self.model.initializers.get(name))
                    .ok_or_else(|| Error::Onnx(format!("`{name}` is not defined")))
            };
            let is_data = |k: usize| {
                n.inputs
                    .get(k)
                    .is_some_and(|s| !s.is_empty() && !self.model.initializers.contains_key(s))
            };
            let out = n.outputs.first().and_then(|o| vals.get(o.as_str()));
            for (k, gin) in backward(n, &gout, &val, &is_data, out)? {
                let name = n.inputs[k].clone();
                match grads.get_mut(&name) {
                    Some(acc) => {
                        for (a, b) in acc.data.iter_mut().zip(&gin.data) {
                            *a += b;
                        }
                    }
                    None => {
                        grads.insert(name, gin);
                    }
                }
            }
        }
        let gx = grads.remove(&self.input).unwrap_or_else(|| Tensor {
            shape: x.shape.clone(),
            data: vec![0.0; x.data.len()],
        });
        Ok((logits, gx))
    }
}

fn like(t: &Tensor, data: Vec<f32>) -> Tensor {
    Tensor {
        shape: t.shape.clone(),
        data,
    }
}

/// Gradients of the node's data inputs (by input index) from its output's gradient.
fn backward<'a>(
    n: &Node,
    g: &Tensor,
    val: &dyn Fn(usize) -> Result<&'a Tensor, Error>,
    is_data: &dyn Fn(usize) -> bool,
    out: Option<&Tensor>,
) -> Result<Vec<(usize, Tensor)>, Error> {
    let ew = |f: &dyn Fn(f32, f32) -> f32| -> Result<Vec<(usize, Tensor)>, Error> {
        let x = val(0)?;
        Ok(vec![(
            0,
            like(
                x,
                x.data.iter().zip(&g.data).map(|(&a, &b)| f(a, b)).collect(),
            ),
        )])
    };
    let y = || out.ok_or_else(|| Error::Onnx(format!("node `{}` has no output", n.name)));
    Ok(match n.op.as_str() {
        "Identity" | "Dropout" => vec![(0, g.clone())],
        "Relu" => ew(&|x, g| if x > 0.0 { g } else { 0.0 })?,
        "LeakyRelu" => {
            let a = float(n, "alpha", 0.01);
            ew(&|x, g| if x < 0.0 { a * g } else { g })?
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
            vec![(0, like(x, g.data.clone()))]
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let (a, b) = (val(0)?, val(1)?);
            let mut v = Vec::new();
            for k in [0usize, 1] {
                if !is_data(k) {
                    continue;
                }
                let (me, other) = if k == 0 { (a, b) } else { (b, a) };
                if me.shape != g.shape {
                    return Err(unsupported(n, "gradients through a broadcast operand"));
                }
                let m = other.data.len().max(1);
                let o = |i: usize| other.data.get(i % m).copied().unwrap_or(0.0);
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
                        _ => -gv * o(i) / (me.data[i] * me.data[i]),
                    })
                    .collect();
                v.push((k, like(me, d)));
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
            if !is_data(0) {
                return Ok(Vec::new());
            }
            if is_data(1) {
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
            // d op(A) [m, k] = alpha * g [m, cols] · op(B)ᵀ
            let mut d = vec![0f32; m * k];
            for i in 0..m {
                for j in 0..cols {
                    let gv = g.data[i * cols + j] * alpha;
                    if gv == 0.0 {
                        continue;
                    }
                    for p in 0..k {
                        let bv = if tb {
                            b.data[j * k + p]
                        } else {
                            b.data[p * cols + j]
                        };
                        d[i * k + p] += gv * bv;
                    }
                }
            }
            let d = if ta {
                let mut t = vec![0f32; d.len()];
                for i in 0..m {
                    for p in 0..k {
                        t[p * m + i] = d[i * k + p];
                    }
                }
                t
            } else {
                d
            };
            vec![(0, like(a, d))]
        }
        "Conv" => {
            let (x, w) = (val(0)?, val(1)?);
            let (oc, ic, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
            let geo = window(n, x, (kh, kw))?;
            let (batch, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            let mut d = vec![0f32; x.data.len()];
            for b in 0..batch {
                for o in 0..oc {
                    for yo in 0..geo.oh {
                        for xo in 0..geo.ow {
                            let gv = g.data[((b * oc + o) * geo.oh + yo) * geo.ow + xo];
                            if gv == 0.0 {
                                continue;
                            }
                            for ci in 0..c {
                                for (i, j, iy, ix) in geo.taps(yo, xo, h, wd) {
                                    d[((b * c + ci) * h + iy) * wd + ix] +=
                                        gv * w.data[((o * ic + ci) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                }
            }
            vec![(0, like(x, d))]
        }
        "MaxPool" | "AveragePool" => {
            let x = val(0)?;
            let geo = window(n, x, kernel_attr(n)?)?;
            let (batch, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            let max = n.op == "MaxPool";
            let include_pad = int(n, "count_include_pad", 0) != 0;
            let mut d = vec![0f32; x.data.len()];
            for bc in 0..batch * c {
                for yo in 0..geo.oh {
                    for xo in 0..geo.ow {
                        let gv = g.data[(bc * geo.oh + yo) * geo.ow + xo];
                        let cells: Vec<usize> = geo
                            .taps(yo, xo, h, wd)
                            .map(|(_, _, iy, ix)| (bc * h + iy) * wd + ix)
                            .collect();
                        if max {
                            // The first maximum takes the whole gradient (as PyTorch does).
                            if let Some(&best) = cells
                                .iter()
                                .reduce(|a, b| if x.data[*b] > x.data[*a] { b } else { a })
                            {
                                d[best] += gv;
                            }
                        } else {
                            let count = if include_pad {
                                geo.kh * geo.kw
                            } else {
                                cells.len().max(1)
                            };
                            for &cell in &cells {
                                d[cell] += gv / count as f32;
                            }
                        }
                    }
                }
            }
            vec![(0, like(x, d))]
        }
        "BatchNormalization" => {
            let x = val(0)?;
            let (scale, var) = (val(1)?, val(4)?);
            let eps = float(n, "epsilon", 1e-5);
            let c = x.shape[1];
            let inner: usize = x.shape[2..].iter().product();
            let d = g
                .data
                .iter()
                .enumerate()
                .map(|(i, &gv)| {
                    let ch = (i / inner.max(1)) % c;
                    gv * scale.data[ch] / (var.data[ch] + eps).sqrt()
                })
                .collect();
            vec![(0, like(x, d))]
        }
        _ => return Err(unsupported(n, "no gradient for this operator")),
    })
}
