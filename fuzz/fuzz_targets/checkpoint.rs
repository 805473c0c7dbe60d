//! Transparency-log inputs a third party feeds aigis: checkpoint bodies, signed notes, log keys,
//! and inclusion/consistency proof files.
#![no_main]
use std::sync::OnceLock;

use aigis_sign::note::{Checkpoint, LogKey, NoteVerifier};
use aigis_sign::tlog::{ConsistencyProof, InclusionProof, check_consistency, check_inclusion};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static NoteVerifier {
    static V: OnceLock<NoteVerifier> = OnceLock::new();
    V.get_or_init(|| LogKey::generate("fuzz.example/log").unwrap().verifier())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Checkpoint::parse_body(text);
    let _ = Checkpoint::open(text, verifier());
    let _ = NoteVerifier::parse(text);
    let _ = LogKey::from_private_string(text);
    if let Ok(p) = serde_json::from_str::<InclusionProof>(text) {
        let _ = check_inclusion(&p, verifier());
    }
    if let Ok(p) = serde_json::from_str::<ConsistencyProof>(text) {
        let _ = check_consistency(&p, verifier());
    }
});
