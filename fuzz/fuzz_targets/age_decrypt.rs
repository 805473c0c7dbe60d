//! age decryption (binary and armoured) of arbitrary bytes with a fixed identity: errors only.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static ID: std::sync::LazyLock<aigis_data::crypt::Identities> = std::sync::LazyLock::new(|| {
        let (text, _) = aigis_data::crypt::new_identity();
        aigis_data::crypt::read_identities(text.as_bytes()).unwrap_or_else(|_| unreachable!())
    });
    let _ = aigis_data::crypt::decrypt(&ID, data, std::io::sink());
    let _ = aigis_data::crypt::read_identities(data);
});
