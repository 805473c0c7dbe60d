//! ONNX models read with our own bounded protobuf reader: the graph's inputs and outputs,
//! initializers (FLOAT, DOUBLE, INT32, INT64 as `f32`), and nodes with their attributes.
//! External data, sparse initializers and subgraphs are refused with a message naming them.

use std::collections::HashMap;

use crate::wire::{self, Value};
use crate::{Error, Tensor, elements};

/// Most nodes a graph may have.
pub const MAX_NODES: usize = 100_000;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// `i`.
    Int(i64),
    /// `f`.
    Float(f32),
    /// `ints`.
    Ints(Vec<i64>),
    /// `floats`.
    Floats(Vec<f32>),
    /// `s`.
    Str(String),
    /// `strings`.
    Strings(Vec<String>),
    /// `t`.
    Tensor(Tensor),
    /// A subgraph or another kind this reader keeps no value for.
    Other(&'static str),
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `op_type`.
    pub op: String,
    /// `domain` (empty for the default one).
    pub domain: String,
    /// `name`, or its first output when unnamed.
    pub name: String,
    /// Input value names (empty strings for omitted optional inputs).
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attrs: HashMap<String, Attr>,
}

/// A graph input or output: its name and shape (`None` for a symbolic dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    /// Name.
    pub name: String,
    /// Dimensions; `None` where the model says only a symbol (`n`, `batch`).
    pub shape: Vec<Option<usize>>,
}

/// A parsed model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The default domain's opset version.
    pub opset: i64,
    /// Graph inputs that are not initializers.
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
    /// Weights by name.
    pub initializers: HashMap<String, Tensor>,
    /// Nodes in graph order.
    pub nodes: Vec<Node>,
}

fn bad(m: impl std::fmt::Display) -> Error {
    Error::Onnx(m.to_string())
}

/// Parse an ONNX `ModelProto`.
pub fn parse(bytes: &[u8]) -> Result<Model, Error> {
    let mut opset = None;
    let mut graph = None;
    for f in wire::fields(bytes) {
        match f.map_err(bad)? {
            (7, Value::Bytes(g)) => graph = Some(g),
            (8, Value::Bytes(o)) => {
                let mut domain = String::new();
                let mut version = 0i64;
                for f in wire::fields(o) {
                    match f.map_err(bad)? {
                        (1, v) => domain = wire::text(v).map_err(bad)?,
                        (2, Value::Varint(v)) => version = v as i64,
                        _ => {}
                    }
                }
                if domain.is_empty() || domain == "ai.onnx" {
                    opset = Some(version);
                }
            }
            _ => {}
        }
    }
    let g = graph.ok_or_else(|| bad("no graph (is this an ONNX model?)"))?;
    let mut m = Model {
        opset: opset.unwrap_or(1),
        inputs: Vec::new(),
        outputs: Vec::new(),
        initializers: HashMap::new(),
        nodes: Vec::new(),
    };
    let mut inputs = Vec::new();
    for f in wire::fields(g) {
        match f.map_err(bad)? {
            (1, Value::Bytes(n)) => {
                if m.nodes.len() >= MAX_NODES {
                    return Err(bad(format!("more than {MAX_NODES} nodes")));
                }
                m.nodes.push(node(n)?);
            }
            (5, Value::Bytes(t)) => {
                let (name, t) = tensor(t)?;
                m.initializers.insert(name, t);
            }
            (11, Value::Bytes(v)) => inputs.push(value_info(v)?),
            (12, Value::Bytes(v)) => m.outputs.push(value_info(v)?),
            (15, _) => return Err(bad("sparse initializers are not supported")),
            _ => {}
        }
    }
    m.inputs = inputs
        .into_iter()
        .filter(|i| !m.initializers.contains_key(&i.name))
        .collect();
    Ok(m)
}

