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
    fn min_len(&self) -> usize {
        9
    }
    fn min_digits(&self) -> usize {
        9
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Nine digits with at most two separators between them: one numeric run.
        f.digits >= 9 && f.longest_numeric >= 9
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for m in RE.find_iter(text) {
            // The match is `AAA`, an optional separator, `GG`, an optional separator, `SSSS`:
            // the groups are read off its bytes, no capture search needed.
            let b = m.as_str().as_bytes();
            let sep = |i: usize| b.get(i).filter(|c| !c.is_ascii_digit()).copied();
            let s1 = sep(3);
            let g_at = 3 + usize::from(s1.is_some());
            let s2 = sep(g_at + 2);
            let s_at = g_at + 2 + usize::from(s2.is_some());
            if s1 != s2 {
                continue;
            }
            let n = |r: std::ops::Range<usize>| {
                m.as_str()
                    .get(r)
                    .and_then(|x| x.parse::<u32>().ok())
                    .unwrap_or(0)
            };
            if !us_ssn(n(0..3), n(g_at..g_at + 2), n(s_at..s_at + 4)) {
                continue;
            }
            let score = if s1.is_none() { 0.05 } else { 0.5 };
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
