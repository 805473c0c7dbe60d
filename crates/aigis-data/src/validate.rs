//! Checksums and structural checks that turn a pattern match into a validated entity.

use sha2::{Digest as _, Sha256};

/// Luhn (mod 10) over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Card brand by issuer prefix (IIN) and length, or `None` for an unknown range.
pub fn card_brand(d: &[u8]) -> Option<&'static str> {
    let n = |k: usize| -> u32 {
        d.iter()
            .take(k)
            .fold(0, |a, c| a * 10 + u32::from(c - b'0'))
    };
    let len = d.len();
    match () {
        () if d[0] == b'4' && matches!(len, 13 | 16 | 19) => Some("visa"),
        () if (51..=55).contains(&n(2)) && len == 16 => Some("mastercard"),
        () if (2221..=2720).contains(&n(4)) && len == 16 => Some("mastercard"),
        () if matches!(n(2), 34 | 37) && len == 15 => Some("amex"),
        () if (n(4) == 6011 || n(2) == 65 || (644..=649).contains(&n(3)))
            && (16..=19).contains(&len) =>
        {
            Some("discover")
        }
        () if (3528..=3589).contains(&n(4)) && (16..=19).contains(&len) => Some("jcb"),
        () if n(2) == 62 && (16..=19).contains(&len) => Some("unionpay"),
        () if ((300..=305).contains(&n(3)) || n(2) == 36 || n(2) == 38)
            && (14..=19).contains(&len) =>
        {
            Some("diners")
        }
        () => None,
    }
}

/// IBAN length per country (ISO 13616 registry).
/// The IBAN length of a country (two capital letters), if it issues IBANs.
pub(crate) fn iban_length(cc: &[u8]) -> Option<usize> {
    const TABLE: &[(&str, usize)] = &[
        ("AD", 24),
        ("AE", 23),
        ("AL", 28),
        ("AT", 20),
        ("AZ", 28),
        ("BA", 20),
        ("BE", 16),
        ("BG", 22),
        ("BH", 22),
        ("BR", 29),
        ("BY", 28),
        ("CH", 21),
        ("CR", 22),
        ("CY", 28),
        ("CZ", 24),
        ("DE", 22),
        ("DK", 18),
        ("DO", 28),
        ("EE", 20),
        ("EG", 29),
        ("ES", 24),
        ("FI", 18),
        ("FO", 18),
        ("FR", 27),
        ("GB", 22),
        ("GE", 22),
        ("GI", 23),
        ("GL", 18),
        ("GR", 27),
        ("GT", 28),
        ("HR", 21),
        ("HU", 28),
        ("IE", 22),
        ("IL", 23),
        ("IQ", 23),
        ("IS", 26),
        ("IT", 27),
        ("JO", 30),
        ("KW", 30),
        ("KZ", 20),
        ("LB", 28),
        ("LC", 32),
        ("LI", 21),
        ("LT", 20),
        ("LU", 20),
        ("LV", 21),
        ("MC", 27),
        ("MD", 24),
        ("ME", 22),
        ("MK", 19),
        ("MR", 27),
        ("MT", 31),
        ("MU", 30),
        ("NL", 18),
        ("NO", 15),
        ("PK", 24),
        ("PL", 28),
        ("PS", 29),
        ("PT", 25),
        ("QA", 29),
        ("RO", 24),
        ("RS", 22),
        ("SA", 24),
        ("SC", 31),
        ("SE", 24),
        ("SI", 19),
        ("SK", 24),
        ("SM", 27),
        ("ST", 25),
        ("SV", 28),
        ("TL", 23),
        ("TN", 24),
        ("TR", 26),
        ("UA", 29),
        ("VA", 22),
        ("VG", 24),
        ("XK", 20),
    ];
    TABLE
        .iter()
        .find(|(c, _)| c.as_bytes() == cc)
        .map(|(_, l)| *l)
}

/// IBAN: known country, its exact length, and ISO 7064 mod-97 == 1. `s` has no spaces.
pub fn iban(s: &[u8]) -> bool {
    if s.len() < 15 || !s.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    if iban_length(&s[..2]) != Some(s.len()) {
        return false;
    }
    let mut rem = 0u32;
    for &c in s[4..].iter().chain(&s[..4]) {
        let c = c.to_ascii_uppercase();
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// US SSN area/group/serial rules (SSA): area not 000, 666 or 900-999; group not 00; serial not
/// 0000; and not the famous advertising numbers.
pub fn us_ssn(area: u32, group: u32, serial: u32) -> bool {
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !matches!(
            (area, group, serial),
            (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789)
        )
}

/// NHS number mod 11 check digit.
pub fn uk_nhs(d: &[u8]) -> bool {
    if d.len() != 10 || !d.iter().all(u8::is_ascii_digit) || d.iter().all(|c| *c == d[0]) {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, c)| u32::from(c - b'0') * (10 - i as u32))
        .sum();
    let check = 11 - sum % 11;
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == u32::from(d[9] - b'0')
}

/// DEA registration number check digit (Presidio's MEDICAL_LICENSE).
pub fn dea(s: &[u8]) -> bool {
    if s.len() != 9 || !s[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = s[2..].iter().map(|c| u32::from(c - b'0')).collect();
    let sum = d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5]);
    sum % 10 == d[6]
}