/// `original` (an ONNX `ModelProto`) with the FLOAT initializers named in `weights` replaced
/// by their new values and `metadata` set in `metadata_props`; every other byte of the model
/// (graph, operators, shapes, other weights, producer) is copied unchanged.
pub fn with_weights<S: std::hash::BuildHasher>(
    original: &[u8],
    weights: &HashMap<String, Tensor, S>,
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(original.len());
    let mut replaced = 0usize;
    for f in wire::spans(original) {
        match f.map_err(bad)? {
            (7, Value::Bytes(g), _) => {
                let mut graph = Vec::with_capacity(g.len());
                for f in wire::spans(g) {
                    match f.map_err(bad)? {
                        (5, Value::Bytes(t), raw) => {
                            let (name, dtype) = tensor_name_type(t)?;
                            match weights.get(&name) {
                                Some(w) if dtype == 1 => {
                                    wire::put_bytes(&mut graph, 5, &float_tensor(&name, w));
                                    replaced += 1;
                                }
                                Some(_) => {
                                    return Err(bad(format!(
                                        "initializer `{name}` has data type {dtype}; only FLOAT weights are written back"
                                    )));
                                }
                                None => graph.extend_from_slice(raw),
                            }
                        }
                        (_, _, raw) => graph.extend_from_slice(raw),
                    }
                }
                wire::put_bytes(&mut out, 7, &graph);
            }
            // An earlier value of a key we set is dropped.
            (14, Value::Bytes(p), raw) => {
                let key = wire::fields(p)
                    .filter_map(Result::ok)
                    .find(|(k, _)| *k == 1)
                    .and_then(|(_, v)| wire::text(v).ok())
                    .unwrap_or_default();
                if !metadata.iter().any(|(k, _)| *k == key) {
                    out.extend_from_slice(raw);
                }
            }
            (_, _, raw) => out.extend_from_slice(raw),
        }
    }
    if replaced != weights.len() {
        return Err(bad(format!(
            "{} of the {} weights to write are not initializers of the graph",
            weights.len() - replaced,
            weights.len()
        )));
    }
    for (k, v) in metadata {
        let mut entry = Vec::new();
        wire::put_bytes(&mut entry, 1, k.as_bytes());
        wire::put_bytes(&mut entry, 2, v.as_bytes());
        wire::put_bytes(&mut out, 14, &entry);
    }
    Ok(out)
}

fn tensor_name_type(b: &[u8]) -> Result<(String, u64), Error> {
    let (mut name, mut dtype) = (String::new(), 0);
    for f in wire::fields(b) {
        match f.map_err(bad)? {
            (2, Value::Varint(t)) => dtype = t,
            (8, v) => name = wire::text(v).map_err(bad)?,
            _ => {}
        }
    }
    Ok((name, dtype))
}

/// A FLOAT `TensorProto` with the values in `raw_data` (little-endian).
fn float_tensor(name: &str, t: &Tensor) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.data.len() * 4 + name.len() + 32);
    let mut dims = Vec::new();
    for &d in &t.shape {
        wire::put_varint(&mut dims, d as u64);
    }
    wire::put_bytes(&mut out, 1, &dims);
    wire::put_uint(&mut out, 2, 1);
    wire::put_bytes(&mut out, 8, name.as_bytes());
    let raw: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    wire::put_bytes(&mut out, 9, &raw);
    out
}

fn node(b: &[u8]) -> Result<Node, Error> {
    let mut n = Node {
        op: String::new(),
        domain: String::new(),
        name: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: HashMap::new(),
    };
    for f in wire::fields(b) {
        match f.map_err(bad)? {
            (1, v) => n.inputs.push(wire::text(v).map_err(bad)?),
            (2, v) => n.outputs.push(wire::text(v).map_err(bad)?),
            (3, v) => n.name = wire::text(v).map_err(bad)?,
            (4, v) => n.op = wire::text(v).map_err(bad)?,
            (7, v) => n.domain = wire::text(v).map_err(bad)?,
            (5, Value::Bytes(a)) => {
                let (k, v) = attribute(a)?;
                n.attrs.insert(k, v);
            }
            _ => {}
        }
    }
    if n.op.is_empty() {
        return Err(bad("a node without op_type"));
    }
    if n.name.is_empty() {
        n.name = n.outputs.first().cloned().unwrap_or_default();
    }
    Ok(n)
}

