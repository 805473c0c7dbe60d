//! `aigis robust eval`: load the model and data, run the attack, print DESIGN.md §3's JSON or
//! a table.

use std::path::Path;
use std::time::Instant;

use std::io::IsTerminal as _;

use aigis_robust::attack::{self, Range};
use aigis_robust::engine::Session;
use aigis_robust::eval::{Attack, Plan};
use aigis_robust::{npz, onnx};
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;

use crate::cli::{
    AttackKind, EvalFormat, FingerprintArgs, HardenArgs, MachineFormat, NormKind, RobustCommand,
};
use crate::commands::emit;

pub fn robust(c: &RobustCommand) -> Result<u8> {
    match c {
        RobustCommand::Eval {
            model,
            data,
            attack,
            eps,
            steps,
            norm,
            restarts,
            queries,
            seed,
            clip,
            mean,
            std,
            format,
            output,
        } => eval(
            model,
            data,
            &Settings {
                attacks: attack.clone(),
                eps: eps.clone(),
                steps: *steps,
                norm: *norm,
                restarts: *restarts,
                queries: *queries,
                seed: *seed,
                mean: mean.clone(),
                std: std.clone(),
            },
            clip,
            *format,
            output.as_deref(),
        ),
        RobustCommand::Harden(a) => harden(a),
    }
}

pub(crate) fn range(clip: &str) -> Result<Range> {
    let (lo, hi) = clip
        .split_once(',')
        .ok_or_else(|| anyhow!("--clip {clip:?}: write it as LO,HI (e.g. 0,1)"))?;
    let lo: f32 = lo
        .trim()
        .parse()
        .map_err(|_| anyhow!("--clip: {lo:?} is not a number"))?;
    let hi: f32 = hi
        .trim()
        .parse()
        .map_err(|_| anyhow!("--clip: {hi:?} is not a number"))?;
    if !lo.is_finite() || !hi.is_finite() || lo >= hi {
        bail!("--clip {clip:?}: LO must be below HI");
    }
    Ok(Range { lo, hi })
}

/// What `eval` runs, as given on the command line.
struct Settings {
    attacks: Vec<AttackKind>,
    eps: Vec<f64>,
    steps: usize,
    norm: NormKind,
    restarts: usize,
    queries: usize,
    seed: u64,
    mean: Vec<f32>,
    std: Vec<f32>,
}

/// The attacks named, `auto` expanded, each once, in a fixed order.
fn attacks_of(kinds: &[AttackKind]) -> Result<Vec<Attack>> {
    // The flag's values are the library's attack names: one parser for CLI and aigis.toml.
    let names: Vec<String> = kinds
        .iter()
        .filter_map(|k| clap::ValueEnum::to_possible_value(k).map(|v| v.get_name().to_string()))
        .collect();
    Attack::parse_list(&names.join(",")).map_err(|e| anyhow!("--attack: {e}"))
}

