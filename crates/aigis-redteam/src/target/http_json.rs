//! Any JSON HTTP API (KServe v2, Triton, a custom service): the request is a JSON template
//! whose strings may hold `{{prompt}}` and `{{system}}`, the answer is read by a selector
//! such as `$.outputs[0].data[0]`.

use serde_json::{Value, json};

use super::{ApiKey, digest, parse_url};
use crate::{Conversation, Error, Response};

/// One step of a [`Selector`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A JSONPath-style path without wildcards: `$.a.b[0].c` (the `$.` is optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    text: String,
    steps: Vec<Step>,
}

impl Selector {
    /// Parse `text`; errors say where the path is wrong.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("--response-selector {text:?}: {why}"));
        let rest = text.strip_prefix('$').unwrap_or(text);
        let mut steps = Vec::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    let mut key = String::new();
                    while let Some(&n) = chars.peek() {
                        if n == '.' || n == '[' {
                            break;
                        }
                        key.push(n);
                        chars.next();
                    }
                    if key.is_empty() {
                        return Err(bad("empty key after `.`"));
                    }
                    steps.push(Step::Key(key));
                }
                '[' => {
                    let mut idx = String::new();
                    loop {
                        match chars.next() {
                            Some(']') => break,
                            Some(d) => idx.push(d),
                            None => return Err(bad("`[` without `]`")),
                        }
                    }
                    let idx = idx.trim_matches(|c| c == '"' || c == '\'');
                    match idx.parse::<usize>() {
                        Ok(i) => steps.push(Step::Index(i)),
                        Err(_) if !idx.is_empty() && idx != "*" => {
                            steps.push(Step::Key(idx.to_string()));
                        }
                        Err(_) => {
                            return Err(bad("indexes are numbers or quoted keys; no wildcards"));
                        }
                    }
                }
                c if steps.is_empty() && !text.starts_with('$') && rest.starts_with(c) => {
                    // A bare first key: `output.text`.
                    let mut key = String::from(c);
                    while let Some(&n) = chars.peek() {
                        if n == '.' || n == '[' {
                            break;
                        }
                        key.push(n);
                        chars.next();
                    }
                    steps.push(Step::Key(key));
                }
                _ => return Err(bad("expected `.key` or `[index]`")),
            }
        }
        if steps.is_empty() {
            return Err(bad("selects nothing; e.g. `$.choices[0].text`"));
        }
        Ok(Selector {
            text: text.to_string(),
            steps,
        })
    }

    /// The value at the path, if any.
    pub fn select<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        let mut cur = v;
        for s in &self.steps {
            cur = match s {
                Step::Key(k) => cur.get(k)?,
                Step::Index(i) => cur.get(*i)?,
            };
        }
        Some(cur)
    }
}

/// A JSON HTTP endpoint driven by a template.
#[derive(Debug)]
pub struct HttpTarget {
    url: String,
    uri: hyper::Uri,
    template: Value,
    template_digest: String,
    selector: Selector,
    headers: Vec<(String, String)>,
    key: Option<ApiKey>,
}

impl HttpTarget {
    /// `template` is JSON text holding `{{prompt}}` in at least one string.
    pub fn new(
        url: &str,
        template: &str,
        selector: Selector,
        headers: Vec<(String, String)>,
        key: Option<ApiKey>,
    ) -> Result<Self, Error> {
        let uri = parse_url("--url", url)?;
        let parsed: Value = serde_json::from_str(template).map_err(|e| {
            Error::Config(format!("--request-template: not JSON ({e}); put `{{{{prompt}}}}` inside a string, e.g. {{\"input\": \"{{{{prompt}}}}\"}}"))
        })?;
        if !template.contains("{{prompt}}") {
            return Err(Error::Config(
                "--request-template: no `{{prompt}}` placeholder; the attack would never be sent"
                    .into(),
            ));
        }
        Ok(HttpTarget {
            url: url.to_string(),
            uri,
            template_digest: digest(template),
            template: parsed,
            selector,
            headers,
            key,
        })
    }

