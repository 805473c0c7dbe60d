//! The `ai.onnx.ml` operators scikit-learn models exported by skl2onnx use:
//! `LinearClassifier` (rewritten into `Gemm` and its activation when the session is built, so
//! it runs and differentiates like any layer), `Normalizer` and `TreeEnsembleClassifier`
//! (forward only: trees have no gradient, so white-box attacks refuse them and the black-box
//! attacks test them).

use std::collections::{HashMap, HashSet};

use crate::engine::unsupported;
use crate::onnx::{Attr, Model, Node};
use crate::{Error, Tensor};

/// The `ai.onnx.ml` operators run.
pub const ML_OPS: &[&str] = &["LinearClassifier", "Normalizer", "TreeEnsembleClassifier"];

fn floats<'a>(n: &'a Node, k: &str) -> &'a [f32] {
    match n.attrs.get(k) {
        Some(Attr::Floats(v)) => v,
        _ => &[],
    }
}

fn ints<'a>(n: &'a Node, k: &str) -> &'a [i64] {
    match n.attrs.get(k) {
        Some(Attr::Ints(v)) => v,
        _ => &[],
    }
}

fn text<'a>(n: &'a Node, k: &str, default: &'a str) -> &'a str {
    match n.attrs.get(k) {
        Some(Attr::Str(s)) => s,
        _ => default,
    }
}

fn strings<'a>(n: &'a Node, k: &str) -> &'a [String] {
    match n.attrs.get(k) {
        Some(Attr::Strings(v)) => v,
        _ => &[],
    }
}

/// The number of class labels (`classlabels_ints`/`classlabels_int64s`; string labels are
/// counted too).
fn labels(n: &Node) -> usize {
    ["classlabels_ints", "classlabels_int64s"]
        .iter()
        .map(|k| ints(n, k).len())
        .chain(std::iter::once(strings(n, "classlabels_strings").len()))
        .max()
        .unwrap_or(0)
}

/// The activation a `post_transform` names, as an operator of the default domain.
fn post_op(n: &Node) -> Result<Option<&'static str>, Error> {
    match text(n, "post_transform", "NONE") {
        "NONE" => Ok(None),
        "SOFTMAX" => Ok(Some("Softmax")),
        "LOGISTIC" => Ok(Some("Sigmoid")),
        other => Err(unsupported(n, format!("post_transform {other}"))),
    }
}

/// Rewrite every `LinearClassifier` of `m` into `Gemm` (+ `Softmax`/`Sigmoid`) writing its
/// scores output; the names of the initializers this creates (not weights of the file).
pub(crate) fn lower(m: &mut Model) -> Result<HashSet<String>, Error> {
    let mut created = HashSet::new();
    let mut nodes = Vec::with_capacity(m.nodes.len());
    for n in std::mem::take(&mut m.nodes) {
        if n.op != "LinearClassifier" {
            nodes.push(n);
            continue;
        }
        let (coef, bias) = (floats(&n, "coefficients"), floats(&n, "intercepts"));
        let classes = labels(&n);
        if classes == 0 || coef.is_empty() || coef.len() % classes != 0 {
            return Err(unsupported(
                &n,
                format!(
                    "{} coefficients for {classes} classes (a binary model with one row of coefficients is not run)",
                    coef.len()
                ),
            ));
        }
        if !bias.is_empty() && bias.len() != classes {
            return Err(unsupported(&n, "intercepts do not match the classes"));
        }
        let (Some(x), Some(scores)) = (n.inputs.first(), n.outputs.get(1)) else {
            return Err(unsupported(&n, "needs its input and its scores output"));
        };
        let features = coef.len() / classes;
        let (w, b) = (
            format!("{}/coefficients", n.name),
            format!("{}/intercepts", n.name),
        );
        m.initializers.insert(
            w.clone(),
            Tensor::new(vec![classes, features], coef.to_vec())?,
        );
        let bias = if bias.is_empty() {
            vec![0.0; classes]
        } else {
            bias.to_vec()
        };
        m.initializers
            .insert(b.clone(), Tensor::new(vec![classes], bias)?);
        created.insert(w.clone());
        created.insert(b.clone());
        let post = post_op(&n)?;
        let raw = if post.is_some() {
            format!("{}/raw", n.name)
        } else {
            scores.clone()
        };
        let mut attrs = HashMap::new();
        attrs.insert("transB".to_string(), Attr::Int(1));
        nodes.push(Node {
            op: "Gemm".into(),
            domain: String::new(),
            name: format!("{}/gemm", n.name),
            inputs: vec![x.clone(), w, b],
            outputs: vec![raw.clone()],
            attrs,
        });
        if let Some(op) = post {
            nodes.push(Node {
                op: op.into(),
                domain: String::new(),
                name: format!("{}/{}", n.name, op.to_lowercase()),
                inputs: vec![raw],
                outputs: vec![scores.clone()],
                attrs: HashMap::new(),
            });
        }
    }
    m.nodes = nodes;
    Ok(created)
}

