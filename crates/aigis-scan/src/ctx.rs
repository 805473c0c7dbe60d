//! Scan context: where we are (file, nested member), what we found, and the budgets that
//! bound the work a hostile file can cause.
#![forbid(unsafe_code)] // parsers and the scan driver: no exceptions (the one mmap lives in source.rs)

use std::sync::Arc;
use std::time::{Duration, Instant};

use aigis_core::{Finding, Location};

use crate::rules;

/// Limits and knobs for a scan. The defaults suit a CI gate on real model repositories.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// How deep archives and pickles may nest before the scan reports `SCN003` and stops
    /// descending.
    pub max_depth: u32,
    /// Largest decompressed size of one archive member or compressed stream.
    pub max_member_bytes: u64,
    /// Largest total decompressed size per top-level file.
    pub max_total_bytes: u64,
    /// Compression ratio above which a member counts as a bomb (once it is over 8 MiB).
    pub max_ratio: u64,
    /// Wall-clock budget per top-level file.
    pub time_budget: Duration,
    /// Most values one pickle may keep on its stack and memo.
    pub max_pickle_values: usize,
    /// Extra `(module, name)` pairs to treat as safe (`--allow module:name`).
    pub extra_allow: Vec<(String, String)>,
    /// Compute a SHA-256 of each file for the report.
    pub digest: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_depth: 8,
            max_member_bytes: 1 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
            time_budget: Duration::from_mins(5),
            max_pickle_values: 64 << 20,
            extra_allow: Vec::new(),
            digest: true,
        }
    }
}

/// Where in the input a finding is: the top-level file plus the chain of members.
#[derive(Debug, Clone)]
pub(crate) struct Loc {
    pub path: Arc<str>,
    pub member: Option<String>,
}

impl Loc {
    pub(crate) fn new(path: &str) -> Self {
        Loc {
            path: Arc::from(path),
            member: None,
        }
    }

    /// The location of a member inside the current one (`a!b` when nested).
    pub(crate) fn child(&self, name: &str) -> Loc {
        let member = match &self.member {
            None => name.to_string(),
            Some(m) => format!("{m}!{name}"),
        };
        Loc {
            path: self.path.clone(),
            member: Some(member),
        }
    }

    pub(crate) fn whole(&self) -> Location {
        Location {
            path: self.path.to_string(),
            member: self.member.clone(),
            offset: None,
            line: None,
        }
    }

    pub(crate) fn at(&self, off: usize) -> Location {
        self.whole().at(off as u64)
    }
}

/// Collects findings for one top-level file and tracks its budgets.
pub(crate) struct Sink<'o> {
    pub findings: Vec<Finding>,
    /// Some part could not be parsed or was skipped: the file's verdict is at best `error`.
    pub incomplete: bool,
    pub opts: &'o ScanOptions,
    pub decompressed: u64,
    deadline: Instant,
    timed_out: bool,
    pub lists: &'o crate::lists::Lists,
    /// Inside a `TorchScript` archive: `__torch__.*` names are `TorchScript` classes compiled from
    /// the archive's own `code/` (reported by SCN301), not Python imports.
    pub torchscript: bool,
    /// Files this one says it reads (ONNX external data, relative to its directory).
    pub data_refs: Vec<String>,
    /// The file is a TensorFlow checkpoint index: sibling `variables.data-*` shards are tensors.
    pub tf_index: bool,
}

impl<'o> Sink<'o> {
    pub(crate) fn new(opts: &'o ScanOptions, lists: &'o crate::lists::Lists) -> Self {
        Sink {
            findings: Vec::new(),
            incomplete: false,
            opts,
            decompressed: 0,
            deadline: Instant::now() + opts.time_budget,
            timed_out: false,
            lists,
            torchscript: false,
            data_refs: Vec::new(),
            tf_index: false,
        }
    }

    pub(crate) fn push(&mut self, f: Finding) {
        // Bound the report: a hostile file can make thousands of identical findings.
        if self.findings.len() < 10_000 {
            self.findings.push(f);
        }
    }

    /// Record that part of the input could not be examined, with a finding saying why.
    pub(crate) fn malformed(&mut self, loc: Location, what: &str, why: &str) {
        self.incomplete = true;
        self.push(
            Finding::new(
                &rules::scn001::RULE,
                format!("{what} could not be fully parsed"),
                loc,
            )
            .detail(
                "Loaders may still execute what precedes the damage; the rest was not examined.",
            )
            .evidence(why),
        );
    }

    /// Record that a budget stopped the scan of part of the input.
    pub(crate) fn limit(&mut self, loc: Location, why: impl AsRef<str>) {
        self.incomplete = true;
        self.push(
            Finding::new(
                &rules::scn003::RULE,
                "scan stopped by a safety limit; not fully examined",
                loc,
            )
            .evidence(why),
        );
    }

    /// Record a decompression bomb (`SCN203`): the member was not examined.
    pub(crate) fn bomb(&mut self, loc: Location, what: &str, evidence: String) {
        self.incomplete = true;
        self.push(
            Finding::new(
                &rules::scn203::RULE,
                format!("{what} decompresses beyond the safety limits"),
                loc,
            )
            .evidence(evidence),
        );
    }

    /// True once the time budget is spent (reported once).
    pub(crate) fn out_of_time(&mut self, loc: &Loc) -> bool {
        if self.timed_out {
            return true;
        }
        if Instant::now() > self.deadline {
            self.timed_out = true;
            self.limit(
                loc.whole(),
                format!("time budget of {:?} spent", self.opts.time_budget),
            );
            return true;
        }
        false
    }

    /// Account for `n` decompressed bytes; false (with a finding) when over the file's budget.
    pub(crate) fn charge(&mut self, loc: &Loc, n: u64) -> bool {
        self.decompressed = self.decompressed.saturating_add(n);
        if self.decompressed > self.opts.max_total_bytes {
            self.limit(
                loc.whole(),
                format!(
                    "more than {} bytes decompressed from one file",
                    self.opts.max_total_bytes
                ),
            );
            return false;
        }
        true
    }
}
