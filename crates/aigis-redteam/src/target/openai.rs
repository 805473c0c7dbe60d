//! OpenAI-compatible chat completions (`POST {base}/chat/completions`): what vLLM, Ollama,
//! llama.cpp server, TGI, `aigis guard serve` and OpenAI itself speak.

use serde_json::{Value, json};

use super::{ApiKey, parse_url};
use crate::{Conversation, Error, Reply, Response, ToolCall, Turn};

/// An OpenAI-compatible chat endpoint.
#[derive(Debug)]
pub struct OpenAiTarget {
    base_url: String,
    uri: hyper::Uri,
    model: String,
    key: Option<ApiKey>,
    max_tokens: u32,
    temperature: f32,
    stream: bool,
}

impl OpenAiTarget {
    /// `base_url` up to and including `/v1` (`http://127.0.0.1:8000/v1`).
    pub fn new(
        base_url: &str,
        model: &str,
        key: Option<ApiKey>,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<Self, Error> {
        let base = base_url.trim_end_matches('/');
        let uri = parse_url("--base-url", &format!("{base}/chat/completions"))?;
        if model.is_empty() {
            return Err(Error::Config(
                "--model: give the model name the endpoint serves".into(),
            ));
        }
        Ok(OpenAiTarget {
            base_url: base.to_string(),
            uri,
            model: model.to_string(),
            key,
            max_tokens,
            temperature,
            stream: false,
        })
    }

    /// Ask for `stream: true` and read the server-sent events (what chat front ends do; a
    /// guard's in-stream error frame counts as a block).
    #[must_use]
    pub fn streaming(mut self, on: bool) -> Self {
        self.stream = on;
        self
    }

    pub(crate) fn identity(&self) -> Value {
        json!({"kind": "openai", "base_url": self.base_url, "model": self.model,
               "max_tokens": self.max_tokens, "temperature": self.temperature, "stream": self.stream})
    }

    pub(crate) fn request(
        &self,
        conv: &Conversation,
    ) -> (hyper::Uri, Vec<(String, String)>, Vec<u8>) {
        let mut messages = Vec::new();
        if let Some(s) = &conv.system {
            messages.push(json!({"role": "system", "content": s}));
        }
        for t in &conv.turns {
            messages.push(match t {
                Turn::User { content } => json!({"role": "user", "content": content}),
                Turn::Assistant { content } => json!({"role": "assistant", "content": content}),
                Turn::ToolCall {
                    id,
                    name,
                    arguments,
                } => json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}
                ]}),
                Turn::Tool { id, content } => {
                    json!({"role": "tool", "tool_call_id": id, "content": content})
                }
            });
        }
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": self.stream,
        });
        if !conv.tools.is_empty() {
            body["tools"] = conv
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description,
                        "parameters": {"type": "object", "properties": {
                            "target": {"type": "string"}, "details": {"type": "string"}
                        }}
                    }})
                })
                .collect();
        }
        let headers = self.key.iter().map(ApiKey::bearer).collect();
        (self.uri.clone(), headers, body.to_string().into_bytes())
    }

    /// Read an answer: a stream of server-sent events when streaming was asked for (and the
    /// server obliged), a chat completion otherwise.
    pub(crate) fn parse(&self, body: &[u8]) -> Result<Reply, String> {
        let sse = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .is_some_and(|i| body[i..].starts_with(b"data:"));
        if self.stream && sse {
            parse_sse(body)
        } else {
            parse_chat(body).map(Reply::Answered)
        }
    }
}

