//! `PyTorch`: the zip checkpoint (`torch.save` since 1.6), `TorchScript` archives, and the legacy
//! raw-pickle layout. Tensor data is never read: storages named by the pickle's persistent ids
//! are only checked for size, and any other member is sniffed and scanned.

use std::collections::HashMap;

use aigis_core::{Finding, Severity};

use super::pickle::{self, StorageRef};
use super::{scan_blob, zip::Archive};
use crate::ctx::{Loc, Sink};
use crate::rules;

/// A zip whose members look like a torch checkpoint or `TorchScript` archive (any prefix dir).
pub(crate) fn is_torch_zip(names: &[&str]) -> bool {
    let has = |suffix: &str| {
        names
            .iter()
            .any(|n| *n == &suffix[1..] || n.ends_with(suffix))
    };
    has("/data.pkl") || (has("/constants.pkl") && names.iter().any(|n| n.contains("code/")))
}

fn element_size(class: &str) -> Option<u64> {
    Some(match class {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "FloatStorage" | "IntStorage" | "QInt32Storage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" | "QUInt8Storage" | "QInt8Storage"
        | "QUInt4x2Storage" | "QUInt2x4Storage" | "UntypedStorage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => return None,
    })
}

/// Scan a torch zip; returns its format name.
pub(crate) fn scan_zip(sink: &mut Sink, loc: &Loc, ar: &Archive, depth: u32) -> &'static str {
    let torchscript = ar
        .entries
        .iter()
        .any(|e| e.name.contains("/code/") || e.name.starts_with("code/"));
    let outer_ts = sink.torchscript;
    sink.torchscript = torchscript;
    let format = scan_zip_members(sink, loc, ar, depth, torchscript);
    sink.torchscript = outer_ts;
    format
}

fn scan_zip_members(
    sink: &mut Sink,
    loc: &Loc,
    ar: &Archive,
    depth: u32,
    torchscript: bool,
) -> &'static str {
    // 1. Every pickle member, data.pkl first, collecting the storages it names.
    let mut storages: Vec<StorageRef> = Vec::new();
    let mut pickles: Vec<usize> = (0..ar.entries.len())
        .filter(|&i| {
            let n = &ar.entries[i].name;
            n.ends_with(".pkl") || n.ends_with(".debug_pkl")
        })
        .collect();
    pickles.sort_by_key(|&i| !ar.entries[i].name.ends_with("data.pkl"));
    for &i in &pickles {
        let e = &ar.entries[i];
        let mloc = loc.child(&e.name);
        if let Some(bytes) = ar.read(sink, &mloc, e) {
            if pickle::looks_like_pickle(&bytes) {
                let s = pickle::scan_pickle_file(sink, &mloc, &bytes, depth + 1);
                if e.name.ends_with("data.pkl") || e.name.ends_with("constants.pkl") {
                    storages.extend(s);
                }
            } else {
                scan_blob(sink, &mloc, &bytes, depth + 1, &e.name);
            }
        }
    }
    let by_key: HashMap<&str, &StorageRef> = storages.iter().map(|s| (s.key.as_str(), s)).collect();
    // 2. Everything else.
    let mut code_seen = false;
    for (i, e) in ar.entries.iter().enumerate() {
        if pickles.contains(&i) || sink.out_of_time(loc) {
            continue;
        }
        let mloc = loc.child(&e.name);
        let key = e
            .name
            .rsplit_once("/data/")
            .map(|(_, k)| k)
            .or_else(|| e.name.strip_prefix("data/"));
        if let Some(st) = key.and_then(|k| by_key.get(k)) {
            // A tensor's raw bytes: check the size only. A stored member's size is exact;
            // torch itself refuses some mismatches only at use time (CVE-2026-24747 class).
            if let (Some(n), Some(es)) = (st.numel, element_size(&st.class)) {
                let want = u64::try_from(n).unwrap_or(u64::MAX).saturating_mul(es);
                if e.method == 0 && e.usize < want {
                    sink.push(
                        Finding::new(
                            &rules::scn303::RULE,
                            "tensor storage is smaller than its declared size",
                            mloc.whole(),
                        )
                        .detail(
                            "Loaders that trust the declared element count read past the member.",
                        )
                        .evidence(format!(
                            "{} elements of {} need {want} bytes; member holds {}",
                            n, st.class, e.usize
                        )),
                    );
                }
            }
            continue;
        }
        let Some(bytes) = ar.read(sink, &mloc, e) else {
            continue;
        };
        if torchscript && (e.name.contains("code/") && e.name.ends_with(".py")) {
            code_seen = true;
            torchscript_code(sink, &mloc, &bytes);
            continue;
        }
        scan_blob(sink, &mloc, &bytes, depth + 1, &e.name);
    }
    if torchscript {
        sink.push(
            Finding::new(&rules::scn301::RULE, "TorchScript archive: loading it runs its compiled code", loc.whole())
                .detail("torch.load dispatches TorchScript zips to torch.jit.load even with weights_only=True (CVE-2025-32434).")
                .evidence(if code_seen { "code/ members present" } else { "constants.pkl present" }),
        );
        "torchscript"
    } else {
        "pytorch-zip"
    }
}

/// `TorchScript` calls that read or write files or load more code.
const TS_DANGEROUS: &[&str] = &[
    "torch.from_file",
    "aten::from_file",
    "ops.aten.from_file",
    "torch.save",
    "aten::save",
    "torch.load",
    "torch.jit.load",
    "torch.ops.load_library",
    "ops.load_library",
    "torch.classes.load_library",
    "open(",
    "__import__",
    "builtins.",
];

fn torchscript_code(sink: &mut Sink, loc: &Loc, code: &[u8]) {
    let text = String::from_utf8_lossy(code);
    for (ln, line) in text.lines().enumerate() {
        if let Some(hit) = TS_DANGEROUS.iter().find(|p| line.contains(*p)) {
            let mut l = loc.whole();
            l.line = Some(ln as u32 + 1);
            sink.push(
                Finding::new(
                    &rules::scn302::RULE,
                    format!("TorchScript code calls {}", hit.trim_end_matches('(')),
                    l,
                )
                .severity(Severity::High)
                .evidence(line.trim()),
            );
        }
    }
}

/// Scan a raw pickle file: plain pickle, joblib or legacy torch. Returns (legacy torch, joblib).
pub(crate) fn scan_raw_pickle(sink: &mut Sink, loc: &Loc, data: &[u8], depth: u32) -> (bool, bool) {
    let legacy = data.len() > 16
        && data[..32.min(data.len())]
            .windows(10)
            .any(|w| w == pickle::vm::TORCH_MAGIC);
    pickle::scan_pickle_file(sink, loc, data, depth);
    let head = &data[..data.len().min(1 << 16)];
    let joblib = head.windows(17).any(|w| w == b"NumpyArrayWrapper");
    (legacy, joblib)
}
