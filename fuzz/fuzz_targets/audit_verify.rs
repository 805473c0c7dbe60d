//! `aigis audit verify` on arbitrary log and checkpoint files: no panic, and nothing
//! arbitrary bytes can hold passes as a checkpoint signed by a key the fuzzer does not have.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KEY: std::sync::LazyLock<aigis_sign::note::NoteVerifier> = std::sync::LazyLock::new(|| {
        aigis_sign::note::LogKey::generate("fuzz.aigis/audit").expect("key").verifier()
    });
    let dir = std::env::temp_dir().join(format!("aigis-fuzz-audit-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let log = dir.join("a.jsonl");
    // The first half is the log, the second the checkpoints file.
    let (a, b) = data.split_at(data.len() / 2);
    if std::fs::write(&log, a).is_err() || std::fs::write(aigis_monitor::audit::checkpoints_path(&log), b).is_err() {
        return;
    }
    let r = aigis_monitor::audit::verify(&log, &KEY);
    assert!(r.checkpoints == 0, "a checkpoint verified without the key");
    assert!(r.frontier.len() == r.records);
});