/// Read a streamed chat completion: `data:` events with `choices[0].delta` (content and tool
/// calls, accumulated), up to `data: [DONE]`. An `error` event (a guard withholding the rest)
/// is a block when it names a policy, an error otherwise; a stream that stops before
/// `[DONE]` or a finish reason is cut off.
pub fn parse_sse(body: &[u8]) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(body);
    let mut out = Response::default();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut done = false;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            done = true;
            break;
        }
        let v: Value = serde_json::from_str(data).map_err(|e| {
            format!(
                "a stream event is not JSON ({e}): {}",
                crate::report::clip(data, 80)
            )
        })?;
        if v.get("error").is_some() {
            let m = super::error_message(data.as_bytes()).unwrap_or_default();
            if super::is_refusal_by_policy(&m) {
                return Ok(Reply::Blocked {
                    status: 200,
                    message: m,
                });
            }
            return Err(format!("the stream ended with an error: {m}"));
        }
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else {
            continue;
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                out.text.push_str(t);
            }
            for c in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let i = c.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if i > 64 {
                    return Err("a stream event names more than 64 tool calls".into());
                }
                while calls.len() <= i {
                    calls.push(ToolCall {
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                if let Some(f) = c.get("function") {
                    if let Some(n) = f.get("name").and_then(Value::as_str) {
                        calls[i].name.push_str(n);
                    }
                    if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                        calls[i].arguments.push_str(a);
                    }
                }
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            out.finish_reason = Some(f.to_string());
        }
    }
    if !done && out.finish_reason.is_none() {
        return Err("the stream stopped before `data: [DONE]` (cut off)".into());
    }
    out.tool_calls = calls.into_iter().filter(|c| !c.name.is_empty()).collect();
    Ok(Reply::Answered(out))
}

/// Read `choices[0].message` of a chat completion: its text, tool calls and finish reason.
pub fn parse_chat(body: &[u8]) -> Result<Response, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not JSON ({e}): {:?}",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        )
    })?;
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or("no `choices[0]` in the completion")?;
    let msg = choice
        .get("message")
        .ok_or("no `choices[0].message` in the completion")?;
    let text = msg
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let tool_calls = msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| {
                    let f = c.get("function")?;
                    Some(ToolCall {
                        name: f.get("name")?.as_str()?.to_string(),
                        arguments: f
                            .get("arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Response {
        text,
        tool_calls,
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(r: Result<Reply, String>) -> Response {
        match r {
            Ok(Reply::Answered(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streams_are_accumulated_and_judged() {
        let body = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n",
            ": a comment\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"send_\",\"arguments\":\"{\\\"to\\\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"email\",\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let r = answered(parse_sse(body.as_bytes()));
        assert_eq!(r.text, "Hello");
        assert_eq!(
            r.tool_calls,
            [ToolCall {
                name: "send_email".into(),
                arguments: "{\"to\":1}".into()
            }]
        );
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        // A guard withholding the rest mid-stream is a block; another error is an error.
        let blocked = "data: {\"choices\":[{\"delta\":{\"content\":\"AKIA\"}}]}\n\ndata: {\"error\":{\"message\":\"response withheld\",\"code\":\"aigis_response_blocked\"}}\n\n";
        assert!(matches!(
            parse_sse(blocked.as_bytes()),
            Ok(Reply::Blocked { status: 200, .. })
        ));
        let failed = "data: {\"error\":{\"message\":\"model crashed\"}}\n\n";
        assert!(
            parse_sse(failed.as_bytes())
                .expect_err("error")
                .contains("model crashed")
        );
        // Cut off, garbage, absurd indexes.
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
        assert!(
            parse_sse(cut.as_bytes())
                .expect_err("cut")
                .contains("cut off")
        );
        assert!(
            parse_sse(b"data: {oops\n\n")
                .expect_err("json")
                .contains("not JSON")
        );
        let many = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":100000}]}}]}\n\ndata: [DONE]\n\n";
        assert!(parse_sse(many.as_bytes()).is_err());
        // A finish reason without [DONE] is a complete answer (some servers omit it).
        let fin =
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n";
        assert_eq!(answered(parse_sse(fin.as_bytes())).text, "x");
    }

    #[test]
    fn a_streaming_target_reads_json_when_the_server_ignores_the_flag() {
        let t = OpenAiTarget::new("http://127.0.0.1:9/v1", "m", None, 8, 0.0)
            .expect("target")
            .streaming(true);
        let r = answered(t.parse(br#"{"choices":[{"message":{"content":"plain"}}]}"#));
        assert_eq!(r.text, "plain");
        assert_eq!(t.identity()["stream"], true);
    }
}
