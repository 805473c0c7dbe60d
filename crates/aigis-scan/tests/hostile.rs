#![allow(clippy::unwrap_used)]
//! Hostile inputs: truncations, bit flips and random bytes must never panic or hang, and a
//! damaged malicious pickle must never come out clean.

use std::path::PathBuf;

use aigis_core::Severity;
use aigis_scan::{ScanOptions, scan_bytes};
use proptest::prelude::*;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

fn worst(data: &[u8]) -> Option<Severity> {
    scan_bytes("x", data, &ScanOptions::default())
        .1
        .iter()
        .map(|f| f.severity)
        .max()
}

#[test]
fn every_truncation_of_a_malicious_pickle_is_flagged() {
    for name in [
        "malicious/os_system_p0.pkl",
        "malicious/os_system_p2.pkl",
        "malicious/os_system_p4.pkl",
        "malicious/memo_names.pkl",
        "malicious/setstate_gadget.pkl",
    ] {
        let data = fixture(name);
        // A protocol-0 pickle is indistinguishable from text until its first GLOBAL line is
        // complete (and harmless before that); protocol 2+ announce themselves in 2 bytes.
        let first = if data[0] == 0x80 {
            2
        } else {
            data.windows(2)
                .position(|w| w == b"\n(")
                .map_or(1, |p| p + 1)
        };
        for cut in first..data.len() {
            let w = worst(&data[..cut]);
            assert!(
                w >= Some(Severity::Medium),
                "{name} cut at {cut} of {} came out {w:?}",
                data.len()
            );
        }
    }
}

#[test]
fn truncated_torch_zip_still_flags_payload_or_damage() {
    let data = fixture("malicious/torch_zip_payload.pt");
    for cut in (64..data.len()).step_by(97) {
        let w = worst(&data[..cut]);
        assert!(w >= Some(Severity::Medium), "cut at {cut}: {w:?}");
    }
}

#[test]
fn deep_nesting_in_a_pickle_is_bounded() {
    // 200k nested empty lists appended into each other, and a huge MARK stack.
    let mut p = vec![0x80, 4];
    p.extend(std::iter::repeat_n(b']', 200_000));
    p.extend(std::iter::repeat_n(b'a', 199_999));
    p.push(b'.');
    assert!(worst(&p) < Some(Severity::Medium));
    let mut marks = vec![0x80, 4];
    marks.extend(std::iter::repeat_n(b'(', 500_000));
    marks.push(b'.');
    // STOP with nothing on the stack above the last mark is malformed.
    assert_eq!(worst(&marks), Some(Severity::Medium));
}

#[test]
fn memo_cycles_do_not_loop() {
    // l = []; l.append(l) via the memo, repeatedly, then rendered as evidence of a call.
    let mut p = vec![0x80, 4, b']', 0x94];
    for _ in 0..1000 {
        p.extend_from_slice(&[b'h', 0, b'a']);
    }
    p.extend_from_slice(b"\x8c\x04evil\x8c\x03Run\x93h\x00\x85R.");
    let (_, f, _) = scan_bytes("x", &p, &ScanOptions::default());
    assert!(f.iter().any(|x| x.rule == "SCN104"), "{f:?}");
}

#[test]
fn huge_declared_lengths_are_refused_without_allocating() {
    // BINUNICODE8 claiming 2^62 bytes; GGUF claiming 2^60 metadata entries; zip claiming 4 GiB.
    let p = [0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40];
    assert!(worst(&p) >= Some(Severity::Medium));
    let mut g = b"GGUF\x03\x00\x00\x00".to_vec();
    g.extend_from_slice(&0u64.to_le_bytes());
    g.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(worst(&g) >= Some(Severity::Medium));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = scan_bytes("x", &data, &ScanOptions::default());
    }

    #[test]
    fn random_pickle_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut p = vec![0x80, 4];
        p.extend(body);
        let _ = scan_bytes("x", &p, &ScanOptions::default());
    }

    #[test]
    fn bit_flips_in_fixtures_never_panic(idx in 0usize..6, pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let names = ["benign/torch_state_dict.pt", "benign/tiny.gguf", "benign/model.safetensors", "benign/matmul.onnx", "benign/sklearn_rf.joblib", "benign/array.npy"];
        let mut data = fixture(names[idx]);
        let i = pos.index(data.len());
        data[i] ^= 1 << bit;
        let _ = scan_bytes(names[idx], &data, &ScanOptions::default());
    }
}

#[test]
fn compression_bombs_are_stopped_early() {
    use std::io::Write;
    let zeros = vec![0u8; 64 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros).unwrap();
    let gz = gz.finish().unwrap();
    let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    zl.write_all(&zeros).unwrap();
    let zl = zl.finish().unwrap();
    for (what, data) in [("gzip", gz), ("zlib", zl)] {
        let (_, f, incomplete) = scan_bytes("bomb", &data, &ScanOptions::default());
        assert!(f.iter().any(|x| x.rule == "SCN203"), "{what}: {f:?}");
        assert!(incomplete, "{what}");
    }
}
