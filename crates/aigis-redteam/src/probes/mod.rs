//! Probe families: one file each, its attack prompts in `data/probes/<family>.toml` with their
//! source and licence. A family file says how its prompts are delivered (a user turn, a tool
//! result, a tool-enabled agent) and which detectors judge the answers; this module reads the
//! data, expands its placeholders and applies buffs.
//!
//! Data files: `family`, `source`, `licence`, optional `goals` (harmful requests a jailbreak
//! wraps), and `[[probe]]` entries with `name`, `about`, `prompts` and optional `payloads`,
//! `shots` (many-shot turns), `task` (the user's request when the prompts arrive as a tool
//! result). Placeholders in prompts: `{marker}` (a fresh string the attack
//! asks the target to say; its appearance is the proof), `{goal}` (each goal in turn),
//! `{payload}` (each payload in turn), `{exfil}` (an attacker-controlled URL).

mod denial_of_service;
pub(crate) mod encoding;
mod excessive_agency;
mod harmful_content;
mod indirect_injection;
mod insecure_output;
mod jailbreak;
mod package_hallucination;
mod pii_leakage;
mod prompt_injection;
mod secrets_leakage;
mod system_prompt_extraction;

use aigis_core::RuleInfo;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::detectors::Detector;
use crate::{Conversation, Error};

/// The URL attacks ask targets to send data to.
pub const EXFIL_URL: &str = "https://attacker.example/collect";

/// A probe family.
#[derive(Debug)]
pub struct Family {
    /// Name (`prompt_injection`, …), as `--probes` takes it.
    pub name: &'static str,
    /// Its rule (`PRB101 …`): what `aigis rules` explains and SARIF cites.
    pub rule: &'static RuleInfo,
    /// OWASP Top 10 for LLM Applications (2025) items.
    pub owasp: &'static [&'static str],
    /// MITRE ATLAS technique ids.
    pub atlas: &'static [&'static str],
    /// The shipped data file (TOML).
    pub data: &'static str,
    /// Shape one expanded prompt into a conversation and its detectors.
    pub build: fn(&ProbeEntry, Expanded) -> (Conversation, Vec<Detector>),
}

/// Every family, in rule-id order.
pub static FAMILIES: &[&Family] = &[
    &prompt_injection::FAMILY,
    &indirect_injection::FAMILY,
    &jailbreak::FAMILY,
    &encoding::FAMILY,
    &system_prompt_extraction::FAMILY,
    &pii_leakage::FAMILY,
    &secrets_leakage::FAMILY,
    &harmful_content::FAMILY,
    &insecure_output::FAMILY,
    &excessive_agency::FAMILY,
    &denial_of_service::FAMILY,
    &package_hallucination::FAMILY,
];

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().copied().find(|f| f.name == name)
}

/// Every family's rule, sorted by id.
pub fn rules() -> Vec<&'static RuleInfo> {
    let mut v: Vec<_> = FAMILIES.iter().map(|f| f.rule).collect();
    v.sort_by_key(|r| r.id);
    v
}

/// A data file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    /// Which family its probes belong to.
    pub family: String,
    /// Where the prompts come from.
    pub source: String,
    /// Their licence (SPDX id).
    pub licence: String,
    /// Goals `{goal}` expands to.
    #[serde(default)]
    pub goals: Vec<String>,
    /// The probes.
    pub probe: Vec<ProbeEntry>,
}

/// One probe of a data file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeEntry {
    /// Name, unique in its family (`family.name` in reports).
    pub name: String,
    /// What it tries.
    #[serde(default)]
    pub about: String,
    /// Attack prompts with placeholders.
    pub prompts: Vec<String>,
    /// What `{payload}` expands to.
    #[serde(default)]
    pub payloads: Vec<String>,
    /// Many-shot: how many faked question/answer turns go before the attack.
    #[serde(default)]
    pub shots: Option<usize>,
    /// When set, this is the user's (harmless) request and each prompt arrives as the result
    /// of a tool the assistant called: an indirect injection.
    #[serde(default)]
    pub task: Option<String>,
}

