//! The Sigstore bundle v0.3 JSON that carries an OMS signature, parsed strictly: exactly the
//! fields the key and certificate methods use, nothing else (model-signing rejects unknown fields
//! too, so a bundle aigis accepts is one model-signing accepts).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::SignError;

/// The only media type OMS v1.0 bundles carry.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest signature file aigis reads: a manifest of a million files stays well below this.
pub const MAX_BUNDLE_BYTES: usize = 256 << 20;

/// A Sigstore bundle as written by model-signing's key and certificate methods.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bundle {
    /// Always [`MEDIA_TYPE`].
    pub media_type: String,
    /// Key hint or certificate chain.
    pub verification_material: VerificationMaterial,
    /// The signed statement.
    pub dsse_envelope: Envelope,
}

/// How the verifier finds the key.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// Key method: the hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyId>,
    /// Certificate method: leaf first, then intermediates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    /// Transparency-log entries; empty for key and certificate signatures.
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

/// `publicKey` in the bundle.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyId {
    /// Hex SHA-256 of the public key's SPKI PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// `x509CertificateChain` in the bundle.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CertificateChain {
    /// DER certificates, base64.
    pub certificates: Vec<RawBytes>,
}

/// One base64 DER certificate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBytes {
    /// Base64 DER.
    pub raw_bytes: String,
}

/// A DSSE envelope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 statement.
    pub payload: String,
    /// Always [`PAYLOAD_TYPE`].
    pub payload_type: String,
    /// Signatures; OMS verifiers check the first.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Base64 DER ECDSA signature.
    pub sig: String,
    /// Key id; model-signing writes `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
}

/// DSSE pre-authentication encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// The v0.2-era encoding model-signing still accepts: `DSSEV1`, and the payload as a Python
/// `bytes` repr. Only used to verify old signatures, never to sign.
pub fn pae_compat(payload: &[u8]) -> Vec<u8> {
    // Python's bytes repr: double quotes only when the bytes hold ' and no ".
    let quote = if payload.contains(&b'\'') && !payload.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut repr = String::from("b");
    repr.push(quote as char);
    for &b in payload {
        match b {
            b'\\' => repr.push_str("\\\\"),
            b'\n' => repr.push_str("\\n"),
            b'\r' => repr.push_str("\\r"),
            b'\t' => repr.push_str("\\t"),
            _ if b == quote => {
                repr.push('\\');
                repr.push(b as char);
            }
            0x20..=0x7e => repr.push(b as char),
            _ => repr.push_str(&format!("\\x{b:02x}")),
        }
    }
    repr.push(quote as char);
    // The length is the payload's, not the repr's (the v0.2 bug kept it).
    format!(
        "DSSEV1 {} {} {} {}",
        PAYLOAD_TYPE.len(),
        PAYLOAD_TYPE,
        payload.len(),
        repr
    )
    .into_bytes()
}

/// Base64 as protobuf JSON accepts it: standard or URL-safe alphabet, padded or not.
pub fn b64decode(s: &str, what: &str) -> Result<Vec<u8>, SignError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .ok_or_else(|| SignError::Malformed(format!("signature file: {what} is not valid base64")))
}

/// Standard padded base64.
pub fn b64encode(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

impl Bundle {
    /// Parses and checks the fixed strings. Errors name the problem.
    pub fn parse(bytes: &[u8]) -> Result<Self, SignError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(SignError::Malformed(format!(
                "signature file is {} bytes, more than the {} MiB limit",
                bytes.len(),
                MAX_BUNDLE_BYTES >> 20
            )));
        }
        let b: Self = serde_json::from_slice(bytes).map_err(|e| {
            SignError::Malformed(format!("signature file is not an OMS Sigstore bundle: {e}"))
        })?;
        if b.media_type != MEDIA_TYPE {
            return Err(SignError::Malformed(format!(
                "signature file: mediaType `{}` is not `{MEDIA_TYPE}`",
                b.media_type
            )));
        }
        if b.dsse_envelope.payload_type != PAYLOAD_TYPE {
            return Err(SignError::Malformed(format!(
                "signature file: payloadType `{}` is not `{PAYLOAD_TYPE}`",
                b.dsse_envelope.payload_type
            )));
        }
        if b.dsse_envelope.signatures.is_empty() {
            return Err(SignError::Malformed(
                "signature file: the DSSE envelope has no signature".into(),
            ));
        }
        match (
            &b.verification_material.public_key,
            &b.verification_material.x509_certificate_chain,
        ) {
            (Some(_), Some(_)) => {
                return Err(SignError::Malformed(
                    "signature file: verificationMaterial has both a public key and a certificate chain".into(),
                ));
            }
            (None, None) => {
                return Err(SignError::Malformed(
                    "signature file: verificationMaterial has neither publicKey nor x509CertificateChain".into(),
                ));
            }
            (None, Some(c)) if c.certificates.is_empty() => {
                return Err(SignError::Malformed(
                    "signature file: the certificate chain is empty".into(),
                ));
            }
            _ => {}
        }
        Ok(b)
    }

    /// The compact JSON model-signing writes.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_byte_exact() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(
            pae_compat(b"{\"a\":'1'}\n"),
            b"DSSEV1 28 application/vnd.in-toto+json 10 b'{\"a\":\\'1\\'}\\n'".to_vec()
        );
        assert_eq!(
            pae_compat(b"it's"),
            b"DSSEV1 28 application/vnd.in-toto+json 4 b\"it's\"".to_vec()
        );
    }

    #[test]
    fn strict_parser_rejects_unknown_fields_and_wrong_types() {
        let good = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"ab"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA==","keyid":""}]}}"#;
        let b = Bundle::parse(good.as_bytes()).unwrap();
        assert_eq!(b.to_json(), good);
        for bad in [
            good.replace("\"tlogEntries\"", "\"extra\":1,\"tlogEntries\""),
            good.replace("v0.3+json", "v0.2+json"),
            good.replace("in-toto+json\"", "json\""),
            good.replace("[{\"sig\":\"AA==\",\"keyid\":\"\"}]", "[]"),
            good.replace("\"publicKey\":{\"hint\":\"ab\"},", ""),
            good[..good.len() - 3].to_string(),
        ] {
            assert!(Bundle::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
