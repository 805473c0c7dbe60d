//! `IBAN_CODE`: country code, check digits, BBAN in groups; ISO 7064 mod-97 and the country's
//! exact length.
use super::{lazy_re, push};
use crate::validate::iban;
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(RE, r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)");

/// International bank account numbers.
pub struct Iban;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "iban",
    entities: &["IBAN_CODE"],
    summary: "mod-97 and per-country length",
};

impl Recognizer for Iban {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn min_len(&self) -> usize {
        15
    }
    fn min_digits(&self) -> usize {
        2
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Two capital letters (the country) and two check digits at least.
        f.digits >= 2 && f.longest_alnum >= 4 && f.ascii_upper >= 2 && f.len >= 15
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for m in RE.find_iter(text) {
            // The pattern may run into following words: only the prefix of the country's exact
            // IBAN length can be valid, so check that one.
            let s = m.as_str();
            let Some(len) = crate::validate::iban_length(&s.as_bytes()[..2]) else {
                continue;
            };
            let mut compact = Vec::with_capacity(len);
            let mut best = None;
            for (i, c) in s.char_indices() {
                if c != ' ' {
                    compact.push(c as u8);
                    if compact.len() == len {
                        if iban(&compact) {
                            best = Some(i + 1);
                        }
                        break;
                    }
                }
            }
            if let Some(len) = best {
                push(out, "IBAN_CODE", m.start(), m.start() + len, 1.0, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn ibans() {
        assert_eq!(
            found("IBAN_CODE", "pay to DE89 3704 0044 0532 0130 00 now"),
            ["DE89 3704 0044 0532 0130 00"]
        );
        assert_eq!(
            found("IBAN_CODE", "GB82WEST12345698765432"),
            ["GB82WEST12345698765432"]
        );
        assert!(found("IBAN_CODE", "GB82WEST12345698765433 DE00123").is_empty());
    }
}
