//! OMS v1.0 signatures: the in-toto statement with predicate `https://model_signing/signature/v1.0`,
//! signed in a DSSE envelope inside a Sigstore bundle v0.3.
//!
//! aigis writes the statement as canonical JSON (sorted keys, compact) and signs with RFC 6979
//! nonces, so the same model and key always give the same signature file. Extra data rides inside
//! the predicate under `aigis.dev/v1`, which model-signing ignores.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::SignError;
use crate::bundle::{
    self, Bundle, CertificateChain, Envelope, EnvelopeSignature, PublicKeyId, RawBytes,
    VerificationMaterial,
};
use crate::digest::HashAlg;
use crate::keys::{SigningKey, VerifyingKey};
use crate::manifest::{Item, Manifest, Serialization, component_cmp};

/// in-toto Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// OMS v1.0 predicate type.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// The v0.2-era predicate, still verified for old signatures.
pub const PREDICATE_TYPE_COMPAT: &str = "https://model_signing/Digests/v0.1";
/// Key under which aigis puts its own data inside the predicate.
pub const AIGIS_EXTENSION: &str = "aigis.dev/v1";

/// The in-toto statement for `manifest`, canonical JSON bytes. `extension` is added under
/// [`AIGIS_EXTENSION`] together with the version id.
pub fn statement(manifest: &Manifest, extension: Option<Value>) -> Vec<u8> {
    let resources: Vec<Value> = manifest
        .items
        .iter()
        .map(|i| json!({"name": i.name, "algorithm": i.algorithm, "digest": crate::hex(&i.digest)}))
        .collect();
    let s = &manifest.serialization;
    let mut serialization = json!({
        "method": "files",
        "hash_type": s.hash.name(),
        "allow_symlinks": s.allow_symlinks,
    });
    if !s.ignore_paths.is_empty() {
        serialization["ignore_paths"] = json!(s.ignore_paths);
    }
    let mut ext = json!({"version_id": manifest.version_id()});
    if let Some(Value::Object(extra)) = extension {
        for (k, v) in extra {
            ext[k] = v;
        }
    }
    let v = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": crate::hex(&manifest.root())}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"serialization": serialization, "resources": resources, AIGIS_EXTENSION: ext},
    });
    crate::canonical::to_string(&v).into_bytes()
}

/// Signs with a bare key (OMS `key` method).
pub fn sign_with_key(manifest: &Manifest, key: &SigningKey, extension: Option<Value>) -> Bundle {
    let material = VerificationMaterial {
        public_key: Some(PublicKeyId {
            hint: Some(key.verifying_key().hint()),
        }),
        x509_certificate_chain: None,
        tlog_entries: Vec::new(),
    };
    sign_payload(&statement(manifest, extension), key, material)
}

/// Signs with a key and its certificate chain (OMS `certificate` method). `chain_der` is the leaf
/// followed by the intermediates the verifier will not have. The leaf must hold the key.
pub fn sign_with_certificate(
    manifest: &Manifest,
    key: &SigningKey,
    chain_der: &[Vec<u8>],
    extension: Option<Value>,
) -> Result<Bundle, SignError> {
    let leaf = chain_der
        .first()
        .ok_or_else(|| SignError::Usage("--cert: no certificate given".into()))?;
    let leaf_key = crate::x509::Cert::from_der(leaf)?.public_key()?;
    if leaf_key != key.verifying_key() {
        return Err(SignError::Key(
            "the signing certificate's public key does not match --key; use the key the certificate was issued for".into(),
        ));
    }
    let material = VerificationMaterial {
        public_key: None,
        x509_certificate_chain: Some(CertificateChain {
            certificates: chain_der
                .iter()
                .map(|d| RawBytes {
                    raw_bytes: bundle::b64encode(d),
                })
                .collect(),
        }),
        tlog_entries: Vec::new(),
    };
    Ok(sign_payload(&statement(manifest, extension), key, material))
}

