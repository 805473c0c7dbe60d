//! Shared vocabulary of aigis.
//!
//! Every capability crate speaks in these types: a [`Severity`], a [`Finding`] raised by a
//! documented [`RuleInfo`] at a [`Location`], gathered into a [`Report`] together with what
//! was examined. The [`policy`] module decides what a finding means for the exit code
//! (`--fail-on`, suppressions) and the [`render`] module writes a report as a table, JSON,
//! SARIF 2.1.0 or HTML.
//!
//! This crate does no I/O (no network, no async runtime) except [`fsutil::write_atomic`], the one
//! file-writing primitive every crate shares.
//!
//! ```
//! use aigis_core::{Finding, Location, Severity, RuleInfo};
//! static RULE: RuleInfo = RuleInfo {
//!     id: "SCN999", name: "example-rule", severity: Severity::High,
//!     summary: "an example", doc: "", cwe: &[502],
//! };
//! let f = Finding::new(&RULE, "bad thing", Location::file("m.pkl"));
//! assert_eq!(f.severity, Severity::High);
//! assert!(f.severity >= Severity::Medium);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod finding;
pub mod fsutil;
pub mod policy;
pub mod refusal;
pub mod render;
mod report;
mod rule;
mod severity;

pub use finding::{Finding, Location};
pub use report::{ErrorRecord, FileRecord, Report, Verdict};
pub use rule::{RuleInfo, RuleRegistry, check_rule_doc};
pub use severity::{ParseSeverityError, Severity};
