//! Signed notes and checkpoints (C2SP `signed-note` and `tlog-checkpoint`), Ed25519 log keys.
//!
//! A checkpoint body is `origin\nsize\nbase64(root)\n`; the signed note appends a blank line and
//! `— <name> base64(key hash ‖ signature)` lines. The key hash is the first four bytes of
//! SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). Verifier keys are written `name+hash+base64(0x01 ‖ key)`,
//! the form Go's `golang.org/x/mod/sumdb/note` and the C2SP ecosystem use.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::{Digest as _, Sha256};

use crate::SignError;
use crate::merkle::Hash;

/// Signature algorithm byte for Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// Largest note accepted.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// Most signature lines accepted on one note.
const MAX_SIGNATURES: usize = 100;

fn key_hash(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), SignError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(SignError::Usage(format!(
            "log name `{name}` must be non-empty, without spaces or `+` (e.g. aigis.example/models)"
        )));
    }
    Ok(())
}

/// A log's signing key.
pub struct LogKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogKey({}, <secret>)", self.name)
    }
}

impl LogKey {
    /// A fresh key for the log called `name`.
    pub fn generate(name: &str) -> Result<Self, SignError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_string(),
            key: ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
        })
    }

    /// `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
    pub fn to_private_string(&self) -> zeroize::Zeroizing<String> {
        let pubk = self.key.verifying_key().to_bytes();
        let mut raw = zeroize::Zeroizing::new(vec![ALG_ED25519]);
        raw.extend_from_slice(&self.key.to_bytes());
        zeroize::Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            crate::hex(&key_hash(&self.name, &pubk)),
            B64.encode(&*raw)
        ))
    }

    /// Parses [`Self::to_private_string`].
    pub fn from_private_string(s: &str) -> Result<Self, SignError> {
        let bad =
            || SignError::Key("log key file is not a PRIVATE+KEY+name+hash+key string".into());
        let rest = s.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        // The name has no `+`; the base64 key may.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(_hash), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let raw = zeroize::Zeroizing::new(B64.decode(b64).map_err(|_| bad())?);
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad());
        }
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&raw[1..]);
        check_name(name)?;
        Ok(Self {
            name: name.to_string(),
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// The public verifier.
    pub fn verifier(&self) -> NoteVerifier {
        let public = self.key.verifying_key();
        NoteVerifier {
            name: self.name.clone(),
            hash: key_hash(&self.name, &public.to_bytes()),
            key: public,
        }
    }

    /// The log's name (checkpoint origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `body` (which must end in a newline) as a note.
    pub fn sign(&self, body: &str) -> String {
        let sig = self.key.sign(body.as_bytes());
        let mut raw = key_hash(&self.name, &self.key.verifying_key().to_bytes()).to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(raw))
    }
}

/// A public note verifier key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            crate::hex(&self.hash),
            B64.encode(raw)
        )
    }
}

impl NoteVerifier {
    /// Parses `name+hash+base64(0x01 ‖ key)`, checking the hash matches.
    pub fn parse(s: &str) -> Result<Self, SignError> {
        let bad = |why: &str| {
            SignError::Key(format!(
                "log public key: {why}; expected name+hash+key as `aigis log key` prints"
            ))
        };
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("wrong shape"));
        };
        let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 key"));
        }
        let bytes: [u8; 32] = raw[1..].try_into().map_err(|_| bad("bad length"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("invalid Ed25519 point"))?;
        let want = key_hash(name, &bytes);
        if crate::unhex(hash).as_deref() != Some(&want[..]) {
            return Err(bad("key hash does not match name and key"));
        }
        Ok(Self {
            name: name.to_string(),
            hash: want,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a signed note and returns its body. At least one signature line must be this key's
    /// and valid; lines by other keys are ignored (witness cosignatures).
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, SignError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(SignError::Malformed(
                "signed note is larger than 1 MiB".into(),
            ));
        }
        let split = note.rfind("\n\n").ok_or_else(|| {
            SignError::Malformed("signed note has no blank line before its signatures".into())
        })?;
        let body = &note[..=split];
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(SignError::Malformed(
                "signed note does not end with a newline".into(),
            ));
        }
        let mut seen = 0;
        for line in sigs.lines() {
            seen += 1;
            if seen > MAX_SIGNATURES {
                return Err(SignError::Malformed(
                    "signed note has too many signatures".into(),
                ));
            }
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| SignError::Malformed(format!("bad signature line `{line}`")))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| SignError::Malformed(format!("bad signature line `{line}`")))?;
            if name != self.name {
                continue;
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| SignError::Malformed("signature is not base64".into()))?;
            if raw.len() != 68 || raw[..4] != self.hash {
                continue;
            }
            let sig = ed25519_dalek::Signature::from_slice(&raw[4..])
                .map_err(|_| SignError::Malformed("bad Ed25519 signature".into()))?;
            if self.key.verify(body.as_bytes(), &sig).is_ok() {
                return Ok(body);
            }
            return Err(SignError::Invalid(format!(
                "signed note: the signature by {} does not verify",
                self.name
            )));
        }
        Err(SignError::Invalid(format!(
            "signed note carries no signature by {}",
            self.name
        )))
    }
}

/// A log checkpoint: the origin, tree size and root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the root are allowed and ignored).
    pub fn parse_body(body: &str) -> Result<Self, SignError> {
        let bad = |why: &str| SignError::Malformed(format!("checkpoint: {why}"));
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size_s = lines.next().ok_or_else(|| bad("no size line"))?;
        if size_s.is_empty()
            || (size_s.len() > 1 && size_s.starts_with('0'))
            || !size_s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("size is not a decimal number"));
        }
        let size: u64 = size_s.parse().map_err(|_| bad("size out of range"))?;
        let root_s = lines.next().ok_or_else(|| bad("no root line"))?;
        let root: Hash = B64
            .decode(root_s)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("root is not a base64 SHA-256 hash"))?;
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Verifies a signed checkpoint note.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, SignError> {
        let body = verifier.open(note)?;
        let cp = Self::parse_body(body)?;
        if cp.origin != verifier.name() {
            return Err(SignError::Invalid(format!(
                "checkpoint origin `{}` is not the log `{}`",
                cp.origin,
                verifier.name()
            )));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_roundtrip_and_tamper() {
        let k = LogKey::generate("aigis.test/log").unwrap();
        let v = k.verifier();
        assert_eq!(NoteVerifier::parse(&v.to_string()).unwrap(), v);
        let k2 = LogKey::from_private_string(&k.to_private_string()).unwrap();
        assert_eq!(k2.verifier(), v);
        let cp = Checkpoint {
            origin: "aigis.test/log".into(),
            size: 7,
            root: [9; 32],
        };
        let note = k.sign(&cp.body());
        assert!(note.contains("\n\n\u{2014} aigis.test/log "));
        assert_eq!(Checkpoint::open(&note, &v).unwrap(), cp);
        let edited = note.replacen("\n7\n", "\n8\n", 1);
        assert_eq!(Checkpoint::open(&edited, &v).unwrap_err().exit_code(), 1);
        let other = LogKey::generate("aigis.test/log").unwrap().verifier();
        assert!(Checkpoint::open(&note, &other).is_err());
        for bad in [
            "",
            "x\n",
            "aigis.test/log\n07\nAAAA\n",
            "aigis.test/log\n1\nnot-b64\n",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
        // A tampered verifier string (hash does not match) is refused.
        let s = v.to_string();
        let mut parts: Vec<&str> = s.split('+').collect();
        parts[1] = "00000000";
        assert!(NoteVerifier::parse(&parts.join("+")).is_err());
    }
}
