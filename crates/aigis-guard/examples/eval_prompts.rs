//! Scores the prompt-injection detector (signatures + classifier, as `aigis guard classify`
//! runs it) on the labelled development prompts with splits it was not trained on:
//!
//! - leave-one-category-out: for every attack category C and benign fold f (5 folds), a model
//!   is trained on the attacks outside C and the benign prompts outside f; C's attacks are
//!   scored by the model of their own fold, benign prompts by the models that did not see them;
//! - 5-fold cross-validation (in-distribution, for reference).
//!
//! Prints TPR per category and FPR per benign category at the default block threshold and at
//! the threshold that keeps FPR <= 1%. The signatures were written from the whole development
//! set, so they are not held out: the classifier part is.
//!
//! `cargo run --release -p aigis-guard --example eval_prompts [-- --json OUT.json]`

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use aigis_guard::model::{TrainParams, train};
use rayon::prelude::*;

const FOLDS: u64 = 5;

/// (category, fold, [(sample, score)]) of one held-out model.
type Scored = (usize, usize, Vec<(usize, f32)>);

/// Training settings, overridable for exploration (`AIGIS_L2`, `AIGIS_EPOCHS`, `AIGIS_RATE`).
fn params() -> TrainParams {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f32>().ok());
    let d = TrainParams::default();
    TrainParams {
        l2: env("AIGIS_L2").unwrap_or(d.l2),
        epochs: env("AIGIS_EPOCHS").map_or(d.epochs, |e| e as usize),
        rate: env("AIGIS_RATE").unwrap_or(d.rate),
        ..d
    }
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/prompts");
    let samples = match common::load(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // Everything but the classifier, as the default chain scores it: signatures, and the
    // invisible-text scanner (which blocks on its own).
    let invisible = aigis_guard::scanners::invisible::InvisibleText::new(
        &aigis_guard::scanners::invisible::Config::default(),
    );
    let sig: Vec<f32> = samples
        .iter()
        .map(|s| {
            use aigis_guard::Scanner as _;
            let blocked = invisible
                .scan("", &s.prepared)
                .iter()
                .any(|h| h.action == aigis_guard::Action::Block);
            if blocked {
                1.0
            } else {
                aigis_guard::signatures::scan(&s.prepared).score
            }
        })
        .collect();
    let fold: Vec<usize> = samples.iter().map(|s| common::fold(&s.id, FOLDS)).collect();
    let mut cats: Vec<&str> = samples
        .iter()
        .filter(|s| s.attack)
        .map(|s| s.category.as_str())
        .collect();
    cats.sort_unstable();
    cats.dedup();

    // LOCO: scores[i] for attacks; benign scores per held-out category model (averaged rates).
    let jobs: Vec<(usize, usize)> = (0..cats.len())
        .flat_map(|c| (0..FOLDS as usize).map(move |f| (c, f)))
        .collect();
    let results: Vec<Scored> = jobs
        .par_iter()
        .map(|&(c, f)| {
            let train_set: Vec<(Vec<(u32, f32)>, bool)> = samples
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    if s.attack {
                        s.category != cats[c]
                    } else {
                        fold[*i] != f
                    }
                })
                .map(|(_, s)| (s.features.clone(), s.attack))
                .collect();
            let m = train(&train_set, params());
            let scored = samples
                .iter()
                .enumerate()
                .filter(|(i, s)| fold[*i] == f && (!s.attack || s.category == cats[c]))
                .map(|(i, s)| (i, m.score(&s.features).max(sig[i])))
                .collect();
            (c, f, scored)
        })
        .collect();
    // Attack scores (one model each); benign scores: one per (category model, prompt).
    let mut attack_score = vec![f32::NAN; samples.len()];
    let mut benign_scores: Vec<(usize, f32)> = Vec::new();
    for (_, _, scored) in &results {
        for &(i, s) in scored {
            if samples[i].attack {
                attack_score[i] = s;
            } else {
                benign_scores.push((i, s));
            }
        }
    }
    // 5-fold CV, in-distribution.
    let cv: Vec<(usize, f32)> = (0..FOLDS as usize)
        .into_par_iter()
        .flat_map(|f| {
            let train_set: Vec<(Vec<(u32, f32)>, bool)> = samples
                .iter()
                .enumerate()
                .filter(|(i, _)| fold[*i] != f)
                .map(|(_, s)| (s.features.clone(), s.attack))
                .collect();
            let m = train(&train_set, params());
            samples
                .iter()
                .enumerate()
                .filter(|(i, _)| fold[*i] == f)
                .map(|(i, s)| (i, m.score(&s.features).max(sig[i])))
                .collect::<Vec<_>>()
        })
        .collect();

    let fpr_at = |t: f32, scores: &[(usize, f32)]| {
        let b: Vec<f32> = scores
            .iter()
            .filter(|(i, _)| !samples[*i].attack)
            .map(|(_, s)| *s)
            .collect();
        b.iter().filter(|s| **s >= t).count() as f64 / b.len().max(1) as f64
    };
    let loco_attacks: Vec<(usize, f32)> = attack_score
        .iter()
        .enumerate()
        .filter(|(i, _)| samples[*i].attack)
        .map(|(i, s)| (i, *s))
        .collect();
    let tpr_at = |t: f32, scores: &[(usize, f32)]| {
        let a: Vec<f32> = scores
            .iter()
            .filter(|(i, _)| samples[*i].attack)
            .map(|(_, s)| *s)
            .collect();
        a.iter().filter(|s| **s >= t).count() as f64 / a.len().max(1) as f64
    };
    // The lowest threshold keeping LOCO FPR <= 1%.
    let mut t01 = 1.0f32;
    for k in (0..=100).rev() {
        let t = k as f32 / 100.0;
        if fpr_at(t, &benign_scores) <= 0.01 {
            t01 = t;
        } else {
            break;
        }
    }
    let default_t = aigis_guard::scanners::injection::Config::default().block;
    let mut report = serde_json::Map::new();
    for (name, t) in [("default", default_t), ("fpr_1pct", t01)] {
        println!("\n== threshold {t:.2} ({name})");
        println!(
            "leave-one-category-out: TPR {:.3}  FPR {:.3}",
            tpr_at(t, &loco_attacks),
            fpr_at(t, &benign_scores)
        );
        println!(
            "5-fold CV (in-distribution): TPR {:.3}  FPR {:.3}",
            tpr_at(t, &cv),
            fpr_at(t, &cv)
        );
        let mut per_cat = BTreeMap::new();
        for c in &cats {
            let a: Vec<f32> = loco_attacks
                .iter()
                .filter(|(i, _)| samples[*i].category == *c)
                .map(|(_, s)| *s)
                .collect();
            let tpr = a.iter().filter(|s| **s >= t).count() as f64 / a.len().max(1) as f64;
            println!("  attack {c:<26} n={:<4} TPR {tpr:.3}", a.len());
            per_cat.insert(c.to_string(), serde_json::json!({"n": a.len(), "tpr": tpr}));
        }
        let mut bcats: Vec<&str> = samples
            .iter()
            .filter(|s| !s.attack)
            .map(|s| s.category.as_str())
            .collect();
        bcats.sort_unstable();
        bcats.dedup();
        let mut per_benign = BTreeMap::new();
        for c in bcats {
            let b: Vec<f32> = benign_scores
                .iter()
                .filter(|(i, _)| samples[*i].category == c)
                .map(|(_, s)| *s)
                .collect();
            let fpr = b.iter().filter(|s| **s >= t).count() as f64 / b.len().max(1) as f64;
            println!(
                "  benign {c:<26} n={:<4} FPR {fpr:.3}",
                b.len() / cats.len()
            );
            per_benign.insert(c.to_string(), fpr);
        }
        report.insert(
            name.to_string(),
            serde_json::json!({
                "threshold": t,
                "loco": {"tpr": tpr_at(t, &loco_attacks), "fpr": fpr_at(t, &benign_scores)},
                "cv5": {"tpr": tpr_at(t, &cv), "fpr": fpr_at(t, &cv)},
                "attack_categories": per_cat,
                "benign_categories": per_benign,
            }),
        );
    }
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--misses") {
        // Attacks missed and benign prompts blocked at the default threshold, for review.
        for (i, s) in loco_attacks.iter().filter(|(_, s)| *s < default_t) {
            let t: String = samples[*i].prepared.norm.chars().take(160).collect();
            println!("MISS {} {s:.2} {t:?}", samples[*i].category);
        }
        let mut seen = std::collections::HashSet::new();
        for (i, s) in benign_scores.iter().filter(|(_, s)| *s >= default_t) {
            if seen.insert(*i) {
                let t: String = samples[*i].prepared.norm.chars().take(160).collect();
                let names = aigis_guard::signatures::scan(&samples[*i].prepared).names;
                println!("FP {} {s:.2} {names:?} {t:?}", samples[*i].category);
            }
        }
    }
    if let Some(i) = args.iter().position(|a| a == "--json")
        && let Some(path) = args.get(i + 1)
        && let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        )
    {
        eprintln!("error: writing {path}: {e}");
        std::process::exit(2);
    }
}
