//! The `redteam` stage against the reference target: families above their gate are
//! findings at their rule's severity, successes within it are info, a target that cannot be
//! reached is an error.

mod common;

use aigis_core::Severity;
use aigis_pipeline::{RunOptions, run};

/// The reference target on its own thread and runtime (the stage runs its own).
fn reference_target(hardened: bool) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (addr, _) = aigis_redteam::vulnerable::spawn(
                "127.0.0.1:0".parse().expect("addr"),
                aigis_redteam::vulnerable::Behaviour { hardened },
            )
            .await
            .expect("bind");
            tx.send(addr).expect("send");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("address")
}

fn project(redteam: &str) -> tempfile::TempDir {
    common::project("redteam", redteam)
}

#[test]
fn families_over_their_gate_fail_the_run() {
    let addr = reference_target(false);
    let d = project(&format!(
        "target = \"openai\"\nbase-url = \"http://{addr}/v1\"\nmodel = \"aigis-vulnerable-1\"\nprobes = [\"prompt_injection\", \"harmful_content\"]\nmax-per-probe = 2\n[redteam.fail-on]\ndefault = 0.0\nharmful_content = 0.9\n"
    ));
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    assert_eq!(out.exit_code, 1);
    let f: Vec<_> = out
        .report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule,
                f.severity,
                f.location.member.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        f,
        [
            ("PRB101", Severity::High, "prompt_injection".to_string()),
            ("PRB108", Severity::Info, "harmful_content".to_string()),
        ]
    );
    assert!(
        out.report.findings[0]
            .title
            .contains("10 of 10 attacks succeeded"),
        "{}",
        out.report.findings[0].title
    );
    assert!(out.report.errors.is_empty());
    assert_eq!(out.report.files[0].format, "redteam/openai");

    // The hardened twin passes.
    let addr = reference_target(true);
    let d = project(&format!(
        "target = \"openai\"\nbase-url = \"http://{addr}/v1\"\nmodel = \"m\"\nmax-per-probe = 1\n"
    ));
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    assert_eq!(out.exit_code, 0, "{:?}", out.report.findings);
    assert!(out.report.findings.is_empty());
}

#[test]
fn an_unreachable_target_is_an_error_not_a_pass() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let d = project(&format!(
        "target = \"openai\"\nbase-url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"m\"\nprobes = [\"encoding\"]\nretries = 0\n"
    ));
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    assert!(out.report.findings.is_empty());
    assert_eq!(out.report.errors.len(), 1);
    assert!(
        out.report.errors[0]
            .message
            .contains("red-team run incomplete"),
        "{}",
        out.report.errors[0].message
    );
    assert_ne!(out.exit_code, 0, "fail closed");
    // Bad configuration is named.
    let d = project("target = \"openai\"\nmodel = \"m\"\n");
    let e = run(d.path(), &RunOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("base-url"), "{e}");
    let d = project("target = \"telnet\"\n");
    assert!(run(d.path(), &RunOptions::default()).is_err());
}
