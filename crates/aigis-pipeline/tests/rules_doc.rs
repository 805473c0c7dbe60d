//! `docs/rules.md` is generated from the rule registry, the same text `aigis rules ID` prints.
//! Regenerate with `AIGIS_UPDATE_DOCS=1 cargo test -p aigis-pipeline --test rules_doc`.

use std::fmt::Write;

fn render() -> String {
    let mut out = String::from(
        "# Rules\n\nGenerated from the rule registry by `crates/aigis-pipeline/tests/rules_doc.rs`; `aigis rules ID` prints the same text.\n\n| id | name | default severity | summary |\n|---|---|---|---|\n",
    );
    let reg = aigis_pipeline::rules();
    for r in reg.all() {
        let _ = writeln!(
            out,
            "| [{}](#{}) | `{}` | {} | {} |",
            r.id,
            r.id.to_lowercase(),
            r.name,
            r.severity,
            r.summary
        );
    }
    for r in reg.all() {
        let cwe: Vec<String> = r.cwe.iter().map(|c| format!("CWE-{c}")).collect();
        let _ = write!(
            out,
            "\n## {}\n\n`{}` · default severity **{}**{}\n\n{}\n\n{}",
            r.id,
            r.name,
            r.severity,
            if cwe.is_empty() {
                String::new()
            } else {
                format!(" · {}", cwe.join(", "))
            },
            r.summary,
            r.doc.replace("## ", "### ")
        );
    }
    out
}

#[test]
fn rules_doc_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    let want = render();
    if std::env::var_os("AIGIS_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("writing docs/rules.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/rules.md is stale: run AIGIS_UPDATE_DOCS=1 cargo test -p aigis-pipeline --test rules_doc"
    );
}

#[test]
fn every_rule_is_documented_in_every_section() {
    let problems = aigis_pipeline::rules().problems();
    assert!(problems.is_empty(), "{problems:#?}");
}
