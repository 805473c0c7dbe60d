//! Behavioural fingerprints: a model's answers to seeded canary inputs (and optional probes
//! the user supplies), quantised and hashed. A check runs the same inputs through a model and
//! says whether its behaviour changed and how much (decision agreement, largest and mean
//! probability change) — so an altered weight that flips a few decisions is caught even when
//! the file was re-signed.
//!
//! Canaries are uniform in the valid input range from a SplitMix64 stream seeded by `seed`;
//! probabilities are the softmax of the outputs, quantised to 1/65535, so the fingerprint is
//! the same across runs and machines while any real change shows; a check counts a move of
//! more than [`ROUNDING_STEPS`] step (or any changed decision) as a change, so that a value
//! rounded across a step boundary by other arithmetic (a later aigis) is not.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use aigis_core::fsutil::hex;

use crate::attack::Range;
use crate::engine::Session;
use crate::{Error, Tensor};

/// The schema string.
pub const SCHEMA: &str = "aigis.fingerprint/v1";

/// A stored fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// [`SCHEMA`].
    pub schema: String,
    /// SHA-256 of the model file it was taken from (for the record; the check compares behaviour).
    pub model_sha256: String,
    /// Seed of the canary inputs.
    pub seed: u64,
    /// Number of canary inputs.
    pub canaries: usize,
    /// SHA-256 of the probe inputs, when probes were used.
    pub probes_sha256: Option<String>,
    /// Valid input range the canaries were drawn from.
    pub clip: [f32; 2],
    /// Input shape of one sample.
    pub sample_shape: Vec<usize>,
    /// SHA-256 of the quantised outputs.
    pub digest: String,
    /// Each input's decision (argmax).
    pub decisions: Vec<usize>,
    /// Each input's probabilities, quantised to u16 (row-major).
    pub outputs: Vec<u16>,
}

/// Probability steps (of 1/65535) two runs of the same model may differ by: the last step of a
/// quantised value moves when the same arithmetic is rounded differently (another aigis
/// version's summation, another CPU's library `exp`), so only larger moves count as a change.
pub const ROUNDING_STEPS: u16 = 1;

/// How a model compares with a fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Behaviour changed: a decision changed, or a probability moved by more than
    /// [`ROUNDING_STEPS`] quantisation steps.
    pub changed: bool,
    /// Quantised outputs identical (bit for bit the fingerprint's).
    pub identical: bool,
    /// Share of inputs with the same decision.
    pub agreement: f64,
    /// Inputs whose decision changed.
    pub changed_decisions: usize,
    /// Largest change of any probability.
    pub max_probability_change: f64,
    /// Mean absolute change of the probabilities.
    pub mean_probability_change: f64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from a SplitMix64 stream.
pub(crate) fn uniform(state: &mut u64) -> f32 {
    (splitmix(state) >> 40) as f32 / (1u64 << 24) as f32
}

/// The canary batch: `n` samples of `sample_shape`, uniform in `r`.
pub fn canaries(seed: u64, n: usize, sample_shape: &[usize], r: Range) -> Result<Tensor, Error> {
    let per: usize = sample_shape.iter().product();
    let mut shape = vec![n];
    shape.extend_from_slice(sample_shape);
    crate::elements(&shape)?;
    let mut st = seed;
    let data = (0..n * per)
        .map(|_| r.lo + uniform(&mut st) * (r.hi - r.lo))
        .collect();
    Tensor::new(shape, data)
}

