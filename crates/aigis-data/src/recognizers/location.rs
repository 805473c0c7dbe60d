//! `LOCATION`: countries, US states and cities of 15,000 people or more from GeoNames (the
//! longest run of up to four capitalised words that is a known place), plus place-name
//! morphology (`Port …`, `…ville`, `…burg`, `…mouth`) for towns too small for the list. A city
//! that is also a common name or word (`Florence`, `Mobile`) scores low unless context words
//! (`in`, `from`, `city`, `lives`, an `address` column) are near.
use super::push;
use crate::gazetteer::{self, Word, flag, list, place};
use crate::{Candidate, Recognizer, RecognizerInfo};

/// Places.
pub struct Location;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "location",
    entities: &["LOCATION"],
    summary: "GeoNames countries, states and cities (15k+) + place-name morphology, context",
};

/// Endings of place names in English, German, Dutch and French.
const SUFFIX: &[&str] = &[
    "ville", "ton", "town", "burgh", "borough", "bury", "mouth", "port", "view", "field", "haven",
    "chester", "shire", "stad", "dorf", "heim", "hausen", "berg", "burg", "furt", "side", "land",
    "feld", "stadt", "ingen", "brück", "dam", "court", "fort", "ford",
];

/// Whether `word` (seven characters or more) ends like a place name.
fn place_suffix(word: &str) -> bool {
    // Every suffix ends in one of these letters: most words are ruled out by their last byte.
    if let Some(&last) = word.as_bytes().last()
        && last.is_ascii()
        && !b"defghkmnrtwy".contains(&last.to_ascii_lowercase())
    {
        return false;
    }
    let mut buf = [0u8; 32];
    if let Some(lower) = gazetteer::ascii_lower(word, &mut buf) {
        return lower.len() >= 7 && SUFFIX.iter().any(|x| lower.ends_with(x));
    }
    let lower = word.to_lowercase();
    lower.chars().count() >= 7 && SUFFIX.iter().any(|x| lower.ends_with(x))
}

fn joined(text: &str, a: &Word, b: &Word) -> bool {
    b.start == a.end + 1 && matches!(text.as_bytes().get(a.end), Some(b' ' | b'-'))
}

impl Recognizer for Location {
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

impl Location {
    fn find_in(text: &str, ws: &[Word], out: &mut Vec<Candidate>) {
        let mut i = 0;
        while i < ws.len() {
            if !ws[i].cap || ws[i].cjk {
                i += 1;
                continue;
            }
            let prefix = ws[i].lists & list::PLACE_PREFIX != 0;
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
                if !(ws[i + n_max].cap || ws[i + n_max].lists & list::INNER_EXACT != 0) {
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
                    let p = gazetteer::place_flags(s);
                    (p & place::REGION != 0, p & place::CITY != 0)
                };
                if region {
                    hit = Some((n, if common { 0.45 } else { 0.7 }));
                } else if city {
                    hit = Some((n, if common { 0.3 } else { 0.55 }));
                } else if n <= 2 {
                    let last = &text[ws[i + n - 1].start..end];
                    let prefixed = n == 2 && prefix;
                    let suffixed = !ws[i + n - 1].upper && place_suffix(last);
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
                        (w.cap || w.lists & list::PARTICLE_EXACT != 0) && w.flags & flag::STOP == 0
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
    fn suffix_filter_letters_cover_every_suffix() {
        for s in super::SUFFIX {
            let last = s.as_bytes()[s.len() - 1];
            assert!(b"defghkmnrtwy".contains(&last), "{s}");
        }
        assert!(super::place_suffix("Jeffreyside") && super::place_suffix("Lake Jonathanbury"));
        assert!(!super::place_suffix("Williams"));
    }

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
