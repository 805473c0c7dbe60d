//! Certificates from signature bundles: DER parsing and chain validation against itself.
#![no_main]
use aigis_sign::x509::{Cert, verify_chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Cert::from_der(data) {
        let _ = c.subject();
        let _ = verify_chain(&c, &[], std::slice::from_ref(&c));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Cert::from_pem_file(text, "fuzz");
    }
});
