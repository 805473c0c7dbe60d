//! aigis offense: attack an AI endpoint the way an adversary would, judge every response, and
//! report the attack success rate per probe, family, OWASP item and MITRE ATLAS technique.
//!
//! The parts, each replaceable on its own:
//! - a [`target::Target`] sends one [`Conversation`] and returns a [`Reply`] (OpenAI-compatible
//!   chat, any JSON HTTP API through a request template and a response selector, or a command
//!   reading stdin);
//! - a probe family ([`probes`], one file each, its attack prompts in a TOML data file with
//!   their source and licence) turns its data into [`probes::Case`]s, each with the
//!   [`detectors::Detector`]s that decide whether the attack worked;
//! - buffs ([`buffs`]) rewrite any case's attack (encodings, Unicode tricks, paraphrase
//!   templates) to multiply coverage;
//! - the [`harness`] runs the cases concurrently with a rate limit, retries and a response
//!   [`cache`], and [`report`] writes the result as a table, JSON (`aigis.redteam/v1`), SARIF
//!   or a self-contained HTML page, and compares two runs.
//!
//! [`vulnerable`] is a deliberately vulnerable, deterministic OpenAI-compatible server for
//! tests and demos (and its hardened twin).
#![forbid(unsafe_code)]

pub mod buffs;
pub mod cache;
pub mod config;
pub mod detectors;
pub mod harness;
pub mod probes;
pub mod report;
pub mod target;
pub mod vulnerable;

use serde::{Deserialize, Serialize};

/// One turn of a conversation sent to a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Turn {
    /// What the user (the attacker) says.
    User {
        /// The text.
        content: String,
    },
    /// An earlier assistant answer (many-shot and multi-turn set-ups).
    Assistant {
        /// The text.
        content: String,
    },
    /// An earlier assistant tool call whose result follows as a [`Turn::Tool`].
    ToolCall {
        /// Call id, echoed by the tool result.
        id: String,
        /// Function name.
        name: String,
        /// Arguments (JSON text).
        arguments: String,
    },
    /// A tool's result: where indirect injections hide (documents, web pages, e-mails).
    Tool {
        /// The call it answers.
        id: String,
        /// The result text.
        content: String,
    },
}

/// A function the target may call (OpenAI `tools`), for excessive-agency probes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What it does, as the model is told.
    pub description: String,
}

/// What is sent to a target: an optional system prompt, the turns, the tools offered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conversation {
    /// The system prompt (the harness plants its canary here).
    pub system: Option<String>,
    /// The turns, oldest first; the last is the attack.
    pub turns: Vec<Turn>,
    /// Tools offered to the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
}

impl Conversation {
    /// A one-turn conversation.
    pub fn user(text: impl Into<String>) -> Self {
        Conversation {
            system: None,
            turns: vec![Turn::User {
                content: text.into(),
            }],
            tools: Vec::new(),
        }
    }

    /// The conversation as one text, for targets that take a single prompt (JSON templates,
    /// commands): earlier turns and tool results are labelled, the last user turn ends it.
    pub fn flatten(&self) -> String {
        if let [Turn::User { content }] = self.turns.as_slice() {
            return content.clone();
        }
        let mut s = String::new();
        for t in &self.turns {
            match t {
                Turn::User { content } => s.push_str(&format!("User: {content}\n")),
                Turn::Assistant { content } => s.push_str(&format!("Assistant: {content}\n")),
                Turn::ToolCall {
                    name, arguments, ..
                } => s.push_str(&format!("Assistant called {name}({arguments})\n")),
                Turn::Tool { content, .. } => s.push_str(&format!("Tool result: {content}\n")),
            }
        }
        s.trim_end().to_string()
    }

    /// Every text the attacker supplied (user turns and tool results), for detectors that
    /// must not credit a response with echoing the prompt.
    pub fn attacker_text(&self) -> String {
        let mut s = String::new();
        for t in &self.turns {
            match t {
                Turn::User { content } | Turn::Tool { content, .. } => {
                    s.push_str(content);
                    s.push('\n');
                }
                Turn::Assistant { content } => {
                    s.push_str(content);
                    s.push('\n');
                }
                Turn::ToolCall { .. } => {}
            }
        }
        s
    }
}

/// A tool call in a target's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Function name.
    pub name: String,
    /// Arguments (JSON text, as the target sent them).
    pub arguments: String,
}

/// A target's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The text.
    pub text: String,
    /// Tool calls it made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped (`stop`, `length`, `tool_calls`), when the target says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

/// What came back for one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The target answered.
    Answered(Response),
    /// A guard in front refused the request (a 4xx other than 429 with an error body): the
    /// attack was stopped, not a success.
    Blocked {
        /// HTTP status.
        status: u16,
        /// The error message or code it gave.
        message: String,
    },
}

pub(crate) use aigis_core::fsutil::hex;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad settings (target, probes, thresholds).
    #[error("{0}")]
    Config(String),
    /// A probe data file is malformed.
    #[error("probe data {file}: {message}")]
    ProbeData {
        /// Which file.
        file: String,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// The target could not be asked (after retries): connection, TLS, status, body.
    #[error("{0}")]
    Target(String),
    /// The response cache failed.
    #[error("response cache {path}: {message}")]
    Cache {
        /// The cache file.
        path: String,
        /// What failed.
        message: String,
    },
}