fn eval(
    model: &Path,
    data: &Path,
    set: &Settings,
    clip: &str,
    format: EvalFormat,
    output: Option<&Path>,
) -> Result<u8> {
    let r = range(clip)?;
    let attacks = attacks_of(&set.attacks)?;
    let only_fgsm = attacks == [Attack::Fgsm];
    if only_fgsm && (set.norm != NormKind::Linf || set.restarts > 1) {
        bail!("--norm and --restarts apply to PGD; FGSM is L-inf and deterministic");
    }
    aigis_robust::eval::check_norm(&attacks, norm_of(set.norm))
        .map_err(|e| anyhow!("--attack/--norm: {e}"))?;
    if set.restarts == 0 {
        bail!("--restarts 0: give at least 1 (one run from x)");
    }
    // An L-inf budget beyond the input range changes nothing more; L2 budgets are not bounded
    // by it.
    let limit = match set.norm {
        NormKind::Linf => f64::from(r.hi - r.lo),
        NormKind::L2 => f64::INFINITY,
    };
    for &eps in &set.eps {
        if !(eps.is_finite() && eps > 0.0 && eps <= limit) {
            bail!(
                "--eps {eps}: give budgets above 0 and at most the input range ({})",
                r.hi - r.lo
            );
        }
    }
    let mut eps = set.eps.clone();
    eps.sort_by(f64::total_cmp);
    eps.dedup();
    if attacks
        .iter()
        .any(|a| matches!(a, Attack::Pgd | Attack::Apgd))
        && set.steps == 0
    {
        bail!("--steps 0: PGD and APGD need at least one step");
    }
    if attacks.iter().any(|a| a.black_box()) && set.queries < 10 {
        bail!(
            "--queries {}: black-box attacks need at least 10 queries per sample",
            set.queries
        );
    }
    let started = Instant::now();
    let (_, session) = load_model(model)?;
    let session = normalised(session, &set.mean, &set.std, model)?;
    if !session.differentiable()
        && let Some(a) = attacks.iter().find(|a| !a.black_box())
    {
        bail!(
            "{}: --attack {}: the model has no gradients (tree ensembles); use --attack square or hopskipjump",
            model.display(),
            a.name()
        );
    }
    let (x, y) = load_data(data, &session, r, clip)?;
    let plan = Plan {
        attacks: attacks.clone(),
        eps: eps.iter().map(|&e| e as f32).collect(),
        steps: set.steps,
        norm: norm_of(set.norm),
        restarts: set.restarts,
        queries: set.queries,
        seed: set.seed,
        range: r,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new((attacks.len() * eps.len()) as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    });
    let report = aigis_robust::eval::evaluate(&session, &x, &y, &plan, &mut |a, e| {
        if let Some(b) = &bar {
            b.set_message(format!("{} eps={e}", a.name()));
            b.inc(1);
        }
    })
    .map_err(|e| anyhow!("{}: {e}", model.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let names: Vec<&str> = attacks.iter().map(|a| a.name()).collect();
    let norm_name = if set.norm == NormKind::L2 {
        "l2"
    } else {
        "linf"
    };
    let settings = format!(
        "{} attack(s) {}; {norm_name}; PGD/APGD {} steps, {} PGD restart(s); black-box {} queries per sample; seed {}; clip [{}, {}]. Conventions: {CONVENTIONS}",
        names.len(),
        names.join(", "),
        set.steps,
        set.restarts,
        set.queries,
        set.seed,
        r.lo,
        r.hi
    );
    let curve: Vec<serde_json::Value> = report
        .curve
        .iter()
        .zip(&eps)
        .map(|(p, e)| {
            json!({"eps": e, "robust_accuracy": p.robust_accuracy, "attack_success_rate": p.attack_success_rate,
                   "attacks": p.attacks, "seconds": p.seconds, "gradient_masking": p.gradient_masking})
        })
        .collect();
    let headline = report
        .curve
        .last()
        .ok_or_else(|| anyhow!("no budget evaluated"))?;
    let v = json!({
        "schema": "aigis.robust.eval/v1",
        "model": model.display().to_string(),
        "data": data.display().to_string(),
        "attack": names.join(","),
        "attacks": names,
        "eps": eps.last(),
        "steps": if only_fgsm { json!(1) } else { json!(set.steps) },
        "norm": norm_name,
        "restarts": set.restarts,
        "queries": set.queries,
        "seed": set.seed,
        "clip": [r.lo, r.hi],
        "normalisation": if set.mean.is_empty() { json!(null) } else { json!({"mean": set.mean, "std": set.std}) },
        "clean_accuracy": report.clean_accuracy,
        "robust_accuracy": headline.robust_accuracy,
        "attack_success_rate": headline.attack_success_rate,
        "samples": report.samples,
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "curve": curve,
        "warnings": report.warnings,
        "conventions": CONVENTIONS,
    });
    let text = match format {
        EvalFormat::Json => format!("{v:#}\n"),
        EvalFormat::Html => aigis_robust::report::html(
            &report,
            &aigis_robust::report::Meta {
                model: &model.display().to_string(),
                data: &data.display().to_string(),
                eps: &eps,
                settings: &settings,
            },
        ),
        EvalFormat::Table => {
            let mut t = format!(
                "{} on {} ({} samples): clean accuracy {:.4}\n{:>8}",
                model.display(),
                data.display(),
                report.samples,
                report.clean_accuracy,
                "eps"
            );
            for n in &names {
                t.push_str(&format!(" {n:>11}"));
            }
            t.push_str("  worst case  success rate\n");
            for (p, e) in report.curve.iter().zip(&eps) {
                t.push_str(&format!("{e:>8}"));
                for n in &names {
                    t.push_str(&format!(
                        " {:>11.4}",
                        p.attacks.get(n).copied().unwrap_or(0.0)
                    ));
                }
                t.push_str(&format!(
                    "  {:>10.4}  {:>12.4}\n",
                    p.robust_accuracy, p.attack_success_rate
                ));
            }
            t.push_str(&format!(
                "{norm_name}; {} s\n",
                v["seconds"].as_f64().unwrap_or(0.0)
            ));
            t
        }
    };
    for w in &report.warnings {
        eprintln!("aigis robust eval: warning: {w}");
    }
    emit(&text, output)?;
    Ok(0)
}

const CONVENTIONS: &str = "ART's: loss = softmax cross-entropy on the logits against the true label; FGSM x' = clip(x + eps*sign(grad)); PGD from x, step 2.5*eps/steps, projected onto the eps-ball and clipped each step; robust accuracy over all samples, per-sample worst case over the attacks";

fn norm_of(n: NormKind) -> attack::Norm {
    match n {
        NormKind::Linf => attack::Norm::Linf,
        NormKind::L2 => attack::Norm::L2,
    }
}

/// Data from `path` (`.npz`, or `.csv` rows `label,f0,f1,…` shaped for the model), every
/// value inside the valid range.
fn load_data(
    path: &Path,
    s: &Session,
    r: Range,
    clip: &str,
) -> Result<(aigis_robust::Tensor, Vec<i64>)> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (x, y) = s
        .load_labelled(&path.display().to_string(), &raw)
        .map_err(|e| anyhow!("{e}"))?;
    if x.data.iter().any(|v| !(r.lo..=r.hi).contains(v)) {
        bail!(
            "{}: x holds values outside --clip {clip}; give the model's valid input range",
            path.display()
        );
    }
    Ok((x, y))
}

/// Clean accuracy and PGD robust accuracy (from x, ART's conventions).
fn figures(
    s: &Session,
    x: &aigis_robust::Tensor,
    y: &[i64],
    eps: f32,
    steps: usize,
    norm: attack::Norm,
    r: Range,
) -> Result<(f64, f64)> {
    let clean = attack::accuracy(s, x, y).map_err(|e| anyhow!("{e}"))?;
    let adv = attack::pgd_from(s, x, x, y, eps, steps, norm, r).map_err(|e| anyhow!("{e}"))?;
    let robust = attack::accuracy(s, &adv, y).map_err(|e| anyhow!("{e}"))?;
    Ok((clean, robust))
}

fn harden(a: &HardenArgs) -> Result<u8> {
    let r = range(&a.clip)?;
    if !(a.eps.is_finite() && a.eps > 0.0) {
        bail!("--eps {}: give a budget above 0", a.eps);
    }
    if !(a.lr.is_finite() && a.lr > 0.0 && a.lr < 1.0) {
        bail!("--lr {}: give a learning rate between 0 and 1", a.lr);
    }
    if a.epochs == 0 || a.steps == 0 || a.eval_steps == 0 || a.batch_size == 0 {
        bail!("--epochs, --steps, --eval-steps and --batch-size must be at least 1");
    }
    let started = Instant::now();
    let (bytes, session) = load_model(&a.model)?;
    let mut session = normalised(session, &a.mean, &a.std, &a.model)?;
    let names = aigis_robust::train::trainable(&session)
        .map_err(|e| anyhow!("{}: {e}", a.model.display()))?;
    // Fail before training if the weights could not be written back (a DOUBLE model).
    let current: std::collections::HashMap<String, aigis_robust::Tensor> = names
        .iter()
        .filter_map(|n| session.weight(n).map(|t| (n.clone(), t.clone())))
        .collect();
    onnx::with_weights(&bytes, &current, &[]).map_err(|e| anyhow!("{}: {e}", a.model.display()))?;
    let (xt, yt) = load_data(&a.train, &session, r, &a.clip)?;
    let held_out = a.test.is_some();
    let (xe, ye) = match &a.test {
        Some(p) => load_data(p, &session, r, &a.clip)?,
        None => (xt.clone(), yt.clone()),
    };
    let norm = norm_of(a.norm);
    let eps = a.eps as f32;
    let before = figures(&session, &xe, &ye, eps, a.eval_steps, norm, r)
        .with_context(|| format!("evaluating {}", a.model.display()))?;
    if !a.quiet {
        eprintln!(
            "aigis robust harden: {} weights of {} ({} values) on {} rows; before: clean {:.4}, robust {:.4}",
            names.len(),
            a.model.display(),
            current.values().map(|t| t.data.len()).sum::<usize>(),
            yt.len(),
            before.0,
            before.1
        );
    }
    let cfg = aigis_robust::train::Config {
        eps,
        steps: a.steps,
        norm,
        epochs: a.epochs,
        batch: a.batch_size,
        lr: a.lr as f32,
        seed: a.seed,
        range: r,
    };
    let mut epochs = Vec::new();
    let quiet = a.quiet;
    let total = a.epochs;
    let weights = aigis_robust::train::harden(&mut session, &xt, &yt, &cfg, &mut |e| {
        if !quiet {
            eprintln!(
                "  epoch {}/{total}: adversarial loss {:.4}",
                e.epoch, e.adversarial_loss
            );
        }
        epochs.push(e);
    })
    .map_err(|e| anyhow!("{}: {e}", a.model.display()))?;
    let after = figures(&session, &xe, &ye, eps, a.eval_steps, norm, r)?;
    let recipe = format!(
        "PGD adversarial training: eps={} norm={} steps={} epochs={} batch={} lr={} seed={}",
        a.eps,
        if norm == attack::Norm::L2 {
            "l2"
        } else {
            "linf"
        },
        a.steps,
        a.epochs,
        a.batch_size,
        a.lr,
        a.seed
    );
    let out = onnx::with_weights(&bytes, &weights, &[("aigis.hardened", &recipe)])
        .map_err(|e| anyhow!("{}: {e}", a.model.display()))?;
    // The file written must run and give exactly the trained session's outputs.
    let check = Session::new(onnx::parse(&out).map_err(|e| anyhow!("the hardened model: {e}"))?)
        .map_err(|e| anyhow!("the hardened model: {e}"))?;
    let probe_rows = ye.len().min(64);
    let probe = aigis_robust::Tensor::new(
        {
            let mut s = xe.shape.clone();
            s[0] = probe_rows;
            s
        },
        xe.data[..probe_rows * (xe.data.len() / ye.len().max(1))].to_vec(),
    )
    .map_err(|e| anyhow!("{e}"))?;
    if check.run(&probe).map_err(|e| anyhow!("{e}"))?
        != session.run(&probe).map_err(|e| anyhow!("{e}"))?
    {
        bail!(
            "internal error: the written model does not reproduce the trained weights; nothing written"
        );
    }
    aigis_core::fsutil::write_atomic(&a.output, &out, false)
        .with_context(|| format!("writing {}", a.output.display()))?;
    let v = json!({
        "schema": "aigis.robust.harden/v1",
        "model": a.model.display().to_string(),
        "output": a.output.display().to_string(),
        "train": a.train.display().to_string(),
        "evaluated_on": a.test.as_ref().unwrap_or(&a.train).display().to_string(),
        "held_out": held_out,
        "recipe": recipe,
        "normalisation": if a.mean.is_empty() { json!(null) } else { json!({"mean": a.mean, "std": a.std}) },
        "weights_trained": names,
        "eval_attack": format!("pgd steps={} from x", a.eval_steps),
        "before": {"clean_accuracy": before.0, "robust_accuracy": before.1},
        "after": {"clean_accuracy": after.0, "robust_accuracy": after.1},
        "epochs": epochs,
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    let text = match a.format {
        MachineFormat::Json => format!("{v:#}\n"),
        MachineFormat::Table => format!(
            "{} -> {} ({}eps={} {}):\n  clean accuracy  {:.4} -> {:.4}\n  robust accuracy {:.4} -> {:.4}  (PGD-{} from x)\n",
            a.model.display(),
            a.output.display(),
            if held_out {
                ""
            } else {
                "evaluated on the training data, "
            },
            a.eps,
            if norm == attack::Norm::L2 {
                "l2"
            } else {
                "linf"
            },
            before.0,
            after.0,
            before.1,
            after.1,
            a.eval_steps
        ),
    };
    emit(&text, None)?;
    Ok(0)
}

/// `s` with `--mean`/`--std` normalisation, when given.
fn normalised(s: Session, mean: &[f32], std: &[f32], model: &Path) -> Result<Session> {
    if mean.is_empty() && std.is_empty() {
        return Ok(s);
    }
    s.with_normalisation(mean.to_vec(), std.to_vec())
        .map_err(|e| anyhow!("{}: --mean/--std: {e}", model.display()))
}

fn load_model(path: &Path) -> Result<(Vec<u8>, Session)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let session =
        Session::new(onnx::parse(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok((bytes, session))
}

fn load_probes(path: Option<&Path>) -> Result<Option<aigis_robust::Tensor>> {
    let Some(p) = path else { return Ok(None) };
    let raw = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(Some(
        npz::load_x(&p.display().to_string(), &raw).map_err(|e| anyhow!("{e}"))?,
    ))
}

pub fn fingerprint(a: &FingerprintArgs) -> Result<u8> {
    let (bytes, session) = load_model(&a.model)?;
    let probes = load_probes(a.probes.as_deref())?;
    if let Some(fp_path) = &a.check {
        let text = std::fs::read_to_string(fp_path)
            .with_context(|| format!("reading {}", fp_path.display()))?;
        let fp: aigis_robust::fingerprint::Fingerprint = serde_json::from_str(&text)
            .map_err(|e| anyhow!("{}: not an aigis fingerprint ({e})", fp_path.display()))?;
        let c = aigis_robust::fingerprint::check(&session, &fp, probes.as_ref())
            .map_err(|e| anyhow!("{}: {e}", fp_path.display()))?;
        let changed = c.changed;
        match a.format {
            MachineFormat::Json => println!(
                "{}",
                json!({"schema": "aigis.fingerprint.check/v1", "model": a.model.display().to_string(),
                       "fingerprint": fp_path.display().to_string(), "changed": changed,
                       "inputs": fp.decisions.len(), "comparison": c})
            ),
            MachineFormat::Table => println!(
                "{}: {} — decisions agree on {:.2}% of {} inputs ({} changed), largest probability change {:.4}, mean {:.6}",
                a.model.display(),
                if changed {
                    "BEHAVIOUR CHANGED"
                } else {
                    "same behaviour"
                },
                c.agreement * 100.0,
                fp.decisions.len(),
                c.changed_decisions,
                c.max_probability_change,
                c.mean_probability_change
            ),
        }
        return Ok(u8::from(changed));
    }
    let out = a.output.as_ref().ok_or_else(|| {
        anyhow!("give -o FP.json to write a fingerprint, or --check FP.json to compare")
    })?;
    let r = range(&a.clip)?;
    let declared = session.input_shape();
    let shape: Vec<usize> = if a.shape.is_empty() {
        declared
            .get(1..)
            .unwrap_or_default()
            .iter()
            .map(|d| {
                d.ok_or_else(|| {
                    anyhow!(
                        "{}: the input has symbolic dimensions besides the batch; give --shape",
                        a.model.display()
                    )
                })
            })
            .collect::<Result<_>>()?
    } else {
        a.shape.clone()
    };
    if shape.is_empty() {
        bail!(
            "{}: the model's input has no sample shape; give --shape",
            a.model.display()
        );
    }
    if a.canaries == 0 && probes.is_none() {
        bail!("--canaries 0 without --probes: nothing to fingerprint");
    }
    let fp = aigis_robust::fingerprint::take(
        &session,
        &bytes,
        a.seed,
        a.canaries,
        &shape,
        r,
        probes.as_ref(),
    )
    .map_err(|e| anyhow!("{}: {e}", a.model.display()))?;
    let text = serde_json::to_string(&fp).context("encoding the fingerprint")?;
    emit(&format!("{text}\n"), Some(out))?;
    eprintln!(
        "aigis fingerprint: {} inputs, digest {}",
        fp.decisions.len(),
        &fp.digest[..16]
    );
    Ok(0)
}
