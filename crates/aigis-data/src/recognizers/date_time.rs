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

/// Whether the whole text is `dddd-dd-dd`: then the ISO pattern's only match is the whole text
/// (nothing can follow for its time part), and no search is needed.
fn whole_iso_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

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
        let mut iso_date = |start: usize, end: usize| {
            let date = &text[start..end];
            let (mo, d) = (n(date.get(5..7)), n(date.get(8..10)));
            if (1..=12).contains(&mo) && (1..=31).contains(&d) {
                push(out, "DATE_TIME", start, end, 0.6, false);
            }
        };
        if whole_iso_date(text) {
            // A date column's cell: the pattern's one match is the whole text.
            iso_date(0, text.len());
        } else {
            for m in iso.then(|| ISO.find_iter(text)).into_iter().flatten() {
                iso_date(m.start(), m.end());
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
    use proptest::prelude::*;

    proptest! {
        /// Where the shortcut applies, the pattern finds exactly the whole text (elsewhere the
        /// pattern itself runs, so output is the same either way).
        #[test]
        fn whole_iso_dates_are_what_the_pattern_matches(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9T: -]{10}"
        ) {
            if super::whole_iso_date(&text) {
                let spans: Vec<(usize, usize)> =
                    super::ISO.find_iter(&text).map(|m| (m.start(), m.end())).collect();
                prop_assert_eq!(spans, vec![(0, 10)]);
            }
        }
    }

    #[test]
    fn the_whole_date_shortcut_takes_only_that_shape() {
        assert!(super::whole_iso_date("1988-03-11"));
        for t in [
            "1988-03-1x",
            "1988/03/11",
            "1988-03-11T",
            " 1988-03-11",
            "198-03-111",
            "١٩٨٨-03-11",
        ] {
            assert!(!super::whole_iso_date(t), "{t}");
        }
        assert_eq!(found("DATE_TIME", "1988-03-11"), ["1988-03-11"]);
        assert!(found("DATE_TIME", "1988-13-11").is_empty());
    }

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
