//! `CRYPTO`: Bitcoin addresses (Base58Check P2PKH/P2SH, bech32/bech32m SegWit) and Ethereum
//! addresses (EIP-55 checksum when mixed case), all checksum-validated.
use super::{lazy_regex, push};
use crate::validate::{base58check, bech32, eth_address};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_regex!(B58, r"(?-u:\b)[13][1-9A-HJ-NP-Za-km-z]{25,34}(?-u:\b)");
lazy_regex!(BECH, r"(?-u:\b)bc1[02-9ac-hj-np-z]{11,71}(?-u:\b)");
lazy_regex!(ETH, r"(?-u:\b)0x[0-9a-fA-F]{40}(?-u:\b)");

/// Cryptocurrency wallet addresses.
pub struct Crypto;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "crypto",
    entities: &["CRYPTO"],
    summary: "Base58Check, bech32(m), EIP-55",
};

impl Recognizer for Crypto {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn min_len(&self) -> usize {
        26
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.longest_alnum >= 26
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for m in B58.find_iter(text) {
            if base58check(m.as_str()) {
                push(out, "CRYPTO", m.start(), m.end(), 1.0, true);
            }
        }
        for m in BECH.find_iter(text) {
            if bech32(m.as_str()) {
                push(out, "CRYPTO", m.start(), m.end(), 1.0, true);
            }
        }
        for m in ETH.find_iter(text) {
            let hex = &m.as_str()[2..];
            let mixed = hex.bytes().any(|c| c.is_ascii_lowercase())
                && hex.bytes().any(|c| c.is_ascii_uppercase());
            if eth_address(hex) {
                // Unchecksummed (single-case) hex could be any 20-byte hash: weaker evidence.
                push(
                    out,
                    "CRYPTO",
                    m.start(),
                    m.end(),
                    if mixed { 1.0 } else { 0.5 },
                    mixed,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn wallets() {
        assert_eq!(
            found("CRYPTO", "btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
            ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"]
        );
        assert_eq!(
            found("CRYPTO", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"]
        );
        assert_eq!(
            found("CRYPTO", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]
        );
        assert!(
            found(
                "CRYPTO",
                "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
            )
            .is_empty()
        );
    }
}
