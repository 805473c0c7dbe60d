//! ECDSA keys on the NIST curves OMS allows (P-256, P-384, P-521): generation, PEM files
//! (PKCS#8, passphrase-encrypted PKCS#8, SEC1; SubjectPublicKeyInfo for public keys), DER signatures
//! over the curve's own hash, and the `publicKey.hint` model-signing writes.
//!
//! Signing uses RFC 6979 deterministic nonces, so the same key and payload always give the same
//! signature bytes. Secret material never appears in an error message.

use std::fmt;

use ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::SignError;

/// The curves OMS and model-signing accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (secp256r1), signed over SHA-256.
    P256,
    /// NIST P-384 (secp384r1), signed over SHA-384.
    P384,
    /// NIST P-521 (secp521r1), signed over SHA-512.
    P521,
}

impl Curve {
    /// Parses `p256`, `p-256`, `secp256r1`, `prime256v1` (and the 384/521 forms).
    pub fn parse(s: &str) -> Result<Self, SignError> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "p256" | "secp256r1" | "prime256v1" => Ok(Self::P256),
            "p384" | "secp384r1" => Ok(Self::P384),
            "p521" | "secp521r1" => Ok(Self::P521),
            other => Err(SignError::Usage(format!(
                "unknown curve `{other}`: use p256 (default), p384 or p521"
            ))),
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key passphrase: zeroed on drop, never printed by `Debug`.
pub struct Passphrase(zeroize::Zeroizing<Vec<u8>>);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl Passphrase {
    /// Wraps passphrase bytes (a trailing newline, as left by `echo`, is removed).
    pub fn new(mut bytes: Vec<u8>) -> Self {
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        Self(zeroize::Zeroizing::new(bytes))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A private signing key.
pub enum SigningKey {
    /// P-256.
    P256(p256::ecdsa::SigningKey),
    /// P-384.
    P384(p384::ecdsa::SigningKey),
    /// P-521.
    P521(p521::ecdsa::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, <secret>)", self.curve())
    }
}

/// A public verification key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyingKey {
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// P-521 (compared by encoded point; the wrapper type has no `Eq`).
    P521(P521Public),
}

/// A P-521 public key, kept as its parsed form for verification and its encoding for equality.
#[derive(Clone)]
pub struct P521Public(p521::ecdsa::VerifyingKey, Vec<u8>);

impl fmt::Debug for P521Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P521Public({})", crate::hex(&self.1))
    }
}

