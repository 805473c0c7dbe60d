//! Parquet detection and dataset scans on arbitrary files: the parquet crate's failures must
//! come back as errors (aigis runs it under catch_unwind), never abort the process.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static A: std::sync::LazyLock<aigis_data::Analyzer> =
        std::sync::LazyLock::new(|| aigis_data::Analyzer::new(aigis_data::Options::default()));
    let path = std::env::temp_dir().join(format!("aigis-fuzz-{}.parquet", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = aigis_data::parquet::detect_parquet(&A, &path, &[], std::io::sink(), |_| {});
    let _ = aigis_data::parquet::scan_parquet(&A, &path, 0);
});
