//! `LOCATION`: countries, US states and cities of 15,000 people or more from GeoNames (the
//! longest run of up to four capitalised words that is a known place), plus place-name
//! morphology (`Port …`, `…ville`, `…burg`, `…mouth`) for towns too small for the list. A city
//! that is also a common name or word (`Florence`, `Mobile`) scores low unless context words
//! (`in`, `from`, `city`, `lives`, an `address` column) are near.
use super::push;
use crate::gazetteer::{self, CITIES, REGIONS, Word, flag};
use crate::{Candidate, Recognizer, RecognizerInfo};

/// Places.
pub struct Location;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "location",
    entities: &["LOCATION"],
    summary: "GeoNames countries, states and cities (15k+) + place-name morphology, context",
};

/// Lower-case words allowed inside a place name (`Rio de Janeiro`, `Stratford-upon-Avon`).
const INNER: &[&str] = &[
    "de", "do", "da", "of", "on", "am", "an", "der", "sur", "en", "la", "del", "and", "the",
];
/// First words of place names.
const PREFIX: &[&str] = &[
    "north", "south", "east", "west", "new", "lake", "port", "fort", "mount", "saint", "st", "bad",
    "sankt", "san", "santa", "los", "las", "el", "le", "la",
];
/// Endings of place names in English, German, Dutch and French.
const SUFFIX: &[&str] = &[
    "ville", "ton", "town", "burgh", "borough", "bury", "mouth", "port", "view", "field", "haven",
    "chester", "shire", "stad", "dorf", "heim", "hausen", "berg", "burg", "furt", "side", "land",
    "feld", "stadt", "ingen", "brück", "dam", "court", "fort", "ford",
];

fn joined(text: &str, a: &Word, b: &Word) -> bool {
    &text[a.end..b.start] == " " || &text[a.end..b.start] == "-"
}

impl Recognizer for Location {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.capital_or_unicode
    }
    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        let ws = gazetteer::words_cached(text);
        let mut i = 0;
        while i < ws.len() {
            if !ws[i].cap || ws[i].cjk {
                i += 1;
                continue;
            }
            let first = &text[ws[i].start..ws[i].end];
            let prefix = PREFIX.iter().any(|p| p.eq_ignore_ascii_case(first));
            if ws[i].flags & flag::STOP != 0 && !prefix {
                i += 1;
                continue;
            }
            // Longest known place first.
            let mut hit = None;
            // Only a word that starts a known multi-word place (or a place prefix) can start a
            // longer run; most capitalised words need one lookup.
            let longest = usize::from(ws[i].flags >> flag::HEAD_SHIFT)
                .max(if prefix { 2 } else { 1 })
                .min(8);
            let mut n_max = 1;
            while n_max < longest
                && i + n_max < ws.len()
                && joined(text, &ws[i + n_max - 1], &ws[i + n_max])
            {
                let w = &text[ws[i + n_max].start..ws[i + n_max].end];
                if !(ws[i + n_max].cap || INNER.contains(&w)) {
                    break;
                }
                n_max += 1;
            }
            for n in (1..=n_max).rev() {
                let end = ws[i + n - 1].end;
                let s = &text[ws[i].start..end];
                if !ws[i + n - 1].cap {
                    continue;
                }
                let single = n == 1;
                let f = ws[i].flags;
                let common = single && f & (flag::FIRST | flag::LAST) != 0;
                let (region, city) = if single {
                    (f & flag::REGION != 0, f & flag::CITY != 0)
                } else {
                    (
                        gazetteer::contains(&REGIONS, s),
                        gazetteer::contains(&CITIES, s),
                    )
                };
                if region {
                    hit = Some((n, if common { 0.45 } else { 0.7 }));
                } else if city {
                    hit = Some((n, if common { 0.3 } else { 0.55 }));
                } else if n <= 2 {
                    let last = &text[ws[i + n - 1].start..end];
                    let lower = last.to_lowercase();
                    let prefixed = n == 2 && prefix;
                    let suffixed = lower.chars().count() >= 7
                        && SUFFIX.iter().any(|x| lower.ends_with(x))
                        && !ws[i + n - 1].upper;
                    if suffixed || (prefixed && !common) {
                        hit = Some((n, 0.4));
                    }
                }
                if hit.is_some() {
                    break;
                }
            }
            match hit {
                Some((n, mut score)) => {
                    // A place glued to other capitalised words is likely part of a name
                    // (`Montserrat Criado Alcolea`, `Mette van Haarlem`).
                    let namelike = |w: &Word| {
                        let t = &text[w.start..w.end];
                        (w.cap || gazetteer::PARTICLES.contains(&t)) && w.flags & flag::STOP == 0
                    };
                    let after = ws
                        .get(i + n)
                        .is_some_and(|b| joined(text, &ws[i + n - 1], b) && namelike(b));
                    let before = i > 0 && joined(text, &ws[i - 1], &ws[i]) && namelike(&ws[i - 1]);
                    if after || before {
                        score -= 0.25;
                    }
                    push(
                        out,
                        "LOCATION",
                        ws[i].start,
                        ws[i + n - 1].end,
                        score,
                        false,
                    );
                    i += n;
                }
                None => i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;

    #[test]
    fn places_longest_first() {
        assert_eq!(
            found("LOCATION", "she moved to New York City"),
            ["New York City"]
        );
        assert_eq!(
            found("LOCATION", "lives in Barbados, near São Paulo"),
            ["Barbados", "São Paulo"]
        );
        assert_eq!(
            found("LOCATION", "from East Jeffreyside today"),
            ["East Jeffreyside"]
        );
        assert_eq!(
            found("LOCATION", "city: Rio de Janeiro"),
            ["Rio de Janeiro"]
        );
    }

    #[test]
    fn hard_negatives() {
        for t in [
            "The report",
            "Order Shipped today",
            "Release notes",
            "INFO GET /api",
        ] {
            assert!(
                found("LOCATION", t).is_empty(),
                "{t}: {:?}",
                found("LOCATION", t)
            );
        }
    }
}