impl PartialEq for P521Public {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1
    }
}
impl Eq for P521Public {}

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate(curve: Curve) -> Self {
        match curve {
            Curve::P256 => Self::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            Curve::P384 => Self::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            Curve::P521 => Self::P521(p521::ecdsa::SigningKey::random(&mut OsRng)),
        }
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        match self {
            Self::P256(_) => Curve::P256,
            Self::P384(_) => Curve::P384,
            Self::P521(_) => Curve::P521,
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            Self::P256(k) => VerifyingKey::P256(*k.verifying_key()),
            Self::P384(k) => VerifyingKey::P384(*k.verifying_key()),
            Self::P521(k) => VerifyingKey::from_p521(p521::ecdsa::VerifyingKey::from(k)),
        }
    }

    /// An ASN.1 DER ECDSA signature over `msg`, hashed with the curve's hash, with an RFC 6979
    /// deterministic nonce (for P-521 computed here: p521 0.13 only offers random nonces).
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            Self::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            Self::P521(k) => p521_sign_rfc6979(k, msg).to_der().as_bytes().to_vec(),
        }
    }

    /// PKCS#8 PEM, encrypted (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC) when a passphrase is given.
    pub fn to_pkcs8_pem(&self, passphrase: Option<&Passphrase>) -> Result<String, SignError> {
        let doc = match self {
            Self::P256(k) => p256::SecretKey::from(k.as_nonzero_scalar()).to_pkcs8_der(),
            Self::P384(k) => p384::SecretKey::from(k.as_nonzero_scalar()).to_pkcs8_der(),
            Self::P521(k) => p521::SecretKey::from(k.as_nonzero_scalar()).to_pkcs8_der(),
        }
        .map_err(|e| SignError::Key(format!("cannot encode private key: {e}")))?;
        let Some(pass) = passphrase else {
            return doc
                .to_pem("PRIVATE KEY", LineEnding::LF)
                .map(|z| z.to_string())
                .map_err(|e| SignError::Key(format!("cannot encode private key: {e}")));
        };
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut iv);
        // 600k iterations: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(600_000, &salt, &iv)
            .map_err(|e| SignError::Key(format!("cannot set up key encryption: {e}")))?;
        let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| SignError::Key(format!("cannot encode private key: {e}")))?;
        let enc = info
            .encrypt_with_params(params, pass.bytes())
            .map_err(|e| SignError::Key(format!("cannot encrypt private key: {e}")))?;
        enc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| SignError::Key(format!("cannot encode private key: {e}")))
    }

    /// Reads a private key PEM: `PRIVATE KEY` (PKCS#8), `ENCRYPTED PRIVATE KEY` (needs the
    /// passphrase) or `EC PRIVATE KEY` (SEC1, as `openssl ecparam -genkey` writes).
    pub fn from_pem(
        pem: &str,
        passphrase: Option<&Passphrase>,
        what: &str,
    ) -> Result<Self, SignError> {
        let label = pem_label(pem).ok_or_else(|| {
            SignError::Key(format!(
                "{what}: not a PEM file (no `-----BEGIN …-----` line)"
            ))
        })?;
        match label.as_str() {
            "PRIVATE KEY" => {
                let (_, doc) = pkcs8::SecretDocument::from_pem(pem)
                    .map_err(|e| SignError::Key(format!("{what}: malformed PEM: {e}")))?;
                Self::from_pkcs8_der(doc.as_bytes(), what)
            }
            "ENCRYPTED PRIVATE KEY" => {
                let Some(pass) = passphrase else {
                    return Err(SignError::Key(format!(
                        "{what} is encrypted: give its passphrase with --passphrase-file FILE or the \
                         AIGIS_KEY_PASSPHRASE environment variable"
                    )));
                };
                let (_, doc) = pkcs8::SecretDocument::from_pem(pem)
                    .map_err(|e| SignError::Key(format!("{what}: malformed PEM: {e}")))?;
                let enc = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
                    .map_err(|e| SignError::Key(format!("{what}: malformed encrypted key: {e}")))?;
                let plain = enc.decrypt(pass.bytes()).map_err(|_| {
                    SignError::Key(format!(
                        "{what}: cannot decrypt the key (wrong passphrase or unsupported encryption)"
                    ))
                })?;
                Self::from_pkcs8_der(plain.as_bytes(), what)
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
                    return Ok(Self::P256((&k).into()));
                }
                if let Ok(k) = p384::SecretKey::from_sec1_pem(pem) {
                    return Ok(Self::P384((&k).into()));
                }
                if let Ok(k) = p521::SecretKey::from_sec1_pem(pem) {
                    return Ok(Self::P521(p521_signing(&k)?));
                }
                Err(SignError::Key(format!(
                    "{what}: not a P-256, P-384 or P-521 SEC1 key (other curves are not allowed by OMS)"
                )))
            }
            "PUBLIC KEY" => Err(SignError::Key(format!(
                "{what} is a public key; signing needs the private key"
            ))),
            other => Err(SignError::Key(format!(
                "{what}: unexpected PEM block `{other}`; expected PRIVATE KEY, ENCRYPTED PRIVATE KEY or EC PRIVATE KEY"
            ))),
        }
    }

    fn from_pkcs8_der(der: &[u8], what: &str) -> Result<Self, SignError> {
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::P256((&k).into()));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::P384((&k).into()));
        }
        if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::P521(p521_signing(&k)?));
        }
        Err(SignError::Key(format!(
            "{what}: not an ECDSA P-256, P-384 or P-521 key (Ed25519, RSA and secp256k1 are not allowed by OMS)"
        )))
    }
}

