//! Walking paths, scanning files in parallel and assembling the report.
#![forbid(unsafe_code)] // parsers and the scan driver: no exceptions (the one mmap lives in source.rs)

use std::path::{Path, PathBuf};
use std::time::Instant;

use aigis_core::{ErrorRecord, FileRecord, Report, Verdict};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::ctx::{Loc, ScanOptions, Sink};
use crate::lists::Lists;
use crate::source::Source;
use crate::{formats, rules};

/// Schema id of `aigis scan --format json`.
pub const SCHEMA: &str = "aigis.scan/v1";

struct One {
    record: Option<FileRecord>,
    findings: Vec<aigis_core::Finding>,
    error: Option<ErrorRecord>,
    /// The file on disk (for cross-file checks).
    real: Option<PathBuf>,
    /// Files this one reads as raw tensor data (ONNX external data), resolved.
    refs: Vec<PathBuf>,
    /// This file is a TensorFlow checkpoint index.
    tf_index: bool,
}

impl One {
    fn error(path: String, message: String) -> One {
        One {
            record: None,
            findings: Vec::new(),
            error: Some(ErrorRecord { path, message }),
            real: None,
            refs: Vec::new(),
            tf_index: false,
        }
    }
}

fn display(path: &Path, base: Option<&Path>) -> String {
    let p = base.and_then(|b| path.strip_prefix(b).ok()).unwrap_or(path);
    p.to_string_lossy().replace('\\', "/")
}

/// Expand `paths` (files and directories, recursively; `.git` directories skipped, links not
/// followed) into the files to scan, plus errors for paths that cannot be read.
fn expand(paths: &[PathBuf], base: Option<&Path>) -> (Vec<PathBuf>, Vec<One>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !(e.file_type().is_dir() && e.file_name() == ".git"));
        for entry in walker {
            match entry {
                Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                Ok(e) if e.file_type().is_symlink() => {
                    // A link that leaves the scanned tree can make a loader read files it should
                    // not (ONNX external data through symlinks, CVE-2026-27489 class).
                    let target = std::fs::canonicalize(e.path()).ok();
                    let root_c = std::fs::canonicalize(if root.is_dir() {
                        root.as_path()
                    } else {
                        root.parent().unwrap_or(root)
                    })
                    .ok();
                    let inside =
                        matches!((&target, &root_c), (Some(t), Some(r)) if t.starts_with(r));
                    if !inside {
                        let path = display(e.path(), base);
                        errors.push(One {
                            real: None,
                            refs: Vec::new(),
                            tf_index: false,
                            record: Some(FileRecord {
                                path: path.clone(),
                                format: "symlink".into(),
                                bytes: 0,
                                sha256: None,
                                verdict: Verdict::Clean,
                                incomplete: false,
                            }),
                            findings: vec![
                                aigis_core::Finding::new(
                                    &rules::scn005::RULE,
                                    "symbolic link points outside the scanned directory",
                                    aigis_core::Location::file(path),
                                )
                                .evidence(target.map_or_else(
                                    || "dangling link".to_string(),
                                    |t| t.display().to_string(),
                                )),
                            ],
                            error: None,
                        });
                    }
                }
                Ok(_) => {}
                Err(err) => errors.push(One::error(
                    err.path()
                        .map_or_else(|| display(root, base), |p| display(p, base)),
                    format!(
                        "cannot read: {}",
                        err.io_error()
                            .map_or_else(|| err.to_string(), ToString::to_string)
                    ),
                )),
            }
        }
    }
    (files, errors)
}

fn scan_file(path: &Path, shown: String, opts: &ScanOptions, lists: &Lists) -> One {
    let src = match Source::open(path) {
        Ok(s) => s,
        Err(e) => return One::error(shown, format!("cannot read: {e}")),
    };
    let data: &[u8] = &src;
    let (digest, (format, findings, incomplete, refs, tf_index)) = rayon::join(
        || opts.digest.then(|| formats::hex(&Sha256::digest(data))),
        || {
            let mut sink = Sink::new(opts, lists);
            let loc = Loc::new(&shown);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let format = formats::scan_blob(&mut sink, &loc, data, 0, &name);
            (
                format,
                sink.findings,
                sink.incomplete,
                sink.data_refs,
                sink.tf_index,
            )
        },
    );
    let dir = path.parent().unwrap_or(Path::new(""));
    One {
        record: Some(FileRecord {
            path: shown,
            format: format.to_string(),
            bytes: data.len() as u64,
            sha256: digest,
            verdict: Verdict::Clean,
            incomplete,
        }),
        findings,
        error: None,
        real: Some(path.to_path_buf()),
        refs: refs.iter().map(|r| dir.join(r)).collect(),
        tf_index,
    }
}