fn sign_payload(payload: &[u8], key: &SigningKey, material: VerificationMaterial) -> Bundle {
    let sig = key.sign_der(&bundle::pae(bundle::PAYLOAD_TYPE, payload));
    Bundle {
        media_type: bundle::MEDIA_TYPE.to_string(),
        verification_material: material,
        dsse_envelope: Envelope {
            payload: bundle::b64encode(payload),
            payload_type: bundle::PAYLOAD_TYPE.to_string(),
            signatures: vec![EnvelopeSignature {
                sig: bundle::b64encode(&sig),
                keyid: Some(String::new()),
            }],
        },
    }
}

/// Who is trusted to have signed.
pub enum Trust {
    /// A public key (OMS `key` method).
    Key(VerifyingKey),
    /// Trust anchors for the certificate method (self-signed roots, plus intermediates).
    Roots(Vec<crate::x509::Cert>),
}

/// A signature whose cryptography checked out, with the manifest it vouches for.
#[derive(Debug)]
pub struct Verified {
    /// The signed manifest.
    pub manifest: Manifest,
    /// Who signed: `key <hint>` or the leaf certificate's subject.
    pub signer: String,
    /// aigis extension data, if the signer was aigis.
    pub extension: Option<Value>,
    /// True for v0.2-era signatures (old predicate or old PAE).
    pub legacy: bool,
    /// Warnings worth showing (missing key hint, unverified tlog entries).
    pub warnings: Vec<String>,
}

/// Checks the bundle's signature against `trust` and parses the signed statement. The model
/// itself is compared by the caller (see [`crate::manifest::diff`]).
pub fn verify_bundle(bundle: &Bundle, trust: &Trust) -> Result<Verified, SignError> {
    let env = &bundle.dsse_envelope;
    let payload = bundle::b64decode(&env.payload, "dsseEnvelope.payload")?;
    let sig = bundle::b64decode(&env.signatures[0].sig, "dsseEnvelope.signatures[0].sig")?;
    let mut warnings = Vec::new();
    if !bundle.verification_material.tlog_entries.is_empty() {
        warnings.push(
            "the bundle carries transparency-log entries; aigis does not check them offline".into(),
        );
    }
    let mut legacy = false;
    let signer = match (trust, &bundle.verification_material) {
        (Trust::Key(key), m) => {
            let Some(pk) = &m.public_key else {
                return Err(SignError::Invalid(
                    "the signature was made with a certificate; verify with --cert-chain ROOT.pem"
                        .into(),
                ));
            };
            match &pk.hint {
                Some(h) if *h != key.hint() => {
                    return Err(SignError::Invalid(format!(
                        "key mismatch: the signature names public key {}…, the given key is {}…",
                        h.chars().take(16).collect::<String>(),
                        &key.hint()[..16]
                    )));
                }
                Some(_) => {}
                None => warnings.push("the signature has no public-key hint (older signer)".into()),
            }
            if !key.verify_der(&bundle::pae(&env.payload_type, &payload), &sig) {
                if key.verify_der(&bundle::pae_compat(&payload), &sig) {
                    legacy = true;
                } else {
                    return Err(SignError::Invalid(
                        "signature does not verify: the statement was altered or signed with another key".into(),
                    ));
                }
            }
            format!("key {}", key.hint())
        }
        (Trust::Roots(roots), m) => {
            let Some(chain) = &m.x509_certificate_chain else {
                return Err(SignError::Invalid(
                    "the signature was made with a bare key; verify with --key PUBLIC.pem".into(),
                ));
            };
            let mut certs = Vec::with_capacity(chain.certificates.len());
            for (i, c) in chain.certificates.iter().enumerate() {
                let der = bundle::b64decode(&c.raw_bytes, &format!("certificate {i}"))?;
                certs.push(crate::x509::Cert::from_der(&der)?);
            }
            let leaf_key = crate::x509::verify_chain(&certs[0], &certs[1..], roots)?;
            if !leaf_key.verify_der(&bundle::pae(&env.payload_type, &payload), &sig) {
                use sha2::Digest as _;
                let pre = sha2::Sha256::digest(bundle::pae_compat(&payload));
                if leaf_key.verify_der_prehashed(&pre, &sig)
                    || leaf_key.verify_der(&bundle::pae_compat(&payload), &sig)
                {
                    legacy = true;
                } else {
                    return Err(SignError::Invalid(
                        "signature does not verify with the signing certificate's key: the statement was altered".into(),
                    ));
                }
            }
            certs[0].subject()
        }
    };
    let (manifest, extension, legacy_predicate) = parse_statement(&payload)?;
    Ok(Verified {
        manifest,
        signer,
        extension,
        legacy: legacy || legacy_predicate,
        warnings,
    })
}

