//! The aigis pipeline: reads a project's `aigis.toml`, runs the configured stages over the
//! project, applies suppressions and the `fail-on` gate, and writes the reports.
//!
//! Stages implement [`Stage`]; today the pipeline has `scan` (model files). Stages named in
//! the design but not built yet are refused with a clear error rather than skipped.
//!
//! ```no_run
//! use aigis_pipeline::{run, RunOptions};
//! let outcome = run(std::path::Path::new("examples/demo"), &RunOptions::default()).unwrap();
//! println!("exit code {}", outcome.exit_code);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod data_stage;
mod drift_stage;
pub mod fsutil;
mod guard_stage;
pub mod integrity;
mod redteam_stage;
mod robust_stage;
mod sign_stages;
mod stages;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aigis_core::policy::{self, Day};
use aigis_core::render::{self, Format};
use aigis_core::{Report, RuleInfo, RuleRegistry, Severity};

pub use config::{
    AnonymizeConfig, Config, DataConfig, PolicyConfig, RobustConfig, ScanConfig, SignConfig,
    VerifyConfig, parse_allow,
};
pub use stages::{ProjectContext, Stage};

/// Schema id of the report `aigis run` writes.
pub const RUN_SCHEMA: &str = "aigis.run/v1";

/// Errors that stop a run (not findings: those go in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The project directory has no `aigis.toml`.
    #[error(
        "no aigis.toml in {0}\nhint: create one (see aigis.example.toml) or pass the project directory"
    )]
    NoConfig(PathBuf),
    /// `aigis.toml` could not be read or parsed, or has invalid values.
    #[error(
        "invalid config {path}: {message}\nhint: every key is documented in aigis.example.toml"
    )]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stage could not do its work (bad key, unreadable signature, registry unavailable).
    #[error("stage {stage}: {message}")]
    Stage {
        /// The stage.
        stage: &'static str,
        /// What failed.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Every rule aigis knows, across crates, sorted by id.
pub fn rules() -> RuleRegistry {
    static ALL: OnceLock<Vec<&'static RuleInfo>> = OnceLock::new();
    let v = ALL.get_or_init(|| {
        let mut v: Vec<&'static RuleInfo> = aigis_scan::rules::RULES.to_vec();
        v.push(&policy::PIP001);
        v.extend_from_slice(aigis_sign::rules::RULES);
        v.extend_from_slice(aigis_data::rules::RULES);
        v.extend_from_slice(aigis_guard::rules::RULES);
        v.extend_from_slice(aigis_monitor::rules::RULES);
        v.extend(aigis_redteam::probes::rules());
        v.extend_from_slice(aigis_robust::rules::RULES);
        v.sort_by_key(|r| r.id);
        v
    });
    RuleRegistry::new(v.as_slice())
}

/// Today's date in UTC.
pub fn today() -> Day {
    Day::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// Settings for one run that come from the command line rather than the config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where to write `aigis-report.json` and `aigis-report.html` (default: the project dir).
    pub out_dir: Option<PathBuf>,
    /// Overrides `[policy] fail-on`.
    pub fail_on: Option<Severity>,
    /// The date suppressions expire against (default: today).
    pub today: Option<Day>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// Everything found, after suppressions.
    pub report: Report,
    /// 0 clean, 1 findings at or above the threshold.
    pub exit_code: i32,
    /// The threshold applied.
    pub fail_on: Severity,
    /// The stages that ran, in order, with their wall time in milliseconds.
    pub stages: Vec<(&'static str, u128)>,
    /// Files written.
    pub written: Vec<PathBuf>,
}

/// Run the pipeline on the project in `dir`.
pub fn run(dir: &Path, opts: &RunOptions) -> Result<RunOutcome, PipelineError> {
    let cfg_path = dir.join("aigis.toml");
    let config = Config::load(&cfg_path)?;
    let start = Instant::now();
    let ctx = ProjectContext {
        dir: dir.to_path_buf(),
        config: config.clone(),
    };
    let mut report = Report::new(RUN_SCHEMA);
    let mut timings = Vec::new();
    for stage in stages::build(&config).map_err(|message| PipelineError::Config {
        path: cfg_path.clone(),
        message,
    })? {
        let t = Instant::now();
        stage.run(&ctx, &mut report)?;
        timings.push((stage.name(), t.elapsed().as_millis()));
    }
    let today = opts.today.unwrap_or_else(today);
    report.suppressed =
        policy::apply_suppressions(&mut report.findings, &config.suppress, today, "aigis.toml");
    report.finish();
    report.elapsed_ms = start.elapsed().as_millis();
    let fail_on = opts.fail_on.unwrap_or(config.policy.fail_on);
    let exit_code = policy::report_exit_code(&report, fail_on);
    let out_dir = opts.out_dir.clone().unwrap_or_else(|| dir.to_path_buf());
    std::fs::create_dir_all(&out_dir).map_err(|source| PipelineError::Io {
        op: "creating",
        path: out_dir.clone(),
        source,
    })?;
    let version = env!("CARGO_PKG_VERSION");
    let reg = rules();
    let mut written = Vec::new();
    for (name, fmt) in [
        ("aigis-report.json", Format::Json),
        ("aigis-report.html", Format::Html),
    ] {
        let path = out_dir.join(name);
        fsutil::write_atomic(
            &path,
            render::render(&report, fmt, &reg, version).as_bytes(),
        )
        .map_err(|source| PipelineError::Io {
            op: "writing",
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(RunOutcome {
        report,
        exit_code,
        fail_on,
        stages: timings,
        written,
    })
}
