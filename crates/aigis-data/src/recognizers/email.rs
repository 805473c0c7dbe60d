//! `EMAIL_ADDRESS`: RFC 5322-ish local part, a dotted domain with an alphabetic TLD.
use super::{lazy_regex, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

// ASCII-only windows (the common case) are matched by `ascii_matches`, which finds exactly what
// this pattern finds (a property test compares them) without a regex search per `@`; others by
// the Unicode pattern, written without `\b` (a Unicode word boundary forces the slow PikeVM on
// non-ASCII text) and with the boundaries checked on the match instead.
#[cfg(test)]
lazy_regex!(
    ASCII,
    r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?-u:\b)"
);
lazy_regex!(
    RE,
    r"[\p{L}\p{N}][\p{L}\p{N}._%+-]{0,63}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}"
);

/// `[A-Za-z0-9._%+-]`: the characters of a local part.
fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// A word character for ASCII `\b`.
fn word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where the domain that starts at `q` ends, as the pattern's `(?:label\.)+[A-Za-z]{2,24}\b`
/// would match it (leftmost-first). A label is the whole run of `[A-Za-z0-9-]` before a `.` (the
/// run cannot stop short of the dot), starts and ends alphanumeric and has at most 63 bytes. A
/// top-level domain is a run of 2-24 letters followed by a non-word byte or the end (a shorter
/// one would end before a letter). The pattern tries the most labels first, so the answer is
/// the top-level domain after the last label that has one.
fn domain_end(w: &[u8], q: usize) -> Option<usize> {
    let mut best = None;
    let mut a = q;
    loop {
        let run = w[a..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-')
            .count();
        let end = a + run;
        let label = (1..=63).contains(&run)
            && w[a].is_ascii_alphanumeric()
            && w[end - 1].is_ascii_alphanumeric()
            && w.get(end) == Some(&b'.');
        if !label {
            return best;
        }
        let t = end + 1;
        let m = w[t..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if (2..=24).contains(&m) && w.get(t + m).is_none_or(|&b| !word_char(b)) {
            best = Some(t + m);
        }
        a = t;
    }
}

/// The matches of the ASCII pattern in an ASCII window, as `find_iter` gives them (leftmost,
/// non-overlapping). Every match holds one `@`; its domain does not depend on where the local
/// part starts, and its local part is the leftmost alphanumeric byte after a non-word byte (or
/// the window's start) in the run of at most 64 local-part bytes before the `@`.
///
/// Matches whose `@` comes after `last` are not looked for (the caller wants the one holding
/// the `@` at `last`; a later one starts after it), so each window costs what lies before that
/// `@`, not the whole window: text dense with `@` stays linear.
fn ascii_matches(w: &[u8], last: usize, mut emit: impl FnMut(usize, usize)) {
    let mut from = 0;
    let mut at_search = 0;
    while let Some(off) = w[at_search..].iter().position(|&b| b == b'@') {
        let p = at_search + off;
        if p > last {
            return;
        }
        at_search = p + 1;
        // The run of local-part bytes before the `@` (no `@` inside, so at most one per `@`).
        let run = w[..p].iter().rev().take_while(|&&b| local_char(b)).count();
        let lo = (p - run).max(from).max(p.saturating_sub(64));
        let start =
            (lo..p).find(|&s| w[s].is_ascii_alphanumeric() && (s == 0 || !word_char(w[s - 1])));
        let Some(start) = start else {
            continue;
        };
        if let Some(end) = domain_end(w, p + 1) {
            // The domain holds no `@`: the next one is after it already.
            emit(start, end);
            from = end;
        }
    }
}

/// E-mail addresses.
pub struct Email;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "email",
    entities: &["EMAIL_ADDRESS"],
    summary: "local@domain.tld with a valid domain shape",
};

impl Recognizer for Email {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        &["@"]
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Both patterns need an `@`.
        f.has(b'@')
    }
    fn has_anchor(&self, _text: &str, f: &crate::Features) -> Option<bool> {
        // The anchor is the one byte the features mark.
        Some(f.has(b'@'))
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        if !text.contains('@') {
            return;
        }
        // Search only a window around each `@`: the Unicode pattern is costly over a whole record.
        let mut next_free = 0;
        for (at, _) in text.match_indices('@') {
            if at < next_free {
                continue;
            }
            let mut a = at.saturating_sub(64).max(next_free);
            while !text.is_char_boundary(a) {
                a += 1;
            }
            let mut b = (at + 256).min(text.len());
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            let window = &text[a..b];
            let mut take = |ms: usize, me: usize| {
                let (s, e) = (a + ms, a + me);
                if s > at || e <= at {
                    return;
                }
                let word = |c: char| c.is_alphanumeric() || c == '_';
                if text[..s].chars().next_back().is_some_and(word)
                    || text[e..].chars().next().is_some_and(word)
                {
                    return;
                }
                let local = &text[s..at];
                // (Two dots by bytes: `str::contains` sets up a substring searcher per call.)
                let double_dot = local.as_bytes().windows(2).any(|d| d == b"..");
                if !local.ends_with('.') && !double_dot {
                    push(out, "EMAIL_ADDRESS", s, e, 0.95, true);
                    next_free = e;
                }
            };
            if window.is_ascii() {
                ascii_matches(window.as_bytes(), at - a, &mut take);
            } else {
                for m in RE.find_iter(window) {
                    take(m.start(), m.end());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    use proptest::prelude::*;

    fn by_matcher(w: &str) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        super::ascii_matches(w.as_bytes(), usize::MAX, |s, e| v.push((s, e)));
        v
    }

    fn by_pattern(w: &str) -> Vec<(usize, usize)> {
        super::ASCII
            .find_iter(w)
            .map(|m| (m.start(), m.end()))
            .collect()
    }

    #[test]
    fn the_matcher_follows_the_pattern_on_hard_cases() {
        for w in [
            "a@b.cd",
            "a@b.cd.e1",
            "x@y.com@z.org",
            "_a@b.cd",
            "a_b@c.de",
            ".a@b.cd",
            "-a@b.cd",
            "a@-b.cd",
            "a@b-.cd",
            "a@b..cd",
            "a@b.c",
            "a@b.cdefghijklmnopqrstuvwxyz",
            "a@b.cdefghijklmnopqrstuvwx y",
            "a@b.cd_",
            "a@b.cd1",
            "a@b.cd-",
            "a@@b.cd",
            "%a@b.cd",
            "a%b+c@d.ef gh@ij.kl",
            "a@b.cd.ef.gh.ij.kl.mn.op.qr.st.uv.wx.yz.ab.cd.ef.gh.ij.kl.mn",
            "",
            "@",
            "a@",
        ] {
            assert_eq!(by_matcher(w), by_pattern(w), "{w:?}");
        }
        let long_local = format!("{}@b.cd", "a".repeat(70));
        assert_eq!(by_matcher(&long_local), by_pattern(&long_local));
        let long_label = format!("a@{}.cd x@{}.cd", "b".repeat(63), "c".repeat(64));
        assert_eq!(by_matcher(&long_label), by_pattern(&long_label));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// On any ASCII text made of what the pattern looks at, the matcher finds exactly the
        /// pattern's matches.
        #[test]
        fn the_matcher_equals_the_pattern(
            text in proptest::collection::vec(
                prop::sample::select(vec![
                    "a", "Z", "x9", "0", "@", ".", "-", "_", "%", "+", " ", ",", "com", "de",
                    "example", "ab.cd", "@e.org", "mail", "b-c", "..", "\n", "abcdefghijklm",
                ]),
                0..30,
            ).prop_map(|v| v.concat())
        ) {
            let all = by_matcher(&text);
            prop_assert_eq!(&all, &by_pattern(&text), "{:?}", text);
            // Stopping at an `@` keeps exactly the matches whose `@` is not after it.
            for (q, _) in text.match_indices('@') {
                let mut cut = Vec::new();
                super::ascii_matches(text.as_bytes(), q, |s, e| cut.push((s, e)));
                let want: Vec<(usize, usize)> = all
                    .iter()
                    .copied()
                    .filter(|&(s, e)| text[s..e].find('@').is_some_and(|p| s + p <= q))
                    .collect();
                prop_assert_eq!(cut, want, "{:?} stopping at {}", text, q);
            }
        }
    }

    #[test]
    fn unicode_emails_and_their_boundaries() {
        assert_eq!(
            found("EMAIL_ADDRESS", "écrire à añb@exämple.de, 😀 ok"),
            ["añb@exämple.de"]
        );
        // Glued to a word on either side: not an address.
        assert!(found("EMAIL_ADDRESS", "ñ añb@exämple.de2").is_empty());
        // Underscores belong to local parts.
        assert_eq!(
            found("EMAIL_ADDRESS", "ñ x_añb@exämple.de"),
            ["x_añb@exämple.de"]
        );
    }

    #[test]
    fn emails() {
        assert_eq!(
            found("EMAIL_ADDRESS", "mail Jane.Doe+x@mail.example.org."),
            ["Jane.Doe+x@mail.example.org"]
        );
        assert!(
            found(
                "EMAIL_ADDRESS",
                "user@localhost, a@b.c, @handle, x..y@z.com"
            )
            .is_empty()
        );
    }
}
