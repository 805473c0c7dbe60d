//! Forward evaluation of an ONNX classifier graph on a batch. The operators supported are
//! those exported classifiers (MLPs, small CNNs, linear models) use; a model with any other
//! operator, or an attribute this engine does not implement, is refused when the session is
//! built, naming the node.

use std::collections::{HashMap, HashSet};

use crate::onnx::{Attr, Model, Node};
use crate::{Error, Tensor, elements};

/// Operators this engine runs.
pub const SUPPORTED: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Concat",
    "Conv",
    "Div",
    "Dropout",
    "Flatten",
    "Gather",
    "Gemm",
    "Identity",
    "LeakyRelu",
    "MatMul",
    "MaxPool",
    "Mul",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Sub",
    "Tanh",
    "Transpose",
];

/// The values of one block of rows in [`Session::rows_per_block`] (with their gradients about
/// twice that): a share of a core's L2 cache.
const BLOCK_BYTES: usize = 160 * 1024;

/// A checked, runnable model.
#[derive(Debug)]
pub struct Session {
    pub(crate) model: Model,
    pub(crate) input: String,
    pub(crate) output: String,
    /// Compiled tree ensembles, by node index.
    forests: HashMap<usize, crate::ml::Forest>,
    /// Initializers made when the session was built (not weights of the file).
    pub(crate) synthetic: HashSet<String>,
    /// Input normalisation applied before the graph (attacks work on raw inputs).
    norm: Option<Normalise>,
    /// Per node, whether it is a `Relu` that may overwrite its input: a value computed by
    /// the graph that nothing else reads (a convolution's or product's output). Its backward
    /// pass reads the Relu's output, never that input.
    in_place: Vec<bool>,
}

/// `x' = (x − mean) / std` per channel (dimension 1; for `[N, F]` inputs, per feature), or
/// with one value for all.
#[derive(Debug, Clone)]
struct Normalise {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalise {
    /// The channel of flat index `i` of a sample batch of `shape`.
    fn channel(&self, shape: &[usize], i: usize) -> usize {
        if self.mean.len() == 1 {
            return 0;
        }
        let inner: usize = shape.get(2..).map_or(1, |s| s.iter().product());
        (i / inner.max(1)) % self.mean.len()
    }
}

/// Names a classifier's score output goes by (skl2onnx, Keras, PyTorch exports), preferred
/// over a label output when a graph has several.
const SCORE_OUTPUTS: &[&str] = &[
    "probabilities",
    "output_probability",
    "scores",
    "logits",
    "probs",
];

/// The output of `n` the engine computes: the scores of a classifier operator (its second
/// output; the first is the label), the first output of any other.
pub(crate) fn main_output(n: &Node) -> Option<&String> {
    if n.op == "TreeEnsembleClassifier" {
        n.outputs.get(1)
    } else {
        n.outputs.first()
    }
}

pub(crate) fn unsupported(n: &Node, why: impl Into<String>) -> Error {
    Error::Unsupported {
        op: n.op.clone(),
        node: n.name.clone(),
        why: why.into(),
    }
}

pub(crate) fn int(n: &Node, k: &str, default: i64) -> i64 {
    match n.attrs.get(k) {
        Some(Attr::Int(v)) => *v,
        _ => default,
    }
}

pub(crate) fn float(n: &Node, k: &str, default: f32) -> f32 {
    match n.attrs.get(k) {
        Some(Attr::Float(v)) => *v,
        _ => default,
    }
}

fn ints(n: &Node, k: &str) -> Option<Vec<i64>> {
    match n.attrs.get(k) {
        Some(Attr::Ints(v)) => Some(v.clone()),
        _ => None,
    }
}

impl Session {
    /// Check `model`: one input, every operator the scores output depends on supported, every
    /// value defined before use. Nodes the scores do not depend on (a label branch:
    /// `ArgMax`, `ArrayFeatureExtractor`, casts to integers) are dropped.
    pub fn new(mut model: Model) -> Result<Self, Error> {
        let [input] = model.inputs.as_slice() else {
            return Err(Error::Onnx(format!(
                "the graph has {} inputs besides its weights; a classifier has one",
                model.inputs.len()
            )));
        };
        let input = input.name.clone();
        let output = model
            .outputs
            .iter()
            .find(|o| SCORE_OUTPUTS.contains(&o.name.as_str()))
            .or_else(|| model.outputs.first())
            .map(|o| o.name.clone())
            .ok_or_else(|| Error::Onnx("the graph has no output".into()))?;
        // Keep what the output depends on.
        let mut needed: HashSet<String> = HashSet::from([output.clone()]);
        let mut keep = vec![false; model.nodes.len()];
        for (i, n) in model.nodes.iter().enumerate().rev() {
            if n.outputs.iter().any(|o| needed.contains(o)) {
                keep[i] = true;
                needed.extend(n.inputs.iter().filter(|s| !s.is_empty()).cloned());
            }
        }
        let mut k = keep.into_iter();
        model.nodes.retain(|_| k.next().unwrap_or(false));
        let synthetic = crate::ml::lower(&mut model)?;
        let mut known: HashSet<&str> = model.initializers.keys().map(String::as_str).collect();
        known.insert(&input);
        let mut forests = HashMap::new();
        for (i, n) in model.nodes.iter().enumerate() {
            let ok = match n.domain.as_str() {
                "" | "ai.onnx" => SUPPORTED.contains(&n.op.as_str()),
                "ai.onnx.ml" => crate::ml::ML_OPS.contains(&n.op.as_str()),
                _ => false,
            };
            if !ok {
                let why = if n.op == "ZipMap" {
                    "it turns scores into a list of maps; export with skl2onnx's options={'zipmap': False}".to_string()
                } else {
                    format!(
                        "this engine runs {} and ai.onnx.ml {}",
                        SUPPORTED.join(", "),
                        crate::ml::ML_OPS.join(", ")
                    )
                };
                return Err(unsupported(n, why));
            }
            if n.attrs.values().any(|a| *a == Attr::Other("graph")) {
                return Err(unsupported(n, "subgraphs are not run"));
            }
            check_attrs(n)?;
            if n.op == "TreeEnsembleClassifier" {
                forests.insert(i, crate::ml::Forest::compile(n)?);
            }
            for i in n.inputs.iter().filter(|i| !i.is_empty()) {
                if !known.contains(i.as_str()) {
                    return Err(Error::Onnx(format!(
                        "node `{}` reads `{i}` before anything produces it",
                        n.name
                    )));
                }
            }
            if let Some(o) = main_output(n) {
                known.insert(o);
            }
        }
        if !known.contains(output.as_str()) {
            return Err(Error::Onnx(format!(
                "no node produces the output `{output}`"
            )));
        }
        let in_place = relus_in_place(&model, &input, &output);
        Ok(Session {
            model,
            input,
            output,
            forests,
            synthetic,
            norm: None,
            in_place,
        })
    }