/// Raw tensor files have no signature: an ONNX model's external data, or the shards beside a
/// TensorFlow checkpoint index. When such a file is of unknown format *and* a model in the
/// same scan names it, it is tensor data, not an unknown binary. (A pickle renamed to
/// `model.onnx.data` is still sniffed as a pickle first.)
fn resolve_tensor_data(results: &mut [One], opts: &ScanOptions, lists: &Lists) {
    let refs: std::collections::HashSet<PathBuf> = results
        .iter()
        .flat_map(|r| r.refs.iter().cloned())
        .collect();
    let tf_dirs: std::collections::HashSet<PathBuf> = results
        .iter()
        .filter(|r| r.tf_index)
        .filter_map(|r| {
            r.real
                .as_ref()
                .and_then(|p| p.parent().map(Path::to_path_buf))
        })
        .collect();
    for r in results.iter_mut() {
        let (Some(rec), Some(real)) = (r.record.as_mut(), r.real.as_ref()) else {
            continue;
        };
        if rec.format != "unknown" {
            continue;
        }
        let tf_shard = real
            .file_name()
            .and_then(|n| tf_shard_index(&n.to_string_lossy()))
            .is_some()
            && real.parent().is_some_and(|d| tf_dirs.contains(d));
        if refs.contains(real) || tf_shard || named_by_sibling(real, opts, lists) {
            rec.format = "tensor-data".into();
            rec.incomplete = false;
            r.findings.retain(|f| f.rule != rules::scn002::RULE.id);
        }
    }
}

/// For a TensorFlow checkpoint shard `PREFIX.data-00000-of-00001`, the index `PREFIX.index`.
fn tf_shard_index(name: &str) -> Option<String> {
    let (prefix, rest) = name.rsplit_once(".data-")?;
    let (a, b) = rest.split_once("-of-")?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    (digits(a) && digits(b)).then(|| format!("{prefix}.index"))
}

/// When a raw-looking file is scanned without the model that names it (`aigis scan
/// model.onnx.data`), look at its directory: an ONNX model there (up to 256 MiB, parsed by
/// content) that lists it as external data, or a TensorFlow checkpoint index beside a
/// checkpoint shard (`variables.data-00000-of-00001`, `model.ckpt.data-…`).
fn named_by_sibling(real: &Path, opts: &ScanOptions, lists: &Lists) -> bool {
    let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return false;
    };
    let tf_index = tf_shard_index(&name.to_string_lossy());
    for e in entries.flatten().take(4096) {
        let p = e.path();
        let n = e.file_name().to_string_lossy().into_owned();
        let small = e
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= 256 << 20);
        if !small || p == real {
            continue;
        }
        if tf_index.as_deref() == Some(n.as_str())
            && let Ok(b) = std::fs::read(&p)
            && formats::sniff_is_tf_index(&b)
        {
            return true;
        }
        if n.ends_with(".onnx") {
            let Ok(b) = std::fs::read(&p) else { continue };
            let mut sink = Sink::new(opts, lists);
            let loc = Loc::new(&n);
            if formats::scan_blob(&mut sink, &loc, &b, 0, &n) == "onnx"
                && sink.data_refs.iter().any(|r| dir.join(r) == real)
            {
                return true;
            }
        }
    }
    false
}

/// Scan files and directories. `base`, when given, is stripped from the paths shown in the
/// report. `tick` is called once per file scanned (for progress bars).
pub fn scan_paths(
    paths: &[PathBuf],
    opts: &ScanOptions,
    base: Option<&Path>,
    tick: &(dyn Fn(usize, usize) + Sync),
) -> Report {
    let start = Instant::now();
    let owned_lists;
    let lists: &Lists = if opts.extra_allow.is_empty() {
        Lists::builtin()
    } else {
        owned_lists = Lists::new(&opts.extra_allow);
        &owned_lists
    };
    let (files, mut extra) = expand(paths, base);
    let total = files.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<One> = files
        .par_iter()
        .map(|p| {
            let r = scan_file(p, display(p, base), opts, lists);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tick(n, total);
            r
        })
        .collect();
    resolve_tensor_data(&mut results, opts, lists);
    results.append(&mut extra);
    let mut report = Report::new(SCHEMA);
    for r in results {
        report.files.extend(r.record);
        report.findings.extend(r.findings);
        report.errors.extend(r.error);
    }
    report.finish();
    report.elapsed_ms = start.elapsed().as_millis();
    report
}
