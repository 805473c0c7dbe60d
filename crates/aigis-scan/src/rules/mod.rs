//! One file per rule; [`RULES`] lists them all, sorted by id.

use aigis_core::{RuleInfo, RuleRegistry};

pub mod scn001;
pub mod scn002;
pub mod scn003;
pub mod scn004;
pub mod scn005;
pub mod scn006;
pub mod scn101;
pub mod scn102;
pub mod scn103;
pub mod scn104;
pub mod scn105;
pub mod scn106;
pub mod scn107;
pub mod scn108;
pub mod scn109;
pub mod scn201;
pub mod scn202;
pub mod scn203;
pub mod scn204;
pub mod scn205;
pub mod scn301;
pub mod scn302;
pub mod scn303;
pub mod scn401;
pub mod scn402;
pub mod scn501;
pub mod scn502;
pub mod scn503;
pub mod scn601;
pub mod scn602;
pub mod scn701;
pub mod scn702;
pub mod scn801;
pub mod scn901;

/// Every scan rule, sorted by id.
pub static RULES: &[&RuleInfo] = &[
    &scn001::RULE,
    &scn002::RULE,
    &scn003::RULE,
    &scn004::RULE,
    &scn005::RULE,
    &scn006::RULE,
    &scn101::RULE,
    &scn102::RULE,
    &scn103::RULE,
    &scn104::RULE,
    &scn105::RULE,
    &scn106::RULE,
    &scn107::RULE,
    &scn108::RULE,
    &scn109::RULE,
    &scn201::RULE,
    &scn202::RULE,
    &scn203::RULE,
    &scn204::RULE,
    &scn205::RULE,
    &scn301::RULE,
    &scn302::RULE,
    &scn303::RULE,
    &scn401::RULE,
    &scn402::RULE,
    &scn501::RULE,
    &scn502::RULE,
    &scn503::RULE,
    &scn601::RULE,
    &scn602::RULE,
    &scn701::RULE,
    &scn702::RULE,
    &scn801::RULE,
    &scn901::RULE,
];

/// The scan rules as a registry.
pub fn registry() -> RuleRegistry {
    RuleRegistry::new(RULES)
}