    /// Normalise inputs before the graph: `x' = (x − mean) / std`, with one value for all or
    /// one per channel (dimension 1 of the input; the features of `[N, F]` inputs). Attacks,
    /// budgets and clipping stay in the raw input space; gradients are taken through the
    /// normalisation.
    pub fn with_normalisation(mut self, mean: Vec<f32>, std: Vec<f32>) -> Result<Self, Error> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::Shape(format!(
                "normalisation: {} mean values and {} std values; give one value, or one per channel, of each",
                mean.len(),
                std.len()
            )));
        }
        if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::Shape(
                "normalisation: std values must be above 0 and every value finite".into(),
            ));
        }
        if mean.len() > 1
            && let Some(Some(c)) = self.input_shape().get(1)
            && *c != mean.len()
        {
            return Err(Error::Shape(format!(
                "normalisation: {} values per channel, the input `{}` has {c} channels",
                mean.len(),
                self.input
            )));
        }
        self.norm = Some(Normalise { mean, std });
        Ok(self)
    }

    /// `x` normalised for the graph (a copy only when normalisation is set).
    fn graph_input(&self, x: &Tensor) -> Result<Tensor, Error> {
        let Some(n) = &self.norm else {
            return Ok(x.clone());
        };
        if n.mean.len() > 1 && x.shape.get(1) != Some(&n.mean.len()) {
            return Err(Error::Shape(format!(
                "normalisation has {} channels, the data is {:?}",
                n.mean.len(),
                x.shape
            )));
        }
        let per: usize = x.shape.get(1..).map_or(1, |s| s.iter().product());
        let mut out = x.clone();
        for (i, v) in out.data.iter_mut().enumerate() {
            let c = n.channel(&x.shape, i % per.max(1));
            *v = (*v - n.mean[c]) / n.std[c];
        }
        Ok(out)
    }

    /// The gradient with respect to the raw input from the one with respect to the graph's.
    pub(crate) fn raw_gradient(&self, mut g: Tensor) -> Tensor {
        if let Some(n) = &self.norm {
            let per: usize = g.shape.get(1..).map_or(1, |s| s.iter().product());
            let shape = g.shape.clone();
            for (i, v) in g.data.iter_mut().enumerate() {
                *v /= n.std[n.channel(&shape, i % per.max(1))];
            }
        }
        g
    }

    /// `x` shaped for the model: flat rows `[N, F]` (CSV data) become the model's declared
    /// sample shape when it is fully known and holds F values (`[N, 64]` → `[N, 1, 8, 8]`);
    /// anything else is returned as it is (and checked when it runs).
    pub fn fit_input(&self, mut x: Tensor) -> Tensor {
        let declared = self.input_shape();
        if x.shape.len() == 2 && declared.len() > 2 {
            let dims: Option<Vec<usize>> = declared[1..].iter().copied().collect();
            if let Some(dims) = dims
                && dims.iter().product::<usize>() == x.shape[1]
            {
                let mut shape = vec![x.shape[0]];
                shape.extend(dims);
                x.shape = shape;
            }
        }
        x
    }

    /// Labelled data for this model from a file's bytes: an `.npz` as it was written (a shape
    /// mismatch is named when it runs), or `.csv` rows `label,f0,f1,…` shaped by
    /// [`Session::fit_input`] (CSV rows are flat by nature).
    pub fn load_labelled(&self, file: &str, bytes: &[u8]) -> Result<(Tensor, Vec<i64>), Error> {
        let (x, y) = crate::npz::load_labelled(file, bytes)?;
        let x = if crate::npz::is_csv(file) {
            self.fit_input(x)
        } else {
            x
        };
        Ok((x, y))
    }

    /// The name of the output scored (the class scores when a graph also outputs labels).
    pub fn output_name(&self) -> &str {
        &self.output
    }

    /// Whether input gradients exist (no tree ensembles on the way).
    pub fn differentiable(&self) -> bool {
        self.forests.is_empty()
    }

    /// The current value of the initializer `name`.
    pub fn weight(&self, name: &str) -> Option<&Tensor> {
        self.model.initializers.get(name)
    }

    /// The input's declared shape (`None` for symbolic dimensions).
    pub fn input_shape(&self) -> &[Option<usize>] {
        self.model
            .inputs
            .first()
            .map_or(&[], |i| i.shape.as_slice())
    }

    /// Run the graph on `x`; the first output.
    pub fn run(&self, x: &Tensor) -> Result<Tensor, Error> {
        self.check_input(x)?;
        let parts = crate::batch::map_rows(x, |chunk| self.run_rows(&chunk.tensor))?;
        crate::batch::concat(parts)
    }

    fn check_input(&self, x: &Tensor) -> Result<(), Error> {
        let declared = self.input_shape();
        if !declared.is_empty()
            && (declared.len() != x.shape.len()
                || declared
                    .iter()
                    .zip(&x.shape)
                    .any(|(d, s)| d.is_some_and(|d| d != *s)))
        {
            let dims: Vec<String> = declared
                .iter()
                .map(|d| d.map_or_else(|| "N".to_string(), |d| d.to_string()))
                .collect();
            return Err(Error::Shape(format!(
                "input `{}` is [{}] in the model, the data is {:?}",
                self.input,
                dims.join(", "),
                x.shape
            )));
        }
        Ok(())
    }

    /// Rows per block for loops that keep a block of rows on one thread across many passes
    /// (the attacks' steps): as many as keep every value the graph computes for the block
    /// within [`BLOCK_BYTES`] (measured on one row of `x`), between 16 and 128. Small models
    /// get long blocks (less bookkeeping per row), wide ones short blocks (they stay in cache).
    /// Rows are independent, so the size never changes a result.
    pub(crate) fn rows_per_block(&self, x: &Tensor) -> Result<usize, Error> {
        let rows = x.shape.first().copied().unwrap_or(0);
        if rows == 0 {
            return Ok(crate::batch::CHUNK);
        }
        let per = x.data.len() / rows;
        let mut shape = x.shape.clone();
        shape[0] = 1;
        let one = Tensor {
            shape,
            data: x.data[..per].to_vec(),
        };
        let floats: usize = self.values(&one)?.values().map(|t| t.data.len()).sum();
        Ok((BLOCK_BYTES / (4 * floats.max(1))).clamp(16, 128))
    }

    /// Run one chunk of rows (every operator here treats rows independently).
    fn run_rows(&self, x: &Tensor) -> Result<Tensor, Error> {
        self.values(x)?
            .remove(self.output.as_str())
            .ok_or_else(|| Error::Onnx(format!("the output `{}` was not computed", self.output)))
    }

    /// Every value the graph computes for `x`, by name (the backward pass reads them all).
    pub(crate) fn values(&self, x: &Tensor) -> Result<HashMap<&str, Tensor>, Error> {
        let mut vals: HashMap<&str, Tensor> = HashMap::new();
        vals.insert(&self.input, self.graph_input(x)?);
        for (idx, n) in self.model.nodes.iter().enumerate() {
            if self.in_place.get(idx) == Some(&true)
                && let (Some(o), Some(mut t)) = (main_output(n), vals.remove(n.inputs[0].as_str()))
            {
                // The same values `forward` gives, without a second buffer.
                aigis_kernels::widest(|| {
                    for v in &mut t.data {
                        *v = relu(*v);
                    }
                });
                vals.insert(o, t);
                continue;
            }
            let get = |i: usize| -> Result<&Tensor, Error> {
                let name = n
                    .inputs
                    .get(i)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| unsupported(n, format!("input {i} is missing")))?;
                vals.get(name.as_str())
                    .or_else(|| self.model.initializers.get(name))
                    .ok_or_else(|| Error::Onnx(format!("`{name}` is not defined")))
            };
            let out = match self.forests.get(&idx) {
                Some(f) => f.run(n, get(0)?)?,
                None => forward(n, &get)?,
            };
            if let Some(o) = main_output(n) {
                vals.insert(o, out);
            }
        }
        Ok(vals)
    }
}