/// Base58Check (Bitcoin P2PKH/P2SH addresses): 25 bytes, double SHA-256 checksum.
pub fn base58check(s: &str) -> bool {
    const ALPHA: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut bytes: Vec<u8> = Vec::with_capacity(32);
    for c in s.bytes() {
        let Some(mut carry) = ALPHA.iter().position(|a| *a == c).map(|p| p as u32) else {
            return false;
        };
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
        if bytes.len() > 40 {
            return false;
        }
    }
    let zeros = s.bytes().take_while(|c| *c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend_from_slice(&bytes);
    if full.len() != 25 {
        return false;
    }
    let (payload, check) = full.split_at(21);
    let h = Sha256::digest(Sha256::digest(payload));
    h[..4] == *check
}

/// Bech32 / bech32m checksum (BIP 173/350) of a lowercase `bc1…` address.
pub fn bech32(s: &str) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let Some(pos) = s.rfind('1') else {
        return false;
    };
    let (hrp, data) = (&s[..pos], &s[pos + 1..]);
    if hrp != "bc" || data.len() < 6 {
        return false;
    }
    let mut values: Vec<u32> = hrp.bytes().map(|c| u32::from(c >> 5)).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| u32::from(c & 31)));
    for c in data.bytes() {
        match CHARSET.iter().position(|x| *x == c) {
            Some(p) => values.push(p as u32),
            None => return false,
        }
    }
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ v;
        for (i, g) in [
            0x3b6a_57b2u32,
            0x2650_8e6d,
            0x1ea1_19fa,
            0x3d42_33dd,
            0x2a14_62b3,
        ]
        .iter()
        .enumerate()
        {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk == 1 || chk == 0x2bc8_30a3
}

/// Ethereum address: all-lowercase or all-uppercase hex is accepted as is; mixed case must match
/// the EIP-55 checksum (Keccak-256 of the lowercase hex).
pub fn eth_address(hex40: &str) -> bool {
    if hex40.len() != 40 || !hex40.bytes().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let has_lower = hex40.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = hex40.bytes().any(|c| c.is_ascii_uppercase());
    if !(has_lower && has_upper) {
        return true;
    }
    let lower = hex40.to_ascii_lowercase();
    let h = <sha3::Keccak256 as sha3::Digest>::digest(lower.as_bytes());
    hex40.bytes().enumerate().all(|(i, c)| {
        let nibble = (h[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
        if c.is_ascii_alphabetic() {
            c.is_ascii_uppercase() == (nibble >= 8)
        } else {
            true
        }
    })
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Documentation examples and placeholders that must never be reported as secrets.
pub fn is_placeholder(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("example")
        || l.contains("xxxx")
        || l.contains("changeme")
        || l.contains("your_")
        || l.contains("your-")
        || l.contains("placeholder")
        || l.contains("redacted")
        || l.contains("dummy")
        || l.starts_with('<')
        || l.starts_with("${")
        || l.starts_with("{{")
        || s.bytes().all(|c| c == s.as_bytes()[0])
        || l.contains("1234567890")
        || l.contains("abcdef")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(luhn(b"4111111111111111") && !luhn(b"4111111111111112"));
        assert_eq!(
            card_brand(b"2223003122003222"),
            Some("mastercard"),
            "2-series Mastercard"
        );
        assert!(iban(b"GB82WEST12345698765432") && !iban(b"GB82WEST12345698765433"));
        assert!(
            iban(b"DE89370400440532013000") && !iban(b"DE8937040044053201300"),
            "length per country"
        );
        assert!(
            us_ssn(536, 22, 1234)
                && !us_ssn(666, 1, 1)
                && !us_ssn(901, 1, 1)
                && !us_ssn(78, 5, 1120)
        );
        assert!(uk_nhs(b"9434765919") && !uk_nhs(b"9434765918"));
        assert!(dea(b"AB1234563") && !dea(b"AB1234564"));
        assert!(
            base58check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
                && !base58check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3")
        );
        assert!(
            bech32("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
                && !bech32("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")
        );
        assert!(
            eth_address("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
                && !eth_address("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")
        );
        assert!(entropy("aaaa") < 0.1 && entropy("aB3$xY9!qW2@") > 3.0);
        assert!(
            is_placeholder("AKIAIOSFODNN7EXAMPLE")
                && is_placeholder("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
        );
    }
}
