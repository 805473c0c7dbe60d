//! `data`: scans the datasets under `[data] paths` for PII and secrets and turns the per-column
//! counts into findings (`PII101`–`PII104`) by the thresholds in `[data.allow]`.

use aigis_core::{ErrorRecord, FileRecord, Report};
use aigis_data::{Analyzer, Options, dataset};

use crate::PipelineError;
use crate::stages::{ProjectContext, Stage};

/// The `data` stage.
pub(crate) struct DataStage;

impl Stage for DataStage {
    fn name(&self) -> &'static str {
        "data"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let cfg = &ctx.config.data;
        let analyzer = Analyzer::new(Options {
            min_score: cfg.min_score,
            entities: Vec::new(),
        });
        let mut files = Vec::new();
        for p in &cfg.paths {
            let path = ctx.dir.join(p);
            dataset::find(&path, &mut files).map_err(|source| PipelineError::Io {
                op: "listing datasets in",
                path: path.clone(),
                source,
            })?;
        }
        for f in files {
            let rel = f.strip_prefix(&ctx.dir).unwrap_or(&f).display().to_string();
            let bytes = std::fs::metadata(&f).map_or(0, |m| m.len());
            match dataset::scan_file(&analyzer, &f, cfg.sample) {
                Ok(mut r) => {
                    r.path.clone_from(&rel);
                    let found = aigis_data::rules::findings(&r, &cfg.allow);
                    report.files.push(FileRecord {
                        path: rel,
                        format: format!("dataset/{}", r.format),
                        bytes,
                        sha256: None,
                        verdict: aigis_data::rules::verdict(&r, &found),
                        incomplete: r.bad_records > 0,
                    });
                    report.findings.extend(found);
                }
                Err(e) => report.errors.push(ErrorRecord {
                    path: rel,
                    message: format!("reading dataset: {e}"),
                }),
            }
        }
        Ok(())
    }
}
