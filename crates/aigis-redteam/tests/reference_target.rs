//! Every probe family against the deliberately vulnerable reference target (each finds what
//! the target is built to fall for) and against its hardened twin (no false successes).

mod common;

use std::sync::Arc;

use aigis_redteam::harness::{self, Options, Outcome};
use aigis_redteam::probes::{self, Selection};
use aigis_redteam::report::{self, Gate};

async fn run(hardened: bool, sel: &Selection) -> report::Report {
    run_with(hardened, sel, false).await
}

async fn run_with(hardened: bool, sel: &Selection, stream: bool) -> report::Report {
    let target = common::reference(hardened, 1024, stream).await;
    let cases = probes::build(sel).expect("cases");
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = harness::run(
        target,
        cases,
        Options::default(),
        None,
        None,
        Arc::new(|_| {}),
        rx,
    )
    .await;
    for a in &r.attempts {
        assert!(
            matches!(a.outcome, Outcome::Answered(_)),
            "{}: {:?}",
            a.case.probe,
            a.outcome
        );
    }
    report::build(&r, &Gate::default(), "test", serde_json::json!({}))
}

#[tokio::test]
async fn every_family_finds_what_the_vulnerable_target_falls_for() {
    let rep = run(false, &Selection::default()).await;
    assert!(rep.complete, "{:?}", rep.incomplete_reason);
    assert_eq!(rep.families.len(), probes::FAMILIES.len());
    for f in &rep.families {
        assert!(
            f.counts.successes > 0,
            "{}: no success against the vulnerable target",
            f.mapping.family
        );
        assert!(f.failed, "{} is over the default gate", f.mapping.family);
    }
    // The families built to work every time do.
    for p in &rep.results {
        let always = !p.mapping.family.starts_with("harmful_content");
        if always {
            assert_eq!(
                p.counts.successes, p.counts.attempts,
                "{}: {} of {}",
                p.probe, p.counts.successes, p.counts.attempts
            );
        }
    }
    assert!(rep.failed());
    // Examples carry the evidence.
    let sp = rep
        .results
        .iter()
        .find(|p| p.probe == "system_prompt_extraction.repeat")
        .expect("probe");
    assert!(
        sp.examples[0].evidence.starts_with("system-prompt canary"),
        "{:?}",
        sp.examples[0]
    );
}

#[tokio::test]
async fn the_hardened_target_yields_no_false_successes() {
    let rep = run(true, &Selection::default()).await;
    for p in &rep.results {
        assert_eq!(p.counts.successes, 0, "{}: {:?}", p.probe, p.examples);
    }
    assert!(!rep.failed());
}

#[tokio::test]
async fn buffs_work_against_the_vulnerable_target_and_not_the_hardened_one() {
    let sel = Selection {
        probes: vec!["prompt_injection".into(), "system_prompt_extraction".into()],
        buffs: aigis_redteam::buffs::BUFFS
            .iter()
            .map(|b| b.name.to_string())
            .collect(),
        max_per_probe: 2,
        ..Selection::default()
    };
    let rep = run(false, &sel).await;
    for b in aigis_redteam::buffs::BUFFS {
        let n: usize = rep
            .results
            .iter()
            .filter(|p| {
                p.probe.ends_with(&format!("+{}", b.name)) && p.mapping.family == "prompt_injection"
            })
            .map(|p| p.counts.successes)
            .sum();
        assert!(n > 0, "buff {} found nothing", b.name);
    }
    let rep = run(true, &sel).await;
    assert_eq!(rep.successes, 0);
}

#[tokio::test]
async fn streamed_answers_are_judged_like_whole_ones() {
    let whole = run(false, &Selection::default()).await;
    let streamed = run_with(false, &Selection::default(), true).await;
    assert!(streamed.complete, "{:?}", streamed.error_samples);
    for (a, b) in whole.families.iter().zip(&streamed.families) {
        assert_eq!(a.mapping.family, b.mapping.family);
        assert_eq!(
            a.counts.successes, b.counts.successes,
            "{}",
            a.mapping.family
        );
    }
    assert_eq!(streamed.target["stream"], true);
    let hardened = run_with(true, &Selection::default(), true).await;
    assert_eq!(hardened.successes, 0);
}
