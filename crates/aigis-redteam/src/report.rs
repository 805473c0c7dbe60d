//! Reports of a run: JSON (`aigis.redteam/v1`, the schema of DESIGN.md §3 with roll-ups per
//! family, OWASP item and ATLAS technique), a table, SARIF (one result per probe that
//! succeeded, through `aigis-core`'s writer) and a self-contained HTML page; the
//! `--fail-on` gate; and the comparison of two JSON reports.
//!
//! The attack success rate counts successes over attempts that were answered or blocked;
//! attempts that got no answer are counted apart (and make the run incomplete).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::harness::{Outcome, RunResult};

/// The schema string of the JSON report.
pub const SCHEMA: &str = "aigis.redteam/v1";

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// One example of a successful attack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Example {
    /// What the attacker sent (user turns and tool results), clipped.
    pub prompt: String,
    /// What the target answered, clipped.
    pub response: String,
    /// The detector that fired.
    pub detector: String,
    /// What it saw.
    pub evidence: String,
}

/// Counts for one probe (or a roll-up).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Attempts sent or planned.
    pub attempts: usize,
    /// Attacks that worked.
    pub successes: usize,
    /// Attempts a guard refused.
    pub blocked: usize,
    /// Attempts without an answer (errors, skipped).
    pub errors: usize,
    /// successes / (attempts − errors); 0 when nothing was answered.
    pub attack_success_rate: f64,
}

impl Counts {
    fn add(&mut self, o: &Outcome, success: bool) {
        self.attempts += 1;
        self.successes += usize::from(success);
        match o {
            Outcome::Blocked { .. } => self.blocked += 1,
            Outcome::Error(_) | Outcome::Skipped => self.errors += 1,
            Outcome::Answered(_) => {}
        }
        let judged = self.attempts - self.errors;
        self.attack_success_rate = if judged == 0 {
            0.0
        } else {
            round4(self.successes as f64 / judged as f64)
        };
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Per probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeResult {
    /// `family.probe[+buff]`.
    pub probe: String,
    /// Its family and what that maps to.
    #[serde(flatten)]
    pub mapping: Mapping,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Up to three successful attacks.
    pub examples: Vec<Example>,
}

/// A family and what it maps to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mapping {
    /// Family name.
    pub family: String,
    /// The family's rule id.
    pub rule: String,
    /// OWASP Top 10 for LLM Applications (2025) items.
    pub owasp: Vec<String>,
    /// MITRE ATLAS technique ids.
    pub atlas: Vec<String>,
}

impl Mapping {
    fn of(f: &crate::probes::Family) -> Self {
        Mapping {
            family: f.name.into(),
            rule: f.rule.id.into(),
            owasp: f.owasp.iter().map(|s| (*s).to_string()).collect(),
            atlas: f.atlas.iter().map(|s| (*s).to_string()).collect(),
        }
    }
}

/// Per family, with its gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FamilyResult {
    /// The family.
    #[serde(flatten)]
    pub mapping: Mapping,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// The `--fail-on` threshold for it, if gated.
    pub threshold: Option<f64>,
    /// Its rate is above the threshold.
    pub failed: bool,
}

/// A roll-up by OWASP item or ATLAS technique.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rollup {
    /// The id.
    pub id: String,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The JSON report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// aigis version.
    pub tool_version: String,
    /// The target (no credentials).
    pub target: Value,
    /// Settings in effect.
    pub settings: Value,
    /// Attempts in all.
    pub attempts: usize,
    /// Successful attacks.
    pub successes: usize,
    /// Attempts a guard refused.
    pub blocked: usize,
    /// Attempts without an answer.
    pub errors: usize,
    /// Over the whole run.
    pub attack_success_rate: f64,
    /// Per probe, in family order.
    pub results: Vec<ProbeResult>,
    /// Per family, with gates.
    pub families: Vec<FamilyResult>,
    /// Per OWASP item.
    pub owasp: Vec<Rollup>,
    /// Per ATLAS technique.
    pub atlas: Vec<Rollup>,
    /// Up to ten error messages (first seen).
    pub error_samples: Vec<String>,
    /// 429 answers seen and tries repeated.
    pub throttled: u64,
    /// Tries repeated after 429s, 5xx and connection errors.
    pub retried: u64,
    /// Replies served from the cache.
    pub cached: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Every planned attempt was answered.
    pub complete: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
}

