//! skops (`.skops`): a zip with `schema.json` describing every object to rebuild. skops only
//! constructs types the caller trusts, but users routinely pass `get_untrusted_types()` back
//! as trusted; every type and function the schema names is judged like a pickle global.

use aigis_core::{Finding, Severity};
use serde_json::Value;

use crate::ctx::{Loc, Sink};
use crate::lists::Class;
use crate::rules;

pub(crate) fn is_skops(names: &[&str]) -> bool {
    names.contains(&"schema.json")
}

fn judge(sink: &mut Sink, loc: &Loc, module: &str, name: &str, what: &str, called: bool) {
    let class = sink.lists.classify(module, name);
    let (sev, why) = match &class {
        Class::Safe => return,
        Class::Denied(reason) => (Severity::Critical, format!("{module}.{name} {reason}")),
        Class::Traversal(why) => (Severity::Critical, format!("the name {why}")),
        Class::Unknown if called => (
            Severity::Medium,
            format!("{module}.{name} is not a type ML libraries are known to write"),
        ),
        Class::Unknown => (
            Severity::Low,
            format!("{module}.{name} is referenced but not constructed"),
        ),
    };
    sink.push(
        Finding::new(
            &rules::scn402::RULE,
            format!("skops schema {what} {module}.{name}"),
            loc.whole(),
        )
        .severity(sev)
        .detail(format!("{why}; loading with this type trusted runs it."))
        .evidence(format!("{module}.{name}")),
    );
}

pub(crate) fn check_schema(sink: &mut Sink, loc: &Loc, v: &Value) {
    let mut stack = vec![(v, 0u32)];
    let mut seen = 0u32;
    while let Some((node, depth)) = stack.pop() {
        seen += 1;
        if depth > 256 || seen > 2_000_000 {
            sink.limit(loc.whole(), "skops schema nested too deep or too large");
            return;
        }
        match node {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => {
                let s = |k: &str| o.get(k).and_then(Value::as_str);
                match (s("__loader__"), s("__module__"), s("__class__")) {
                    (Some("FunctionNode"), _, _) => {
                        let c = o.get("content");
                        let m = c
                            .and_then(|c| c.get("module_path"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let f = c
                            .and_then(|c| c.get("function"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        judge(sink, loc, m, f, "references function", true);
                    }
                    (Some("TypeNode"), Some(m), Some(t)) => {
                        judge(sink, loc, m, t, "references type", false);
                    }
                    (Some("MethodNode"), _, _) => {
                        let f = o
                            .get("content")
                            .and_then(|c| c.get("func"))
                            .and_then(Value::as_str)
                            .unwrap_or("?");
                        sink.push(
                            Finding::new(
                                &rules::scn402::RULE,
                                format!("skops schema binds method {f}"),
                                loc.whole(),
                            )
                            .severity(Severity::Medium)
                            .evidence(f),
                        );
                    }
                    (Some(_), Some(m), Some(c)) => judge(sink, loc, m, c, "constructs", true),
                    _ => {}
                }
                stack.extend(o.values().map(|x| (x, depth + 1)));
            }
            _ => {}
        }
    }
}
