//! `drift`: compares the current table with the reference (`[drift]`) column by column and
//! reports each drifted column as `MON101`.

use aigis_core::{FileRecord, Finding, Location, Report, Verdict};
use aigis_monitor::drift::{self, Correction};
use aigis_monitor::rules::MON101;

use crate::PipelineError;
use crate::stages::{ProjectContext, Stage};

/// The `drift` stage.
pub(crate) struct DriftStage;

impl Stage for DriftStage {
    fn name(&self) -> &'static str {
        "drift"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let config_err = |message: String| PipelineError::Config {
            path: ctx.dir.join("aigis.toml"),
            message,
        };
        let Some(cfg) = &ctx.config.drift else {
            return Err(config_err(
                "the `drift` stage needs [drift] reference and current".into(),
            ));
        };
        if !(cfg.alpha > 0.0 && cfg.alpha < 1.0) {
            return Err(config_err(format!(
                "[drift] alpha = {}: give a level between 0 and 1",
                cfg.alpha
            )));
        }
        let correction = match cfg.correction.as_str() {
            "bonferroni" => Correction::Bonferroni,
            "fdr" => Correction::Fdr,
            "none" => Correction::None,
            other => {
                return Err(config_err(format!(
                    "[drift] correction = `{other}`: use bonferroni, fdr or none"
                )));
            }
        };
        let types = match &cfg.schema {
            Some(s) => {
                drift::read_schema(&ctx.dir.join(s)).map_err(|e| config_err(e.to_string()))?
            }
            None => std::collections::HashMap::new(),
        };
        let options = drift::Options {
            alpha: cfg.alpha,
            correction,
            min_effect: cfg.min_effect,
            min_rows: cfg.min_rows,
            types,
        };
        let current = ctx.dir.join(&cfg.current);
        let r = match drift::compare_files(&ctx.dir.join(&cfg.reference), &current, &options) {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(aigis_core::ErrorRecord {
                    path: cfg.current.clone(),
                    message: format!("drift: {e}"),
                });
                return Ok(());
            }
        };
        report.files.push(FileRecord {
            path: cfg.current.clone(),
            format: "table/csv".into(),
            bytes: std::fs::metadata(&current).map_or(0, |m| m.len()),
            sha256: None,
            verdict: if r.dataset_drift {
                Verdict::Suspicious
            } else {
                Verdict::Clean
            },
            incomplete: false,
        });
        for c in r.columns.iter().filter(|c| c.drift) {
            let effect = c.effect.as_ref().and_then(|e| match c.effect_metric {
                Some("wasserstein_normed") => e.wasserstein_normed,
                _ => Some(e.js_distance),
            });
            report.findings.push(
                Finding::new(
                    &MON101,
                    format!(
                        "column `{}` drifted ({} statistic {:.4}, p = {:.3e}; {} {:.3})",
                        c.name,
                        c.test,
                        c.statistic.unwrap_or_default(),
                        c.p_value.unwrap_or_default(),
                        c.effect_metric.unwrap_or("effect"),
                        effect.unwrap_or_default()
                    ),
                    Location::file(cfg.current.clone()),
                )
                .evidence(format!(
                    "{} reference and {} current values; reference {}",
                    c.n_reference, c.n_current, cfg.reference
                )),
            );
        }
        Ok(())
    }
}
