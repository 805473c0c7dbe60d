//! OMS signature files: the strict bundle parser, signature checks with a fixed key, and the
//! statement parser (also fed the raw input directly).
#![no_main]
use std::sync::OnceLock;

use aigis_sign::bundle::Bundle;
use aigis_sign::keys::{Curve, SigningKey};
use aigis_sign::oms::{Trust, parse_statement, verify_bundle};
use libfuzzer_sys::fuzz_target;

fn trust() -> &'static Trust {
    static T: OnceLock<Trust> = OnceLock::new();
    T.get_or_init(|| Trust::Key(SigningKey::generate(Curve::P256).verifying_key()))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Bundle::parse(data) {
        let _ = verify_bundle(&b, trust());
        let _ = b.to_json();
    }
    let _ = parse_statement(data);
});
