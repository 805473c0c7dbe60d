//! The decision events and alerts in the schemas SIEMs and telemetry pipelines read: OCSF
//! (6003 API Activity with the `ai_operation` and `security_control` profiles for model calls,
//! 2004 Detection Finding for alerts, 2005 Incident Finding for incidents, 3004 Entity
//! Management for kill-switch changes), Elastic ECS, and OpenTelemetry GenAI span attributes.
//! `docs/events.md` has the field-by-field mapping.

use serde_json::{Value, json};

use super::{Alert, Change, Event, Priority};
use crate::incident::{Entry, Incident};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.8.0";

fn product() -> Value {
    json!({"name": "aigis", "vendor_name": "aigis", "version": env!("CARGO_PKG_VERSION")})
}

fn blocked(e: &Event) -> bool {
    e.decision == "block"
}

fn ok(e: &Event) -> bool {
    (200..300).contains(&e.status)
}

/// RFC 3339 UTC time with milliseconds.
pub fn rfc3339(ms: u64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

/// OCSF 6003 API Activity (activity 99 "Inference"), with the `ai_operation` and
/// `security_control` profiles.
pub fn ocsf_api_activity(e: &Event) -> Value {
    let (action_id, action, disposition_id, disposition) = if blocked(e) {
        (2, "Denied", 2, "Blocked")
    } else {
        (1, "Allowed", 1, "Allowed")
    };
    let mut v = json!({
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": 99,
        "activity_name": "Inference",
        "type_uid": 600_399,
        "time": e.time_ms,
        "severity_id": if blocked(e) { 3 } else { 1 },
        "status_id": if ok(e) { 1 } else { 2 },
        "status": if ok(e) { "Success" } else { "Failure" },
        "action_id": action_id,
        "action": action,
        "disposition_id": disposition_id,
        "disposition": disposition,
        "metadata": {
            "version": OCSF_VERSION,
            "product": product(),
            "profiles": ["ai_operation", "security_control"],
        },
        "api": {"operation": e.route, "service": {"name": e.route}},
        "src_endpoint": {"ip": e.client},
        "http_response": {"code": e.status},
        "duration": e.latency_us / 1000,
        "unmapped": {"aigis": {"decision": e.decision, "latency_us": e.latency_us}},
    });
    if let Some(k) = &e.key {
        v["actor"] = json!({"user": {"uid": k, "type": "API Key"}});
    }
    if let Some(m) = &e.model {
        v["ai_model"] = json!({"name": m});
    }
    if e.prompt_tokens.is_some() || e.completion_tokens.is_some() {
        v["message_context"] = json!({
            "prompt_tokens": e.prompt_tokens,
            "completion_tokens": e.completion_tokens,
            "total_tokens": e.tokens(),
        });
    }
    v
}

fn atlas_attacks(a: &Alert) -> Value {
    Value::Array(
        a.atlas
            .iter()
            .map(|t| json!({"technique": {"uid": t}, "version": "MITRE ATLAS"}))
            .collect(),
    )
}

/// OCSF 2004 Detection Finding (activity 1 Create) for an alert.
pub fn ocsf_detection_finding(a: &Alert) -> Value {
    let (severity_id, severity) = match a.priority {
        Priority::Warning => (3, "Medium"),
        Priority::Critical => (5, "Critical"),
    };
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200_401,
        "time": a.time_ms,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "message": a.message,
        "metadata": {"version": OCSF_VERSION, "product": product()},
        "finding_info": {
            "uid": format!("{}:{}:{}", a.detector, a.subject, a.time_ms),
            "title": a.message,
            "types": [a.detector],
            "analytic": {"name": a.detector, "type_id": 5, "type": "Statistical"},
            "attacks": atlas_attacks(a),
        },
        "anomaly_analyses": [{
            "analysis_targets": [{"name": a.subject}],
            "baselines": [{"observation_parameter": a.detector, "value": a.baseline}],
            "observations": [{"parameter": a.detector, "value": a.observed}],
        }],
        "confidence_score": a.score,
        "resources": [{"name": a.subject}],
    })
}

