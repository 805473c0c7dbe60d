//! The guard's input chain on arbitrary text — Unicode normalisation, invisible-text decoding,
//! the base64/base32/hex/binary/percent/NATO/Morse/ROT13 decoders, signatures, classifier, PII
//! and secrets, redaction: no panic, a score in 0-1, and a redaction only when the action says
//! so.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static CHAIN: std::sync::LazyLock<aigis_guard::Chain> = std::sync::LazyLock::new(|| {
        aigis_guard::Chain::new(&aigis_guard::ChainConfig::default()).expect("default chain")
    });
    if let Ok(text) = std::str::from_utf8(data) {
        let o = CHAIN.scan(text);
        assert!((0.0..=1.0).contains(&o.score), "score {}", o.score);
        assert_eq!(o.redacted.is_some(), o.action == aigis_guard::Action::Redact);
    }
});
