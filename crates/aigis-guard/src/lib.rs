//! aigis runtime protection: the scanner chain the gateway runs on every request and response,
//! and `aigis guard classify`, which runs the same input chain offline.
//!
//! A [`Scanner`] looks at one text, prepared once ([`normalize::Prepared`]), and returns the
//! hits it finds, each with a rule id, a score and the action the configuration attaches to it.
//! A [`Chain`] runs its scanners and combines their hits into one [`Outcome`]: the strongest
//! action wins, redactions are applied in order.
#![forbid(unsafe_code)]

pub mod chain;
pub mod classify;
pub mod events;
pub mod gateway;
pub mod keys;
pub mod killswitch;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod output;
pub mod rules;
pub mod scanners;
pub mod shared_rates;
pub mod signatures;

/// Refusal markers (shared with `aigis redteam`, which judges attacks by them).
pub use aigis_core::refusal;
pub use chain::{Action, Chain, ChainConfig, Hit, Outcome};
pub use normalize::Prepared;
pub use scanners::Scanner;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The guard configuration is invalid.
    #[error("invalid guard configuration: {0}")]
    Config(String),
}
