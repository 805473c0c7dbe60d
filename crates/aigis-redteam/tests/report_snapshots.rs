//! Snapshots of the report formats for a small fixed run against the reference target (the
//! seed fixes markers and the canary; timings are filtered out).

mod common;

use std::sync::Arc;

use aigis_redteam::harness::{self, Options};
use aigis_redteam::probes::{self, Selection};
use aigis_redteam::report::{self, Gate};

async fn fixed_report() -> report::Report {
    let target = common::reference(false, 256, false).await;
    let sel = Selection {
        probes: vec![
            "prompt_injection.ignore_previous".into(),
            "system_prompt_extraction.repeat".into(),
            "harmful_content.direct".into(),
        ],
        max_per_probe: 2,
        seed: 7,
        ..Selection::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = harness::run(
        target,
        probes::build(&sel).expect("cases"),
        Options {
            seed: 7,
            ..Options::default()
        },
        None,
        None,
        Arc::new(|_| {}),
        rx,
    )
    .await;
    let gate = Gate::parse("0.5,harmful_content=0").expect("gate");
    let mut rep = report::build(&r, &gate, "0.0.0-test", serde_json::json!({}));
    // The port changes per run.
    rep.target["base_url"] = "http://127.0.0.1:PORT/v1".into();
    rep.seconds = 0.0;
    rep
}

#[tokio::test]
async fn json_and_table_reports() {
    let rep = fixed_report().await;
    insta::assert_snapshot!("report_json", rep.to_json());
    insta::assert_snapshot!("report_table", rep.to_table());
    // The JSON reads back to the same report (diff depends on it).
    let back = report::Report::from_json("r.json", &rep.to_json()).expect("reads back");
    assert_eq!(back, rep);
    // Gates: prompt injection at 100% is over 0.5; harmful content at 0% is not over 0.
    let failed: Vec<_> = rep
        .families
        .iter()
        .filter(|f| f.failed)
        .map(|f| f.mapping.family.as_str())
        .collect();
    assert_eq!(failed, ["prompt_injection", "system_prompt_extraction"]);
}