/// Which nodes may apply `Relu` in place (see [`Session::in_place`]): a `Relu` whose input is
/// produced by an earlier node, read by no other node input, and is neither the graph's input
/// nor its output. The producer's own backward pass may read that overwritten output (Tanh,
/// Sigmoid, Softmax do): the Relu changes only values ≤ 0 or NaN, to 0, and exactly there its
/// backward pass makes the gradient +0, so an element-wise derivative of the output is
/// multiplied by 0 either way; Sigmoid's and Softmax's outputs are ≥ 0 and unchanged but for
/// NaN. An operator added later whose backward pass reads its output otherwise must be
/// excluded here.
fn relus_in_place(model: &Model, input: &str, output: &str) -> Vec<bool> {
    let mut reads: HashMap<&str, usize> = HashMap::new();
    for n in &model.nodes {
        for i in n.inputs.iter().filter(|i| !i.is_empty()) {
            *reads.entry(i.as_str()).or_default() += 1;
        }
    }
    let produced: HashSet<&str> = model
        .nodes
        .iter()
        .filter_map(main_output)
        .map(String::as_str)
        .collect();
    model
        .nodes
        .iter()
        .map(|n| {
            n.op == "Relu"
                && n.inputs.first().is_some_and(|x| {
                    produced.contains(x.as_str())
                        && reads.get(x.as_str()) == Some(&1)
                        && x != input
                        && x != output
                        && !model.initializers.contains_key(x)
                })
        })
        .collect()
}

