//! aigis operations. So far: the tamper-evident audit log ([`audit`]) the gateway writes one
//! decision record per request to, and `aigis audit verify` checks.
#![forbid(unsafe_code)]

pub mod audit;
