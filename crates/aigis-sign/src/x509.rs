//! X.509 chain validation for the OMS certificate method.
//!
//! Same policy as model-signing (OpenSSL store semantics): the chain must end at a self-signed
//! certificate the verifier supplied; the bundle's extra certificates are untrusted
//! intermediates; validity is checked at the leaf's notBefore (without a trusted timestamp the
//! signing time is unknown, so expiry is not enforced, and there is no revocation); the leaf must
//! allow digital signatures (KeyUsage) or code signing (ExtendedKeyUsage). Stricter: issuers must
//! be CAs (BasicConstraints), with keyCertSign when KeyUsage is present, within their path length,
//! and unknown critical extensions are refused. Only ECDSA issuers are supported.

use der::{Decode, Encode};
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use crate::SignError;
use crate::keys::VerifyingKey;

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
const EXT_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const EXT_KEY_USAGE: &str = "2.5.29.15";
const EXT_EXT_KEY_USAGE: &str = "2.5.29.37";
/// Extensions a certificate may mark critical and still be accepted.
const KNOWN_CRITICAL: [&str; 5] = [
    EXT_BASIC_CONSTRAINTS,
    EXT_KEY_USAGE,
    EXT_EXT_KEY_USAGE,
    "2.5.29.17",
    "2.5.29.14",
];
/// Longest chain searched.
const MAX_DEPTH: usize = 8;

/// A parsed certificate with its DER.
#[derive(Clone, Debug)]
pub struct Cert {
    cert: Certificate,
    der: Vec<u8>,
}

impl Cert {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self, SignError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| SignError::Malformed(format!("malformed X.509 certificate: {e}")))?;
        Ok(Self {
            cert,
            der: der.to_vec(),
        })
    }

    /// Every `CERTIFICATE` block of a PEM file.
    pub fn from_pem_file(text: &str, what: &str) -> Result<Vec<Self>, SignError> {
        let certs = Certificate::load_pem_chain(text.as_bytes()).map_err(|e| {
            SignError::Malformed(format!("{what}: not a PEM certificate file: {e}"))
        })?;
        if certs.is_empty() {
            return Err(SignError::Malformed(format!(
                "{what}: no CERTIFICATE block found"
            )));
        }
        certs
            .into_iter()
            .map(|c| {
                let der = c.to_der().map_err(|e| {
                    SignError::Malformed(format!("{what}: cannot re-encode certificate: {e}"))
                })?;
                Ok(Self { cert: c, der })
            })
            .collect()
    }

    /// DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Subject as an RFC 4514 string.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// The certificate's ECDSA public key.
    pub fn public_key(&self) -> Result<VerifyingKey, SignError> {
        let spki = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| {
                SignError::Malformed(format!(
                    "certificate {}: bad public key: {e}",
                    self.subject()
                ))
            })?;
        VerifyingKey::from_spki_der(&spki).ok_or_else(|| {
            SignError::Key(format!(
                "certificate {}: key is not ECDSA P-256/P-384/P-521 (the only kinds OMS allows)",
                self.subject()
            ))
        })
    }

    fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate.subject == self.cert.tbs_certificate.issuer
    }

    /// True when `issuer`'s key made this certificate's signature.
    fn signed_by(&self, issuer: &Cert) -> Result<bool, SignError> {
        let oid = self.cert.signature_algorithm.oid.to_string();
        let tbs =
            self.cert.tbs_certificate.to_der().map_err(|e| {
                SignError::Malformed(format!("certificate {}: {e}", self.subject()))
            })?;
        let prehash: Vec<u8> = match oid.as_str() {
            ECDSA_SHA256 => sha2::Sha256::digest(&tbs).to_vec(),
            ECDSA_SHA384 => sha2::Sha384::digest(&tbs).to_vec(),
            ECDSA_SHA512 => sha2::Sha512::digest(&tbs).to_vec(),
            other => {
                return Err(SignError::Invalid(format!(
                    "certificate {}: signature algorithm {other} is not supported (ECDSA with SHA-2 only)",
                    self.subject()
                )));
            }
        };
        let Some(sig) = self.cert.signature.as_bytes() else {
            return Ok(false);
        };
        Ok(issuer
            .public_key()
            .is_ok_and(|k| k.verify_der_prehashed(&prehash, sig)))
    }

    fn valid_at(&self, unix: u64) -> bool {
        let v = &self.cert.tbs_certificate.validity;
        v.not_before.to_unix_duration().as_secs() <= unix
            && unix <= v.not_after.to_unix_duration().as_secs()
    }

    fn not_before(&self) -> u64 {
        self.cert
            .tbs_certificate
            .validity
            .not_before
            .to_unix_duration()
            .as_secs()
    }

    fn extension<T: for<'a> Decode<'a>>(&self, oid: &str) -> Result<Option<T>, SignError> {
        let Some(exts) = &self.cert.tbs_certificate.extensions else {
            return Ok(None);
        };
        for e in exts {
            if e.extn_id.to_string() == oid {
                return T::from_der(e.extn_value.as_bytes())
                    .map(Some)
                    .map_err(|err| {
                        SignError::Invalid(format!(
                            "certificate {}: bad extension {oid}: {err}",
                            self.subject()
                        ))
                    });
            }
        }
        Ok(None)
    }

    fn check_critical(&self) -> Result<(), SignError> {
        for e in self.cert.tbs_certificate.extensions.iter().flatten() {
            let id = e.extn_id.to_string();
            if e.critical && !KNOWN_CRITICAL.contains(&id.as_str()) {
                return Err(SignError::Invalid(format!(
                    "certificate {}: unsupported critical extension {id}",
                    self.subject()
                )));
            }
        }
        Ok(())
    }

    /// Checks this certificate may issue others, `below` certificates down the chain.
    fn check_ca(&self, below: usize) -> Result<(), SignError> {
        let bc: Option<BasicConstraints> = self.extension(EXT_BASIC_CONSTRAINTS)?;
        match bc {
            Some(b) if b.ca => {
                if let Some(max) = b.path_len_constraint
                    && below > usize::from(max)
                {
                    return Err(SignError::Invalid(format!(
                        "certificate {}: path length constraint {max} exceeded",
                        self.subject()
                    )));
                }
            }
            _ => {
                return Err(SignError::Invalid(format!(
                    "certificate {} issued another certificate but is not a CA (BasicConstraints)",
                    self.subject()
                )));
            }
        }
        if let Some(ku) = self.extension::<KeyUsage>(EXT_KEY_USAGE)?
            && !ku.key_cert_sign()
        {
            return Err(SignError::Invalid(format!(
                "certificate {}: KeyUsage does not allow certificate signing",
                self.subject()
            )));
        }
        self.check_critical()
    }
}