/// `Transpose`'s permutation for a rank-`rank` input (reversed axes when not given); one that
/// moves the batch dimension is refused (rows are run in independent chunks).
pub(crate) fn perm(n: &Node, rank: usize) -> Result<Vec<usize>, Error> {
    let p: Vec<usize> = match ints(n, "perm") {
        Some(v) => v
            .iter()
            .map(|&a| usize::try_from(a).map_err(|_| unsupported(n, format!("axis {a}"))))
            .collect::<Result<_, _>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = vec![false; rank];
    if p.len() != rank
        || p.iter()
            .any(|&a| a >= rank || std::mem::replace(&mut seen[a], true))
    {
        return Err(unsupported(
            n,
            format!("perm {p:?} is not a permutation of {rank} axes"),
        ));
    }
    if p.first().is_some_and(|&a| a != 0) {
        return Err(unsupported(
            n,
            "a permutation that moves the batch dimension",
        ));
    }
    Ok(p)
}

/// `x` with its axes permuted: output axis `i` is input axis `perm[i]`.
pub(crate) fn transpose_axes(x: &Tensor, perm: &[usize]) -> Result<Tensor, Error> {
    let rank = x.shape.len();
    let shape: Vec<usize> = perm.iter().map(|&a| x.shape[a]).collect();
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * x.shape[i + 1];
    }
    let mut out = Vec::with_capacity(x.data.len());
    let mut idx = vec![0usize; rank];
    for _ in 0..x.data.len() {
        let src: usize = idx.iter().zip(perm).map(|(&i, &a)| i * in_strides[a]).sum();
        out.push(x.data[src]);
        // Next output index, last axis fastest.
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Tensor::new(shape, out)
}

fn check_attrs(n: &Node) -> Result<(), Error> {
    let dilated = ints(n, "dilations").is_some_and(|d| d.iter().any(|&x| x != 1));
    let auto = matches!(n.attrs.get("auto_pad"), Some(Attr::Str(s)) if s != "NOTSET");
    match n.op.as_str() {
        "Conv" if int(n, "group", 1) != 1 => Err(unsupported(n, "group convolution")),
        "Conv" | "MaxPool" | "AveragePool" if dilated => {
            Err(unsupported(n, "dilations other than 1"))
        }
        "Conv" | "MaxPool" | "AveragePool" if auto => Err(unsupported(n, "auto_pad")),
        "MaxPool" | "AveragePool" if int(n, "ceil_mode", 0) != 0 => {
            Err(unsupported(n, "ceil_mode"))
        }
        "MaxPool" if n.outputs.len() > 1 => Err(unsupported(n, "the Indices output")),
        _ => Ok(()),
    }
}

fn map(t: &Tensor, f: impl Fn(f32) -> f32) -> Tensor {
    Tensor {
        shape: t.shape.clone(),
        data: t.data.iter().map(|&v| f(v)).collect(),
    }
}

/// Relu: `max(v, 0)` (0 for NaN), in place or not.
#[inline]
fn relu(v: f32) -> f32 {
    v.max(0.0)
}

/// `f(big, small)` value by value where `small`'s shape is a suffix of `big`'s: repeat by
/// repeat (an index modulo per value kept this loop from being vectorised).
fn repeat(big: &Tensor, small: &[f32], f: impl Fn(f32, f32) -> f32) -> Tensor {
    let mut data = Vec::with_capacity(big.data.len());
    for part in big.data.chunks(small.len().max(1)) {
        data.extend(part.iter().zip(small).map(|(&x, &y)| f(x, y)));
    }
    Tensor {
        shape: big.shape.clone(),
        data,
    }
}

/// `a (op) b` with `b` the same shape, a scalar, or a suffix of `a`'s shape (a bias), or the
/// other way round.
fn binary(n: &Node, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Result<Tensor, Error> {
    let suffix = |big: &Tensor, small: &Tensor| {
        let k = small.shape.iter().skip_while(|&&d| d == 1).count();
        let s = &small.shape[small.shape.len() - k..];
        big.shape.len() >= k && big.shape[big.shape.len() - k..] == *s
    };
    if a.shape == b.shape {
        return Ok(Tensor {
            shape: a.shape.clone(),
            data: a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect(),
        });
    }
    if b.data.len() == 1 {
        return Ok(map(a, |x| f(x, b.data[0])));
    }
    if a.data.len() == 1 {
        return Ok(map(b, |y| f(a.data[0], y)));
    }
    if !b.data.is_empty() && suffix(a, b) {
        return Ok(repeat(a, &b.data, &f));
    }
    if !a.data.is_empty() && suffix(b, a) {
        return Ok(repeat(b, &a.data, |y, x| f(x, y)));
    }
    Err(unsupported(
        n,
        format!("broadcasting {:?} with {:?}", a.shape, b.shape),
    ))
}

pub(crate) fn two_d(n: &Node, t: &Tensor) -> Result<(usize, usize), Error> {
    match t.shape.as_slice() {
        [r, c] => Ok((*r, *c)),
        s => Err(unsupported(
            n,
            format!("operands of rank 2 only, got {s:?}"),
        )),
    }
}

/// Spatial geometry of a 2-D window operator over `[N, C, H, W]`.
pub(crate) struct Window {
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) sh: usize,
    pub(crate) sw: usize,
    pub(crate) pt: usize,
    pub(crate) pl: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
}

pub(crate) fn window(n: &Node, x: &Tensor, kernel: (usize, usize)) -> Result<Window, Error> {
    let [_, _, h, w] = x.shape.as_slice() else {
        return Err(unsupported(
            n,
            format!("2-D inputs [N, C, H, W] only, got {:?}", x.shape),
        ));
    };
    let strides = ints(n, "strides").unwrap_or_else(|| vec![1, 1]);
    let pads = ints(n, "pads").unwrap_or_else(|| vec![0, 0, 0, 0]);
    let u = |v: i64| usize::try_from(v).map_err(|_| unsupported(n, format!("negative value {v}")));
    let (sh, sw) = match strides.as_slice() {
        [a, b] => (u(*a)?, u(*b)?),
        _ => return Err(unsupported(n, "strides must have 2 values")),
    };
    let (pt, pl, pb, pr) = match pads.as_slice() {
        [a, b, c, d] => (u(*a)?, u(*b)?, u(*c)?, u(*d)?),
        _ => return Err(unsupported(n, "pads must have 4 values")),
    };
    Window::new((*h, *w), kernel, (sh, sw), (pt, pl, pb, pr)).ok_or_else(|| {
        unsupported(
            n,
            "a kernel larger than the padded input, a zero stride, or pads out of range",
        )
    })
}

impl Window {
    /// The window of a `kernel` with `strides` and `(top, left, bottom, right)` pads over an
    /// `(h, w)` input; `None` for a zero stride or kernel, a kernel larger than the padded input,
    /// or pads so large the padded size overflows.
    pub(crate) fn new(
        (h, w): (usize, usize),
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        (pt, pl, pb, pr): (usize, usize, usize, usize),
    ) -> Option<Window> {
        let ph = h.checked_add(pt)?.checked_add(pb)?;
        let pw = w.checked_add(pl)?.checked_add(pr)?;
        if sh == 0 || sw == 0 || kh == 0 || kw == 0 || ph < kh || pw < kw {
            return None;
        }
        Some(Window {
            kh,
            kw,
            sh,
            sw,
            pt,
            pl,
            oh: (ph - kh) / sh + 1,
            ow: (pw - kw) / sw + 1,
        })
    }
}

pub(crate) fn kernel_attr(n: &Node) -> Result<(usize, usize), Error> {
    match ints(n, "kernel_shape").as_deref() {
        Some([a, b]) if *a > 0 && *b > 0 => Ok((*a as usize, *b as usize)),
        _ => Err(unsupported(n, "kernel_shape must be two positive values")),
    }
}

pub(crate) fn forward<'a>(
    n: &Node,
    get: &dyn Fn(usize) -> Result<&'a Tensor, Error>,
) -> Result<Tensor, Error> {
    Ok(match n.op.as_str() {
        "Identity" | "Dropout" => get(0)?.clone(),
        // Values are f32 here whatever the file's type; casts between float types change
        // nothing, casts to integers (a label branch) are not run.
        "Cast" => match int(n, "to", 0) {
            1 | 10 | 11 | 16 => get(0)?.clone(),
            // Integer types: shape arithmetic (exporters compute Reshape targets at run time).
            2..=7 | 12 | 13 => map(get(0)?, f32::trunc),
            t => return Err(unsupported(n, format!("cast to data type {t}"))),
        },
        // Shape arithmetic on 1-D shape tensors (tf2onnx's run-time Flatten): values are
        // small integers held as f32.
        "Shape" => {
            let x = get(0)?;
            Tensor::new(
                vec![x.shape.len()],
                x.shape.iter().map(|&d| d as f32).collect(),
            )?
        }
        "Gather" => {
            let (data, idx) = (get(0)?, get(1)?);
            if data.shape.len() != 1 || int(n, "axis", 0) != 0 {
                return Err(unsupported(n, "gathering from 1-D tensors (shapes) only"));
            }
            let len = data.data.len() as i64;
            let picked = idx
                .data
                .iter()
                .map(|&i| {
                    let i = i as i64;
                    let i = if i < 0 { i + len } else { i };
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| data.data.get(i).copied())
                        .ok_or_else(|| unsupported(n, format!("index {i} outside {len} values")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::new(idx.shape.clone(), picked)?
        }
        "Slice" => {
            let data = get(0)?;
            let one = |k: usize| -> Result<Option<i64>, Error> {
                match n.inputs.get(k).filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(_) => match get(k)?.data.as_slice() {
                        [v] => Ok(Some(*v as i64)),
                        _ => Err(unsupported(n, "one axis at a time")),
                    },
                }
            };
            if data.shape.len() != 1
                || one(3)?.is_some_and(|a| a != 0 && a != -1)
                || one(4)?.is_some_and(|s| s != 1)
            {
                return Err(unsupported(
                    n,
                    "slices of 1-D tensors (shapes) with step 1 only",
                ));
            }
            let len = data.data.len() as i64;
            let at = |v: i64| (if v < 0 { v + len } else { v }).clamp(0, len) as usize;
            let (start, end) = (at(one(1)?.unwrap_or(0)), at(one(2)?.unwrap_or(len)));
            let part = data.data[start..end.max(start)].to_vec();
            Tensor::new(vec![part.len()], part)?
        }
        "Concat" => {
            let mut out = Vec::new();
            for k in 0..n.inputs.len() {
                let t = get(k)?;
                if t.shape.len() != 1 || !matches!(int(n, "axis", 0), 0 | -1) {
                    return Err(unsupported(n, "concatenating 1-D tensors (shapes) only"));
                }
                out.extend_from_slice(&t.data);
            }
            Tensor::new(vec![out.len()], out)?
        }
        "Normalizer" => crate::ml::normalizer(n, get(0)?)?,
        "Transpose" => {
            let x = get(0)?;
            let perm = perm(n, x.shape.len())?;
            transpose_axes(x, &perm)?
        }
        "Relu" => map(get(0)?, relu),
        "LeakyRelu" => {
            let a = float(n, "alpha", 0.01);
            map(get(0)?, |v| if v < 0.0 { a * v } else { v })
        }
        "Sigmoid" => map(get(0)?, |v| 1.0 / (1.0 + (-v).exp())),
        "Tanh" => map(get(0)?, f32::tanh),
        "Add" => binary(n, get(0)?, get(1)?, |a, b| a + b)?,
        "Sub" => binary(n, get(0)?, get(1)?, |a, b| a - b)?,
        "Mul" => binary(n, get(0)?, get(1)?, |a, b| a * b)?,
        "Div" => binary(n, get(0)?, get(1)?, |a, b| a / b)?,
        "Softmax" => {
            let x = get(0)?;
            let axis = int(n, "axis", -1);
            let last = x.shape.len() as i64 - 1;
            if axis != -1 && axis != last {
                return Err(unsupported(n, "softmax over an axis other than the last"));
            }
            let w = *x.shape.last().unwrap_or(&1);
            let mut out = x.clone();
            for row in out.data.chunks_mut(w.max(1)) {
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut s = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - m).exp();
                    s += *v;
                }
                for v in row.iter_mut() {
                    *v /= s;
                }
            }
            out
        }
        "Flatten" => {
            let x = get(0)?;
            let axis =
                usize::try_from(int(n, "axis", 1)).map_err(|_| unsupported(n, "negative axis"))?;
            if axis > x.shape.len() {
                return Err(unsupported(n, "axis beyond the rank"));
            }
            let a: usize = x.shape[..axis].iter().product();
            let b: usize = x.shape[axis..].iter().product();
            Tensor::new(vec![a, b], x.data.clone())?
        }
        "Reshape" => {
            let x = get(0)?;
            let spec = get(1)?;
            let mut shape = Vec::new();
            let mut infer = None;
            for (i, &d) in spec.data.iter().enumerate() {
                match d as i64 {
                    0 => shape.push(
                        *x.shape
                            .get(i)
                            .ok_or_else(|| unsupported(n, "0 beyond the input's rank"))?,
                    ),
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        shape.push(1);
                    }
                    d if d > 0 => shape.push(d as usize),
                    d => return Err(unsupported(n, format!("shape value {d}"))),
                }
            }
            if let Some(i) = infer {
                let known: usize = shape.iter().product();
                if known == 0 || x.data.len() % known != 0 {
                    return Err(Error::Shape(format!(
                        "cannot reshape {:?} to {:?}",
                        x.shape, spec.data
                    )));
                }
                shape[i] = x.data.len() / known;
            }
            Tensor::new(shape, x.data.clone())?
        }
        "MatMul" => {
            let (a, b) = (get(0)?, get(1)?);
            let ((m, k), (k2, c)) = (two_d(n, a)?, two_d(n, b)?);
            if k != k2 {
                return Err(Error::Shape(format!(
                    "MatMul `{}`: {:?} x {:?}",
                    n.name, a.shape, b.shape
                )));
            }
            Tensor::new(
                vec![m, c],
                crate::kernels::matmul(&a.data, &b.data, m, k, c, false),
            )?
        }
        "Gemm" => {
            let (a, b) = (get(0)?, get(1)?);
            let (alpha, beta) = (float(n, "alpha", 1.0), float(n, "beta", 1.0));
            let (ta, tb) = (int(n, "transA", 0) != 0, int(n, "transB", 0) != 0);
            let (ar, ac) = two_d(n, a)?;
            let (br, bc) = two_d(n, b)?;
            let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
            let (k2, c) = if tb { (bc, br) } else { (br, bc) };
            if k != k2 {
                return Err(Error::Shape(format!(
                    "Gemm `{}`: {:?} x {:?}",
                    n.name, a.shape, b.shape
                )));
            }
            let av = if ta {
                std::borrow::Cow::Owned(crate::kernels::transpose(&a.data, ar, ac))
            } else {
                std::borrow::Cow::Borrowed(&a.data)
            };
            let mut y = Tensor::new(
                vec![m, c],
                crate::kernels::matmul(&av, &b.data, m, k, c, tb),
            )?;
            // Exactly 1 is the identity: skip the pass.
            if alpha.to_bits() != 1.0f32.to_bits() {
                y = map(&y, |v| alpha * v);
            }
            if n.inputs.get(2).is_some_and(|s| !s.is_empty()) {
                let bias = map(get(2)?, |v| beta * v);
                y = binary(n, &y, &bias, |p, q| p + q)?;
            }
            y
        }
        "Conv" => {
            let (x, w) = (get(0)?, get(1)?);
            let [oc, ic, kh, kw] = w.shape.as_slice() else {
                return Err(unsupported(n, "2-D kernels [M, C, kH, kW] only"));
            };
            let (oc, ic, kh, kw) = (*oc, *ic, *kh, *kw);
            let g = window(n, x, (kh, kw))?;
            let (batch, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            if c != ic {
                return Err(Error::Shape(format!(
                    "Conv `{}`: input has {c} channels, kernel {ic}",
                    n.name
                )));
            }
            let bias = n
                .inputs
                .get(2)
                .filter(|s| !s.is_empty())
                .map(|_| get(2))
                .transpose()?;
            elements(&[batch, oc, g.oh, g.ow])?;
            if w.data.len() != oc * ic * kh * kw || x.data.len() != batch * c * h * wd {
                return Err(unsupported(n, "operand sizes do not match"));
            }
            let out = crate::kernels::conv(
                &x.data,
                &w.data,
                bias.map(|t| t.data.as_slice()),
                &g,
                &crate::kernels::ConvDims {
                    n: batch,
                    c,
                    h,
                    w: wd,
                    oc,
                },
            );
            Tensor::new(vec![batch, oc, g.oh, g.ow], out)?
        }
        "MaxPool" | "AveragePool" => {
            let x = get(0)?;
            let g = window(n, x, kernel_attr(n)?)?;
            let (batch, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            let max = n.op == "MaxPool";
            let include_pad = int(n, "count_include_pad", 0) != 0;
            elements(&[batch, c, g.oh, g.ow])?;
            let out = crate::kernels::pool(
                &x.data,
                &g,
                &crate::kernels::PoolDims {
                    planes: batch * c,
                    h,
                    w: wd,
                    max,
                    include_pad,
                },
            );
            Tensor::new(vec![batch, c, g.oh, g.ow], out)?
        }
        "BatchNormalization" => {
            let x = get(0)?;
            let (scale, bias, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
            let eps = float(n, "epsilon", 1e-5);
            let c = *x
                .shape
                .get(1)
                .ok_or_else(|| unsupported(n, "inputs of rank 2 or more"))?;
            if [scale, bias, mean, var].iter().any(|t| t.data.len() != c) {
                return Err(Error::Shape(format!(
                    "BatchNormalization `{}`: parameters are not [{c}]",
                    n.name
                )));
            }
            let inner: usize = x.shape[2..].iter().product();
            let mut out = x.clone();
            for (i, v) in out.data.iter_mut().enumerate() {
                let ch = (i / inner.max(1)) % c;
                *v = (*v - mean.data[ch]) / (var.data[ch] + eps).sqrt() * scale.data[ch]
                    + bias.data[ch];
            }
            out
        }
        _ => return Err(unsupported(n, "not implemented")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile geometry is refused, never overflowed: pads whose sum passes `usize::MAX`, zero
    /// strides and kernels larger than the padded input.
    #[test]
    fn window_geometry_refuses_what_does_not_fit() {
        let big = usize::MAX / 2 + 1;
        assert!(Window::new((8, 8), (3, 3), (1, 1), (big, 0, big, 0)).is_none());
        assert!(Window::new((8, 8), (3, 3), (1, 1), (0, big, 0, big)).is_none());
        assert!(Window::new((8, 8), (3, 3), (0, 1), (1, 1, 1, 1)).is_none());
        assert!(Window::new((2, 2), (3, 3), (1, 1), (0, 0, 0, 0)).is_none());
        let g = Window::new((8, 8), (3, 3), (1, 1), (1, 1, 1, 1)).expect("same padding");
        assert_eq!((g.oh, g.ow), (8, 8));
        let g = Window::new((8, 7), (2, 2), (2, 2), (0, 0, 0, 0)).expect("halving");
        assert_eq!((g.oh, g.ow), (4, 3));
    }

    #[test]
    fn transpose_moves_axes_and_its_inverse_undoes_it() {
        // [1, 2, 3] → perm [0, 2, 1] → [1, 3, 2].
        let x = Tensor::new(vec![1, 2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).expect("t");
        let t = transpose_axes(&x, &[0, 2, 1]).expect("transposes");
        assert_eq!(t.shape, vec![1, 3, 2]);
        assert_eq!(t.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(transpose_axes(&t, &[0, 2, 1]).expect("back"), x);
        // NHWC → NCHW and back, as tf2onnx writes around convolutions.
        let x = Tensor::new(vec![2, 3, 4, 5], (0..120).map(|v| v as f32).collect()).expect("t");
        let nchw = transpose_axes(&x, &[0, 3, 1, 2]).expect("transposes");
        assert_eq!(nchw.shape, vec![2, 5, 3, 4]);
        // Element (b, h, w, c) of x is element (b, c, h, w) of nchw, for every element.
        let (b, h, w, c) = (2usize, 3usize, 4usize, 5usize);
        for (bi, hi, wi, ci) in (0..b).flat_map(|bi| {
            (0..h).flat_map(move |hi| {
                (0..w).flat_map(move |wi| (0..c).map(move |ci| (bi, hi, wi, ci)))
            })
        }) {
            let from = x.data[((bi * h + hi) * w + wi) * c + ci].to_bits();
            let to = nchw.data[((bi * c + ci) * h + hi) * w + wi].to_bits();
            assert_eq!(from, to, "({bi}, {hi}, {wi}, {ci})");
        }
        assert_eq!(transpose_axes(&nchw, &[0, 2, 3, 1]).expect("back"), x);
    }

    /// A Relu overwrites its input only when nothing else reads it: not a second node, not
    /// the graph's output, not the graph's input or a weight.
    #[test]
    fn relus_run_in_place_only_on_values_nothing_else_reads() {
        let node = |op: &str, inputs: &[&str], out: &str| Node {
            op: op.into(),
            domain: String::new(),
            name: out.into(),
            inputs: inputs.iter().map(ToString::to_string).collect(),
            outputs: vec![out.into()],
            attrs: HashMap::new(),
        };
        let model = |nodes: Vec<Node>| Model {
            opset: 13,
            inputs: Vec::new(),
            outputs: Vec::new(),
            initializers: HashMap::from([("w".to_string(), t(vec![1], vec![1.0]))]),
            nodes,
        };
        // x → MatMul a → Relu r1 → MatMul b → Relu r2 (a read once; b also read by Add).
        let m = model(vec![
            node("MatMul", &["x", "w"], "a"),
            node("Relu", &["a"], "r1"),
            node("MatMul", &["r1", "w"], "b"),
            node("Relu", &["b"], "r2"),
            node("Add", &["b", "r2"], "out"),
            node("Relu", &["x"], "rx"),
            node("Relu", &["w"], "rw"),
        ]);
        assert_eq!(
            relus_in_place(&m, "x", "out"),
            [false, true, false, false, false, false, false]
        );
        // The graph's output is read by the caller.
        let m = model(vec![
            node("MatMul", &["x", "w"], "a"),
            node("Relu", &["a"], "r"),
        ]);
        assert_eq!(relus_in_place(&m, "x", "r"), [false, true]);
        assert_eq!(relus_in_place(&m, "x", "a"), [false, false]);
    }

    /// Run one node on the given inputs.
    fn run_node(op: &str, attrs: Vec<(&str, Attr)>, inputs: &[Tensor]) -> Result<Tensor, Error> {
        let n = Node {
            op: op.into(),
            domain: String::new(),
            name: "n".into(),
            inputs: (0..inputs.len()).map(|i| format!("i{i}")).collect(),
            outputs: vec!["y".into()],
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        let get = |i: usize| -> Result<&Tensor, Error> {
            inputs.get(i).ok_or_else(|| Error::Onnx("missing".into()))
        };
        forward(&n, &get)
    }

    fn t(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        Tensor::new(shape, data).expect("tensor")
    }

    #[test]
    fn shape_arithmetic_computes_a_flatten_target_and_refuses_the_rest() {
        // tf2onnx's run-time Flatten of [N, 4, 4, 8]: Shape, Gather, Slice, Concat.
        let x = t(vec![3, 4, 4, 8], vec![0.0; 384]);
        let shape = run_node("Shape", vec![], std::slice::from_ref(&x)).expect("shape");
        assert_eq!(shape.data, vec![3.0, 4.0, 4.0, 8.0]);
        let nchw = run_node(
            "Gather",
            vec![],
            &[shape.clone(), t(vec![4], vec![0.0, 3.0, 1.0, 2.0])],
        )
        .expect("gather");
        assert_eq!(nchw.data, vec![3.0, 8.0, 4.0, 4.0]);
        let batch = run_node(
            "Slice",
            vec![],
            &[
                nchw,
                t(vec![1], vec![0.0]),
                t(vec![1], vec![1.0]),
                t(vec![1], vec![0.0]),
            ],
        )
        .expect("slice");
        assert_eq!(batch.data, vec![3.0]);
        let target = run_node(
            "Concat",
            vec![("axis", Attr::Int(0))],
            &[batch, t(vec![1], vec![128.0])],
        )
        .expect("concat");
        assert_eq!(
            (target.shape.clone(), target.data.clone()),
            (vec![2], vec![3.0, 128.0])
        );
        let flat = run_node("Reshape", vec![], &[x.clone(), target]).expect("reshape");
        assert_eq!(flat.shape, vec![3, 128]);
        // Negative indices and ends count from the back; an integer cast truncates.
        let g =
            run_node("Gather", vec![], &[shape.clone(), t(vec![1], vec![-1.0])]).expect("gather");
        assert_eq!(g.data, vec![8.0]);
        let c = run_node(
            "Cast",
            vec![("to", Attr::Int(7))],
            &[t(vec![2], vec![2.9, -1.5])],
        )
        .expect("cast");
        assert_eq!(c.data, vec![2.0, -1.0]);
        // Refused by name: gathering outside, slicing data, steps, concatenating data.
        for (op, attrs, inputs) in [
            ("Gather", vec![], vec![shape.clone(), t(vec![1], vec![9.0])]),
            ("Gather", vec![], vec![x.clone(), t(vec![1], vec![0.0])]),
            (
                "Slice",
                vec![],
                vec![x.clone(), t(vec![1], vec![0.0]), t(vec![1], vec![1.0])],
            ),
            (
                "Slice",
                vec![],
                vec![
                    shape.clone(),
                    t(vec![1], vec![0.0]),
                    t(vec![1], vec![2.0]),
                    t(vec![1], vec![0.0]),
                    t(vec![1], vec![2.0]),
                ],
            ),
            (
                "Concat",
                vec![("axis", Attr::Int(1))],
                vec![x.clone(), x.clone()],
            ),
            ("Cast", vec![("to", Attr::Int(8))], vec![shape.clone()]),
        ] {
            let e = run_node(op, attrs, &inputs).expect_err(op);
            assert!(e.to_string().contains(&format!("`{op}`")), "{e}");
        }
    }

    #[test]
    fn permutations_that_move_the_batch_or_repeat_an_axis_are_refused() {
        let node = |p: Vec<i64>| Node {
            op: "Transpose".into(),
            domain: String::new(),
            name: "t".into(),
            inputs: vec!["x".into()],
            outputs: vec!["y".into()],
            attrs: HashMap::from([("perm".to_string(), Attr::Ints(p))]),
        };
        assert!(perm(&node(vec![0, 2, 1]), 3).is_ok());
        for bad in [
            vec![1, 0, 2],
            vec![0, 1, 1],
            vec![0, 1],
            vec![0, 1, 5],
            vec![0, -1, 1],
        ] {
            assert!(perm(&node(bad.clone()), 3).is_err(), "{bad:?}");
        }
    }
}