/// ECDSA P-521 / SHA-512 with the RFC 6979 §3.2 nonce (HMAC-SHA-512 DRBG). The hash (512 bits)
/// is shorter than the group order (521 bits), so `bits2int(h)` is `h` itself and the nonce is
/// the leftmost 521 bits of two HMAC blocks.
fn p521_sign_rfc6979(key: &p521::ecdsa::SigningKey, msg: &[u8]) -> p521::ecdsa::Signature {
    use hmac::{Hmac, Mac};
    use p521::elliptic_curve::ff::PrimeField;
    type H = Hmac<sha2::Sha512>;
    let mac = |k: &[u8], parts: &[&[u8]]| -> [u8; 64] {
        // HMAC accepts keys of any length.
        let mut m = <H as Mac>::new_from_slice(k).unwrap_or_else(|_| unreachable!());
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    };
    let h1: [u8; 64] = sha2::Sha512::digest(msg).into();
    let x = key.to_bytes(); // int2octets(x): 66 bytes
    let mut h_oct = [0u8; 66]; // bits2octets(h1) = h1 mod q = h1, left-padded to 66 bytes
    h_oct[2..].copy_from_slice(&h1);
    let mut v = [1u8; 64];
    let mut k = [0u8; 64];
    k = mac(&k, &[&v, &[0], &x, &h_oct]);
    v = mac(&k, &[&v]);
    k = mac(&k, &[&v, &[1], &x, &h_oct]);
    v = mac(&k, &[&v]);
    let z = ecdsa::hazmat::bits2field::<p521::NistP521>(&h1).unwrap_or_default();
    let d = key.as_nonzero_scalar();
    loop {
        let mut t = [0u8; 128];
        v = mac(&k, &[&v]);
        t[..64].copy_from_slice(&v);
        v = mac(&k, &[&v]);
        t[64..].copy_from_slice(&v);
        // Leftmost 521 bits of T: the first 66 bytes shifted right by 7.
        let mut cand = [0u8; 66];
        let mut carry = 0u8;
        for (i, b) in t[..66].iter().enumerate() {
            cand[i] = (b >> 7) | carry;
            carry = b << 1;
        }
        let scalar = p521::Scalar::from_repr(p521::FieldBytes::clone_from_slice(&cand));
        if let Some(kk) = Option::<p521::Scalar>::from(scalar)
            && let Ok((sig, _)) =
                ecdsa::hazmat::sign_prehashed::<p521::NistP521, _>(d.as_ref(), kk, &z)
        {
            return sig;
        }
        k = mac(&k, &[&v, &[0]]);
        v = mac(&k, &[&v]);
    }
}

fn p521_signing(k: &p521::SecretKey) -> Result<p521::ecdsa::SigningKey, SignError> {
    p521::ecdsa::SigningKey::from_bytes(&k.to_bytes())
        .map_err(|_| SignError::Key("invalid P-521 private scalar".into()))
}

impl VerifyingKey {
    fn from_p521(k: p521::ecdsa::VerifyingKey) -> Self {
        let enc = k.to_encoded_point(false).as_bytes().to_vec();
        Self::P521(P521Public(k, enc))
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        match self {
            Self::P256(_) => Curve::P256,
            Self::P384(_) => Curve::P384,
            Self::P521(_) => Curve::P521,
        }
    }

