//! Input scanners, one file each, and their registry.

use crate::{ChainConfig, Error, Hit, Prepared};

pub mod banned;
pub mod injection;
pub mod invisible;
pub mod length;
pub mod links;
pub mod pii;
pub mod secrets;
pub mod tools;

/// A scanner: looks at one text (raw and prepared) and returns its hits.
pub trait Scanner: Send + Sync {
    /// The name used in `[guard.input] scanners`.
    fn name(&self) -> &'static str;
    /// The hits in `raw`; `prepared` is `Prepared::new(raw)`, shared by the chain (an empty
    /// one when no scanner of the chain reads it).
    fn scan(&self, raw: &str, prepared: &Prepared) -> Vec<Hit>;
    /// Whether [`Scanner::scan`] reads `prepared` (normalisation costs more than some
    /// scanners; chains without a reader skip it).
    fn reads_prepared(&self) -> bool {
        true
    }
}

/// The default input chain, in order: cheap checks first.
pub const INPUT: &[&str] = &[
    "length",
    "invisible",
    "banned",
    "injection",
    "secrets",
    "pii",
];

/// Builds the scanner called `name` from its section of `config`.
pub fn build(name: &str, config: &ChainConfig) -> Result<Box<dyn Scanner>, Error> {
    Ok(match name {
        "length" => Box::new(length::Length::new(&config.length)),
        "invisible" => Box::new(invisible::InvisibleText::new(&config.invisible)),
        "banned" => Box::new(banned::Banned::new(&config.banned)?),
        "injection" => Box::new(injection::Injection::new(&config.injection)?),
        "secrets" => Box::new(secrets::Secrets::new(&config.secrets)),
        "pii" => Box::new(pii::Pii::new(&config.pii)?),
        "links" => Box::new(links::Links::new(&config.links)),
        other => {
            return Err(Error::Config(format!(
                "unknown scanner `{other}`; known: {}, links",
                INPUT.join(", ")
            )));
        }
    })
}
