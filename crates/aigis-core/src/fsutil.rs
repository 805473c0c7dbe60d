//! The one file-writing primitive every crate shares (the only I/O in this crate): atomic writes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, written, synced,
/// then renamed over the target. A reader never sees a half-written file and a failure leaves
/// the previous one in place. With `private`, the file is created with mode 0600 (keys).
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut f = AtomicFile::create(path, private)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A file written in pieces that appears at its path only when [`AtomicFile::commit`] succeeds:
/// the bytes go to a temporary file beside the target, which is synced and renamed over it on
/// commit and removed if the writer is dropped without committing (an error, a tampered input,
/// a panic). Streaming commands use it so a failure never leaves half an output behind.
///
/// A path that exists and is not a regular file (`/dev/null`, a FIFO, `/dev/stdout`) is written
/// in place: renaming over it would replace the device with a file.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<std::io::BufWriter<std::fs::File>>,
    tmp: PathBuf,
    path: PathBuf,
    /// Writing straight into a device or pipe; commit only flushes.
    direct: bool,
}

impl AtomicFile {
    /// Starts writing `path` (mode 0600 with `private`).
    pub fn create(path: &Path, private: bool) -> std::io::Result<Self> {
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
            let f = std::fs::OpenOptions::new().write(true).open(path)?;
            return Ok(Self {
                file: Some(std::io::BufWriter::with_capacity(1 << 20, f)),
                tmp: path.to_path_buf(),
                path: path.to_path_buf(),
                direct: true,
            });
        }
        let tmp = temp_beside(path);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if private { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = private;
        let _ = std::fs::remove_file(&tmp);
        let f = opts.open(&tmp)?;
        Ok(Self {
            file: Some(std::io::BufWriter::with_capacity(1 << 20, f)),
            tmp,
            path: path.to_path_buf(),
            direct: false,
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        let Some(w) = self.file.take() else {
            return Err(std::io::Error::other("already committed"));
        };
        if self.direct {
            return w
                .into_inner()
                .map(drop)
                .map_err(std::io::IntoInnerError::into_error);
        }
        let result = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.path));
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("already committed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() && !self.direct {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The temporary name [`write_atomic`] uses for `path` (hidden, in the same directory, so the
/// final rename never crosses file systems). Streaming writers use it the same way.
pub fn temp_beside(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        write_atomic(&p, b"one", false).unwrap();
        write_atomic(&p, b"two", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn failure_keeps_nothing_half_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir").join("r.json");
        assert!(write_atomic(&p, b"x", false).is_err());
        assert!(!p.exists());
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        write_atomic(&p, b"secret", true).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        std::fs::write(&p, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&p, false).unwrap();
            f.write_all(b"half").unwrap();
            // Dropped without commit: the old file stays, no temporary is left.
        }
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        let mut f = AtomicFile::create(&p, true).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let mut f = AtomicFile::create(Path::new("/dev/null"), false).unwrap();
        f.write_all(b"discarded").unwrap();
        f.commit().unwrap();
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        // The same for write_atomic.
        write_atomic(Path::new("/dev/null"), b"x", false).unwrap();
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
    }
}