/// Parses a signed statement into the manifest it describes. Stricter than model-signing:
/// duplicate resource names are rejected.
pub fn parse_statement(payload: &[u8]) -> Result<(Manifest, Option<Value>, bool), SignError> {
    let bad = |m: String| SignError::Invalid(format!("signed statement: {m}"));
    let v: Value = serde_json::from_slice(payload).map_err(|e| bad(format!("not JSON: {e}")))?;
    if v.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err(bad(format!("_type is not {STATEMENT_TYPE}")));
    }
    let subjects = v
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no subject list".into()))?;
    let predicate_type = v
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let str_of = |o: &Value, k: &str| -> Result<String, SignError> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("field `{k}` missing or not a string")))
    };
    let mut seen = HashSet::new();
    let mut check_dup = |name: &str| -> Result<(), SignError> {
        if seen.insert(name.to_string()) {
            Ok(())
        } else {
            Err(bad(format!("resource `{name}` is listed twice")))
        }
    };
    if predicate_type == PREDICATE_TYPE_COMPAT {
        let mut items = Vec::new();
        for s in subjects {
            let name = str_of(s, "name")?;
            check_dup(&name)?;
            let d = s
                .get("digest")
                .map(|d| str_of(d, "sha256"))
                .transpose()?
                .unwrap_or_default();
            items.push(Item {
                name,
                algorithm: "sha256".into(),
                digest: crate::unhex(&d).ok_or_else(|| bad("digest is not hex".into()))?,
            });
        }
        items.sort_by(|a, b| component_cmp(&a.name, &b.name));
        let m = Manifest {
            model_name: "compat-undefined-not-present".into(),
            serialization: Serialization {
                hash: HashAlg::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            items,
        };
        return Ok((m, None, true));
    }
    if predicate_type != PREDICATE_TYPE {
        return Err(bad(format!(
            "predicateType `{predicate_type}` is not {PREDICATE_TYPE}"
        )));
    }
    if subjects.len() != 1 {
        return Err(bad(format!(
            "expected one subject, found {}",
            subjects.len()
        )));
    }
    let model_name = str_of(&subjects[0], "name")?;
    let root = subjects[0]
        .get("digest")
        .map(|d| str_of(d, "sha256"))
        .transpose()?
        .ok_or_else(|| bad("subject has no sha256 digest".into()))?;
    let pred = v
        .get("predicate")
        .ok_or_else(|| bad("no predicate".into()))?;
    let ser = pred
        .get("serialization")
        .ok_or_else(|| bad("no serialization".into()))?;
    let method = str_of(ser, "method")?;
    if method != "files" {
        return Err(SignError::Usage(format!(
            "serialization method `{method}` is not supported by aigis verify (only `files`); \
             model-signing's own CLI cannot verify it either"
        )));
    }
    let hash_type = str_of(ser, "hash_type")?;
    let hash = HashAlg::parse(&hash_type).ok_or_else(|| {
        SignError::Usage(format!(
            "hash_type `{hash_type}` is not supported (sha256, blake3)"
        ))
    })?;
    // model-signing round-trips through protobuf Struct: booleans may come back as strings.
    let allow_symlinks = match ser.get("allow_symlinks") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let mut ignore_paths = Vec::new();
    if let Some(list) = ser.get("ignore_paths") {
        for p in list
            .as_array()
            .ok_or_else(|| bad("ignore_paths is not a list".into()))?
        {
            ignore_paths.push(
                p.as_str()
                    .ok_or_else(|| bad("ignore_paths holds a non-string".into()))?
                    .to_string(),
            );
        }
    }
    let resources = pred
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no resources list".into()))?;
    let mut items = Vec::with_capacity(resources.len());
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    for r in resources {
        let name = str_of(r, "name")?;
        check_dup(&name)?;
        let algorithm = str_of(r, "algorithm")?;
        let digest = crate::unhex(&str_of(r, "digest")?)
            .ok_or_else(|| bad(format!("digest of `{name}` is not hex")))?;
        sha2::Digest::update(&mut hasher, &digest);
        items.push(Item {
            name,
            algorithm,
            digest,
        });
    }
    let computed = crate::hex(&sha2::Digest::finalize(hasher));
    if !computed.eq_ignore_ascii_case(&root) {
        return Err(bad(format!(
            "subject digest {root} does not match its resources ({computed}): the manifest is inconsistent"
        )));
    }
    items.sort_by(|a, b| component_cmp(&a.name, &b.name));
    let extension = pred.get(AIGIS_EXTENSION).cloned();
    Ok((
        Manifest {
            model_name,
            serialization: Serialization {
                hash,
                allow_symlinks,
                ignore_paths,
            },
            items,
        },
        extension,
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Curve;
    use crate::manifest::WalkOptions;

    #[test]
    fn sign_verify_roundtrip_is_deterministic_and_detects_edits() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("w.bin"), b"weights").unwrap();
        std::fs::write(d.path().join("config.json"), b"{}").unwrap();
        let m = Manifest::compute(d.path(), &WalkOptions::default(), &|_| {}).unwrap();
        let key = SigningKey::generate(Curve::P256);
        let b1 = sign_with_key(&m, &key, None).to_json();
        let b2 = sign_with_key(&m, &key, None).to_json();
        assert_eq!(b1, b2, "same inputs must give the same signature file");
        let trust = Trust::Key(key.verifying_key());
        let v = verify_bundle(&Bundle::parse(b1.as_bytes()).unwrap(), &trust).unwrap();
        assert_eq!(v.manifest.items, m.items);
        assert!(!v.legacy);

        // An edited payload (digest changed, root recomputed) fails the signature.
        let mut b = Bundle::parse(b1.as_bytes()).unwrap();
        let payload = bundle::b64decode(&b.dsse_envelope.payload, "p").unwrap();
        let text = String::from_utf8(payload)
            .unwrap()
            .replacen("\"w.bin\"", "\"x.bin\"", 1);
        b.dsse_envelope.payload = bundle::b64encode(text.as_bytes());
        let e = verify_bundle(&b, &trust).unwrap_err();
        assert_eq!(e.exit_code(), 1);

        // Another key is refused by hint, and by signature when the hint is dropped.
        let other = Trust::Key(SigningKey::generate(Curve::P256).verifying_key());
        let mut b = Bundle::parse(b1.as_bytes()).unwrap();
        assert!(
            verify_bundle(&b, &other)
                .unwrap_err()
                .to_string()
                .contains("key mismatch")
        );
        b.verification_material.public_key = Some(PublicKeyId { hint: None });
        assert!(verify_bundle(&b, &other).is_err());
    }

    #[test]
    fn duplicate_resources_and_bad_roots_are_rejected() {
        let stmt = |res: &str, root: &str| {
            format!(
                r#"{{"_type":"{STATEMENT_TYPE}","subject":[{{"name":"m","digest":{{"sha256":"{root}"}}}}],"predicateType":"{PREDICATE_TYPE}","predicate":{{"serialization":{{"method":"files","hash_type":"sha256","allow_symlinks":false}},"resources":[{res}]}}}}"#
            )
        };
        let r = r#"{"name":"a","algorithm":"sha256","digest":"00"}"#;
        let root_one = crate::hex(&<sha2::Sha256 as sha2::Digest>::digest([0u8]));
        assert!(parse_statement(stmt(r, &root_one).as_bytes()).is_ok());
        let root_two = crate::hex(&<sha2::Sha256 as sha2::Digest>::digest([0u8, 0]));
        let e = parse_statement(stmt(&format!("{r},{r}"), &root_two).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        let e = parse_statement(stmt(r, &root_two).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("inconsistent"), "{e}");
    }
}
