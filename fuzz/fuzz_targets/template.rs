#![no_main]
//! Fuzz target: `aigis_scan::fuzzing::template` must never panic, hang or allocate without bound.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = aigis_scan::fuzzing::template(data);
});
