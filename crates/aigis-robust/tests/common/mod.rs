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

/// A plan of `attacks` at budgets `eps` (L∞, 20 steps, 1,000 queries, seed 0, [0, 1]).
pub fn plan(attacks: &[aigis_robust::eval::Attack], eps: &[f32]) -> aigis_robust::eval::Plan {
    aigis_robust::eval::Plan {
        attacks: attacks.to_vec(),
        eps: eps.to_vec(),
        steps: 20,
        norm: aigis_robust::attack::Norm::Linf,
        restarts: 1,
        queries: 1000,
        seed: 0,
        range: UNIT,
    }
}

/// The first `n` rows of a data set.
pub fn first(x: &Tensor, y: &[i64], n: usize) -> (Tensor, Vec<i64>) {
    let per = x.data.len() / y.len();
    let mut shape = x.shape.clone();
    shape[0] = n;
    (
        Tensor::new(shape, x.data[..n * per].to_vec()).expect("rows"),
        y[..n].to_vec(),
    )
}
