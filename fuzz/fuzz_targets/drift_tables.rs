//! `aigis monitor drift` on arbitrary tables: no panic whatever the bytes (ragged rows, bad
//! UTF-8, quotes, numbers that are not; halves starting `PAR1` go to the Parquet reader), and
//! every p-value reported is a probability. The whole input is also read as a Parquet file
//! and as a reference profile.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("aigis-fuzz-drift-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (r, c) = (dir.join("r.csv"), dir.join("c.csv"));
    // The first half is the reference, the second the current table.
    let (a, b) = data.split_at(data.len() / 2);
    if std::fs::write(&r, a).is_err() || std::fs::write(&c, b).is_err() {
        return;
    }
    let whole = dir.join("t.parquet");
    if std::fs::write(&whole, data).is_ok() {
        let _ = aigis_monitor::drift::read_parquet(&whole);
    }
    // And as a stored reference profile.
    let _ = aigis_monitor::drift::Profile::from_bytes(data);
    let options = aigis_monitor::drift::Options {
        min_rows: 2,
        ..Default::default()
    };
    if let Ok(report) = aigis_monitor::drift::compare_files(&r, &c, &options) {
        for col in &report.columns {
            if let Some(p) = col.p_value {
                assert!((0.0..=1.0).contains(&p), "p-value {p} for {}", col.name);
            }
        }
    }
});
