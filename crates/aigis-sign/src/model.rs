//! Sign and verify a model on disk: the manifest walk, the OMS bundle, and a readable diff.

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::SignError;
use crate::bundle::Bundle;
use crate::digest::HashAlg;
use crate::keys::SigningKey;
use crate::manifest::{Change, Manifest, WalkOptions, diff};
use crate::oms::{self, Trust, Verified};
use crate::tensors;

/// What to sign.
pub struct SignRequest<'a> {
    /// Model file or directory.
    pub model: &'a Path,
    /// Signing key.
    pub key: &'a SigningKey,
    /// Certificate method: leaf then intermediates (DER).
    pub chain: Option<Vec<Vec<u8>>>,
    /// Walk options (ignore paths must already include the signature when inside the model).
    pub walk: WalkOptions,
    /// Record per-tensor digests of safetensors/GGUF files.
    pub tensors: bool,
}

/// A signed model.
pub struct Signed {
    /// The bundle.
    pub bundle: Bundle,
    /// The manifest that was signed.
    pub manifest: Manifest,
}

/// Hashes and signs a model.
pub fn sign_model(
    req: &SignRequest<'_>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Signed, SignError> {
    let manifest = Manifest::compute(req.model, &req.walk, progress)?;
    let extension = if req.tensors {
        Some(json!({"tensors": tensor_digests(req.model, &manifest)?}))
    } else {
        None
    };
    let bundle = match &req.chain {
        None => oms::sign_with_key(&manifest, req.key, extension),
        Some(chain) => oms::sign_with_certificate(&manifest, req.key, chain, extension)?,
    };
    Ok(Signed { bundle, manifest })
}

fn file_path(model: &Path, name: &str) -> std::path::PathBuf {
    if name == "." {
        model.to_path_buf()
    } else {
        model.join(name)
    }
}

fn tensor_digests(model: &Path, m: &Manifest) -> Result<Value, SignError> {
    let mut out = serde_json::Map::new();
    for it in &m.items {
        if let Some(t) = tensors::digest_file(&file_path(model, &it.name))? {
            out.insert(it.name.clone(), t.to_json());
        }
    }
    Ok(Value::Object(out))
}

/// How to verify.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Extra ignored paths (relative to the model root).
    pub ignore_paths: Vec<String>,
    /// Do not ignore the git paths.
    pub no_ignore_git_paths: bool,
    /// Allow symlinks even if the signature was made without.
    pub allow_symlinks: bool,
    /// Hash only the files the signature names.
    pub ignore_unsigned_files: bool,
}

/// The outcome of verifying a model against a signature whose cryptography checked out.
#[derive(Debug)]
pub struct ModelVerification {
    /// The signature's content.
    pub verified: Verified,
    /// The model as found on disk.
    pub actual: Manifest,
    /// Differences; empty means the model matches.
    pub changes: Vec<Change>,
    /// For changed safetensors/GGUF files signed with tensor digests: the tensors that changed.
    pub tensor_changes: Vec<(String, Vec<String>)>,
}

impl ModelVerification {
    /// True when the model matches the signature.
    pub fn ok(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Verifies `bundle_bytes` against `trust`, then the model on disk against the signed manifest.
/// A bad signature is an error; a model mismatch is returned with its diff.
pub fn verify_model(
    model: &Path,
    bundle_bytes: &[u8],
    trust: &Trust,
    opts: &VerifyOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ModelVerification, SignError> {
    verify_model_cached(model, bundle_bytes, trust, opts, progress, None)
}

/// [`verify_model`] reusing digests of unchanged files from `cache` (local re-checks only).
pub fn verify_model_cached(
    model: &Path,
    bundle_bytes: &[u8],
    trust: &Trust,
    opts: &VerifyOptions,
    progress: &(dyn Fn(u64) + Sync),
    cache: Option<&mut crate::cache::DigestCache>,
) -> Result<ModelVerification, SignError> {
    // In verification, a malformed bundle or a model the signing rules reject (a symlink or
    // special file appeared) means "does not verify" (exit 1), not a usage error.
    let invalid = |e: SignError| match e {
        SignError::Malformed(m) | SignError::Model(m) => SignError::Invalid(m),
        other => other,
    };
    let bundle = Bundle::parse(bundle_bytes).map_err(invalid)?;
    let verified = oms::verify_bundle(&bundle, trust).map_err(invalid)?;
    let signed = &verified.manifest;
    let mut ignore_paths = signed.serialization.ignore_paths.clone();
    ignore_paths.extend(opts.ignore_paths.iter().cloned());
    let walk = WalkOptions {
        hash: signed.serialization.hash,
        allow_symlinks: signed.serialization.allow_symlinks || opts.allow_symlinks,
        ignore_git_paths: !opts.no_ignore_git_paths,
        ignore_paths,
        only: opts.ignore_unsigned_files.then(|| {
            signed
                .items
                .iter()
                .map(|i| i.name.clone())
                .collect::<HashSet<_>>()
        }),
    };
    let actual = Manifest::compute_cached(model, &walk, progress, cache).map_err(invalid)?;
    let changes = diff(signed, &actual);
    let mut tensor_changes = Vec::new();
    if let Some(Value::Object(ts)) = verified.extension.as_ref().and_then(|e| e.get("tensors")) {
        for c in &changes {
            if let Change::Changed { name, .. } = c
                && let Some(signed_t) = ts.get(name).and_then(tensors::TensorDigests::from_json)
                && let Ok(Some(now)) = tensors::digest_file(&file_path(model, name))
            {
                tensor_changes.push((name.clone(), tensors::changed_tensors(&signed_t, &now)));
            }
        }
    }
    Ok(ModelVerification {
        verified,
        actual,
        changes,
        tensor_changes,
    })
}

/// The hash algorithm named on the command line.
pub fn hash_alg(name: &str) -> Result<HashAlg, SignError> {
    HashAlg::parse(name)
        .ok_or_else(|| SignError::Usage(format!("unknown hash `{name}`: use sha256 or blake3")))
}
