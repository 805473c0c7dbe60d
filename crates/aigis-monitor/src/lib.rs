//! aigis operations. So far: the tamper-evident audit log ([`audit`]) the gateway writes one
//! decision record per request to — in JSON Lines files or PostgreSQL ([`audit_pg`]), through
//! a writer thread that batches appends ([`audit_writer`]) — and `aigis audit verify` checks.
#![forbid(unsafe_code)]

pub mod audit;
pub mod audit_pg;
pub mod audit_writer;
pub mod detect;
pub mod drift;
pub mod incident;
mod incident_pg;
pub mod rules;
pub mod sinks;
