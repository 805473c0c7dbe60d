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

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
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

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename),
/// with mode 0600 when `private` is set, so a crash never leaves a half-written key or signature.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], private: bool) -> Result<(), SignError> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| SignError::Usage(format!("{}: not a file path", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(SignError::io(path, e));
    }
    Ok(())
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
