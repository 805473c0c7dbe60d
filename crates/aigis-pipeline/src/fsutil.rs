//! File helpers shared by the pipeline and the binary (implemented once, in `aigis-core`).

use std::path::Path;

pub use aigis_core::fsutil::temp_beside;

/// Writes `bytes` to `path` atomically (see [`aigis_core::fsutil::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    aigis_core::fsutil::write_atomic(path, bytes, false)
}
