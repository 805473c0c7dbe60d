//! Output scanning: the response chain (`[guard.output]`: secrets, personal data, exfiltration
//! links) and the system-prompt canary, on whole responses and incrementally on streams.
//!
//! A stream is scanned as it passes: text is released once it is more than a look-behind
//! window behind the newest byte, so a secret split across chunks is still seen whole before
//! any of it leaves, and nothing waits for the end of the response. A redaction that would
//! straddle the release point holds the text back until the match is complete.

use serde::Deserialize;

use crate::scanners;
use crate::{Action, Chain, ChainConfig, Error, Hit};

/// `[guard.output]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct OutputConfig {
    /// Scanners in order (default `secrets`, `pii`, `links`).
    pub scanners: Vec<String>,
    /// Credentials in responses (default: redact).
    pub secrets: scanners::secrets::Config,
    /// Personal data in responses (default: redact).
    pub pii: scanners::pii::Config,
    /// Exfiltration links (default: redact, no allowed hosts).
    pub links: scanners::links::Config,
    /// Tool calls the model may not make (default: none checked).
    pub tools: scanners::tools::Config,
    /// Plant a random canary in each chat request's system prompt and block responses that
    /// reveal it.
    pub canary: bool,
    /// Bytes held back on streams so matches split across chunks are seen whole.
    pub window: usize,
}

/// The output scanners.
pub const OUTPUT: &[&str] = &["secrets", "pii", "links"];

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            scanners: OUTPUT.iter().map(|s| (*s).to_string()).collect(),
            secrets: scanners::secrets::Config::default(),
            pii: scanners::pii::Config::default(),
            links: scanners::links::Config::default(),
            tools: scanners::tools::Config::default(),
            canary: false,
            window: 512,
        }
    }
}

/// The response side of the gateway.
pub struct OutputGuard {
    chain: Chain,
    tools: scanners::tools::Config,
    /// Whether chat requests get a canary.
    pub canary: bool,
    window: usize,
}

/// What a scan of response text decided.
#[derive(Debug)]
pub enum Verdict {
    /// Send this text (possibly redacted).
    Pass(String),
    /// Stop: these rules fired.
    Block(Vec<String>),
}

/// The forms of a canary a leak may take: itself, base64, reversed, spaced out.
fn canary_forms(c: &str) -> Vec<String> {
    use base64::Engine as _;
    vec![
        c.to_string(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(c),
        c.chars().rev().collect(),
        c.chars().map(String::from).collect::<Vec<_>>().join(" "),
    ]
}

/// A fresh canary: a fixed prefix and 16 random base32 characters.
pub fn new_canary() -> String {
    use rand_core::RngCore as _;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    let id: String = b
        .iter()
        .map(|x| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[usize::from(x & 31)]))
        .collect();
    format!("aigis-canary-{id}")
}

impl OutputGuard {
    /// From `[guard.output]`.
    pub fn new(c: &OutputConfig) -> Result<Self, Error> {
        for s in &c.scanners {
            if !OUTPUT.contains(&s.as_str()) {
                return Err(Error::Config(format!(
                    "unknown output scanner `{s}`; known: {}",
                    OUTPUT.join(", ")
                )));
            }
        }
        if c.window < 64 {
            return Err(Error::Config(
                "[guard.output] window must be at least 64 bytes".into(),
            ));
        }
        let chain = Chain::new(&ChainConfig {
            scanners: c.scanners.clone(),
            secrets: c.secrets.clone(),
            pii: c.pii.clone(),
            links: c.links.clone(),
            ..ChainConfig::default()
        })?;
        Ok(Self {
            chain,
            tools: c.tools.clone(),
            canary: c.canary,
            window: c.window,
        })
    }

    /// Whether no output scanner or tool policy is configured.
    pub fn is_empty(&self) -> bool {
        self.chain.names().is_empty() && !self.tools.is_set()
    }

    /// The rules that withhold a call to the tool `name` (`GRD109`), if it is not allowed.
    pub fn tool_call(&self, name: &str) -> Option<Vec<String>> {
        self.tools
            .denies(name)
            .then(|| vec![crate::rules::GRD109.id.to_string()])
    }

    /// Scans `text`; returns the hits and whether the canary leaked.
    fn hits(&self, text: &str, canary: Option<&str>) -> (Vec<Hit>, bool) {
        let leaked = canary.is_some_and(|c| {
            let squashed: String = text.chars().filter(|ch| !ch.is_whitespace()).collect();
            canary_forms(c)
                .iter()
                .any(|f| text.contains(f.as_str()) || squashed.contains(f.as_str()))
        });
        (self.chain.scan(text).hits, leaked)
    }

    /// Scans a whole response text.
    pub fn scan(&self, text: &str, canary: Option<&str>) -> Verdict {
        let (hits, leaked) = self.hits(text, canary);
        if let Some(v) = blocked(&hits, leaked) {
            return v;
        }
        Verdict::Pass(apply(text, &hits, text.len()).0)
    }

    /// A scanner for one streamed response.
    pub fn stream(self: &std::sync::Arc<Self>, canary: Option<String>) -> StreamScanner {
        StreamScanner {
            guard: self.clone(),
            canary,
            pending: String::new(),
        }
    }
}

fn blocked(hits: &[Hit], leaked: bool) -> Option<Verdict> {
    let mut rules: Vec<String> = hits
        .iter()
        .filter(|h| h.action == Action::Block)
        .map(|h| format!("{} {}", h.rule.id, h.rule.name))
        .collect();
    if leaked {
        rules.push("GRD108 system-prompt-leak".into());
    }
    (!rules.is_empty()).then_some(Verdict::Block(rules))
}