/// SHA-256 of a tensor's shape and values (for the probes' identity).
pub fn tensor_digest(t: &Tensor) -> String {
    let mut h = Sha256::new();
    for d in &t.shape {
        h.update((*d as u64).to_le_bytes());
    }
    for v in &t.data {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

/// Run `inputs` and quantise: decisions, quantised probabilities, their digest.
fn behaviour(s: &Session, inputs: &Tensor) -> Result<(Vec<usize>, Vec<u16>, String), Error> {
    let out = s.run(inputs)?;
    let classes = *out.shape.last().unwrap_or(&1);
    if out.shape.first() != inputs.shape.first() || classes == 0 {
        return Err(Error::Shape(format!(
            "the model's output {:?} is not one row of scores per input",
            out.shape
        )));
    }
    let mut decisions = Vec::new();
    let mut q = Vec::with_capacity(out.data.len());
    for row in out.data.chunks(classes) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = row.iter().map(|&v| f64::from(v - m).exp()).collect();
        let sum: f64 = e.iter().sum();
        decisions.push(crate::attack::argmax(row));
        q.extend(e.iter().map(|v| (v / sum * 65535.0).round() as u16));
    }
    let mut h = Sha256::new();
    for v in &q {
        h.update(v.to_le_bytes());
    }
    Ok((decisions, q, hex(&h.finalize())))
}

/// The fingerprint of `s` on `canaries` seeded canaries plus `probes`.
pub fn take(
    s: &Session,
    model_bytes: &[u8],
    seed: u64,
    canaries_n: usize,
    sample_shape: &[usize],
    r: Range,
    probes: Option<&Tensor>,
) -> Result<Fingerprint, Error> {
    let inputs = inputs(seed, canaries_n, sample_shape, r, probes)?;
    let (decisions, outputs, digest) = behaviour(s, &inputs)?;
    Ok(Fingerprint {
        schema: SCHEMA.into(),
        model_sha256: hex(&Sha256::digest(model_bytes)),
        seed,
        canaries: canaries_n,
        probes_sha256: probes.map(tensor_digest),
        clip: [r.lo, r.hi],
        sample_shape: sample_shape.to_vec(),
        digest,
        decisions,
        outputs,
    })
}

fn inputs(
    seed: u64,
    n: usize,
    sample_shape: &[usize],
    r: Range,
    probes: Option<&Tensor>,
) -> Result<Tensor, Error> {
    let mut x = canaries(seed, n, sample_shape, r)?;
    if let Some(p) = probes {
        if p.shape.get(1..) != Some(sample_shape) {
            return Err(Error::Shape(format!(
                "probes are {:?} per sample, the canaries {sample_shape:?}",
                p.shape.get(1..)
            )));
        }
        x.data.extend_from_slice(&p.data);
        x.shape[0] += p.shape[0];
    }
    Ok(x)
}

/// Compare `s` with `fp` (the probes must be the ones it was taken with).
pub fn check(s: &Session, fp: &Fingerprint, probes: Option<&Tensor>) -> Result<Comparison, Error> {
    if fp.schema != SCHEMA {
        return Err(Error::Data {
            file: "fingerprint".into(),
            message: format!("schema {:?}, expected {SCHEMA:?}", fp.schema),
        });
    }
    if probes.map(tensor_digest) != fp.probes_sha256 {
        return Err(Error::Data {
            file: "fingerprint".into(),
            message: "it was taken with other probes (or none); give the same --probes file".into(),
        });
    }
    let r = Range {
        lo: fp.clip[0],
        hi: fp.clip[1],
    };
    let x = inputs(fp.seed, fp.canaries, &fp.sample_shape, r, probes)?;
    let (decisions, outputs, digest) = behaviour(s, &x)?;
    if decisions.len() != fp.decisions.len() || outputs.len() != fp.outputs.len() {
        return Err(Error::Shape(format!(
            "the model gives {} values for {} inputs, the fingerprint holds {} for {}",
            outputs.len(),
            decisions.len(),
            fp.outputs.len(),
            fp.decisions.len()
        )));
    }
    let changed = decisions
        .iter()
        .zip(&fp.decisions)
        .filter(|(a, b)| a != b)
        .count();
    let steps: Vec<u16> = outputs
        .iter()
        .zip(&fp.outputs)
        .map(|(&a, &b)| a.abs_diff(b))
        .collect();
    let diffs: Vec<f64> = steps.iter().map(|&d| f64::from(d) / 65535.0).collect();
    Ok(Comparison {
        changed: changed > 0 || steps.iter().any(|&d| d > ROUNDING_STEPS),
        identical: digest == fp.digest,
        agreement: 1.0 - changed as f64 / decisions.len().max(1) as f64,
        changed_decisions: changed,
        max_probability_change: diffs.iter().copied().fold(0.0, f64::max),
        mean_probability_change: diffs.iter().sum::<f64>() / diffs.len().max(1) as f64,
    })
}
