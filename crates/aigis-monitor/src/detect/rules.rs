//! User rules over decision events, in Falco's shape — `rule`, `condition`, `output`,
//! `priority`, `tags` — so a team can read and extend what raises an alert:
//!
//! ```toml
//! [[monitor.detect.rules]]
//! rule = "blocked-on-the-admin-route"
//! condition = "route = admin and decision = block"
//! output = "blocked request on %route from %client (key %key)"
//! priority = "critical"
//! tags = ["AML.T0051"]
//! ```
//!
//! A condition is comparisons joined by `and` / `or` (`and` binds tighter; no parentheses):
//! `FIELD OP VALUE` with `=`, `!=`, `<`, `<=`, `>`, `>=`, `contains`, `startswith`, `in
//! (A, B, …)`. Fields: `route`, `key`, `client`, `model`, `decision` (text) and `status`,
//! `latency_us`, `prompt_tokens`, `completion_tokens`, `tokens` (numbers). Parsing is a single
//! pass over at most 4 KiB with no recursion; errors name the rule and the token.

use super::{Alert, Event, Priority};

/// A rule as written in the configuration.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Its name (the alert's `detector`).
    pub rule: String,
    /// When it fires.
    pub condition: String,
    /// The alert's message; `%field` is replaced by the event's value.
    pub output: String,
    /// `warning` or `critical`.
    #[serde(default = "default_priority")]
    pub priority: String,
    /// Tags (MITRE ATLAS ids go to the alert's `atlas`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the alert is about: `key` (the API key, or the route without one; default),
    /// `ip` (the client address) or `route`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// What the gateway does when the rule fires, besides alerting: `quarantine-subject`,
    /// `block-source` (with `subject = "ip"`), `page:SINK` (see its playbooks).
    #[serde(default)]
    pub actions: Vec<String>,
}

fn default_subject() -> String {
    "key".into()
}

impl RuleSpec {
    /// The actions as (playbook action, sink): `page:oncall` is (`page`, `oncall`).
    pub fn playbook_actions(&self) -> Vec<(String, Option<String>)> {
        self.actions
            .iter()
            .map(|a| match a.split_once(':') {
                Some(("page", sink)) => ("page".to_string(), Some(sink.to_string())),
                _ => (a.clone(), None),
            })
            .collect()
    }
}

fn default_priority() -> String {
    "warning".into()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Field {
    Route,
    Key,
    Client,
    Model,
    Decision,
    Status,
    Latency,
    Prompt,
    Completion,
    Tokens,
}

impl Field {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "route" => Self::Route,
            "key" => Self::Key,
            "client" => Self::Client,
            "model" => Self::Model,
            "decision" => Self::Decision,
            "status" => Self::Status,
            "latency_us" => Self::Latency,
            "prompt_tokens" => Self::Prompt,
            "completion_tokens" => Self::Completion,
            "tokens" => Self::Tokens,
            _ => return None,
        })
    }

    fn text(self, e: &Event) -> Option<&str> {
        match self {
            Self::Route => Some(&e.route),
            Self::Key => e.key.as_deref(),
            Self::Client => Some(&e.client),
            Self::Model => e.model.as_deref(),
            Self::Decision => Some(&e.decision),
            _ => None,
        }
    }

    fn number(self, e: &Event) -> Option<f64> {
        Some(match self {
            Self::Status => f64::from(e.status),
            Self::Latency => e.latency_us as f64,
            Self::Prompt => e.prompt_tokens? as f64,
            Self::Completion => e.completion_tokens? as f64,
            Self::Tokens => e.tokens() as f64,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    StartsWith,
    In,
}

#[derive(Clone, Debug)]
struct Test {
    field: Field,
    op: Op,
    values: Vec<String>,
}

impl Test {
    // The number fields are counts and microseconds (integers): exact comparison is meant.
    #[allow(clippy::float_cmp)]
    fn matches(&self, e: &Event) -> bool {
        if let Some(x) = self.field.number(e) {
            let v: Vec<f64> = self.values.iter().filter_map(|v| v.parse().ok()).collect();
            let first = v.first().copied().unwrap_or(f64::NAN);
            return match self.op {
                Op::Eq => x == first,
                Op::Ne => x != first,
                Op::Lt => x < first,
                Op::Le => x <= first,
                Op::Gt => x > first,
                Op::Ge => x >= first,
                Op::In => v.contains(&x),
                Op::Contains | Op::StartsWith => false,
            };
        }
        let Some(t) = self.field.text(e) else {
            // An absent field (no key, no model) only satisfies `!=`.
            return self.op == Op::Ne;
        };
        let first = self.values.first().map_or("", String::as_str);
        match self.op {
            Op::Eq => t == first,
            Op::Ne => t != first,
            Op::Contains => t.contains(first),
            Op::StartsWith => t.starts_with(first),
            Op::In => self.values.iter().any(|v| v == t),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => false,
        }
    }
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    name: &'static str,
    subject: Subject,
    /// Alternatives (`or`) of conjunctions (`and`).
    any_of: Vec<Vec<Test>>,
    output: String,
    priority: Priority,
    atlas: &'static [&'static str],
}

/// What a rule's alert is about.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Subject {
    KeyOrRoute,
    Ip,
    Route,
}

fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if matches!(c, '(' | ')' | ',') {
            out.push(c.to_string());
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut t = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(x) => t.push(x),
                    None => return Err("a quoted value is not closed".into()),
                }
            }
            out.push(format!("\"{t}"));
        } else if matches!(c, '=' | '!' | '<' | '>') {
            let mut t = String::from(c);
            chars.next();
            if chars.peek() == Some(&'=') {
                t.push('=');
                chars.next();
            }
            out.push(t);
        } else {
            let mut t = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() || matches!(x, '(' | ')' | ',' | '=' | '!' | '<' | '>' | '"') {
                    break;
                }
                t.push(x);
                chars.next();
            }
            out.push(t);
        }
    }
    Ok(out)
}

/// Alerts carry `&'static str` names (the built-in detectors' are literals): a rule's name
/// and tags are stored once per distinct text for the life of the process, so compiling the
/// same rules again (a reload) adds nothing.
fn intern(s: &str) -> &'static str {
    static SEEN: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::LazyLock::new(Default::default);
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&x) = seen.get(s) {
        return x;
    }
    let x: &'static str = Box::leak(s.to_string().into_boxed_str());
    seen.insert(x);
    x
}

fn intern_list(v: Vec<&'static str>) -> &'static [&'static str] {
    type Lists = std::collections::HashSet<&'static [&'static str]>;
    static SEEN: std::sync::LazyLock<std::sync::Mutex<Lists>> =
        std::sync::LazyLock::new(Default::default);
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&x) = seen.get(v.as_slice()) {
        return x;
    }
    let x: &'static [&'static str] = Box::leak(v.into_boxed_slice());
    seen.insert(x);
    x
}

fn value(t: &str) -> String {
    t.strip_prefix('"').unwrap_or(t).to_string()
}

