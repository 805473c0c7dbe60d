//! What findings mean for the exit code: the `--fail-on` threshold and suppressions.
//!
//! A suppression names a rule, optionally a path pattern, a mandatory reason and an optional
//! expiry date. An expired suppression stops applying and is itself reported (`PIP001`), so
//! a temporary exception cannot silently become permanent.

use serde::Deserialize;

use crate::{Finding, Location, RuleInfo, Severity};

/// `PIP001 expired-suppression`.
pub static PIP001: RuleInfo = RuleInfo {
    id: "PIP001",
    name: "expired-suppression",
    severity: Severity::Medium,
    summary: "A suppression in aigis.toml is past its expiry date.",
    doc: "## What it detects\nA `[[suppress]]` entry whose `expires` date has passed.\n\n\
## Why it matters\nExceptions are granted for a time; when that time is over the finding they hid is live again \
and someone must decide anew.\n\n## Example\n```toml\n[[suppress]]\nrule = \"SCN104\"\npath = \"models/custom.pkl\"\n\
reason = \"vetted by security, ticket SEC-12\"\nexpires = \"2025-01-01\"\n```\n\n\
## Remediation\nRe-review the suppressed finding, then remove the entry or extend `expires`.\n\n\
## References\n- aigis.example.toml, section `[[suppress]]`\n",
    cwe: &[],
};

/// A configured exception.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Rule id (`SCN104`) or name.
    pub rule: String,
    /// Optional path pattern; `*` matches any run of characters (including `/`), `?` one.
    /// Matched against the finding's path and against `path!member`.
    #[serde(default)]
    pub path: Option<String>,
    /// Why this is acceptable. Required.
    pub reason: String,
    /// `YYYY-MM-DD`; from that day on the suppression no longer applies.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A calendar day, for expiry checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u8,
    /// Day, 1-31.
    pub day: u8,
}

impl Day {
    /// Parse `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Day> {
        let mut it = s.trim().splitn(3, '-');
        let year = it.next()?.parse().ok()?;
        let month: u8 = it.next()?.parse().ok()?;
        let day: u8 = it.next()?.parse().ok()?;
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(Day { year, month, day })
    }

    /// The UTC day of a Unix timestamp (seconds).
    pub fn from_unix(secs: u64) -> Day {
        // Howard Hinnant's civil-from-days algorithm.
        let z = (secs / 86_400) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Day { year, month, day }
    }
}

/// Match `text` against a pattern where `*` is any run and `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Problems with a suppression list that make the config invalid (empty reason, bad date).
pub fn validate(suppressions: &[Suppression]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, s) in suppressions.iter().enumerate() {
        if s.reason.trim().is_empty() {
            out.push(format!("suppress[{i}] ({}): `reason` must say why", s.rule));
        }
        if let Some(e) = &s.expires
            && Day::parse(e).is_none()
        {
            out.push(format!(
                "suppress[{i}] ({}): `expires` = {e:?} is not YYYY-MM-DD",
                s.rule
            ));
        }
    }
    out
}

fn matches(s: &Suppression, f: &Finding) -> bool {
    let rule_ok = s.rule.eq_ignore_ascii_case(f.rule) || s.rule.eq_ignore_ascii_case(f.name);
    let path_ok = match &s.path {
        None => true,
        Some(p) => {
            glob_match(p, &f.location.path)
                || f.location
                    .member
                    .as_ref()
                    .is_some_and(|m| glob_match(p, &format!("{}!{m}", f.location.path)))
        }
    };
    rule_ok && path_ok
}

