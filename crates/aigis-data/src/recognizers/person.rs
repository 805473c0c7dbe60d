//! `PERSON`: runs of capitalised words scored by the US Census name lists (a known first name
//! and a known surname score highest), titles (`Dr.`, `Frau`, `Mme`), name particles
//! (`van`, `de la`) and context words (`name`, `contact`, `dear`, a `name` column); CJK names
//! written as two short ideograph groups separated by a space. Runs that are a known place,
//! hold an organisation suffix, or are made of ordinary capitalised words are not names.
use super::push;
use crate::gazetteer::{self, Word, flag, list};
use crate::{Candidate, Recognizer, RecognizerInfo};

/// Person names.
pub struct Person;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "person",
    entities: &["PERSON"],
    summary: "capitalised word runs + Census first/last name lists, titles, particles, context",
};

/// What separates two words: one space, or `. ` after a title or an initial.
fn joined(text: &str, a: &Word, b: &Word) -> bool {
    let gap = &text.as_bytes()[a.end..b.start];
    gap == b" " || (gap == b". " && (a.end - a.start <= 4))
}

impl Person {
    fn score_run(text: &str, ws: &[Word], titled: bool) -> Option<f32> {
        let word = |w: &Word| &text[w.start..w.end];
        // The name words: the run without particles and suffixes.
        let (mut first_w, mut last_w, mut names_len, mut org) = (None, None, 0usize, false);
        for w in ws
            .iter()
            .filter(|w| w.lists & (list::PARTICLE | list::NAME_SUFFIX) == 0)
        {
            first_w.get_or_insert(w);
            last_w = Some(w);
            names_len += 1;
            org |= w.lists & list::ORG != 0;
        }
        let (Some(first_w), Some(last_w)) = (first_w, last_w) else {
            return None;
        };
        if names_len > 5 {
            return None;
        }
        if org || first_w.lists & list::PLACE_START != 0 {
            return None;
        }
        // A known place is not a person (`Berlin`, `New York`).
        if ws.len() == 1 && ws[0].flags & (flag::CITY | flag::REGION) != 0 && !titled {
            return None;
        }
        if ws.len() > 1 && ws[0].flags >> flag::HEAD_SHIFT > 0 {
            let whole = &text[ws[0].start..ws[ws.len() - 1].end];
            if gazetteer::place_flags(whole) != 0 {
                return None;
            }
        }
        let first = first_w.flags & flag::FIRST != 0;
        let last_word = word(last_w);
        let last = last_w.flags & flag::LAST != 0
            || (last_word.contains(['-', '\''])
                && last_word
                    .split(['-', '\''])
                    .any(|p| p.len() > 1 && gazetteer::flags_of(p) & flag::LAST != 0));
        let upper = ws.iter().all(|w| w.upper);
        let score: f32 = match (names_len, first, last) {
            (1, true, _) | (1, _, true) if titled => 0.6,
            (1, true, _) => 0.25,
            (1, _, _) if titled => 0.45,
            (1, _, _) => return None,
            (_, true, true) => 0.85,
            (2..=3, true, false) | (2..=3, false, true) => 0.6,
            _ if titled => 0.6,
            _ => 0.3,
        };
        // ALL-CAPS runs are headings and acronyms unless both names are known.
        if upper && !(first && last) {
            return None;
        }
        Some(if titled {
            (score + 0.1).min(0.95)
        } else {
            score
        })
    }

    fn cjk(text: &str, ws: &[Word], i: usize, out: &mut Vec<Candidate>) -> bool {
        let (a, Some(b)) = (ws[i], ws.get(i + 1)) else {
            return false;
        };
        let gap = &text[a.end..b.start];
        let short = |w: &Word| (1..=3).contains(&text[w.start..w.end].chars().count());
        if b.cjk && (gap == " " || gap == "\u{3000}") && short(&a) && short(b) {
            push(out, "PERSON", a.start, b.end, 0.5, false);
            return true;
        }
        false
    }
}

impl Recognizer for Person {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.capital_or_unicode
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        gazetteer::with_words(text, |ws| Self::find_in(text, ws, out));
    }
}

impl Person {
    fn find_in(text: &str, ws: &[Word], out: &mut Vec<Candidate>) {
        let mut i = 0;
        while i < ws.len() {
            if ws[i].cjk {
                i += if Self::cjk(text, ws, i, out) { 2 } else { 1 };
                continue;
            }
            if !ws[i].cap {
                i += 1;
                continue;
            }
            // The run of joined capitalised words (and particles before a capitalised word).
            let mut j = i + 1;
            while j < ws.len() && joined(text, &ws[j - 1], &ws[j]) && !ws[j].cjk {
                // A particle (or two: `de la`) must lead to a capitalised word.
                let particle = ws[j].lists & list::PARTICLE != 0
                    && ws[j + 1..]
                        .iter()
                        .take(2)
                        .find(|n| n.lists & list::PARTICLE == 0)
                        .is_some_and(|n| n.cap);
                if !(ws[j].cap || particle) {
                    break;
                }
                j += 1;
            }
            // Cut at stop words and titles; a title announces the name after it.
            let mut k = i;
            let mut titled = false;
            let mut title_start = None;
            while k < j {
                if ws[k].flags & flag::TITLE != 0 {
                    titled = true;
                    title_start.get_or_insert(ws[k].start);
                    k += 1;
                    continue;
                }
                if ws[k].flags & flag::STOP != 0 {
                    titled = false;
                    title_start = None;
                    k += 1;
                    continue;
                }
                let mut e = k + 1;
                while e < j && ws[e].flags & (flag::STOP | flag::TITLE) == 0 {
                    e += 1;
                }
                if let Some(score) = Self::score_run(text, &ws[k..e], titled) {
                    let start = title_start.unwrap_or(ws[k].start);
                    let mut end = ws[e - 1].end;
                    // Keep an abbreviation dot of a final suffix (`Jr.`).
                    if ws[e - 1].lists & list::NAME_SUFFIX != 0 && text[end..].starts_with('.') {
                        end += 1;
                    }
                    push(out, "PERSON", start, end, score, false);
                }
                titled = false;
                title_start = None;
                k = e;
            }
            i = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;

    #[test]
    fn names_with_and_without_cues() {
        assert_eq!(
            found("PERSON", "Customer Jeff Serrano lives in Cambodia"),
            ["Jeff Serrano"]
        );
        assert_eq!(
            found("PERSON", "Contact: Dogan Stey-Albers, tel"),
            ["Dogan Stey-Albers"]
        );
        assert_eq!(
            found("PERSON", "signed Dr. Anna Lee DDS"),
            ["Dr. Anna Lee DDS"]
        );
        assert_eq!(
            found("PERSON", "Mary de la Cruz wrote it"),
            ["Mary de la Cruz"]
        );
        assert_eq!(
            found("PERSON", "こんにちは 私は佐藤 陽子です"),
            ["佐藤 陽子"]
        );
    }

    #[test]
    fn hard_negatives() {
        for t in [
            "The Quick Report was filed",
            "Release v1.2 built from commit abc",
            "New York is large",
            "Acme Holdings Inc announced",
            "INFO GET /api",
            "Example key: AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(
                found("PERSON", t).is_empty(),
                "{t}: {:?}",
                found("PERSON", t)
            );
        }
    }
}