/// The conversation that delivers `text`: a user turn, or — when the entry has a `task` —
/// the task, a `fetch_document` call and `text` as its result.
pub(crate) fn deliver(entry: &ProbeEntry, text: String) -> Conversation {
    let Some(task) = &entry.task else {
        return Conversation::user(text);
    };
    Conversation {
        system: None,
        turns: vec![
            crate::Turn::User {
                content: task.clone(),
            },
            crate::Turn::ToolCall {
                id: "call_1".into(),
                name: "fetch_document".into(),
                arguments: "{}".into(),
            },
            crate::Turn::Tool {
                id: "call_1".into(),
                content: text,
            },
        ],
        tools: Vec::new(),
    }
}

/// One prompt with its placeholders filled.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// The attack text.
    pub text: String,
    /// The marker it asks for (detectors look for it).
    pub marker: String,
    /// The goal it wraps, if any.
    pub goal: Option<String>,
    /// The payload it carries, if any.
    pub payload: Option<String>,
}

/// One attack to send.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its family.
    pub family: &'static Family,
    /// `family.probe`, plus `+buff` when a buff rewrote it.
    pub probe: String,
    /// What is sent (the harness adds the system prompt).
    pub conversation: Conversation,
    /// What decides success (any one suffices).
    pub detectors: Vec<Detector>,
}

const PLACEHOLDERS: &[&str] = &["{marker}", "{goal}", "{payload}", "{exfil}"];

