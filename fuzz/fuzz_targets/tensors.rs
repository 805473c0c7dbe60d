//! Per-tensor manifests: the safetensors and GGUF header walkers behind `aigis sign --tensors`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = std::io::Cursor::new(data);
    let _ = aigis_sign::tensors::digest_stream(&mut c, data.len() as u64);
});
