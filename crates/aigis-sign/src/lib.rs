//! Model integrity for aigis.
//!
//! - [`manifest`]: walk a model the way OpenSSF model-signing does and hash it in parallel.
//! - [`oms`]: OMS v1.0 signatures (in-toto statement → DSSE → Sigstore bundle v0.3), key and
//!   certificate methods, interoperable with `model-signing` 1.1.x in both directions.
//! - [`keys`], [`x509`]: ECDSA keys and certificate-chain validation.
//! - [`merkle`], [`note`], [`tlog`]: an RFC 6962/9162 transparency log with signed checkpoints.
//! - [`registry`]: versioned, content-addressed model storage with a SQLite or PostgreSQL index.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod cache;
pub mod canonical;
pub mod digest;
pub mod keys;
pub mod manifest;
pub mod merkle;
pub mod model;
pub mod note;
pub mod oms;
pub mod registry;
pub mod rules;
pub mod tensors;
pub mod tlog;
pub mod x509;

use std::path::PathBuf;

/// Everything that can go wrong in this crate. [`SignError::exit_code`] maps it to the CLI
/// convention: 1 for a failed verification, 2 for bad input or I/O.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Bad arguments or configuration.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key could not be loaded, decrypted or used. Never carries secret material.
    #[error("{0}")]
    Key(String),
    /// A signature file, checkpoint or proof is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The model walk hit something the signing rules do not allow (symlink, special file, …).
    #[error("{0}")]
    Model(String),
    /// Verification ran and failed: bad signature, untrusted certificate, or model mismatch.
    #[error("{0}")]
    Invalid(String),
    /// The registry or log store failed.
    #[error("{0}")]
    Store(String),
}

impl SignError {
    /// CLI exit code: 1 when verification failed, 2 for every other error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Invalid(_) => 1,
            _ => 2,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

pub use aigis_core::fsutil::hex;

/// Largest key, certificate, signature, checkpoint or proof file read: a signature over a
/// million files stays well below it, and a hostile file cannot exhaust memory.
pub const MAX_INPUT_BYTES: u64 = bundle::MAX_BUNDLE_BYTES as u64;

/// Reads a small input file whole, refusing more than [`MAX_INPUT_BYTES`] without reading it.
pub fn read_bounded(path: &std::path::Path, what: &str) -> Result<Vec<u8>, SignError> {
    read_limited(path, what, MAX_INPUT_BYTES)
}

fn read_limited(path: &std::path::Path, what: &str, max: u64) -> Result<Vec<u8>, SignError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| SignError::Usage(format!("cannot read {what} {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| SignError::Usage(format!("cannot read {what} {}: {e}", path.display())))?;
    if buf.len() as u64 > max {
        return Err(SignError::Malformed(format!(
            "{what} {} is larger than {} bytes",
            path.display(),
            max
        )));
    }
    Ok(buf)
}

/// Parses hex (either case) into bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

/// Writes `bytes` to `path` atomically, mode 0600 when `private` (see
/// [`aigis_core::fsutil::write_atomic`]), so a crash never leaves a half-written key or signature.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], private: bool) -> Result<(), SignError> {
    aigis_core::fsutil::write_atomic(path, bytes, private).map_err(|e| SignError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn bounded_reads_refuse_oversized_files_without_loading_them() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sig");
        // Sparse: 1 TiB on paper, nothing on disk; only max + 1 bytes are ever read.
        std::fs::File::create(&p).unwrap().set_len(1 << 40).unwrap();
        let e = read_limited(&p, "signature", 1024).unwrap_err().to_string();
        assert!(e.contains("larger than 1024 bytes"), "{e}");
        std::fs::write(&p, b"ok").unwrap();
        assert_eq!(read_limited(&p, "signature", 1024).unwrap(), b"ok");
        assert!(read_bounded(&d.path().join("missing"), "key").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn atomic_private_write_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        write_atomic(&p, b"secret", true).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
        // No temporary left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