/// Validates `leaf` up to one of the self-signed `roots`, through `intermediates` (or non-root
/// certificates among `roots`). Returns the leaf's key.
pub fn verify_chain(
    leaf: &Cert,
    intermediates: &[Cert],
    roots: &[Cert],
) -> Result<VerifyingKey, SignError> {
    if roots.is_empty() {
        return Err(SignError::Usage(
            "--cert-chain: no trusted certificate given".into(),
        ));
    }
    let at = leaf.not_before();
    leaf.check_critical()?;
    let ku: Option<KeyUsage> = leaf.extension(EXT_KEY_USAGE)?;
    let eku: Option<ExtendedKeyUsage> = leaf.extension(EXT_EXT_KEY_USAGE)?;
    let can_sign = ku.is_some_and(|k| k.digital_signature())
        || eku.is_some_and(|e| e.0.iter().any(|o| o.to_string() == EKU_CODE_SIGNING));
    if !can_sign {
        return Err(SignError::Invalid(format!(
            "signing certificate {} allows neither digital signatures (KeyUsage) nor code signing (ExtendedKeyUsage)",
            leaf.subject()
        )));
    }
    let key = leaf.public_key()?;
    let mut current = leaf.clone();
    // `below`: intermediates between the certificate being checked and the leaf.
    for below in 0..MAX_DEPTH {
        if !current.valid_at(at) {
            return Err(SignError::Invalid(format!(
                "certificate {} was not valid when the signing certificate was issued",
                current.subject()
            )));
        }
        // Reached a trust anchor: a supplied self-signed certificate equal to the current one.
        if current.is_self_issued()
            && roots.iter().any(|r| r.der == current.der)
            && current.signed_by(&current)?
        {
            return Ok(key);
        }
        let mut next = None;
        for cand in roots.iter().chain(intermediates) {
            if cand.cert.tbs_certificate.subject == current.cert.tbs_certificate.issuer
                && cand.der != current.der
                && current.signed_by(cand)?
            {
                next = Some(cand.clone());
                break;
            }
        }
        // A self-signed leaf/intermediate that is not itself trusted ends the search.
        let Some(issuer) = next else {
            return Err(SignError::Invalid(format!(
                "certificate chain does not lead to a trusted root: no trusted issuer found for {}",
                current.subject()
            )));
        };
        issuer.check_ca(below)?;
        current = issuer;
    }
    Err(SignError::Invalid(
        "certificate chain is longer than 8 certificates".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki(name: &str) -> Vec<Cert> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pki")
            .join(name);
        Cert::from_pem_file(&std::fs::read_to_string(p).unwrap(), name).unwrap()
    }

    #[test]
    fn chains_are_validated_like_openssl_and_stricter() {
        let root = pki("root.pem");
        let inter = pki("intermediate.pem");
        let leaf = &pki("leaf.pem")[0];
        assert!(verify_chain(leaf, &inter, &root).is_ok());
        assert!(
            verify_chain(&pki("eku-leaf.pem")[0], &inter, &root).is_ok(),
            "codeSigning EKU suffices"
        );
        let cases = [
            (
                verify_chain(leaf, &inter, &pki("other-root.pem")),
                "trusted root",
            ),
            (verify_chain(leaf, &[], &root), "trusted root"),
            (verify_chain(leaf, &[], &inter), "trusted root"),
            (
                verify_chain(&pki("nosign-leaf.pem")[0], &inter, &root),
                "neither digital signatures",
            ),
            (
                verify_chain(&pki("notca-leaf.pem")[0], &pki("notca.pem"), &root),
                "not a CA",
            ),
            (
                verify_chain(&pki("deep-leaf.pem")[0], &pki("deep-chain.pem"), &root),
                "path length",
            ),
        ];
        for (r, want) in cases {
            let e = r.unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(Cert::from_der(b"\x30\x03\x02\x01\x00").is_err());
    }
}
