//! `US_SSN`: `AAA-GG-SSSS` (or spaces) with the SSA area/group/serial rules; undelimited nine
//! digits only with context.
use super::{lazy_re, push};
use crate::validate::us_ssn;
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(
    RE,
    r"(?-u:\b)([0-9]{3})([- ]?)([0-9]{2})([- ]?)([0-9]{4})(?-u:\b)"
);

/// US social security numbers.
pub struct UsSsn;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "us_ssn",
    entities: &["US_SSN"],
    summary: "SSA area/group/serial rules; context for bare digits",
};

impl Recognizer for UsSsn {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Nine digits with at most two separators between them: one numeric run.
        f.digits >= 9 && f.longest_numeric >= 9
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for c in super::captures(&RE, text) {
            let (Some(m), Some(a), Some(s1), Some(g), Some(s2), Some(s)) =
                (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5))
            else {
                continue;
            };
            if s1.as_str() != s2.as_str() {
                continue;
            }
            let n = |x: regex::Match<'_>| x.as_str().parse::<u32>().unwrap_or(0);
            if !us_ssn(n(a), n(g), n(s)) {
                continue;
            }
            let score = if s1.as_str().is_empty() { 0.05 } else { 0.5 };
            push(out, "US_SSN", m.start(), m.end(), score, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn ssns() {
        assert_eq!(found("US_SSN", "SSN: 536-22-1234"), ["536-22-1234"]);
        assert_eq!(found("US_SSN", "my ssn is 536221234"), ["536221234"]);
        assert!(
            found(
                "US_SSN",
                "666-12-1234 900-12-1234 536-00-1234 536-22 1234 order 536221234"
            )
            .is_empty()
        );
    }
}
