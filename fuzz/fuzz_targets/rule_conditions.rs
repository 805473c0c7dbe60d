//! The detector rule language on arbitrary conditions and outputs: compiling never panics, and
//! a rule that compiles can be checked against an event.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first half of the characters is the condition, the rest the output template.
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    let (condition, output) = text.split_at(mid);
    let spec = aigis_monitor::detect::rules::RuleSpec {
        rule: "fuzz".into(),
        condition: condition.to_string(),
        output: output.to_string(),
        priority: "warning".into(),
        tags: vec!["AML.T0051".into()],
    };
    if let Ok(rule) = aigis_monitor::detect::rules::Rule::compile(&spec) {
        let e = aigis_monitor::detect::Event {
            time_ms: 1,
            route: "chat".into(),
            key: Some("k".into()),
            client: "10.0.0.1".into(),
            model: None,
            decision: "block".into(),
            status: 400,
            latency_us: 10,
            prompt_tokens: Some(3),
            completion_tokens: None,
        };
        let _ = rule.check(&e);
    }
});