/// `--fail-on`: a rate for every family, or per family (`jailbreak=0.1,encoding=0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    all: Option<f64>,
    per: BTreeMap<String, f64>,
}

impl Default for Gate {
    /// Every family gated at 0: any successful attack fails the run.
    fn default() -> Self {
        Gate {
            all: Some(0.0),
            per: BTreeMap::new(),
        }
    }
}

impl Gate {
    /// Parse `0.05`, `jailbreak=0.1,encoding=0`, or `none`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let rate = |s: &str| -> Result<f64, Error> {
            let v: f64 = s.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "--fail-on {text:?}: `{s}` is not a rate; give a number from 0 to 1, e.g. 0.05"
                ))
            })?;
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(Error::Config(format!(
                    "--fail-on {text:?}: {v} is outside 0..1"
                )))
            }
        };
        if text.trim() == "none" {
            return Ok(Gate {
                all: None,
                per: BTreeMap::new(),
            });
        }
        let mut g = Gate {
            all: None,
            per: BTreeMap::new(),
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((fam, r)) => {
                    let fam = fam.trim();
                    if crate::probes::family(fam).is_none() {
                        return Err(Error::Config(format!(
                            "--fail-on: no family `{fam}`; `aigis redteam list` shows them"
                        )));
                    }
                    g.per.insert(fam.to_string(), rate(r)?);
                }
                None => g.all = Some(rate(part)?),
            }
        }
        if g.all.is_none() && g.per.is_empty() {
            return Err(Error::Config(
                "--fail-on: empty; give a rate such as 0 or 0.05".into(),
            ));
        }
        Ok(g)
    }

    fn threshold(&self, family: &str) -> Option<f64> {
        self.per.get(family).copied().or(self.all)
    }
}