/// What a kill-switch target is: its OCSF entity type and the name after the prefix.
fn entity_of(target: &str) -> (&'static str, &str) {
    match target.split_once(':') {
        Some(("key", id)) => ("API Key", id),
        Some(("route", r)) => ("Route", r),
        Some(("model", m)) => ("AI Model", m),
        Some(("cidr", n)) => ("Network", n),
        _ => ("Other", target),
    }
}

/// OCSF 3004 Entity Management for a kill-switch change: a key revoked or restored is Disable
/// (9) or Enable (8); a route, model or network taken offline or brought back is Suspend (12)
/// or Resume (13).
pub fn ocsf_entity_management(c: &Change) -> Value {
    let (kind, name) = entity_of(&c.target);
    let quarantine = c.action == "quarantine";
    let (activity_id, activity) = match (kind, quarantine) {
        ("API Key", true) => (9, "Disable"),
        ("API Key", false) => (8, "Enable"),
        (_, true) => (12, "Suspend"),
        (_, false) => (13, "Resume"),
    };
    json!({
        "class_uid": 3004,
        "class_name": "Entity Management",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": 300_400 + activity_id,
        "time": c.time_ms,
        "severity_id": if quarantine { 3 } else { 1 },
        "status_id": 1,
        "status": "Success",
        "message": format!("{} {}: {}", c.action, c.target, c.reason),
        "comment": c.reason,
        "metadata": {"version": OCSF_VERSION, "product": product()},
        "entity": {"name": name, "uid": c.target, "type": kind},
        "actor": {"user": {"name": c.actor}},
    })
}

/// Elastic ECS document for a kill-switch change (`event.category` configuration, or iam for
/// keys; `event.type` change).
pub fn ecs_change(c: &Change) -> Value {
    let (kind, _) = entity_of(&c.target);
    json!({
        "@timestamp": rfc3339(c.time_ms),
        "ecs": {"version": "9.0.0"},
        "event": {
            "kind": "event",
            "category": [if kind == "API Key" { "iam" } else { "configuration" }],
            "type": ["change"],
            "action": c.action,
            "outcome": "success",
            "reason": c.reason,
            "module": "aigis",
            "dataset": "aigis.killswitch",
        },
        "message": format!("{} {}: {}", c.action, c.target, c.reason),
        "labels": {"aigis_target": c.target, "aigis_actor": c.actor},
        "observer": {"product": "aigis", "vendor": "aigis", "type": "gateway"},
    })
}