/// `Normalizer`: each row divided by its L1 or L2 norm, or its largest value.
pub(crate) fn normalizer(n: &Node, x: &Tensor) -> Result<Tensor, Error> {
    let w = *x.shape.last().unwrap_or(&1);
    let mut out = x.clone();
    let kind = text(n, "norm", "MAX");
    for row in out.data.chunks_mut(w.max(1)) {
        let d = match kind {
            "L1" => row.iter().map(|v| v.abs()).sum::<f32>(),
            "L2" => row.iter().map(|v| v * v).sum::<f32>().sqrt(),
            "MAX" => row.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            other => return Err(unsupported(n, format!("norm {other}"))),
        };
        if d != 0.0 {
            for v in row.iter_mut() {
                *v /= d;
            }
        }
    }
    Ok(out)
}

/// The gradient through an L1 or L2 `Normalizer`.
pub(crate) fn normalizer_backward(n: &Node, x: &Tensor, g: &Tensor) -> Result<Tensor, Error> {
    let w = *x.shape.last().unwrap_or(&1);
    let kind = text(n, "norm", "MAX");
    let mut d = vec![0f32; x.data.len()];
    for ((xr, gr), dr) in x
        .data
        .chunks(w.max(1))
        .zip(g.data.chunks(w.max(1)))
        .zip(d.chunks_mut(w.max(1)))
    {
        match kind {
            // y = x / s, s = Σ|x|: dy_i/dx_j = δij/s − x_i·sign(x_j)/s²
            "L1" => {
                let s = xr.iter().map(|v| v.abs()).sum::<f32>();
                if s == 0.0 {
                    continue;
                }
                let dot: f32 = xr.iter().zip(gr).map(|(a, b)| a * b).sum();
                for ((o, &xv), &gv) in dr.iter_mut().zip(xr).zip(gr) {
                    *o = gv / s - dot * xv.signum() / (s * s);
                }
            }
            // y = x / s, s = ‖x‖₂: dy_i/dx_j = δij/s − x_i·x_j/s³
            "L2" => {
                let s = xr.iter().map(|v| v * v).sum::<f32>().sqrt();
                if s == 0.0 {
                    continue;
                }
                let dot: f32 = xr.iter().zip(gr).map(|(a, b)| a * b).sum();
                for ((o, &xv), &gv) in dr.iter_mut().zip(xr).zip(gr) {
                    *o = gv / s - dot * xv / (s * s * s);
                }
            }
            other => return Err(unsupported(n, format!("no gradient through norm {other}"))),
        }
    }
    Ok(Tensor {
        shape: x.shape.clone(),
        data: d,
    })
}

/// How a branch compares the feature with its threshold.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

#[derive(Debug, Clone)]
enum TreeNode {
    Branch {
        feature: usize,
        value: f32,
        mode: Mode,
        yes: usize,
        no: usize,
        nan_yes: bool,
    },
    Leaf(Vec<(usize, f32)>),
}

/// A compiled `TreeEnsembleClassifier`: trees as index-linked nodes, checked once.
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    nodes: Vec<TreeNode>,
    roots: Vec<usize>,
    classes: usize,
    features: usize,
    base: Vec<f32>,
    post: Option<&'static str>,
}

