//! `aigis robust eval`: load the model and data, run the attack, print DESIGN.md §3's JSON or
//! a table.

use std::path::Path;
use std::time::Instant;

use aigis_robust::attack::{self, Range};
use aigis_robust::engine::Session;
use aigis_robust::{npz, onnx};
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;

use crate::cli::{AttackKind, FingerprintArgs, MachineFormat, NormKind, RobustCommand};
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
            seed,
            clip,
            format,
            output,
        } => eval(
            model,
            data,
            &Plan {
                kind: *attack,
                eps: *eps,
                steps: *steps,
                norm: *norm,
                restarts: *restarts,
                seed: *seed,
            },
            clip,
            *format,
            output.as_deref(),
        ),
    }
}

fn range(clip: &str) -> Result<Range> {
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

/// What `eval` runs.
struct Plan {
    kind: AttackKind,
    eps: f64,
    steps: usize,
    norm: NormKind,
    restarts: usize,
    seed: u64,
}

fn eval(
    model: &Path,
    data: &Path,
    plan: &Plan,
    clip: &str,
    format: MachineFormat,
    output: Option<&Path>,
) -> Result<u8> {
    let Plan {
        kind,
        eps,
        steps,
        norm,
        restarts,
        seed,
    } = *plan;
    let r = range(clip)?;
    if kind == AttackKind::Fgsm && (norm != NormKind::Linf || restarts > 1) {
        bail!("--norm and --restarts apply to PGD; FGSM is L-inf and deterministic");
    }
    if restarts == 0 {
        bail!("--restarts 0: give at least 1 (one run from x)");
    }
    // An L-inf budget beyond the input range changes nothing more; L2 budgets are not bounded
    // by it.
    let limit = match norm {
        NormKind::Linf => f64::from(r.hi - r.lo),
        NormKind::L2 => f64::INFINITY,
    };
    if !(eps.is_finite() && eps > 0.0 && eps <= limit) {
        bail!(
            "--eps {eps}: give a budget above 0 and at most the input range ({})",
            r.hi - r.lo
        );
    }
    if kind == AttackKind::Pgd && steps == 0 {
        bail!("--steps 0: PGD needs at least one step");
    }
    let started = Instant::now();
    let (_, session) = load_model(model)?;
    let raw = std::fs::read(data).with_context(|| format!("reading {}", data.display()))?;
    let (x, y) = npz::load_xy(&data.display().to_string(), &raw).map_err(|e| anyhow!("{e}"))?;
    if x.data.iter().any(|v| !(r.lo..=r.hi).contains(v)) {
        bail!(
            "{}: x holds values outside --clip {clip}; give the model's valid input range",
            data.display()
        );
    }
    let clean =
        attack::correct(&session, &x, &y).map_err(|e| anyhow!("{}: {e}", model.display()))?;
    let adv = match kind {
        AttackKind::Fgsm => attack::fgsm(&session, &x, &y, eps as f32, r),
        AttackKind::Pgd => attack::pgd_restarts(
            &session,
            &x,
            &y,
            eps as f32,
            steps,
            match norm {
                NormKind::Linf => attack::Norm::Linf,
                NormKind::L2 => attack::Norm::L2,
            },
            restarts,
            seed,
            r,
        ),
    }
    .map_err(|e| anyhow!("{e}"))?;
    let robust = attack::correct(&session, &adv, &y).map_err(|e| anyhow!("{e}"))?;
    let n = y.len().max(1) as f64;
    let clean_right = clean.iter().filter(|c| **c).count();
    let flipped = clean
        .iter()
        .zip(&robust)
        .filter(|(c, r)| **c && !**r)
        .count();
    let v = json!({
        "schema": "aigis.robust.eval/v1",
        "model": model.display().to_string(),
        "data": data.display().to_string(),
        "attack": match kind { AttackKind::Fgsm => "fgsm", AttackKind::Pgd => "pgd" },
        "eps": eps,
        "steps": if kind == AttackKind::Pgd { json!(steps) } else { json!(1) },
        "norm": if norm == NormKind::L2 { "l2" } else { "linf" },
        "restarts": restarts,
        "seed": seed,
        "clip": [r.lo, r.hi],
        "clean_accuracy": clean_right as f64 / n,
        "robust_accuracy": robust.iter().filter(|c| **c).count() as f64 / n,
        "attack_success_rate": if clean_right == 0 { 0.0 } else { flipped as f64 / clean_right as f64 },
        "samples": y.len(),
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "conventions": "ART's: L-inf; loss = softmax cross-entropy on the logits against the true label; FGSM x' = clip(x + eps*sign(grad)); PGD from x, step 2.5*eps/steps, projected onto the eps-ball and clipped each step",
    });
    let text = match format {
        MachineFormat::Json => format!("{v:#}\n"),
        MachineFormat::Table => format!(
            "{} on {} ({} samples): clean accuracy {:.4}, robust accuracy {:.4} under {} eps={} ({}), attack success rate {:.4}, {:.2} s\n",
            model.display(),
            data.display(),
            y.len(),
            v["clean_accuracy"].as_f64().unwrap_or(0.0),
            v["robust_accuracy"].as_f64().unwrap_or(0.0),
            v["attack"].as_str().unwrap_or(""),
            eps,
            if kind == AttackKind::Pgd {
                format!("{steps} steps")
            } else {
                "1 step".into()
            },
            v["attack_success_rate"].as_f64().unwrap_or(0.0),
            v["seconds"].as_f64().unwrap_or(0.0),
        ),
    };
    emit(&text, output)?;
    Ok(0)
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
        let changed = !c.identical;
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
