//! Trains the embedded prompt-injection classifier on `data/prompts/` and writes
//! `data/injection-model.bin`. Deterministic: the same data and settings give the same bytes.
//!
//! `cargo run --release -p aigis-guard --example train_model`

#[path = "common/mod.rs"]
mod common;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let samples = match common::load(&dir.join("prompts")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let data: Vec<(Vec<(u32, f32)>, bool)> = samples
        .iter()
        .map(|s| (s.features.clone(), s.attack))
        .collect();
    let model = aigis_guard::model::train(&data, aigis_guard::model::TrainParams::default());
    let out = dir.join("injection-model.bin");
    let tmp = out.with_extension("bin.tmp");
    if let Err(e) =
        std::fs::write(&tmp, model.to_bytes()).and_then(|()| std::fs::rename(&tmp, &out))
    {
        eprintln!("error: writing {}: {e}", out.display());
        std::process::exit(2);
    }
    let correct = samples
        .iter()
        .filter(|s| (model.score(&s.features) >= 0.5) == s.attack)
        .count();
    eprintln!(
        "trained on {} prompts ({} attacks); training accuracy {:.3}; wrote {}",
        samples.len(),
        samples.iter().filter(|s| s.attack).count(),
        correct as f64 / samples.len() as f64,
        out.display()
    );
}
