//! OpenAI-compatible chat completions (`POST {base}/chat/completions`): what vLLM, Ollama,
//! llama.cpp server, TGI, `aigis guard serve` and OpenAI itself speak.

use serde_json::{Value, json};

use super::{ApiKey, parse_url};
use crate::{Conversation, Error, Response, ToolCall, Turn};

/// An OpenAI-compatible chat endpoint.
#[derive(Debug)]
pub struct OpenAiTarget {
    base_url: String,
    uri: hyper::Uri,
    model: String,
    key: Option<ApiKey>,
    max_tokens: u32,
    temperature: f32,
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
        })
    }

    pub(crate) fn identity(&self) -> Value {
        json!({"kind": "openai", "base_url": self.base_url, "model": self.model,
               "max_tokens": self.max_tokens, "temperature": self.temperature})
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
            "stream": false,
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
