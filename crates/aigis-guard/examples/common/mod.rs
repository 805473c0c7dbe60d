//! Loading the labelled prompt set, shared by the training and evaluation examples.
#![allow(dead_code)]

use rayon::prelude::*;

/// One labelled prompt with its features.
pub struct Sample {
    pub id: String,
    pub category: String,
    pub attack: bool,
    pub prepared: aigis_guard::Prepared,
    pub features: Vec<(u32, f32)>,
}

/// Reads `attacks.jsonl` and `benign.jsonl` from `dir` and prepares every prompt.
pub fn load(dir: &std::path::Path) -> Result<Vec<Sample>, String> {
    let mut rows = Vec::new();
    for (file, attack) in [("attacks.jsonl", true), ("benign.jsonl", false)] {
        let path = dir.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            rows.push((field("id"), field("category"), attack, field("text")));
        }
    }
    Ok(rows
        .into_par_iter()
        .map(|(id, category, attack, text)| {
            let prepared = aigis_guard::Prepared::new(&text);
            let features = aigis_guard::model::features(&prepared);
            Sample {
                id,
                category,
                attack,
                prepared,
                features,
            }
        })
        .collect())
}

/// A stable fold number in `0..k` from an id.
pub fn fold(id: &str, k: u64) -> usize {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % k) as usize
}