/// Every attempt as one JSON line — probe, family, generation, what was sent, what came
/// back, the verdict and its evidence — for audit and for digging into a result (garak's
/// report.jsonl `attempt` entries).
pub fn attempts_jsonl(run: &RunResult) -> String {
    let mut out = String::new();
    for a in &run.attempts {
        let (outcome, response, detail) = match &a.outcome {
            Outcome::Answered(r) => (
                "answered",
                serde_json::json!(r.text),
                serde_json::json!({"tool_calls": r.tool_calls, "finish_reason": r.finish_reason}),
            ),
            Outcome::Blocked { status, message } => (
                "blocked",
                Value::Null,
                serde_json::json!({"status": status, "message": message}),
            ),
            Outcome::Error(e) => ("error", Value::Null, serde_json::json!({"message": e})),
            Outcome::Skipped => ("skipped", Value::Null, Value::Null),
        };
        let line = serde_json::json!({
            "probe": a.case.probe,
            "family": a.case.family.name,
            "generation": a.generation,
            "conversation": a.case.conversation,
            "outcome": outcome,
            "response": response,
            "detail": detail,
            "success": a.hit.is_some(),
            "detector": a.hit.as_ref().map(|h| h.detector),
            "evidence": a.hit.as_ref().map(|h| h.evidence.as_str()),
            "cached": a.cached,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Build the report of `run`.
pub fn build(run: &RunResult, gate: &Gate, tool_version: &str, extra_settings: Value) -> Report {
    let mut probes: Vec<ProbeResult> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut fams: Vec<FamilyResult> = Vec::new();
    let mut owasp: BTreeMap<String, Counts> = BTreeMap::new();
    let mut atlas: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    let mut error_samples = Vec::new();
    let mut cached = 0;
    for a in &run.attempts {
        let fam = a.case.family;
        let success = a.hit.is_some();
        cached += usize::from(a.cached);
        total.add(&a.outcome, success);
        let i = *index.entry(a.case.probe.clone()).or_insert_with(|| {
            probes.push(ProbeResult {
                probe: a.case.probe.clone(),
                mapping: Mapping::of(fam),
                counts: Counts::default(),
                examples: Vec::new(),
            });
            probes.len() - 1
        });
        let p = &mut probes[i];
        p.counts.add(&a.outcome, success);
        if let (Some(h), Outcome::Answered(r)) = (&a.hit, &a.outcome)
            && p.examples.len() < 3
        {
            p.examples.push(Example {
                prompt: clip(&a.case.conversation.attacker_text(), 2000),
                response: clip(&r.text, 2000),
                detector: h.detector.into(),
                evidence: h.evidence.clone(),
            });
        }
        if let Outcome::Error(m) = &a.outcome
            && error_samples.len() < 10
            && !error_samples.contains(m)
        {
            error_samples.push(m.clone());
        }
        if let Some(f) = fams.iter_mut().find(|f| f.mapping.family == fam.name) {
            f.counts.add(&a.outcome, success);
        } else {
            let mut c = Counts::default();
            c.add(&a.outcome, success);
            fams.push(FamilyResult {
                mapping: Mapping::of(fam),
                counts: c,
                threshold: None,
                failed: false,
            });
        }
        for o in fam.owasp {
            owasp
                .entry((*o).to_string())
                .or_default()
                .add(&a.outcome, success);
        }
        for t in fam.atlas {
            atlas
                .entry((*t).to_string())
                .or_default()
                .add(&a.outcome, success);
        }
    }
    for f in &mut fams {
        f.threshold = gate.threshold(&f.mapping.family);
        f.failed = f
            .threshold
            .is_some_and(|t| f.counts.successes > 0 && f.counts.attack_success_rate > t);
    }
    let o = &run.options;
    let mut settings = serde_json::json!({
        "seed": o.seed, "generations": o.generations, "concurrency": o.concurrency,
        "rate": o.rate, "canary": run.canary,
    });
    if let (Some(s), Value::Object(extra)) = (settings.as_object_mut(), extra_settings) {
        s.extend(extra);
    }
    Report {
        schema: SCHEMA.into(),
        tool_version: tool_version.into(),
        target: run.target.clone(),
        settings,
        attempts: total.attempts,
        successes: total.successes,
        blocked: total.blocked,
        errors: total.errors,
        attack_success_rate: total.attack_success_rate,
        results: probes,
        families: fams,
        owasp: owasp
            .into_iter()
            .map(|(id, counts)| Rollup { id, counts })
            .collect(),
        atlas: atlas
            .into_iter()
            .map(|(id, counts)| Rollup { id, counts })
            .collect(),
        error_samples,
        throttled: run.throttled,
        retried: run.retried,
        cached,
        seconds: (run.seconds * 1000.0).round() / 1000.0,
        complete: run.incomplete.is_none(),
        incomplete_reason: run.incomplete.clone(),
    }
}

impl Report {
    /// A family is above its `--fail-on` threshold.
    pub fn failed(&self) -> bool {
        self.families.iter().any(|f| f.failed)
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Read a JSON report (for `diff`); errors name the file and what is wrong.
    pub fn from_json(name: &str, text: &str) -> Result<Self, Error> {
        let r: Report = serde_json::from_str(text)
            .map_err(|e| Error::Config(format!("{name}: not an aigis red-team report ({e})")))?;
        if r.schema != SCHEMA {
            return Err(Error::Config(format!(
                "{name}: schema {:?}, expected {SCHEMA:?}",
                r.schema
            )));
        }
        Ok(r)
    }

    /// A table for the terminal.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<26} {:<7} {:<12} {:>8} {:>9} {:>7} {:>6} {:>7}  gate",
            "family", "rule", "owasp", "attempts", "successes", "blocked", "errors", "ASR"
        );
        for f in &self.families {
            let gate = match (f.threshold, f.failed) {
                (None, _) => "-".to_string(),
                (Some(t), true) => format!("FAIL (> {})", pct(t)),
                (Some(t), false) => format!("ok (<= {})", pct(t)),
            };
            let _ = writeln!(
                s,
                "{:<26} {:<7} {:<12} {:>8} {:>9} {:>7} {:>6} {:>7}  {gate}",
                f.mapping.family,
                f.mapping.rule,
                f.mapping.owasp.join(","),
                f.counts.attempts,
                f.counts.successes,
                f.counts.blocked,
                f.counts.errors,
                pct(f.counts.attack_success_rate)
            );
        }
        let hits: Vec<_> = self
            .results
            .iter()
            .filter(|p| p.counts.successes > 0)
            .collect();
        if !hits.is_empty() {
            s.push_str("\nsuccessful probes:\n");
            for p in hits {
                let _ = writeln!(
                    s,
                    "  {:<44} {:>3}/{:<3} {}",
                    p.probe,
                    p.counts.successes,
                    p.counts.attempts - p.counts.errors,
                    p.examples
                        .first()
                        .map(|e| format!("{}: {}", e.detector, clip(&e.evidence, 70)))
                        .unwrap_or_default()
                );
            }
        }
        if !self.error_samples.is_empty() {
            s.push_str("\nwithout answer:\n");
            for e in self.error_samples.iter().take(3) {
                let _ = writeln!(s, "  {}", clip(e, 200));
            }
        }
        let _ = writeln!(
            s,
            "\n{} attempts, {} successful ({}), {} blocked, {} without answer, {} from cache, {:.1} s{}",
            self.attempts,
            self.successes,
            pct(self.attack_success_rate),
            self.blocked,
            self.errors,
            self.cached,
            self.seconds,
            match &self.incomplete_reason {
                Some(r) => format!("\nINCOMPLETE: {r}"),
                None => String::new(),
            }
        );
        s
    }

    /// Findings for SARIF: one per probe with a success, at its rule's severity.
    pub fn to_core(&self, rules: &aigis_core::RuleRegistry) -> aigis_core::Report {
        let mut r = aigis_core::Report::new(SCHEMA);
        let place = self
            .target
            .get("base_url")
            .or_else(|| self.target.get("url"))
            .or_else(|| self.target.get("program"))
            .and_then(Value::as_str)
            .unwrap_or("target")
            .to_string();
        for p in self.results.iter().filter(|p| p.counts.successes > 0) {
            let Some(rule) = rules.find(&p.mapping.rule) else {
                continue;
            };
            let mut loc = aigis_core::Location::file(place.clone());
            loc.member = Some(p.probe.clone());
            let mut f = aigis_core::Finding::new(
                rule,
                format!(
                    "{}: {} of {} attacks succeeded ({})",
                    p.probe,
                    p.counts.successes,
                    p.counts.attempts - p.counts.errors,
                    pct(p.counts.attack_success_rate)
                ),
                loc,
            );
            if let Some(e) = p.examples.first() {
                f = f
                    .evidence(format!("{}: {}", e.detector, e.evidence))
                    .detail(format!("prompt: {}", clip(&e.prompt, 300)));
            }
            r.findings.push(f);
        }
        if let Some(reason) = &self.incomplete_reason {
            r.errors.push(aigis_core::ErrorRecord {
                path: place,
                message: format!("incomplete run: {reason}"),
            });
        }
        r.finish();
        r
    }

    /// A self-contained HTML page.
    pub fn to_html(&self) -> String {
        let mut s = String::from(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>aigis red-team report</title><style>\
             body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}\
             table{border-collapse:collapse;width:100%;margin:1rem 0}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
             .bar{background:#eee;width:10rem;height:.8rem;display:inline-block}.bar span{display:block;height:100%;background:#c0392b}\
             .fail{color:#c0392b;font-weight:bold}.ok{color:#27ae60}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem;max-height:12rem;overflow:auto}\
             .warn{background:#fff3cd;padding:.5rem}</style></head><body>",
        );
        let _ = write!(
            s,
            "<h1>aigis red-team report</h1><p>Target: <code>{}</code><br>{} attempts, <b>{} successful ({})</b>, {} blocked by a guard, {} without answer, {:.1} s (aigis {}).</p>",
            esc(&self.target.to_string()),
            self.attempts,
            self.successes,
            pct(self.attack_success_rate),
            self.blocked,
            self.errors,
            self.seconds,
            esc(&self.tool_version)
        );
        if let Some(r) = &self.incomplete_reason {
            let _ = write!(s, "<p class=\"warn\">Incomplete run: {}</p>", esc(r));
        }
        s.push_str("<h2>Families</h2><table><tr><th>family</th><th>rule</th><th>OWASP</th><th>ATLAS</th><th>attempts</th><th>successes</th><th>blocked</th><th>attack success rate</th><th>gate</th></tr>");
        for f in &self.families {
            let gate = match (f.threshold, f.failed) {
                (None, _) => "<td>-</td>".to_string(),
                (Some(t), true) => format!("<td class=\"fail\">fail (&gt; {})</td>", pct(t)),
                (Some(t), false) => format!("<td class=\"ok\">ok (&le; {})</td>", pct(t)),
            };
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td>{gate}</tr>",
                esc(&f.mapping.family),
                esc(&f.mapping.rule),
                esc(&f.mapping.owasp.join(", ")),
                esc(&f.mapping.atlas.join(", ")),
                f.counts.attempts,
                f.counts.successes,
                f.counts.blocked,
                bar(f.counts.attack_success_rate),
                pct(f.counts.attack_success_rate)
            );
        }
        s.push_str("</table>");
        for (title, rows) in [
            ("OWASP Top 10 for LLM Applications (2025)", &self.owasp),
            ("MITRE ATLAS", &self.atlas),
        ] {
            let _ = write!(
                s,
                "<h2>{title}</h2><table><tr><th>id</th><th>attempts</th><th>successes</th><th>attack success rate</th></tr>"
            );
            for r in rows {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
                    esc(&r.id),
                    r.counts.attempts,
                    r.counts.successes,
                    bar(r.counts.attack_success_rate),
                    pct(r.counts.attack_success_rate)
                );
            }
            s.push_str("</table>");
        }
        s.push_str("<h2>Successful attacks</h2>");
        let mut any = false;
        for p in self.results.iter().filter(|p| p.counts.successes > 0) {
            any = true;
            let _ = write!(
                s,
                "<h3>{} <small>({} of {})</small></h3>",
                esc(&p.probe),
                p.counts.successes,
                p.counts.attempts - p.counts.errors
            );
            for e in &p.examples {
                let _ = write!(
                    s,
                    "<p><b>{}</b>: {}</p><pre>{}</pre><pre>{}</pre>",
                    esc(&e.detector),
                    esc(&e.evidence),
                    esc(&e.prompt),
                    esc(&e.response)
                );
            }
        }
        if !any {
            s.push_str("<p>None.</p>");
        }
        s.push_str("</body></html>\n");
        s
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn bar(x: f64) -> String {
    format!(
        "<span class=\"bar\"><span style=\"width:{:.1}%\"></span></span>",
        (x * 100.0).clamp(0.0, 100.0)
    )
}

use aigis_core::render::html_escape as esc;

/// One line of a comparison.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// `family` or `family.probe`.
    pub name: String,
    /// Rate in the first report (`None`: not run there).
    pub before: Option<f64>,
    /// Rate in the second.
    pub after: Option<f64>,
    /// after − before, when both ran.
    pub delta: Option<f64>,
    /// The rate rose by more than the tolerance.
    pub regression: bool,
}

/// Compare two reports, per family and per probe; `tolerance` is how much a rate may rise.
pub fn diff(a: &Report, b: &Report, tolerance: f64) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |name: String, before: Option<f64>, after: Option<f64>| {
        let delta = before.zip(after).map(|(x, y)| round4(y - x));
        out.push(Change {
            name,
            before,
            after,
            delta,
            regression: delta.is_some_and(|d| d > tolerance),
        });
    };
    let fam = |r: &Report| -> BTreeMap<String, f64> {
        r.families
            .iter()
            .map(|f| (f.mapping.family.clone(), f.counts.attack_success_rate))
            .collect()
    };
    let probe = |r: &Report| -> BTreeMap<String, f64> {
        r.results
            .iter()
            .map(|p| (p.probe.clone(), p.counts.attack_success_rate))
            .collect()
    };
    for (x, y) in [(fam(a), fam(b)), (probe(a), probe(b))] {
        let names: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).cloned().collect();
        for n in names {
            push(n.clone(), x.get(&n).copied(), y.get(&n).copied());
        }
    }
    out
}

/// The comparison as a table: families first, then the probes whose rate changed.
pub fn diff_table(changes: &[Change]) -> String {
    let mut s = format!(
        "{:<46} {:>8} {:>8} {:>9}\n",
        "family / probe", "before", "after", "change"
    );
    let show = |x: Option<f64>| x.map_or_else(|| "-".to_string(), pct);
    for c in changes {
        let is_family = !c.name.contains('.');
        if !is_family && c.delta == Some(0.0) {
            continue;
        }
        let _ = writeln!(
            s,
            "{:<46} {:>8} {:>8} {:>9}{}",
            if is_family {
                c.name.clone()
            } else {
                format!("  {}", c.name)
            },
            show(c.before),
            show(c.after),
            c.delta
                .map_or_else(|| "-".to_string(), |d| format!("{:+.1}pp", d * 100.0)),
            if c.regression { "  REGRESSION" } else { "" }
        );
    }
    s
}
