//! `robust`: runs `[robust]`'s attacks on the project's ONNX classifier and test data and
//! raises ROB102 when clean accuracy and ROB101 when robust accuracy (each sample's worst case
//! over the attacks) is below its gate, and ROB104 when black-box attacks beat the white-box
//! ones (gradient masking). A model or data file that cannot be read or run stops the stage
//! with the reason (fail closed).

use aigis_core::{FileRecord, Finding, Location, Report, Verdict};
use aigis_robust::attack::{Norm, Range};
use aigis_robust::engine::Session;
use aigis_robust::eval::{self, Attack, Plan};
use aigis_robust::onnx;
use aigis_robust::rules::{ROB101, ROB102, ROB104};

use crate::PipelineError;
use crate::stages::{ProjectContext, Stage};

/// The `robust` stage.
pub(crate) struct RobustStage;

impl Stage for RobustStage {
    fn name(&self) -> &'static str {
        "robust"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let config_err = |message: String| PipelineError::Config {
            path: ctx.dir.join("aigis.toml"),
            message,
        };
        let Some(cfg) = &ctx.config.robust else {
            return Err(config_err(
                "the `robust` stage needs [robust] model, data and eps".into(),
            ));
        };
        let stage_err = |message: String| PipelineError::Stage {
            stage: "robust",
            message,
        };
        let norm = match cfg.norm.as_str() {
            "linf" => Norm::Linf,
            "l2" => Norm::L2,
            other => {
                return Err(config_err(format!(
                    "[robust] norm = `{other}`: use linf or l2"
                )));
            }
        };
        let attacks = Attack::parse_list(&cfg.attack)
            .map_err(|e| config_err(format!("[robust] attack = `{}`: {e}", cfg.attack)))?;
        eval::check_norm(&attacks, norm).map_err(|e| config_err(format!("[robust] {e}")))?;
        let r = Range {
            lo: cfg.clip[0],
            hi: cfg.clip[1],
        };
        if !(cfg.eps.is_finite() && cfg.eps > 0.0)
            || r.lo >= r.hi
            || cfg.steps == 0
            || cfg.queries < 10
        {
            return Err(config_err(
                "[robust] needs eps > 0, steps > 0, queries >= 10 and clip = [lo, hi] with lo < hi"
                    .into(),
            ));
        }
        let read = |rel: &str| {
            std::fs::read(ctx.dir.join(rel)).map_err(|source| PipelineError::Io {
                op: "reading",
                path: ctx.dir.join(rel),
                source,
            })
        };
        let bytes = read(&cfg.model)?;
        let mut session = onnx::parse(&bytes)
            .and_then(Session::new)
            .map_err(|e| stage_err(format!("{}: {e}", cfg.model)))?;
        if !cfg.mean.is_empty() || !cfg.std.is_empty() {
            session = session
                .with_normalisation(cfg.mean.clone(), cfg.std.clone())
                .map_err(|e| config_err(format!("[robust] mean/std: {e}")))?;
        }
        let (x, y) = session
            .load_labelled(&cfg.data, &read(&cfg.data)?)
            .map_err(|e| stage_err(e.to_string()))?;
        let plan = Plan {
            attacks,
            eps: vec![cfg.eps as f32],
            steps: cfg.steps,
            norm,
            restarts: 1,
            queries: cfg.queries,
            seed: cfg.seed,
            range: r,
        };
        let result = eval::evaluate(&session, &x, &y, &plan, &mut |_, _| {})
            .map_err(|e| stage_err(format!("{}: {e}", cfg.model)))?;
        let clean = result.clean_accuracy;
        let point = result
            .curve
            .first()
            .ok_or_else(|| stage_err("no budget evaluated".into()))?;
        let robust = point.robust_accuracy;
        let mut failed = false;
        let what = format!(
            "{} eps={} ({})",
            cfg.attack,
            cfg.eps,
            if norm == Norm::L2 { "L2" } else { "L-inf" }
        );
        if let Some(gate) = cfg.min_clean_accuracy.filter(|g| clean < *g) {
            failed = true;
            report.findings.push(
                Finding::new(
                    &ROB102,
                    format!("clean accuracy {clean:.4} (gate {gate:.4})"),
                    Location::file(cfg.model.clone()),
                )
                .evidence(format!("{} samples of {}", y.len(), cfg.data)),
            );
        }
        for w in &result.warnings {
            failed = true;
            report.findings.push(
                Finding::new(&ROB104, w.clone(), Location::file(cfg.model.clone())).evidence(
                    format!(
                        "robust accuracy per attack: {}",
                        point
                            .attacks
                            .iter()
                            .map(|(a, v)| format!("{a} {v:.4}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            );
        }
        if let Some(gate) = cfg.min_robust_accuracy.filter(|g| robust < *g) {
            failed = true;
            report.findings.push(
                Finding::new(
                    &ROB101,
                    format!("robust accuracy {robust:.4} under {what} (gate {gate:.4})"),
                    Location::file(cfg.model.clone()),
                )
                .evidence(format!(
                    "clean accuracy {clean:.4}, {} samples of {}",
                    y.len(),
                    cfg.data
                )),
            );
        }
        report.files.push(FileRecord {
            path: cfg.model.clone(),
            format: "onnx/classifier".into(),
            bytes: bytes.len() as u64,
            sha256: None,
            verdict: if failed {
                Verdict::Unsafe
            } else {
                Verdict::Clean
            },
            incomplete: false,
        });
        Ok(())
    }
}