/// Remove suppressed findings; returns how many were removed. Expired suppressions are not
/// applied and each adds a `PIP001` finding located at `config_path`.
pub fn apply_suppressions(
    findings: &mut Vec<Finding>,
    suppressions: &[Suppression],
    today: Day,
    config_path: &str,
) -> usize {
    let mut live = Vec::new();
    let mut expired = Vec::new();
    for s in suppressions {
        match s.expires.as_deref().and_then(Day::parse) {
            Some(d) if d <= today => expired.push(s),
            _ => live.push(s),
        }
    }
    let before = findings.len();
    findings.retain(|f| !live.iter().any(|s| matches(s, f)));
    let removed = before - findings.len();
    for s in expired {
        findings.push(
            Finding::new(
                &PIP001,
                format!(
                    "suppression of {} expired on {}",
                    s.rule,
                    s.expires.as_deref().unwrap_or("")
                ),
                Location::file(config_path),
            )
            .detail(format!("reason given: {}", s.reason))
            .evidence(s.path.as_deref().unwrap_or("*")),
        );
    }
    removed
}

/// Exit code for a set of findings: 1 when any is at or above `fail_on`, else 0.
pub fn exit_code(findings: &[Finding], fail_on: Severity) -> i32 {
    i32::from(findings.iter().any(|f| f.severity >= fail_on))
}

/// Exit code for a report: 1 when a finding is at or above `fail_on` *or* some file could not
/// be fully examined (verdict `error`): a run is never clean when something went unchecked,
/// whatever the threshold.
pub fn report_exit_code(report: &crate::Report, fail_on: Severity) -> i32 {
    let unchecked = report
        .files
        .iter()
        .any(|f| f.verdict == crate::Verdict::Error);
    i32::from(exit_code(&report.findings, fail_on) == 1 || unchecked)
}

#[cfg(test)]
mod tests {
    use super::*;

    static R: RuleInfo = RuleInfo {
        id: "SCN104",
        name: "pickle-unknown-call",
        severity: Severity::Medium,
        summary: "",
        doc: "",
        cwe: &[],
    };

    fn finding(path: &str) -> Finding {
        Finding::new(&R, "t", Location::file(path))
    }

    fn sup(path: Option<&str>, expires: Option<&str>) -> Suppression {
        Suppression {
            rule: "SCN104".into(),
            path: path.map(Into::into),
            reason: "ok".into(),
            expires: expires.map(Into::into),
        }
    }

    #[test]
    fn glob() {
        assert!(glob_match("models/*.pkl", "models/a/b.pkl"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(!glob_match("*.pt", "model.pkl"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn suppression_applies_to_matching_path_only() {
        let mut f = vec![finding("models/a.pkl"), finding("other/b.pkl")];
        let today = Day::parse("2026-01-01").unwrap();
        let n = apply_suppressions(&mut f, &[sup(Some("models/*"), None)], today, "aigis.toml");
        assert_eq!(n, 1);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].location.path, "other/b.pkl");
    }

    #[test]
    fn expired_suppression_does_not_apply_and_is_reported() {
        let mut f = vec![finding("a.pkl")];
        let today = Day::parse("2026-06-01").unwrap();
        let n = apply_suppressions(
            &mut f,
            &[sup(None, Some("2026-06-01"))],
            today,
            "aigis.toml",
        );
        assert_eq!(n, 0);
        assert_eq!(f.len(), 2);
        assert!(
            f.iter()
                .any(|x| x.rule == "PIP001" && x.location.path == "aigis.toml")
        );
    }

    #[test]
    fn exit_code_respects_threshold() {
        let f = vec![finding("a")];
        assert_eq!(exit_code(&f, Severity::Medium), 1);
        assert_eq!(exit_code(&f, Severity::High), 0);
        assert_eq!(exit_code(&[], Severity::Info), 0);
    }

    #[test]
    fn unix_days() {
        assert_eq!(
            Day::from_unix(0),
            Day {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        // 2026-11-22T00:00:00Z
        assert_eq!(
            Day::from_unix(1_795_305_600),
            Day {
                year: 2026,
                month: 11,
                day: 22
            }
        );
        assert_eq!(
            Day::from_unix(951_782_400),
            Day {
                year: 2000,
                month: 2,
                day: 29
            }
        );
    }

    #[test]
    fn validation_names_bad_entries() {
        let mut s = sup(None, Some("next week"));
        s.reason = " ".into();
        let p = validate(&[s]);
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
