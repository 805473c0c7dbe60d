//! `DATE_TIME`: ISO 8601 dates and timestamps, `dd/mm/yyyy`-style dates and written dates
//! ("5 May 2024", "May 5, 2024"), with month and day ranges checked.
use super::{lazy_re, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(
    ISO,
    r"(?-u:\b)([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?(?-u:\b)"
);
lazy_re!(
    NUM,
    r"(?-u:\b)([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4}|[0-9]{2})(?-u:\b)"
);
lazy_re!(
    WORDS,
    r"(?i)(?-u:\b)(?:[0-9]{1,2}(?:st|nd|rd|th)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,? [0-9]{4}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? [0-9]{1,2}(?:st|nd|rd|th)?,? [0-9]{4})(?-u:\b)"
);

/// Dates and times.
pub struct DateTime;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "date_time",
    entities: &["DATE_TIME"],
    summary: "ISO, numeric and written dates with range checks",
};

impl Recognizer for DateTime {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn min_len(&self) -> usize {
        4
    }
    fn min_digits(&self) -> usize {
        4
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Every form has a separator: `-` (ISO), `/` or `.` (numeric), or a space and a month
        // name.
        f.digits >= 4 && (f.dash_or_slash || f.dot || (f.space && f.ascii_alpha >= 3))
    }
    fn find(&self, text: &str, f: &crate::Features, out: &mut Vec<Candidate>) {
        // `dddd-dd-dd`, `d/d/dd` (or dots) and `d Month dddd` need these at least.
        let iso = f.has(b'-') && f.longest_numeric >= 10;
        let num = (f.has(b'/') || f.has(b'.')) && f.longest_numeric >= 6;
        let words = f.has(b' ') && f.digits >= 5 && f.ascii_alpha >= 3;
        // The day and month are read off the match's bytes (fixed places in `dddd-dd-dd`, the
        // first two parts of `d/d/dd`): no capture search needed.
        let n = |s: Option<&str>| s.and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
        for m in iso.then(|| ISO.find_iter(text)).into_iter().flatten() {
            let (mo, d) = (n(m.as_str().get(5..7)), n(m.as_str().get(8..10)));
            if (1..=12).contains(&mo) && (1..=31).contains(&d) {
                push(out, "DATE_TIME", m.start(), m.end(), 0.6, false);
            }
        }
        for m in num.then(|| NUM.find_iter(text)).into_iter().flatten() {
            let mut parts = m.as_str().split(['/', '.']);
            let (a, b) = (n(parts.next()), n(parts.next()));
            let plausible = ((1..=31).contains(&a) && (1..=12).contains(&b))
                || ((1..=12).contains(&a) && (1..=31).contains(&b));
            if plausible {
                push(out, "DATE_TIME", m.start(), m.end(), 0.5, false);
            }
        }
        for m in words.then(|| WORDS.find_iter(text)).into_iter().flatten() {
            push(out, "DATE_TIME", m.start(), m.end(), 0.6, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn dates() {
        assert_eq!(
            found(
                "DATE_TIME",
                "born 1990-02-14, seen 5 May 2024 and 03/04/2021"
            ),
            ["1990-02-14", "5 May 2024", "03/04/2021"]
        );
        assert!(found("DATE_TIME", "2024-13-40 and 45/67/2020").is_empty());
    }
}