/// Parse and check a data file; `name` is how errors call it.
pub fn parse(name: &str, text: &str) -> Result<ProbeFile, Error> {
    let bad = |message: String| Error::ProbeData {
        file: name.to_string(),
        message,
    };
    let f: ProbeFile = toml::from_str(text).map_err(|e| bad(e.to_string().trim().to_string()))?;
    if family(&f.family).is_none() {
        return Err(bad(format!(
            "unknown family `{}`; one of: {}",
            f.family,
            FAMILIES
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if f.source.trim().is_empty() || f.licence.trim().is_empty() {
        return Err(bad(
            "`source` and `licence` must say where the prompts come from".into(),
        ));
    }
    let mut names = std::collections::HashSet::new();
    for p in &f.probe {
        let ok_name = !p.name.is_empty()
            && p.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok_name {
            return Err(bad(format!(
                "probe name {:?}: use lower-case letters, digits and `_`",
                p.name
            )));
        }
        if !names.insert(p.name.as_str()) {
            return Err(bad(format!("probe `{}` appears twice", p.name)));
        }
        if p.prompts.is_empty() {
            return Err(bad(format!("probe `{}` has no prompts", p.name)));
        }
        for prompt in &p.prompts {
            if prompt.trim().is_empty() {
                return Err(bad(format!("probe `{}` has an empty prompt", p.name)));
            }
            let mut rest = prompt.as_str();
            while let Some(i) = rest.find('{') {
                let tail = &rest[i..];
                match PLACEHOLDERS.iter().find(|ph| tail.starts_with(*ph)) {
                    Some(ph) => rest = &tail[ph.len()..],
                    None if tail.starts_with("{{") => rest = &tail[2..],
                    None => {
                        let end = tail.find('}').map_or(tail.len().min(20), |e| e + 1);
                        return Err(bad(format!(
                            "probe `{}`: unknown placeholder `{}` (known: {}; write `{{{{` for a literal brace)",
                            p.name,
                            &tail[..end],
                            PLACEHOLDERS.join(", ")
                        )));
                    }
                }
            }
            if prompt.contains("{goal}") && f.goals.is_empty() {
                return Err(bad(format!(
                    "probe `{}` uses {{goal}} but the file has no `goals`",
                    p.name
                )));
            }
            if prompt.contains("{payload}") && p.payloads.is_empty() {
                return Err(bad(format!(
                    "probe `{}` uses {{payload}} but has no `payloads`",
                    p.name
                )));
            }
        }
    }
    Ok(f)
}

/// A marker for attempt `index` of `probe`: fresh per prompt, fixed by the seed (so cached
/// replies are found again on a rerun).
pub fn marker(seed: u64, probe: &str, index: usize) -> String {
    let d = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(probe.as_bytes())
        .chain_update(index.to_le_bytes())
        .finalize();
    format!("AIGIS-{:02X}{:02X}{:02X}{:02X}", d[0], d[1], d[2], d[3])
}

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Families or `family.probe` names; empty = every family.
    pub probes: Vec<String>,
    /// Buff names applied to every case (each adds a rewritten copy).
    pub buffs: Vec<String>,
    /// At most this many prompts per probe (0 = all), taken evenly across its expansions.
    pub max_per_probe: usize,
    /// Seed for markers.
    pub seed: u64,
    /// Extra data files (name, text).
    pub extra: Vec<(String, String)>,
}

/// Build the cases of `sel`. Errors name unknown families, probes and buffs.
pub fn build(sel: &Selection) -> Result<Vec<Case>, Error> {
    let mut files: Vec<(String, ProbeFile)> = Vec::new();
    for f in FAMILIES {
        files.push((
            format!("data/probes/{}.toml", f.name),
            parse(&format!("data/probes/{}.toml (built in)", f.name), f.data)?,
        ));
    }
    for (name, text) in &sel.extra {
        files.push((name.clone(), parse(name, text)?));
    }
    for want in &sel.probes {
        let (fam, probe) = want
            .split_once('.')
            .map_or((want.as_str(), None), |(a, b)| (a, Some(b)));
        let Some(_) = family(fam) else {
            return Err(Error::Config(format!(
                "--probes: no family `{fam}`; `aigis redteam list` shows them"
            )));
        };
        if let Some(p) = probe {
            let found = files
                .iter()
                .any(|(_, f)| f.family == fam && f.probe.iter().any(|e| e.name == p));
            if !found {
                return Err(Error::Config(format!(
                    "--probes: family `{fam}` has no probe `{p}`; `aigis redteam list` shows them"
                )));
            }
        }
    }
    let mut buffs = Vec::new();
    for b in &sel.buffs {
        buffs.push(crate::buffs::find(b).ok_or_else(|| {
            Error::Config(format!(
                "--buffs: no buff `{b}`; one of: {}",
                crate::buffs::BUFFS
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?);
    }
    let wanted = |fam: &str, probe: &str| {
        sel.probes.is_empty()
            || sel
                .probes
                .iter()
                .any(|w| w == fam || *w == format!("{fam}.{probe}"))
    };
    let mut cases = Vec::new();
    for (_, file) in &files {
        let Some(fam) = family(&file.family) else {
            continue;
        };
        for entry in &file.probe {
            if !wanted(fam.name, &entry.name) {
                continue;
            }
            let probe = format!("{}.{}", fam.name, entry.name);
            let expanded = expand(file, entry, &probe, sel.seed);
            let picked = pick(expanded, sel.max_per_probe);
            for e in picked {
                let (conversation, detectors) = (fam.build)(entry, e);
                for b in &buffs {
                    if let Some(c) = b.apply(&conversation) {
                        cases.push(Case {
                            family: fam,
                            probe: format!("{probe}+{}", b.name),
                            conversation: c,
                            detectors: detectors.clone(),
                        });
                    }
                }
                cases.push(Case {
                    family: fam,
                    probe: probe.clone(),
                    conversation,
                    detectors,
                });
            }
        }
    }
    Ok(cases)
}

/// Every filling of an entry's prompts (goals × payloads where used).
fn expand(file: &ProbeFile, entry: &ProbeEntry, probe: &str, seed: u64) -> Vec<Expanded> {
    let mut out = Vec::new();
    for prompt in &entry.prompts {
        let goals: Vec<Option<&String>> = if prompt.contains("{goal}") {
            file.goals.iter().map(Some).collect()
        } else {
            vec![None]
        };
        let payloads: Vec<Option<&String>> = if prompt.contains("{payload}") {
            entry.payloads.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for g in &goals {
            for p in &payloads {
                let m = marker(seed, probe, out.len());
                let fill = |s: &str| {
                    s.replace("{marker}", &m)
                        .replace("{exfil}", EXFIL_URL)
                        .replace("{goal}", g.map_or("", String::as_str))
                        .replace("{{", "{")
                        .replace("}}", "}")
                };
                // A payload may itself hold {marker} or {exfil}.
                let text = fill(&prompt.replace("{payload}", p.map_or("", String::as_str)));
                out.push(Expanded {
                    text,
                    marker: m.clone(),
                    goal: g.cloned(),
                    payload: p.map(|p| fill(p)),
                });
            }
        }
    }
    out
}

/// At most `max` of `v`, spread evenly (0 = all).
fn pick(v: Vec<Expanded>, max: usize) -> Vec<Expanded> {
    if max == 0 || v.len() <= max {
        return v;
    }
    let n = v.len();
    let keep: Vec<usize> = (0..max).map(|i| i * n / max).collect();
    v.into_iter()
        .enumerate()
        .filter(|(i, _)| keep.binary_search(i).is_ok())
        .map(|(_, e)| e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_parses_and_names_its_source() {
        for f in FAMILIES {
            let p = parse(f.name, f.data).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.family, f.name);
            assert!(!p.probe.is_empty(), "{}", f.name);
            assert!(
                aigis_core::check_rule_doc(f.rule).is_empty(),
                "{:?}",
                aigis_core::check_rule_doc(f.rule)
            );
            assert!(f.rule.id.starts_with("PRB"));
            assert!(!f.owasp.is_empty() && !f.atlas.is_empty(), "{}", f.name);
            for o in f.owasp {
                assert!(o.len() == 5 && o.starts_with("LLM"), "{o}");
            }
            for a in f.atlas {
                assert!(a.starts_with("AML.T"), "{a}");
            }
        }
        let ids: std::collections::HashSet<_> = FAMILIES.iter().map(|f| f.rule.id).collect();
        assert_eq!(ids.len(), FAMILIES.len());
    }

    #[test]
    fn building_expands_placeholders_and_applies_buffs() {
        let all = build(&Selection::default()).expect("builds");
        assert!(all.len() > 100, "{}", all.len());
        for c in &all {
            let t = c.conversation.attacker_text();
            for ph in PLACEHOLDERS {
                assert!(!t.contains(ph), "{}: {t}", c.probe);
            }
            assert!(!c.detectors.is_empty(), "{}", c.probe);
        }
        let sel = Selection {
            probes: vec!["prompt_injection".into()],
            buffs: vec!["base64".into()],
            max_per_probe: 2,
            ..Selection::default()
        };
        let some = build(&sel).expect("builds");
        assert!(some.iter().all(|c| c.family.name == "prompt_injection"));
        let plain = some.iter().filter(|c| !c.probe.contains('+')).count();
        let buffed = some.iter().filter(|c| c.probe.ends_with("+base64")).count();
        assert_eq!(plain, buffed);
        // Markers are fixed by the seed.
        assert_eq!(marker(1, "a.b", 0), marker(1, "a.b", 0));
        assert_ne!(marker(1, "a.b", 0), marker(2, "a.b", 0));
    }

    #[test]
    fn bad_selections_and_data_files_are_named() {
        for (sel, want) in [
            (vec!["nope".to_string()], "no family `nope`"),
            (vec!["jailbreak.nope".to_string()], "has no probe `nope`"),
        ] {
            let e = build(&Selection {
                probes: sel,
                ..Selection::default()
            })
            .expect_err("refused")
            .to_string();
            assert!(e.contains(want), "{e}");
        }
        let e = build(&Selection {
            buffs: vec!["rot14".into()],
            ..Selection::default()
        })
        .expect_err("refused")
        .to_string();
        assert!(e.contains("no buff `rot14`"), "{e}");
        for (text, want) in [
            ("family = 'x'", "missing field"),
            (
                "family = 'nope'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['x']",
                "unknown family",
            ),
            (
                "family = 'jailbreak'\nsource=''\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['x']",
                "source",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='A b'\nprompts=['x']",
                "probe name",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['say {mark}']",
                "unknown placeholder `{mark}`",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['do {goal}']",
                "no `goals`",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['{payload}']",
                "no `payloads`",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=[]",
                "no prompts",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\nextra=1\n[[probe]]\nname='a'\nprompts=['x']",
                "unknown field",
            ),
            (
                "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['x']\n[[probe]]\nname='a'\nprompts=['y']",
                "twice",
            ),
            ("\u{0}\u{1}garbage[[[", "probe data mine.toml"),
        ] {
            let e = parse("mine.toml", text).expect_err(text).to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.starts_with("probe data mine.toml"), "{e}");
        }
        assert!(parse("ok.toml", "family = 'jailbreak'\nsource='s'\nlicence='MIT'\n[[probe]]\nname='a'\nprompts=['literal {{braces}} {marker}']").is_ok());
    }

    #[test]
    fn picking_spreads_evenly() {
        let v: Vec<Expanded> = (0..10)
            .map(|i| Expanded {
                text: i.to_string(),
                marker: String::new(),
                goal: None,
                payload: None,
            })
            .collect();
        let p: Vec<String> = pick(v.clone(), 3).into_iter().map(|e| e.text).collect();
        assert_eq!(p, ["0", "3", "6"]);
        assert_eq!(pick(v.clone(), 0).len(), 10);
        assert_eq!(pick(v, 20).len(), 10);
    }
}