fn attribute(b: &[u8]) -> Result<(String, Attr), Error> {
    let mut name = String::new();
    let mut val = None;
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    let mut strings = Vec::new();
    for f in wire::fields(b) {
        match f.map_err(bad)? {
            (1, v) => name = wire::text(v).map_err(bad)?,
            (9, v) => strings.push(wire::text(v).unwrap_or_default()),
            (2, Value::Fixed32(x)) => val = Some(Attr::Float(f32::from_bits(x))),
            (3, Value::Varint(x)) => val = Some(Attr::Int(x as i64)),
            (4, v) => val = Some(Attr::Str(wire::text(v).unwrap_or_default())),
            (5, Value::Bytes(t)) => val = Some(Attr::Tensor(tensor(t)?.1)),
            (6 | 11, _) => val = Some(Attr::Other("graph")),
            (7, v) => wire::floats(v, &mut floats).map_err(bad)?,
            (8, v) => {
                let mut raw = Vec::new();
                wire::varints(v, &mut raw).map_err(bad)?;
                ints.extend(raw.into_iter().map(|x| x as i64));
            }
            _ => {}
        }
    }
    let val = match val {
        Some(v) => v,
        None if !ints.is_empty() => Attr::Ints(ints),
        None if !floats.is_empty() => Attr::Floats(floats),
        None if !strings.is_empty() => Attr::Strings(strings),
        None => Attr::Ints(Vec::new()),
    };
    Ok((name, val))
}

fn value_info(b: &[u8]) -> Result<ValueInfo, Error> {
    let mut v = ValueInfo {
        name: String::new(),
        shape: Vec::new(),
    };
    for f in wire::fields(b) {
        match f.map_err(bad)? {
            (1, x) => v.name = wire::text(x).map_err(bad)?,
            (2, Value::Bytes(tp)) => {
                // TypeProto.tensor_type (1) → shape (2) → dim (1) → dim_value (1) | dim_param (2)
                for f in wire::fields(tp) {
                    if let (1, Value::Bytes(tt)) = f.map_err(bad)? {
                        for f in wire::fields(tt) {
                            if let (2, Value::Bytes(shape)) = f.map_err(bad)? {
                                for f in wire::fields(shape) {
                                    if let (1, Value::Bytes(dim)) = f.map_err(bad)? {
                                        let mut d = None;
                                        for f in wire::fields(dim) {
                                            if let (1, Value::Varint(x)) = f.map_err(bad)? {
                                                d = usize::try_from(x).ok();
                                            }
                                        }
                                        v.shape.push(d);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(v)
}

fn tensor(b: &[u8]) -> Result<(String, Tensor), Error> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut dtype = 0u64;
    let mut raw: Option<&[u8]> = None;
    let mut floats = Vec::new();
    let mut ints = Vec::new();
    let mut doubles = Vec::new();
    for f in wire::fields(b) {
        match f.map_err(bad)? {
            (1, v) => wire::varints(v, &mut dims).map_err(bad)?,
            (2, Value::Varint(t)) => dtype = t,
            (4, v) => wire::floats(v, &mut floats).map_err(bad)?,
            (5 | 7, v) => wire::varints(v, &mut ints).map_err(bad)?,
            (8, v) => name = wire::text(v).map_err(bad)?,
            (9, Value::Bytes(r)) => raw = Some(r),
            (10, Value::Fixed64(x)) => doubles.push(f64::from_bits(x)),
            (10, Value::Bytes(r)) if r.len() % 8 == 0 => doubles.extend(
                r.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
            ),
            (13 | 14, _) => {
                return Err(bad(format!(
                    "tensor `{name}` keeps its data in an external file; only self-contained models are read"
                )));
            }
            _ => {}
        }
    }
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("tensor `{name}`: dimension {d}"))))
        .collect::<Result<_, _>>()?;
    let n = elements(&shape)?;
    let data: Vec<f32> = match (dtype, raw) {
        (1, Some(r)) => r
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        (1, None) => floats,
        (11, Some(r)) => r
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        (11, None) => doubles.into_iter().map(|x| x as f32).collect(),
        (7, Some(r)) => r
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        (6, Some(r)) => r
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        (6 | 7, None) => ints.into_iter().map(|x| x as i64 as f32).collect(),
        (t, _) => {
            return Err(bad(format!(
                "tensor `{name}` has data type {t}; only FLOAT, DOUBLE, INT32 and INT64 are read"
            )));
        }
    };
    if data.len() != n {
        return Err(bad(format!(
            "tensor `{name}`: shape {shape:?} needs {n} values, the file has {}",
            data.len()
        )));
    }
    Ok((name, Tensor { shape, data }))
}
