//! Every recognizer, context scoring, overlap resolution and offset conversion on arbitrary
//! text: no panic, and every entity lies inside the text in code points.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static A: std::sync::LazyLock<aigis_data::Analyzer> =
        std::sync::LazyLock::new(|| aigis_data::Analyzer::new(aigis_data::Options::default()));
    if let Ok(text) = std::str::from_utf8(data) {
        let n = text.chars().count();
        for e in A.analyze(text, Some("contact name")) {
            assert!(e.start < e.end && e.end <= n, "{e:?} outside {n} chars");
        }
    }
});
