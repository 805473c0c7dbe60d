//! Helpers shared by the stage tests.
#![allow(dead_code)]

/// A project whose pipeline runs only `stage`, configured by `section` (its table's body).
pub fn project(stage: &str, section: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("dir");
    std::fs::write(
        d.path().join("aigis.toml"),
        format!("[pipeline]\nstages = [\"{stage}\"]\n\n[{stage}]\n{section}"),
    )
    .expect("config");
    d
}
