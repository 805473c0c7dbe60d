//! A local command as the target: the flattened conversation on stdin, the answer on stdout
//! (the system prompt in `AIGIS_SYSTEM_PROMPT`). One process per attempt, killed at the
//! timeout; stdout read up to [`super::MAX_BODY`].

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Conversation, Error, Reply, Response};

/// A program and its arguments.
#[derive(Debug)]
pub struct CommandTarget {
    program: String,
    args: Vec<String>,
}

impl CommandTarget {
    /// `program` is run directly (no shell) with `args`.
    pub fn new(program: &str, args: Vec<String>) -> Result<Self, Error> {
        if program.is_empty() {
            return Err(Error::Config("--command: give the program to run".into()));
        }
        Ok(CommandTarget {
            program: program.to_string(),
            args,
        })
    }

    pub(crate) fn identity(&self) -> Value {
        json!({"kind": "command", "program": self.program, "args": self.args})
    }

    pub(crate) async fn run(&self, conv: &Conversation) -> Result<Reply, String> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .env("AIGIS_SYSTEM_PROMPT", conv.system.as_deref().unwrap_or(""))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("--command {}: cannot start it: {e}", self.program))?;
        let input = conv.flatten();
        let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
        // Write and read at once: a program that answers before reading all its input
        // must not deadlock on a full pipe.
        let write = async move {
            // A program that exits without reading is fine; its answer is what counts.
            let _ = stdin.write_all(input.as_bytes()).await;
            drop(stdin);
        };
        let read = async {
            let mut out = Vec::new();
            (&mut stdout)
                .take(super::MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .await
                .map(|_| out)
        };
        let read_err = async {
            let mut err = Vec::new();
            let _ = (&mut stderr).take(4096).read_to_end(&mut err).await;
            err
        };
        let ((), out, err) = tokio::join!(write, read, read_err);
        let out =
            out.map_err(|e| format!("--command {}: reading its output: {e}", self.program))?;
        if out.len() > super::MAX_BODY {
            return Err(format!(
                "--command {}: wrote more than {} MiB",
                self.program,
                super::MAX_BODY >> 20
            ));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| format!("--command {}: {e}", self.program))?;
        if !status.success() {
            return Err(format!(
                "--command {} exited with {status}: {}",
                self.program,
                String::from_utf8_lossy(&err).trim()
            ));
        }
        Ok(Reply::Answered(Response {
            text: String::from_utf8_lossy(&out).trim_end().to_string(),
            ..Response::default()
        }))
    }
}