    pub(crate) fn identity(&self) -> Value {
        json!({"kind": "http", "url": self.url, "template_sha256": self.template_digest,
               "response_selector": self.selector.text})
    }

    pub(crate) fn request(
        &self,
        conv: &Conversation,
    ) -> (hyper::Uri, Vec<(String, String)>, Vec<u8>) {
        let prompt = conv.flatten();
        let system = conv.system.clone().unwrap_or_default();
        let body = fill(&self.template, &prompt, &system);
        let mut headers = self.headers.clone();
        headers.extend(self.key.iter().map(ApiKey::bearer));
        (self.uri.clone(), headers, body.to_string().into_bytes())
    }

    pub(crate) fn parse(&self, body: &[u8]) -> Result<Response, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "not JSON ({e}): {:?}",
                String::from_utf8_lossy(&body[..body.len().min(120)])
            )
        })?;
        let text = match self.selector.select(&v) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => {
                return Err(format!(
                    "--response-selector {} matched nothing in {}",
                    self.selector.text,
                    crate::report::clip(&v.to_string(), 160)
                ));
            }
            Some(other) => other.to_string(),
        };
        Ok(Response {
            text,
            ..Response::default()
        })
    }
}

/// The template with `{{prompt}}` and `{{system}}` replaced inside every string (so the
/// values are JSON-escaped by construction).
fn fill(v: &Value, prompt: &str, system: &str) -> Value {
    match v {
        Value::String(s) => Value::String(
            s.replace("{{prompt}}", prompt)
                .replace("{{system}}", system),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, prompt, system)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill(x, prompt, system)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_walk() {
        let v = json!({"outputs": [{"data": ["hello", 3]}], "a": {"b c": true}});
        let s = Selector::parse("$.outputs[0].data[0]").expect("parses");
        assert_eq!(s.select(&v), Some(&json!("hello")));
        let s = Selector::parse("outputs[0].data[1]").expect("bare first key");
        assert_eq!(s.select(&v), Some(&json!(3)));
        let s = Selector::parse("$.a['b c']").expect("quoted key");
        assert_eq!(s.select(&v), Some(&json!(true)));
        assert_eq!(
            Selector::parse("$.missing").expect("parses").select(&v),
            None
        );
        for bad in ["$", "$.", "$.a[", "$.a[*]", "$..a", "$a"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_escape_the_prompt_and_need_a_placeholder() {
        let sel = Selector::parse("$.out").expect("parses");
        let t = HttpTarget::new(
            "http://127.0.0.1:9/x",
            r#"{"input": "Q: {{prompt}}", "n": 1, "sys": ["{{system}}"]}"#,
            sel.clone(),
            vec![],
            None,
        )
        .expect("valid");
        let mut c = Conversation::user("say \"hi\"\nnow");
        c.system = Some("be nice".into());
        let (_, _, body) = t.request(&c);
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v["input"], "Q: say \"hi\"\nnow");
        assert_eq!(v["sys"][0], "be nice");
        assert_eq!(v["n"], 1);
        assert!(
            HttpTarget::new("http://h/x", r#"{"input": "x"}"#, sel.clone(), vec![], None).is_err()
        );
        assert!(
            HttpTarget::new(
                "http://h/x",
                r#"{"input": {{prompt}}}"#,
                sel.clone(),
                vec![],
                None
            )
            .is_err()
        );
        assert!(HttpTarget::new("ftp://h/x", r#"{"i": "{{prompt}}"}"#, sel, vec![], None).is_err());
        let r = t.parse(br#"{"out": "fine"}"#).expect("selected");
        assert_eq!(r.text, "fine");
        assert!(t.parse(br#"{"other": 1}"#).is_err());
        assert!(t.parse(b"<html>").is_err());
    }
}