    /// Reads a `PUBLIC KEY` (SubjectPublicKeyInfo) PEM.
    pub fn from_pem(pem: &str, what: &str) -> Result<Self, SignError> {
        match pem_label(pem).as_deref() {
            Some("PUBLIC KEY") => {}
            Some(l) if l.contains("PRIVATE KEY") => {
                return Err(SignError::Key(format!(
                    "{what} is a private key; verification takes the public key (`aigis keygen` writes it as *.pub.pem)"
                )));
            }
            Some(other) => {
                return Err(SignError::Key(format!(
                    "{what}: unexpected PEM block `{other}`; expected PUBLIC KEY"
                )));
            }
            None => return Err(SignError::Key(format!("{what}: not a PEM file"))),
        }
        Self::from_spki_pem(pem).ok_or_else(|| {
            SignError::Key(format!(
                "{what}: not an ECDSA P-256, P-384 or P-521 public key (other key types are not allowed by OMS)"
            ))
        })
    }

    fn from_spki_pem(pem: &str) -> Option<Self> {
        if let Ok(k) = p256::PublicKey::from_public_key_pem(pem) {
            return Some(Self::P256(k.into()));
        }
        if let Ok(k) = p384::PublicKey::from_public_key_pem(pem) {
            return Some(Self::P384(k.into()));
        }
        if let Ok(k) = p521::PublicKey::from_public_key_pem(pem) {
            return p521::ecdsa::VerifyingKey::from_affine(*k.as_affine())
                .ok()
                .map(Self::from_p521);
        }
        None
    }

    /// Parses a DER SubjectPublicKeyInfo (as found in a certificate).
    pub fn from_spki_der(der: &[u8]) -> Option<Self> {
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Some(Self::P256(k.into()));
        }
        if let Ok(k) = p384::PublicKey::from_public_key_der(der) {
            return Some(Self::P384(k.into()));
        }
        if let Ok(k) = p521::PublicKey::from_public_key_der(der) {
            return p521::ecdsa::VerifyingKey::from_affine(*k.as_affine())
                .ok()
                .map(Self::from_p521);
        }
        None
    }

    /// SubjectPublicKeyInfo PEM with LF endings and 64-column lines, as OpenSSL writes it.
    pub fn to_pem(&self) -> String {
        let r = match self {
            Self::P256(k) => p256::PublicKey::from(k).to_public_key_pem(LineEnding::LF),
            Self::P384(k) => p384::PublicKey::from(k).to_public_key_pem(LineEnding::LF),
            Self::P521(k) => p521::PublicKey::from_affine(*k.0.as_affine())
                .map_err(|_| spki::Error::KeyMalformed)
                .and_then(|p| p.to_public_key_pem(LineEnding::LF)),
        };
        // Encoding a valid in-memory point cannot fail.
        r.unwrap_or_default()
    }

    /// model-signing's `publicKey.hint`: hex SHA-256 of [`Self::to_pem`].
    pub fn hint(&self) -> String {
        crate::hex(&Sha256::digest(self.to_pem().as_bytes()))
    }

    /// Checks a DER signature over `msg` with the curve's hash.
    pub fn verify_der(&self, msg: &[u8], der: &[u8]) -> bool {
        match self {
            Self::P256(k) => {
                p256::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Self::P384(k) => {
                p384::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Self::P521(k) => {
                p521::ecdsa::Signature::from_der(der).is_ok_and(|s| k.0.verify(msg, &s).is_ok())
            }
        }
    }

    /// Checks a DER signature over `msg` hashed with SHA-256 whatever the curve (the v0.2 compat path
    /// of certificate bundles, and X.509 `ecdsa-with-SHA256` on P-384/P-521 issuers).
    pub fn verify_der_prehashed(&self, prehash: &[u8], der: &[u8]) -> bool {
        use ecdsa::signature::hazmat::PrehashVerifier;
        match self {
            Self::P256(k) => p256::ecdsa::Signature::from_der(der)
                .is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok()),
            Self::P384(k) => p384::ecdsa::Signature::from_der(der)
                .is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok()),
            Self::P521(k) => p521::ecdsa::Signature::from_der(der)
                .is_ok_and(|s| k.0.verify_prehash(prehash, &s).is_ok()),
        }
    }
}

