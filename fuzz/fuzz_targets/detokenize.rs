//! Token parsing: vault key text, and finding and opening `TYPE_<base32>` tokens in arbitrary
//! text (forged, truncated and non-canonical tokens must be left alone, never panic).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = aigis_data::vault::VaultKey::parse(text);
    let key = aigis_data::vault::VaultKey::from_bytes([2; 32]);
    let mut n = aigis_data::anonymize::Counts::default();
    let out = aigis_data::anonymize::restore_tokens(&key, text, &mut n);
    // Nothing opens under this key except a real token, which random input never is.
    if n.restored == 0 {
        assert_eq!(out, text);
    }
    let _ = key.fpe_decrypt("T", text);
});
