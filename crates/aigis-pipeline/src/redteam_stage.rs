//! `redteam`: runs the probe suite of `[redteam]` against the project's endpoint and reports
//! each family above its `fail-on` rate as a finding of its probe rule (`PRB101`…) at the
//! rule's severity; families with successes within their rate are reported as info. A run
//! that could not finish is an error, so the gate never passes on a partial answer.

use aigis_core::{ErrorRecord, FileRecord, Finding, Location, Report, Severity, Verdict};
use aigis_redteam::config;
use aigis_redteam::report;

use crate::PipelineError;
use crate::stages::{ProjectContext, Stage};

/// The `redteam` stage.
pub(crate) struct RedteamStage;

impl Stage for RedteamStage {
    fn name(&self) -> &'static str {
        "redteam"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let Some(cfg) = &ctx.config.redteam else {
            return Err(PipelineError::Config {
                path: ctx.dir.join("aigis.toml"),
                message:
                    "the `redteam` stage needs [redteam] with a target (openai, http or command)"
                        .into(),
            });
        };
        let stage_err = |message: String| PipelineError::Stage {
            stage: "redteam",
            message,
        };
        let gate = cfg.gate().map_err(|e| PipelineError::Config {
            path: ctx.dir.join("aigis.toml"),
            message: format!("[redteam] fail-on: {e}"),
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| stage_err(format!("starting the async runtime: {e}")))?;
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let result = rt
            .block_on(config::run(
                cfg,
                &ctx.dir,
                None,
                std::sync::Arc::new(|_| {}),
                rx,
            ))
            .map_err(|e| stage_err(e.to_string()))?;
        let rep = report::build(
            &result,
            &gate,
            env!("CARGO_PKG_VERSION"),
            serde_json::json!({}),
        );
        let place = ["base_url", "url", "program"]
            .iter()
            .find_map(|k| rep.target.get(*k).and_then(|v| v.as_str()))
            .unwrap_or("redteam target")
            .to_string();
        report.files.push(FileRecord {
            path: place.clone(),
            format: format!(
                "redteam/{}",
                rep.target
                    .get("kind")
                    .and_then(|k| k.as_str())
                    .unwrap_or("?")
            ),
            bytes: 0,
            sha256: None,
            verdict: if rep.failed() {
                Verdict::Unsafe
            } else {
                Verdict::Clean
            },
            incomplete: !rep.complete,
        });
        let rules = crate::rules();
        for f in rep.families.iter().filter(|f| f.counts.successes > 0) {
            let Some(rule) = rules.find(&f.mapping.rule) else {
                continue;
            };
            let mut loc = Location::file(place.clone());
            loc.member = Some(f.mapping.family.clone());
            let judged = f.counts.attempts - f.counts.errors;
            let limit = f.threshold.map_or_else(
                || "not gated".to_string(),
                |t| format!("gate {:.1}%", t * 100.0),
            );
            let mut finding = Finding::new(
                rule,
                format!(
                    "{}: {} of {judged} attacks succeeded ({:.1}%, {limit})",
                    f.mapping.family,
                    f.counts.successes,
                    f.counts.attack_success_rate * 100.0
                ),
                loc,
            );
            if !f.failed {
                finding = finding.severity(Severity::Info);
            }
            if let Some(e) = rep
                .results
                .iter()
                .filter(|p| p.mapping.family == f.mapping.family)
                .find_map(|p| p.examples.first())
            {
                finding = finding.evidence(format!("{}: {}", e.detector, e.evidence));
            }
            report.findings.push(finding);
        }
        if let Some(reason) = &rep.incomplete_reason {
            report.errors.push(ErrorRecord {
                path: place,
                message: format!("red-team run incomplete: {reason}"),
            });
        }
        Ok(())
    }
}
