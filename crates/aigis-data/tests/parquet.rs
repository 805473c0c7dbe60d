//! Parquet input and output against fixtures written by pyarrow (`fixtures/gen_parquet.py`):
//! detection with row ids and nested column paths, an exact tokenise/detokenise round trip
//! (same schema, row groups, nulls and non-string values), and hostile files. Needs the
//! `parquet` feature (on when the whole workspace is tested, through the `aigis` binary).
#![cfg(feature = "parquet")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use aigis_data::anonymize::{Anonymizer, Operator, Policy};
use aigis_data::transform::Direction;
use aigis_data::vault::VaultKey;
use aigis_data::{Analyzer, Options, parquet as pq};
use parquet::file::reader::{FileReader, SerializedFileReader};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn rows(path: &Path) -> (Vec<String>, usize) {
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let groups = r.num_row_groups();
    let rows = r
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().to_string())
        .collect();
    (rows, groups)
}

#[test]
fn detect_names_columns_rows_and_nested_paths() {
    let a = Analyzer::new(Options::default());
    let mut out = Vec::new();
    let (stats, summary) =
        pq::detect_parquet(&a, &fixture("customers.parquet"), &[], &mut out, |_| {}).unwrap();
    assert_eq!(stats.records, 6);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Row ids run across the two row groups.
    assert_eq!(lines[5]["id"], 6);
    let last: Vec<(&str, &str)> = lines[5]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(
        last,
        [("EMAIL_ADDRESS", "email"), ("EMAIL_ADDRESS", "note")]
    );
    // Offsets are code points: "😀 mail añb@example.com" puts the e-mail at 7.
    assert_eq!(lines[5]["entities"][1]["start"], 7);
    assert_eq!(summary["note"]["CREDIT_CARD"], 1);
    assert_eq!(
        lines[2]["entities"].as_array().unwrap().len(),
        1,
        "null name"
    );

    let mut out = Vec::new();
    pq::detect_parquet(&a, &fixture("nested.parquet"), &[], &mut out, |_| {}).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].contains("\"column\":\"tags.list.element\""),
        "{}",
        lines[0]
    );
    assert!(lines[2].contains("user.mail") && !lines[1].contains("EMAIL"));
    let err = pq::detect_parquet(
        &a,
        &fixture("nested.parquet"),
        &["nope".into()],
        Vec::new(),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("no string column `nope`") && err.contains("user.mail"),
        "{err}"
    );
    let mut out = Vec::new();
    let (s, _) = pq::detect_parquet(&a, &fixture("zstd.parquet"), &[], &mut out, |_| {}).unwrap();
    assert_eq!((s.records, s.entities), (3, 1), "zstd-compressed");
}

#[test]
fn tokenize_detokenize_round_trip_is_exact() {
    let a = Analyzer::new(Options::default());
    let an = Anonymizer::new(
        &a,
        Policy::new(Operator::Tokenize),
        Some(VaultKey::from_bytes([5; 32])),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    for name in ["customers.parquet", "nested.parquet"] {
        let src = fixture(name);
        let tok = d.path().join(format!("tok-{name}"));
        let back = d.path().join(format!("back-{name}"));
        let t = pq::transform_parquet(
            &an,
            Direction::Anonymize,
            &src,
            &[],
            std::fs::File::create(&tok).unwrap(),
            |_| {},
        )
        .unwrap();
        assert!(t.counts.rewritten > 0);
        let (tok_rows, tok_groups) = rows(&tok);
        assert!(
            !tok_rows.iter().any(|r| r.contains("@example.")),
            "{tok_rows:?}"
        );
        pq::transform_parquet(
            &an,
            Direction::Detokenize,
            &tok,
            &[],
            std::fs::File::create(&back).unwrap(),
            |_| {},
        )
        .unwrap();
        let (orig, groups) = rows(&src);
        let (restored, back_groups) = rows(&back);
        assert_eq!(restored, orig, "{name}");
        assert_eq!((tok_groups, back_groups), (groups, groups));
    }
}

#[test]
fn hostile_files_are_errors_not_panics() {
    let a = Analyzer::new(Options::default());
    let d = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("customers.parquet")).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("text".into(), b"id,name\n1,x\n".to_vec()),
        ("magic only".into(), b"PAR1PAR1".to_vec()),
    ];
    for cut in [4, good.len() / 2, good.len() - 9, good.len() - 1] {
        cases.push((format!("truncated at {cut}"), good[..cut].to_vec()));
    }
    // Flipped bytes in the data pages and in the footer.
    for at in (8..good.len() - 8).step_by(97) {
        let mut b = good.clone();
        b[at] ^= 0x5a;
        cases.push((format!("flip at {at}"), b));
    }
    // Found by the `parquet` fuzz target: a footer whose Thrift list claims billions of
    // elements. parquet 57 reserved that much up front (a capacity-overflow panic, or an
    // allocation abort for smaller claims); 60.1 bounds it by the bytes left.
    let err = pq::detect_parquet(
        &a,
        &fixture("hostile-thrift-list.parquet"),
        &[],
        std::io::sink(),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not a readable Parquet file"), "{err}");
    for (label, bytes) in cases {
        let p = d.path().join("h.parquet");
        std::fs::write(&p, &bytes).unwrap();
        // Either an error or a result; never a panic out of the call.
        let r = pq::detect_parquet(&a, &p, &[], std::io::sink(), |_| {});
        if label == "empty"
            || label == "text"
            || label.starts_with("truncated")
            || label == "magic only"
        {
            assert!(r.is_err(), "{label}");
        }
        let _ = pq::scan_parquet(&a, &p, 0);
    }
}
