//! The record readers: text lines, JSONL (nested paths) and CSV, for detection and for the
//! anonymising rewrite, on arbitrary bytes.
#![no_main]
use aigis_data::anonymize::{Anonymizer, Operator, Policy};
use aigis_data::stream::{self, Input};
use aigis_data::transform::{self, Direction, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static A: std::sync::LazyLock<aigis_data::Analyzer> =
        std::sync::LazyLock::new(|| aigis_data::Analyzer::new(aigis_data::Options::default()));
    let field = Input::Jsonl {
        field: "a.0.b".into(),
    };
    let _ = stream::detect(&A, data, &field, std::io::sink(), |_| {}, |_| {});
    let _ = stream::detect_csv(&A, data, &[], std::io::sink(), |_| {}, |_| {});
    let key = aigis_data::vault::VaultKey::from_bytes([1; 32]);
    let an = Anonymizer::new(&A, Policy::new(Operator::Tokenize), Some(key)).unwrap_or_else(|_| unreachable!());
    let _ = transform::transform_lines(&an, Direction::Anonymize, &Format::Jsonl(vec![]), data, std::io::sink(), |_| {}, |_| {});
    let _ = transform::transform_csv(&an, Direction::Detokenize, &[], data, std::io::sink(), |_| {}, |_| {});
});