/// The label of the first PEM block (`PRIVATE KEY`, `PUBLIC KEY`, …).
pub(crate) fn pem_label(pem: &str) -> Option<String> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    let end = rest.find("-----")?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_curves_plain_and_encrypted() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let k = SigningKey::generate(curve);
            let pub_pem = k.verifying_key().to_pem();
            assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            let vk = VerifyingKey::from_pem(&pub_pem, "pub").unwrap();
            assert_eq!(vk, k.verifying_key());
            let sig = k.sign_der(b"payload");
            assert!(vk.verify_der(b"payload", &sig), "{curve}");
            assert!(!vk.verify_der(b"payloaD", &sig), "{curve}");
            // Deterministic nonces: same message, same signature.
            assert_eq!(sig, k.sign_der(b"payload"));

            let plain = k.to_pkcs8_pem(None).unwrap();
            let k2 = SigningKey::from_pem(&plain, None, "k").unwrap();
            assert_eq!(k2.verifying_key(), vk);

            let pass = Passphrase::new(b"correct horse\n".to_vec());
            let enc = k.to_pkcs8_pem(Some(&pass)).unwrap();
            assert!(enc.contains("ENCRYPTED PRIVATE KEY"));
            let k3 = SigningKey::from_pem(&enc, Some(&pass), "k").unwrap();
            assert_eq!(k3.verifying_key(), vk);
            let wrong = Passphrase::new(b"wrong".to_vec());
            let err = SigningKey::from_pem(&enc, Some(&wrong), "k")
                .unwrap_err()
                .to_string();
            assert!(err.contains("wrong passphrase"), "{err}");
            assert!(!err.contains("correct horse"));
            assert!(SigningKey::from_pem(&enc, None, "k").is_err());
        }
    }

    #[test]
    fn p521_nonces_follow_rfc6979_appendix_a27() {
        let x = crate::unhex("00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75CAA896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538").unwrap();
        let k = p521::ecdsa::SigningKey::from_slice(&x).unwrap();
        for (msg, r, s) in [
            (
                "sample",
                "00C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F174E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA",
                "00617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF282623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A",
            ),
            (
                "test",
                "013E99020ABF5CEE7525D16B69B229652AB6BDF2AFFCAEF38773B4B7D08725F10CDB93482FDCC54EDCEE91ECA4166B2A7C6265EF0CE2BD7051B7CEF945BABD47EE6D",
                "01FBD0013C674AA79CB39849527916CE301C66EA7CE8B80682786AD60F98F7E78A19CA69EFF5C57400E3B3A0AD66CE0978214D13BAF4E9AC60752F7B155E2DE4DCE3",
            ),
        ] {
            let sig = p521_sign_rfc6979(&k, msg.as_bytes());
            let bytes = sig.to_bytes();
            assert_eq!(crate::hex(&bytes[..66]), r.to_lowercase(), "r for {msg}");
            assert_eq!(crate::hex(&bytes[66..]), s.to_lowercase(), "s for {msg}");
        }
    }

    #[test]
    fn rejects_wrong_kinds_of_pem() {
        let k = SigningKey::generate(Curve::P256);
        let pub_pem = k.verifying_key().to_pem();
        let e = SigningKey::from_pem(&pub_pem, None, "key.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("public key"), "{e}");
        let e = VerifyingKey::from_pem(&k.to_pkcs8_pem(None).unwrap(), "p.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("private key"), "{e}");
        assert!(SigningKey::from_pem("garbage", None, "x").is_err());
        let truncated = &pub_pem[..pub_pem.len() / 2];
        assert!(VerifyingKey::from_pem(truncated, "x").is_err());
        // An Ed25519 key is not allowed by OMS.
        let ed = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n";
        let e = SigningKey::from_pem(ed, None, "ed.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an ECDSA"), "{e}");
    }
}
