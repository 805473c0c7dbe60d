//! aigis model security: ONNX classifiers loaded and evaluated in pure Rust.
//!
//! It reads an ONNX classifier ([`onnx`], parsed by our own bounded protobuf reader, never by
//! the format's generated code) and `.npz` data ([`npz`]), runs the graph forward
//! ([`engine`]) for the operators exported classifiers use, and differentiates it for input
//! and weight gradients. Anything else is refused by name. Attacks: white-box FGSM and PGD
//! ([`attack`]) and APGD-CE ([`apgd`]), black-box Square ([`square`]) and HopSkipJump
//! ([`hopskipjump`]), combined per sample by [`eval`]; adversarial training in [`train`];
//! behavioural fingerprints in [`fingerprint`].
#![forbid(unsafe_code)]

pub mod apgd;
pub mod attack;
mod batch;
pub mod engine;
pub mod eval;
pub mod fingerprint;
mod grad;
pub mod hopskipjump;
mod kernels;
pub mod ml;
pub mod npz;
pub mod onnx;
pub mod report;
pub mod rules;
pub mod square;
pub mod train;
mod wire;

/// A dense `f32` tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of `shape` holding `data`; errors when the sizes disagree.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, Error> {
        let n = elements(&shape)?;
        if n != data.len() {
            return Err(Error::Shape(format!(
                "shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }
}

/// Largest tensor accepted, in elements (a hostile file cannot make us allocate more).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// The number of elements of `shape`, bounded by [`MAX_ELEMENTS`].
pub(crate) fn elements(shape: &[usize]) -> Result<usize, Error> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            Error::Shape(format!(
                "shape {shape:?} is larger than {MAX_ELEMENTS} elements"
            ))
        })
}

/// Errors of this crate; each names what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ONNX file is malformed.
    #[error("ONNX model: {0}")]
    Onnx(String),
    /// An operator (or attribute of one) this engine does not run.
    #[error("operator `{op}` (node `{node}`) is not supported: {why}")]
    Unsupported {
        /// The operator type.
        op: String,
        /// The node's name (or its first output).
        node: String,
        /// What exactly.
        why: String,
    },
    /// Shapes do not fit.
    #[error("shape: {0}")]
    Shape(String),
    /// The `.npz`/`.npy` data is malformed or of an unsupported type.
    #[error("data {file}: {message}")]
    Data {
        /// Which file or member.
        file: String,
        /// What is wrong.
        message: String,
    },
}
