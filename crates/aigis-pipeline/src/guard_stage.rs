//! `guard`: the regression test of the guard configuration. Runs `[guard.input]` over the
//! project's attack and benign prompts (`[guard.stage]`) and fails the gate when too few
//! attacks are blocked (GRD201) or too many benign prompts are (GRD202).

use aigis_core::{ErrorRecord, FileRecord, Finding, Location, Report, Verdict};
use aigis_guard::rules::{GRD201, GRD202};
use aigis_guard::{Action, Chain};
use rayon::prelude::*;

use crate::PipelineError;
use crate::stages::{ProjectContext, Stage};

/// The `guard` stage.
pub(crate) struct GuardStage;

/// The prompts of one file: (id, text), or why it could not be read.
fn load(path: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let jsonl = path.extension().is_none_or(|e| e != "txt");
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if jsonl {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", n + 1))?;
            let t = v
                .get("text")
                .and_then(|t| t.as_str())
                .ok_or_else(|| format!("line {}: no string `text`", n + 1))?;
            let id = v.get("id").map_or_else(
                || (n + 1).to_string(),
                |i| i.as_str().map_or_else(|| i.to_string(), String::from),
            );
            out.push((id, t.to_string()));
        } else {
            out.push(((n + 1).to_string(), line.to_string()));
        }
    }
    Ok(out)
}

impl Stage for GuardStage {
    fn name(&self) -> &'static str {
        "guard"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let cfg = &ctx.config.guard.stage;
        if cfg.attacks.is_empty() && cfg.benign.is_empty() {
            return Err(PipelineError::Config {
                path: ctx.dir.join("aigis.toml"),
                message:
                    "the `guard` stage needs prompt files in [guard.stage] attacks and/or benign"
                        .into(),
            });
        }
        let chain = Chain::new(&ctx.config.guard.input).map_err(|e| PipelineError::Config {
            path: ctx.dir.join("aigis.toml"),
            message: e.to_string(),
        })?;
        for (files, attack) in [(&cfg.attacks, true), (&cfg.benign, false)] {
            for f in files {
                let path = ctx.dir.join(f);
                let prompts = match load(&path) {
                    Ok(p) => p,
                    Err(message) => {
                        report.errors.push(ErrorRecord {
                            path: f.clone(),
                            message: format!("reading prompts: {message}"),
                        });
                        continue;
                    }
                };
                let blocked: Vec<bool> = prompts
                    .par_iter()
                    .map(|(_, t)| chain.scan(t).action == Action::Block)
                    .collect();
                let n = prompts.len();
                let hits = blocked.iter().filter(|b| **b).count();
                let rate = if n == 0 { 0.0 } else { hits as f64 / n as f64 };
                // The prompts that went the wrong way, named by id (never their text).
                let wrong: Vec<&str> = prompts
                    .iter()
                    .zip(&blocked)
                    .filter(|(_, b)| **b != attack)
                    .map(|((id, _), _)| id.as_str())
                    .collect();
                let shown = wrong
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                let failed = if attack {
                    rate < cfg.min_block_rate
                } else {
                    rate > cfg.max_false_positive_rate
                };
                report.files.push(FileRecord {
                    path: f.clone(),
                    format: if attack {
                        "prompts/attacks"
                    } else {
                        "prompts/benign"
                    }
                    .into(),
                    bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
                    sha256: None,
                    verdict: match (failed, attack) {
                        (false, _) => Verdict::Clean,
                        (true, true) => Verdict::Unsafe,
                        (true, false) => Verdict::Suspicious,
                    },
                    incomplete: false,
                });
                if !failed {
                    continue;
                }
                let finding = if attack {
                    Finding::new(
                        &GRD201,
                        format!(
                            "blocked {hits} of {n} attack prompts ({rate:.3} < {:.3})",
                            cfg.min_block_rate
                        ),
                        Location::file(f.clone()),
                    )
                    .evidence(format!("missed: {shown}"))
                } else {
                    Finding::new(
                        &GRD202,
                        format!(
                            "blocked {hits} of {n} benign prompts ({rate:.3} > {:.3})",
                            cfg.max_false_positive_rate
                        ),
                        Location::file(f.clone()),
                    )
                    .evidence(format!("blocked: {shown}"))
                };
                report.findings.push(finding);
            }
        }
        Ok(())
    }
}