impl Rule {
    /// Compiles `spec`; the error names the rule and what is wrong.
    pub fn compile(spec: &RuleSpec) -> Result<Self, String> {
        let bad = |why: String| format!("rule `{}`: {why}", spec.rule);
        if spec.condition.len() > 4096 || spec.output.len() > 4096 {
            return Err(bad("condition and output are limited to 4 KiB".into()));
        }
        let priority = match spec.priority.as_str() {
            "warning" => Priority::Warning,
            "critical" => Priority::Critical,
            p => return Err(bad(format!("priority `{p}`: use warning or critical"))),
        };
        let subject = match spec.subject.as_str() {
            "key" => Subject::KeyOrRoute,
            "ip" => Subject::Ip,
            "route" => Subject::Route,
            s => return Err(bad(format!("subject `{s}`: use key, ip or route"))),
        };
        for (action, sink) in spec.playbook_actions() {
            match action.as_str() {
                "quarantine-subject" if subject != Subject::Ip => {}
                "block-source" if subject == Subject::Ip => {}
                "page" if sink.as_deref().is_some_and(|s| !s.is_empty()) => {}
                "quarantine-subject" => {
                    return Err(bad(
                        "action `quarantine-subject` takes a key or route subject; an address is blocked with `block-source`".into(),
                    ));
                }
                "block-source" => {
                    return Err(bad("action `block-source` needs `subject = \"ip\"`".into()));
                }
                other => {
                    return Err(bad(format!(
                        "action `{other}`: use quarantine-subject, block-source or page:SINK"
                    )));
                }
            }
        }
        let toks = tokens(&spec.condition).map_err(bad)?;
        let mut any_of = vec![Vec::new()];
        let mut i = 0;
        while i < toks.len() {
            let field = Field::parse(&toks[i])
                .ok_or_else(|| bad(format!("unknown field `{}`", toks[i])))?;
            let op_tok = toks
                .get(i + 1)
                .ok_or_else(|| bad("a comparison is cut short".into()))?;
            let op = match op_tok.as_str() {
                "=" | "==" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "contains" => Op::Contains,
                "startswith" => Op::StartsWith,
                "in" => Op::In,
                o => return Err(bad(format!("unknown operator `{o}`"))),
            };
            let mut values = Vec::new();
            i += 2;
            if op == Op::In {
                if toks.get(i).map(String::as_str) != Some("(") {
                    return Err(bad("`in` takes a list: in (a, b)".into()));
                }
                i += 1;
                loop {
                    let t = toks
                        .get(i)
                        .ok_or_else(|| bad("the `in` list is not closed".into()))?;
                    match t.as_str() {
                        ")" => break,
                        "," => {}
                        v => values.push(value(v)),
                    }
                    i += 1;
                }
                i += 1;
            } else {
                let v = toks
                    .get(i)
                    .ok_or_else(|| bad("a comparison has no value".into()))?;
                values.push(value(v));
                i += 1;
            }
            if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge)
                && (field.text(&Event::default()).is_some() || values[0].parse::<f64>().is_err())
            {
                return Err(bad(format!("`{op_tok}` compares numbers")));
            }
            if let Some(last) = any_of.last_mut() {
                last.push(Test { field, op, values });
            }
            match toks.get(i).map(String::as_str) {
                None => {}
                Some(c @ ("and" | "or")) => {
                    if c == "or" {
                        any_of.push(Vec::new());
                    }
                    i += 1;
                    if i == toks.len() {
                        return Err(bad("the condition ends with `and` or `or`".into()));
                    }
                }
                Some(t) => return Err(bad(format!("expected `and` or `or`, found `{t}`"))),
            }
        }
        if any_of.iter().all(Vec::is_empty) {
            return Err(bad("the condition is empty".into()));
        }
        let atlas: Vec<&'static str> = spec
            .tags
            .iter()
            .filter(|t| t.starts_with("AML."))
            .map(|t| intern(t))
            .collect();
        Ok(Self {
            name: intern(&spec.rule),
            subject,
            any_of,
            output: spec.output.clone(),
            priority,
            atlas: intern_list(atlas),
        })
    }

    /// The alert this event raises, if it matches.
    pub fn check(&self, e: &Event) -> Option<Alert> {
        if !self
            .any_of
            .iter()
            .any(|all| all.iter().all(|t| t.matches(e)))
        {
            return None;
        }
        let mut message = self.output.clone();
        for (name, v) in [
            (
                "%completion_tokens",
                e.completion_tokens.map(|x| x.to_string()),
            ),
            ("%prompt_tokens", e.prompt_tokens.map(|x| x.to_string())),
            ("%latency_us", Some(e.latency_us.to_string())),
            ("%decision", Some(e.decision.clone())),
            ("%client", Some(e.client.clone())),
            ("%status", Some(e.status.to_string())),
            ("%tokens", Some(e.tokens().to_string())),
            ("%route", Some(e.route.clone())),
            ("%model", e.model.clone()),
            ("%key", e.key.clone()),
        ] {
            message = message.replace(name, v.as_deref().unwrap_or("-"));
        }
        Some(Alert {
            detector: self.name,
            subject: match (self.subject, &e.key) {
                (Subject::KeyOrRoute, Some(k)) => format!("key:{k}"),
                (Subject::Ip, _) if !e.client.is_empty() => format!("ip:{}", e.client),
                _ => format!("route:{}", e.route),
            },
            time_ms: e.time_ms,
            observed: 1.0,
            baseline: 0.0,
            score: 1.0,
            priority: self.priority,
            atlas: self.atlas,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(condition: &str) -> RuleSpec {
        RuleSpec {
            rule: "r".into(),
            condition: condition.into(),
            output: "%decision on %route from %client (key %key, model %model)".into(),
            priority: "critical".into(),
            tags: vec!["AML.T0051".into(), "team-x".into()],
            subject: "key".into(),
            actions: Vec::new(),
        }
    }

    #[test]
    fn subjects_and_actions_are_checked_and_applied() {
        let with = |subject: &str, actions: &[&str]| RuleSpec {
            subject: subject.into(),
            actions: actions.iter().map(|a| (*a).to_string()).collect(),
            ..spec("decision = block")
        };
        let ip = Rule::compile(&with("ip", &["block-source", "page:oncall"])).unwrap();
        assert_eq!(ip.check(&event()).unwrap().subject, "ip:10.0.0.9");
        let route = Rule::compile(&with("route", &["quarantine-subject"])).unwrap();
        assert_eq!(route.check(&event()).unwrap().subject, "route:admin");
        assert_eq!(
            with("ip", &["page:oncall"]).playbook_actions(),
            [("page".to_string(), Some("oncall".to_string()))]
        );
        for (s, a, want) in [
            ("key", "block-source", "subject = \"ip\""),
            ("ip", "quarantine-subject", "block-source"),
            ("key", "page:", "page:SINK"),
            ("key", "reboot", "use quarantine-subject"),
            ("host", "page:x", "use key, ip or route"),
        ] {
            let e = Rule::compile(&with(s, &[a])).err().unwrap();
            assert!(e.contains("rule `r`") && e.contains(want), "{s} {a}: {e}");
        }
    }

    fn event() -> Event {
        Event {
            time_ms: 5,
            route: "admin".into(),
            key: Some("k1".into()),
            client: "10.0.0.9".into(),
            model: None,
            decision: "block".into(),
            status: 400,
            latency_us: 900,
            prompt_tokens: Some(10),
            completion_tokens: None,
            refusal: None,
            confidence: None,
        }
    }

    #[test]
    fn conditions_match_as_written_and_outputs_fill_in() {
        let e = event();
        let yes = [
            "route = admin and decision = block",
            "decision in (flag, block) and status >= 400",
            "client startswith \"10.\" and latency_us > 500",
            "route = chat or status = 400",
            "model != m1",
            "route contains dmi",
        ];
        for c in yes {
            assert!(Rule::compile(&spec(c)).unwrap().check(&e).is_some(), "{c}");
        }
        let no = [
            "route = chat",
            "decision = block and status < 400",
            "model = m1",
            "completion_tokens > 0",
            "route = chat or decision = allow",
        ];
        for c in no {
            assert!(Rule::compile(&spec(c)).unwrap().check(&e).is_none(), "{c}");
        }
        let a = Rule::compile(&spec("route = admin"))
            .unwrap()
            .check(&e)
            .unwrap();
        assert_eq!(a.message, "block on admin from 10.0.0.9 (key k1, model -)");
        assert_eq!(
            (a.detector, a.subject.as_str(), a.atlas),
            ("r", "key:k1", &["AML.T0051"][..])
        );
        assert_eq!(a.priority, Priority::Critical);
    }

    #[test]
    fn bad_rules_are_errors_naming_the_rule_and_the_token() {
        for (c, want) in [
            ("rout = admin", "unknown field `rout`"),
            ("route ~ admin", "unknown operator"),
            ("route = admin and", "ends with"),
            ("route", "cut short"),
            ("route =", "no value"),
            ("status in 1, 2", "takes a list"),
            ("status in (1, 2", "not closed"),
            ("route > 3", "compares numbers"),
            ("status > many", "compares numbers"),
            ("route = \"admin", "not closed"),
            ("route = admin route = chat", "expected `and` or `or`"),
            ("", "empty"),
        ] {
            let e = Rule::compile(&spec(c)).unwrap_err();
            assert!(e.starts_with("rule `r`: ") && e.contains(want), "{c}: {e}");
        }
        let mut s = spec("route = a");
        s.priority = "urgent".into();
        assert!(Rule::compile(&s).unwrap_err().contains("priority"));
        let long = "route = a and ".repeat(400) + "route = a";
        assert!(Rule::compile(&spec(&long)).unwrap_err().contains("4 KiB"));
    }
}