impl Forest {
    /// Check and compile the node's attributes; every reference must resolve.
    pub(crate) fn compile(n: &Node) -> Result<Self, Error> {
        let tree = ints(n, "nodes_treeids");
        let id = ints(n, "nodes_nodeids");
        let feature = ints(n, "nodes_featureids");
        let value = floats(n, "nodes_values");
        let modes = strings(n, "nodes_modes");
        let yes = ints(n, "nodes_truenodeids");
        let no = ints(n, "nodes_falsenodeids");
        let nan = ints(n, "nodes_missing_value_tracks_true");
        let count = tree.len();
        if count == 0
            || [id.len(), feature.len(), modes.len(), yes.len(), no.len()]
                .iter()
                .any(|&l| l != count)
            || value.len() != count
        {
            return Err(unsupported(n, "the nodes_* attributes differ in length"));
        }
        let classes = labels(n);
        if classes == 0 {
            return Err(unsupported(n, "no class labels"));
        }
        let index: HashMap<(i64, i64), usize> = (0..count).map(|i| ((tree[i], id[i]), i)).collect();
        if index.len() != count {
            return Err(unsupported(n, "two nodes share a (tree, node) id"));
        }
        let find = |t: i64, i: i64| {
            index
                .get(&(t, i))
                .copied()
                .ok_or_else(|| unsupported(n, format!("tree {t} has no node {i}")))
        };
        let mut leaves: HashMap<usize, Vec<(usize, f32)>> = HashMap::new();
        let (ct, cn, cid, cw) = (
            ints(n, "class_treeids"),
            ints(n, "class_nodeids"),
            ints(n, "class_ids"),
            floats(n, "class_weights"),
        );
        if [cn.len(), cid.len(), cw.len()]
            .iter()
            .any(|&l| l != ct.len())
        {
            return Err(unsupported(n, "the class_* attributes differ in length"));
        }
        for k in 0..ct.len() {
            let c = usize::try_from(cid[k])
                .ok()
                .filter(|&c| c < classes)
                .ok_or_else(|| {
                    unsupported(
                        n,
                        format!(
                            "class id {} outside the {classes} labels (binary trees with one score column are not run)",
                            cid[k]
                        ),
                    )
                })?;
            leaves
                .entry(find(ct[k], cn[k])?)
                .or_default()
                .push((c, cw[k]));
        }
        let mut nodes = Vec::with_capacity(count);
        let mut children = HashSet::new();
        let mut features = 0usize;
        for i in 0..count {
            let mode = match modes[i].as_str() {
                "LEAF" => {
                    nodes.push(TreeNode::Leaf(leaves.remove(&i).unwrap_or_default()));
                    continue;
                }
                "BRANCH_LEQ" => Mode::Leq,
                "BRANCH_LT" => Mode::Lt,
                "BRANCH_GTE" => Mode::Gte,
                "BRANCH_GT" => Mode::Gt,
                "BRANCH_EQ" => Mode::Eq,
                "BRANCH_NEQ" => Mode::Neq,
                other => return Err(unsupported(n, format!("node mode {other}"))),
            };
            let (y, f) = (find(tree[i], yes[i])?, find(tree[i], no[i])?);
            children.insert(y);
            children.insert(f);
            let feat = usize::try_from(feature[i])
                .map_err(|_| unsupported(n, format!("feature id {}", feature[i])))?;
            features = features.max(feat + 1);
            nodes.push(TreeNode::Branch {
                feature: feat,
                value: value[i],
                mode,
                yes: y,
                no: f,
                nan_yes: nan.get(i).is_some_and(|&v| v != 0),
            });
        }
        // A root is a node no branch points to; each tree has one.
        let mut roots: Vec<usize> = (0..count).filter(|i| !children.contains(i)).collect();
        roots.sort_by_key(|&i| (tree[i], id[i]));
        let trees: HashSet<i64> = tree.iter().copied().collect();
        if roots.len() != trees.len() {
            return Err(unsupported(
                n,
                format!("{} trees but {} root nodes", trees.len(), roots.len()),
            ));
        }
        let base = floats(n, "base_values").to_vec();
        if !base.is_empty() && base.len() != classes {
            return Err(unsupported(n, "base_values do not match the classes"));
        }
        Ok(Forest {
            nodes,
            roots,
            classes,
            features,
            base,
            post: post_op(n)?,
        })
    }

    /// The class scores of each row of `x` (`[N, F]`).
    pub(crate) fn run(&self, n: &Node, x: &Tensor) -> Result<Tensor, Error> {
        let [rows, width] = x.shape.as_slice() else {
            return Err(unsupported(
                n,
                format!("inputs [N, F] only, got {:?}", x.shape),
            ));
        };
        if *width < self.features {
            return Err(Error::Shape(format!(
                "{}: the trees read feature {}, the input has {width}",
                n.name,
                self.features - 1
            )));
        }
        let mut out = vec![0f32; rows * self.classes];
        for (xr, scores) in x.data.chunks(*width).zip(out.chunks_mut(self.classes)) {
            if !self.base.is_empty() {
                scores.copy_from_slice(&self.base);
            }
            for &root in &self.roots {
                let mut at = root;
                // A malformed file could link nodes in a cycle: never walk more than all nodes.
                for _ in 0..=self.nodes.len() {
                    match &self.nodes[at] {
                        TreeNode::Leaf(w) => {
                            for &(c, v) in w {
                                scores[c] += v;
                            }
                            break;
                        }
                        TreeNode::Branch {
                            feature,
                            value,
                            mode,
                            yes,
                            no,
                            nan_yes,
                        } => {
                            let v = xr[*feature];
                            // BRANCH_EQ/NEQ compare exactly, as the operator defines.
                            #[allow(clippy::float_cmp)]
                            let go = if v.is_nan() {
                                *nan_yes
                            } else {
                                match mode {
                                    Mode::Leq => v <= *value,
                                    Mode::Lt => v < *value,
                                    Mode::Gte => v >= *value,
                                    Mode::Gt => v > *value,
                                    Mode::Eq => v == *value,
                                    Mode::Neq => v != *value,
                                }
                            };
                            at = if go { *yes } else { *no };
                        }
                    }
                }
            }
            match self.post {
                Some("Softmax") => {
                    let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut s = 0.0;
                    for v in scores.iter_mut() {
                        *v = (*v - m).exp();
                        s += *v;
                    }
                    for v in scores.iter_mut() {
                        *v /= s;
                    }
                }
                Some(_) => {
                    for v in scores.iter_mut() {
                        *v = 1.0 / (1.0 + (-*v).exp());
                    }
                }
                None => {}
            }
        }
        Tensor::new(vec![*rows, self.classes], out)
    }
}
