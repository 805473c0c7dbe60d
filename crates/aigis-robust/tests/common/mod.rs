//! Shared by the integration tests: the fixtures of `tests/fixtures`.
#![allow(dead_code)]

use aigis_robust::attack::Range;
use aigis_robust::engine::Session;
use aigis_robust::{Tensor, npz, onnx};

/// The bytes of a fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

/// A reference model and a data set.
pub fn load(model: &str, data: &str) -> (Session, Tensor, Vec<i64>) {
    let s = Session::new(onnx::parse(&fixture(model)).expect("parses")).expect("supported");
    let (x, y) = npz::load_xy(data, &fixture(data)).expect("data");
    (s, x, y)
}

/// The digits data's range.
pub const UNIT: Range = Range { lo: 0.0, hi: 1.0 };