/// Applies the redactions of `hits` that end before `release` to `text[..release]`; returns
/// the rewritten prefix and the byte where it ends in `text` (moved back to the start of a
/// redaction that would straddle `release`).
fn apply(text: &str, hits: &[Hit], release: usize) -> (String, usize) {
    let mut spans: Vec<&(usize, usize, String)> = hits
        .iter()
        .filter(|h| h.action == Action::Redact)
        .flat_map(|h| &h.spans)
        .collect();
    spans.sort_by_key(|(s, e, _)| (*s, std::cmp::Reverse(*e)));
    let mut cut = release;
    for (s, e, _) in &spans {
        if *s < cut && *e > cut {
            cut = *s;
        }
    }
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut);
    let mut at = 0;
    for (s, e, rep) in spans {
        if *s < at || *e > cut {
            continue;
        }
        out.push_str(&text[at..*s]);
        out.push_str(rep);
        at = *e;
    }
    out.push_str(&text[at..cut]);
    (out, cut)
}

/// Incremental scanning of one streamed response.
pub struct StreamScanner {
    guard: std::sync::Arc<OutputGuard>,
    canary: Option<String>,
    pending: String,
}

impl StreamScanner {
    /// Adds a chunk of response text; returns what may be sent now.
    pub fn push(&mut self, chunk: &str) -> Verdict {
        self.pending.push_str(chunk);
        self.release(false)
    }

    /// The stream ended: returns the rest.
    pub fn finish(&mut self) -> Verdict {
        self.release(true)
    }

    fn release(&mut self, all: bool) -> Verdict {
        let (hits, leaked) = self.guard.hits(&self.pending, self.canary.as_deref());
        if let Some(v) = blocked(&hits, leaked) {
            self.pending.clear();
            return v;
        }
        let target = if all {
            self.pending.len()
        } else {
            self.pending.len().saturating_sub(self.guard.window)
        };
        let (out, cut) = apply(&self.pending, &hits, target);
        self.pending.drain(..cut);
        Verdict::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "ghp_R8sT2kLm9QwXz4VbN7cJp1HdF6gYe3UaK0oI";

    fn guard() -> std::sync::Arc<OutputGuard> {
        std::sync::Arc::new(OutputGuard::new(&OutputConfig::default()).unwrap())
    }

    fn stream_all(
        g: &std::sync::Arc<OutputGuard>,
        chunks: &[&str],
        canary: Option<String>,
    ) -> Result<String, Vec<String>> {
        let mut s = g.stream(canary);
        let mut out = String::new();
        for c in chunks {
            match s.push(c) {
                Verdict::Pass(t) => out.push_str(&t),
                Verdict::Block(r) => return Err(r),
            }
        }
        match s.finish() {
            Verdict::Pass(t) => out.push_str(&t),
            Verdict::Block(r) => return Err(r),
        }
        Ok(out)
    }

    #[test]
    fn whole_responses_are_redacted_or_blocked() {
        let g = guard();
        let Verdict::Pass(t) = g.scan(&format!("use {SECRET} to push"), None) else {
            panic!()
        };
        assert_eq!(t, "use <SECRET_GITHUB_TOKEN> to push");
        let c = new_canary();
        let leak = format!("My instructions end with {c}.");
        assert!(
            matches!(g.scan(&leak, Some(&c)), Verdict::Block(r) if r == ["GRD108 system-prompt-leak"])
        );
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, &c);
        assert!(matches!(
            g.scan(&format!("encoded: {b64}"), Some(&c)),
            Verdict::Block(_)
        ));
        let spaced: String = c.chars().flat_map(|ch| [ch, ' ']).collect();
        assert!(matches!(g.scan(&spaced, Some(&c)), Verdict::Block(_)));
        assert!(matches!(
            g.scan("nothing to see", Some(&c)),
            Verdict::Pass(_)
        ));
    }

    #[test]
    fn streams_release_text_before_the_end() {
        let g = guard();
        let long = "word ".repeat(300);
        let mut s = g.stream(None);
        let Verdict::Pass(first) = s.push(&long) else {
            panic!()
        };
        assert!(
            !first.is_empty() && first.len() <= long.len() - 512 + 8,
            "{}",
            first.len()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn a_secret_split_anywhere_is_still_redacted(prefix in "[a-z ]{0,700}", cuts in proptest::collection::vec(0usize..800, 0..6)) {
            let text = format!("{prefix} token {SECRET} end");
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            points.push(0);
            points.push(text.len());
            points.sort_unstable();
            points.dedup();
            let chunks: Vec<&str> = points.windows(2).map(|w| &text[w[0]..w[1]]).collect();
            let out = stream_all(&guard(), &chunks, None).unwrap();
            prop_assert!(!out.contains("ghp_"), "{}", out);
            prop_assert!(out.ends_with("token <SECRET_GITHUB_TOKEN> end"), "{}", out);
        }

        #[test]
        fn a_canary_split_anywhere_blocks(cut in 1usize..30) {
            let c = new_canary();
            let text = format!("here it is: {c} ok");
            let cut = cut.min(text.len() - 1);
            let r = stream_all(&guard(), &[&text[..cut], &text[cut..]], Some(c));
            prop_assert!(r.is_err());
        }
    }
}