/// OCSF 2005 Incident Finding for an incident and its timeline: Create while it is new, Update
/// once it changed (acknowledged, or an alert or action added), Close when resolved; one
/// `finding_info` per alert, the MITRE ATLAS ids of its alerts as `attacks`, the timeline's
/// actions and notes under `unmapped.aigis.timeline`. OCSF wants an assignee or an assignee
/// group: `assignee_group` names the team that owns the gateway's incidents.
pub fn ocsf_incident_finding(i: &Incident, timeline: &[Entry], assignee_group: &str) -> Value {
    let alerts: Vec<Value> = timeline
        .iter()
        .filter(|e| e.kind == "alert")
        .filter_map(|e| serde_json::from_str::<Value>(&e.detail).ok())
        .collect();
    let (activity_id, activity) = match i.status.as_str() {
        "resolved" => (3, "Close"),
        _ if timeline.len() > 1 || i.updated_ms != i.opened_ms => (2, "Update"),
        _ => (1, "Create"),
    };
    let (status_id, status) = match i.status.as_str() {
        "resolved" => (4, "Resolved"),
        "acknowledged" => (2, "In Progress"),
        _ => (1, "New"),
    };
    let critical = i.priority == "critical";
    let mut atlas: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["atlas"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    atlas.sort_unstable();
    atlas.dedup();
    let findings: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let detector = a["detector"].as_str().unwrap_or(&i.detector);
            json!({
                "uid": format!("{detector}:{}:{}", a["subject"].as_str().unwrap_or_default(), a["time_ms"]),
                "title": a["message"],
                "types": [detector],
                "created_time": a["time_ms"],
                "analytic": {"name": detector, "type_id": 5, "type": "Statistical"},
            })
        })
        .collect();
    let others: Vec<Value> = timeline
        .iter()
        .filter(|e| e.kind != "alert")
        .map(|e| json!({"time": e.time_ms, "kind": e.kind, "detail": e.detail}))
        .collect();
    json!({
        "class_uid": 2005,
        "class_name": "Incident Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": 200_500 + activity_id,
        "time": i.updated_ms,
        "start_time": i.opened_ms,
        "end_time": i.updated_ms,
        "severity_id": if critical { 5 } else { 3 },
        "severity": if critical { "Critical" } else { "Medium" },
        "priority_id": if critical { 4 } else { 2 },
        "priority": if critical { "Critical" } else { "Medium" },
        "status_id": status_id,
        "status": status,
        "desc": i.title,
        "message": i.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": product(),
            "profiles": ["incident"],
            "uid": i.id.to_string(),
        },
        "assignee_group": {"name": assignee_group},
        "finding_info_list": findings,
        "attacks": atlas
            .iter()
            .map(|t| json!({"technique": {"uid": t}, "version": "MITRE ATLAS"}))
            .collect::<Vec<_>>(),
        "resources": [{"name": i.subject}],
        "unmapped": {"aigis": {"detector": i.detector, "subject": i.subject, "timeline": others}},
    })
}

/// Elastic ECS document for a decision.
pub fn ecs_event(e: &Event) -> Value {
    let mut v = json!({
        "@timestamp": rfc3339(e.time_ms),
        "ecs": {"version": "9.0.0"},
        "event": {
            "kind": "event",
            "category": ["api"],
            "type": ["access"],
            "action": e.decision,
            "outcome": if ok(e) { "success" } else { "failure" },
            "duration": e.latency_us * 1000,
            "module": "aigis",
            "dataset": "aigis.gateway",
        },
        "source": {"ip": e.client},
        "http": {"response": {"status_code": e.status}},
        "labels": {"aigis_route": e.route},
        "observer": {"product": "aigis", "vendor": "aigis", "type": "gateway"},
    });
    if let Some(k) = &e.key {
        v["user"] = json!({"id": k});
    }
    if let Some(m) = &e.model {
        v["gen_ai"] = json!({"request": {"model": m}});
    }
    if let (Some(p), Some(c)) = (e.prompt_tokens, e.completion_tokens) {
        v["gen_ai"]["usage"] = json!({"input_tokens": p, "output_tokens": c});
    }
    v
}

/// Elastic ECS alert document.
pub fn ecs_alert(a: &Alert) -> Value {
    json!({
        "@timestamp": rfc3339(a.time_ms),
        "ecs": {"version": "9.0.0"},
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"],
            "type": ["indicator"],
            "action": a.detector,
            "severity": match a.priority { Priority::Warning => 47, Priority::Critical => 99 },
            "module": "aigis",
            "dataset": "aigis.detect",
        },
        "rule": {"name": a.detector, "ruleset": "aigis-detectors"},
        "message": a.message,
        "threat": {
            "framework": "MITRE ATLAS",
            "technique": {"id": a.atlas},
        },
        "labels": {"aigis_subject": a.subject},
        "aigis": {"observed": a.observed, "baseline": a.baseline, "score": a.score},
    })
}

