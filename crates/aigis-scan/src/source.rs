//! Reading a file for scanning: small files are read into memory, large ones memory-mapped so
//! that a multi-gigabyte checkpoint costs only the pages its headers and pickles occupy.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// Files up to this size are read into memory.
const READ_LIMIT: u64 = 64 << 20;

/// The bytes of one file.
pub(crate) enum Source {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Deref for Source {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Source::Owned(v) => v,
            Source::Mapped(m) => m,
        }
    }
}

impl Source {
    pub(crate) fn open(path: &Path) -> std::io::Result<Source> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        if len <= READ_LIMIT {
            let mut v = Vec::with_capacity(len as usize);
            f.read_to_end(&mut v)?;
            return Ok(Source::Owned(v));
        }
        map(&f).map(Source::Mapped)
    }
}

#[allow(unsafe_code)]
fn map(f: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and only ever read as bytes. If another process truncates
    // the file while we scan it, reads of the lost pages fault (SIGBUS) and the process
    // stops; no memory is misinterpreted. Scanning a file while it is being rewritten is
    // documented as unsupported.
    unsafe { memmap2::Mmap::map(f) }
}
