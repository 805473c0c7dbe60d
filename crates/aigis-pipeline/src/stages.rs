//! Pipeline stages. A stage takes the project context and adds findings and file records to
//! the run's report. Adding a stage is one file and one line in [`build`].

use std::path::PathBuf;
use std::time::Duration;

use aigis_core::Report;

use crate::config::parse_allow;
use crate::{Config, PipelineError};

/// What every stage can see.
#[derive(Debug, Clone)]
pub struct ProjectContext {
    /// The project directory.
    pub dir: PathBuf,
    /// Its parsed config.
    pub config: Config,
}

/// One step of the pipeline.
pub trait Stage {
    /// The name used in `[pipeline] stages`.
    fn name(&self) -> &'static str;
    /// Run over the project, adding to `report`.
    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError>;
}

/// Stages the design names that this version does not have yet.
const PLANNED: &[&str] = &["pii", "bom", "monitor"];

const AVAILABLE: &str = "scan, sign, verify, data, guard, drift, redteam, robust";

/// Build the configured stages, or say which name is wrong.
pub(crate) fn build(config: &Config) -> Result<Vec<Box<dyn Stage>>, String> {
    let mut out: Vec<Box<dyn Stage>> = Vec::new();
    for s in &config.pipeline.stages {
        match s.as_str() {
            "scan" => out.push(Box::new(ScanStage)),
            "sign" => out.push(Box::new(crate::sign_stages::SignStage)),
            "verify" => out.push(Box::new(crate::sign_stages::VerifyStage)),
            "data" => out.push(Box::new(crate::data_stage::DataStage)),
            "guard" => out.push(Box::new(crate::guard_stage::GuardStage)),
            "drift" => out.push(Box::new(crate::drift_stage::DriftStage)),
            "redteam" => out.push(Box::new(crate::redteam_stage::RedteamStage)),
            "robust" => out.push(Box::new(crate::robust_stage::RobustStage)),
            p if PLANNED.contains(&p) => {
                return Err(format!(
                    "stage `{p}` is not available in this version of aigis; available: {AVAILABLE}"
                ));
            }
            other => return Err(format!("unknown stage `{other}`; available: {AVAILABLE}")),
        }
    }
    if out.is_empty() {
        return Err("no stages configured; an empty pipeline checks nothing".into());
    }
    Ok(out)
}

/// `scan`: every model file under `[scan] paths`.
struct ScanStage;

impl Stage for ScanStage {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let cfg = &ctx.config.scan;
        let mut opts = aigis_scan::ScanOptions {
            digest: cfg.digest,
            ..Default::default()
        };
        opts.extra_allow = cfg.allow.iter().filter_map(|a| parse_allow(a)).collect();
        if let Some(d) = cfg.max_depth {
            opts.max_depth = d;
        }
        if let Some(t) = cfg.timeout_secs {
            opts.time_budget = Duration::from_secs(t);
        }
        let paths: Vec<PathBuf> = cfg.paths.iter().map(|p| ctx.dir.join(p)).collect();
        for p in &paths {
            if !p.exists() {
                return Err(PipelineError::Io {
                    op: "scanning",
                    path: p.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "path in [scan] paths does not exist",
                    ),
                });
            }
        }
        let mut r = aigis_scan::scan_paths(&paths, &opts, Some(&ctx.dir), &|_, _| {});
        // The run's own reports live in the project directory; they are outputs, not inputs.
        r.files.retain(|f| !f.path.starts_with("aigis-report."));
        r.findings
            .retain(|f| !f.location.path.starts_with("aigis-report."));
        report.files.append(&mut r.files);
        report.findings.append(&mut r.findings);
        report.errors.append(&mut r.errors);
        Ok(())
    }
}