/// OpenTelemetry GenAI semantic-convention attributes of the span of a decision (status
/// Development upstream; the operation name is not in the audit record, so it is left out).
pub fn otel_attributes(e: &Event) -> Value {
    let mut v = json!({
        "client.address": e.client,
        "http.response.status_code": e.status,
        "aigis.route": e.route,
        "aigis.decision": e.decision,
        "aigis.latency_us": e.latency_us,
    });
    if let Some(m) = &e.model {
        v["gen_ai.request.model"] = json!(m);
    }
    if let Some(p) = e.prompt_tokens {
        v["gen_ai.usage.input_tokens"] = json!(p);
    }
    if let Some(c) = e.completion_tokens {
        v["gen_ai.usage.output_tokens"] = json!(c);
    }
    if let Some(k) = &e.key {
        v["aigis.key_id"] = json!(k);
    }
    json!({"time_unix_nano": e.time_ms * 1_000_000, "attributes": v})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            time_ms: 1_790_000_040_123,
            route: "chat".into(),
            key: Some("ab12cd34".into()),
            client: "10.1.2.3".into(),
            model: Some("llama-3".into()),
            decision: "block".into(),
            status: 400,
            latency_us: 2_500,
            prompt_tokens: Some(9),
            completion_tokens: Some(2),
            refusal: None,
            confidence: None,
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_790_000_040_123), "2026-09-21T14:14:00.123Z");
    }

    #[test]
    fn decisions_map_to_ocsf_api_activity_ecs_and_otel() {
        let o = ocsf_api_activity(&event());
        assert_eq!(
            (o["class_uid"].as_u64(), o["type_uid"].as_u64()),
            (Some(6003), Some(600_399))
        );
        assert_eq!(o["type_uid"], o["class_uid"].as_u64().unwrap() * 100 + 99);
        assert_eq!(
            (o["action_id"].as_u64(), o["disposition"].as_str()),
            (Some(2), Some("Blocked"))
        );
        assert_eq!(o["message_context"]["total_tokens"], 11);
        assert_eq!(o["actor"]["user"]["uid"], "ab12cd34");
        assert_eq!(o["metadata"]["profiles"][0], "ai_operation");
        let e = ecs_event(&event());
        assert_eq!(e["event"]["outcome"], "failure");
        assert_eq!(e["gen_ai"]["usage"]["output_tokens"], 2);
        assert_eq!(e["@timestamp"], "2026-09-21T14:14:00.123Z");
        let t = otel_attributes(&event());
        assert_eq!(t["attributes"]["gen_ai.request.model"], "llama-3");
        assert_eq!(t["time_unix_nano"], 1_790_000_040_123_000_000u64);
    }

    #[test]
    fn kill_switch_changes_map_to_ocsf_entity_management() {
        let c = |target: &str, action: &str| Change {
            time_ms: 1_790_000_100_000,
            target: target.into(),
            action: action.into(),
            reason: "playbook p: burst".into(),
            actor: "playbook:p".into(),
        };
        let o = ocsf_entity_management(&c("key:ab12cd34", "quarantine"));
        assert_eq!(
            (
                o["class_uid"].as_u64(),
                o["activity_id"].as_u64(),
                o["type_uid"].as_u64()
            ),
            (Some(3004), Some(9), Some(300_409))
        );
        assert_eq!(o["entity"]["type"], "API Key");
        assert_eq!(o["entity"]["name"], "ab12cd34");
        assert_eq!(o["comment"], "playbook p: burst");
        assert_eq!(o["actor"]["user"]["name"], "playbook:p");
        assert_eq!(
            ocsf_entity_management(&c("key:ab12cd34", "release"))["activity_id"],
            8
        );
        let o = ocsf_entity_management(&c("cidr:203.0.113.0/24", "quarantine"));
        assert_eq!(
            (o["activity_id"].as_u64(), o["entity"]["type"].as_str()),
            (Some(12), Some("Network"))
        );
        let o = ocsf_entity_management(&c("model:m1", "release"));
        assert_eq!(
            (o["type_uid"].as_u64(), o["entity"]["type"].as_str()),
            (Some(300_413), Some("AI Model"))
        );
        let e = ecs_change(&c("key:ab12cd34", "quarantine"));
        assert_eq!(e["event"]["category"][0], "iam");
        assert_eq!(e["labels"]["aigis_target"], "key:ab12cd34");
        assert_eq!(
            ecs_change(&c("route:chat", "release"))["event"]["category"][0],
            "configuration"
        );
    }

    #[test]
    fn incidents_map_to_ocsf_incident_findings() {
        let alert = |t: i64, atlas: &[&str]| Entry {
            time_ms: t,
            kind: "alert".into(),
            detail: json!({"detector": "key_request_rate", "subject": "key:k1", "time_ms": t,
                           "message": format!("burst at {t}"), "atlas": atlas})
            .to_string(),
        };
        let mut inc = Incident {
            id: 7,
            detector: "key_request_rate".into(),
            subject: "key:k1".into(),
            priority: "warning".into(),
            status: "open".into(),
            title: "burst at 1".into(),
            opened_ms: 1,
            updated_ms: 1,
        };
        let o = ocsf_incident_finding(&inc, &[alert(1, &["AML.T0029"])], "soc");
        assert_eq!(
            (
                o["class_uid"].as_u64(),
                o["activity_id"].as_u64(),
                o["type_uid"].as_u64()
            ),
            (Some(2005), Some(1), Some(200_501))
        );
        assert_eq!(
            (o["status_id"].as_u64(), o["priority_id"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(o["assignee_group"]["name"], "soc");
        assert_eq!(o["metadata"]["profiles"][0], "incident");
        assert_eq!(
            o["finding_info_list"][0]["uid"],
            "key_request_rate:key:k1:1"
        );
        inc.status = "resolved".into();
        inc.priority = "critical".into();
        inc.updated_ms = 9;
        let timeline = [
            alert(1, &["AML.T0029"]),
            alert(5, &["AML.T0034", "AML.T0029"]),
            Entry {
                time_ms: 6,
                kind: "action".into(),
                detail: "playbook `p` took key:k1 offline".into(),
            },
            Entry {
                time_ms: 9,
                kind: "resolve".into(),
                detail: "key rotated".into(),
            },
        ];
        let o = ocsf_incident_finding(&inc, &timeline, "soc");
        assert_eq!(
            (o["activity_id"].as_u64(), o["status_id"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!(o["severity_id"], 5);
        assert_eq!(o["finding_info_list"].as_array().unwrap().len(), 2);
        let atlas: Vec<&str> = o["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["technique"]["uid"].as_str().unwrap())
            .collect();
        assert_eq!(atlas, ["AML.T0029", "AML.T0034"], "each technique once");
        assert_eq!(o["unmapped"]["aigis"]["timeline"][0]["kind"], "action");
        assert_eq!(
            o["unmapped"]["aigis"]["timeline"][1]["detail"],
            "key rotated"
        );
    }

    #[test]
    fn alerts_map_to_ocsf_detection_findings_and_ecs_alerts() {
        let a = Alert {
            detector: "key_request_rate",
            subject: "key:ab12cd34".into(),
            time_ms: 1_790_000_100_000,
            observed: 1500.0,
            baseline: 30.0,
            score: 268.0,
            priority: Priority::Critical,
            atlas: &["AML.T0029", "AML.T0034"],
            message: "key:ab12cd34: 1500 requests".into(),
        };
        let o = ocsf_detection_finding(&a);
        assert_eq!(
            (o["class_uid"].as_u64(), o["type_uid"].as_u64()),
            (Some(2004), Some(200_401))
        );
        assert_eq!(o["severity_id"], 5);
        assert_eq!(
            o["finding_info"]["attacks"][1]["technique"]["uid"],
            "AML.T0034"
        );
        assert_eq!(o["anomaly_analyses"][0]["baselines"][0]["value"], 30.0);
        let e = ecs_alert(&a);
        assert_eq!(e["event"]["kind"], "alert");
        assert_eq!(e["threat"]["technique"]["id"][0], "AML.T0029");
    }
}
