#![allow(clippy::unwrap_used)]
//! `deploy/`: the Grafana dashboard and the Prometheus alert rules refer only to metrics and
//! labels the gateway exports.

use aigis_guard::metrics::Metrics;

fn read(rel: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel),
    )
    .unwrap()
}

/// Every `aigis_gateway_…` metric name in `text`, without histogram suffixes.
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("aigis_gateway_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary {
            let name = &text[start..end];
            let name = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            out.push(name.to_string());
        }
        i = end;
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn dashboards_and_alerts_name_only_exported_metrics_and_labels() {
    let m = Metrics::new();
    m.request("chat", "allow", 0.001);
    m.block("GRD101 prompt-injection");
    m.limited("rate");
    m.upstream("chat", 0.001);
    m.tokens("chat", "prompt", 3);
    m.anomaly("key_request_rate");
    m.audit_record();
    m.audit_checkpoint(1);
    m.alert_deliveries(1, 0, 0, 0);
    m.events_published(1, 0, 0);
    let exported = m.render();
    let dashboard = read("deploy/grafana/aigis-gateway.json");
    let rules = read("deploy/prometheus/aigis-alerts.yml");
    let d: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 6);
    for p in panels {
        assert!(
            !p["targets"].as_array().unwrap().is_empty(),
            "{}",
            p["title"]
        );
    }
    let names: Vec<String> = metric_names(&dashboard)
        .into_iter()
        .chain(metric_names(&rules))
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    for n in &names {
        assert!(
            exported.lines().any(|l| {
                [format!("{n}{{"), format!("{n} "), format!("{n}_bucket{{")]
                    .iter()
                    .any(|p| l.starts_with(p.as_str()))
            }),
            "{n} is not exported:\n{exported}"
        );
    }
    // Labels in `by (…)` clauses are ones the gateway sets.
    let known = [
        "route", "decision", "rule", "limit", "kind", "detector", "le", "outcome",
    ];
    for text in [&dashboard, &rules] {
        for part in text.split("by (").skip(1) {
            let labels = part.split(')').next().unwrap();
            for l in labels.split(',') {
                assert!(known.contains(&l.trim()), "unknown label `{}`", l.trim());
            }
        }
    }
    assert!(rules.contains("groups:") && rules.matches("- alert:").count() >= 5);
    match std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/prometheus/aigis-alerts.yml"),
        )
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("SKIPPED: promtool is not installed; the rule syntax was not checked"),
    }
}
