//! Command-line types (clap). Only argument shapes live here.

use std::path::PathBuf;

use aigis_core::Severity;
use clap::{Parser, Subcommand, ValueEnum};

/// aigis — an AI security pipeline.
#[derive(Debug, Parser)]
#[command(name = "aigis", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    Table,
    Json,
    Sarif,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find code hidden in model files (pickle, `PyTorch`, `NumPy`, joblib, Keras, TensorFlow, ONNX, GGUF, safetensors).
    Scan(ScanArgs),
    /// Run the pipeline configured in DIR/aigis.toml and write aigis-report.json and .html.
    Run(RunArgs),
    /// List the rules, or explain one (`aigis rules SCN101`).
    Rules(RulesArgs),
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when any finding is at or above this severity.
    #[arg(long, default_value = "medium", value_name = "SEVERITY")]
    pub fail_on: Severity,
    /// Trust an extra pickle global, as module:name (repeatable).
    #[arg(long, value_name = "MODULE:NAME")]
    pub allow: Vec<String>,
    /// Do not compute SHA-256 digests (faster on very large files; sha256 is null in JSON).
    #[arg(long)]
    pub no_digest: bool,
    /// Nesting limit for archives and pickles.
    #[arg(long, default_value_t = 8)]
    pub max_depth: u32,
    /// Per-file time budget in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// No progress bar or summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Project directory holding aigis.toml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write the reports here instead of the project directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override [policy] fail-on.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// What to print on stdout.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
}

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// A rule id or name to explain.
    pub rule: Option<String>,
    /// Output format (table or json).
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
}
