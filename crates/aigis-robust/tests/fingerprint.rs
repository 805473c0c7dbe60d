//! Fingerprints: stable across runs, unchanged for the same model, and a single changed weight
//! that flips at least 1% of decisions is reported with its agreement rate.

mod common;
use aigis_robust::engine::Session;
use aigis_robust::fingerprint::{self, Fingerprint};
use aigis_robust::{npz, onnx};
use common::{UNIT, fixture};

fn take(bytes: &[u8], model: onnx::Model, probes: Option<&aigis_robust::Tensor>) -> Fingerprint {
    let s = Session::new(model).expect("supported");
    fingerprint::take(&s, bytes, 7, 256, &[64], UNIT, probes).expect("fingerprint")
}

#[test]
fn fingerprints_are_stable_and_catch_a_changed_weight() {
    let bytes = fixture("mlp.onnx");
    let model = onnx::parse(&bytes).expect("parses");
    let (probes, _) = npz::load_xy("digits-test.npz", &fixture("digits-test.npz")).expect("data");
    let fp = take(&bytes, model.clone(), Some(&probes));
    assert_eq!(
        fp,
        take(&bytes, model.clone(), Some(&probes)),
        "same model, same fingerprint"
    );
    assert_eq!(fp.decisions.len(), 256 + 540);
    assert!(
        fp.decisions
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 3,
        "canaries reach several classes"
    );

    let same = Session::new(model.clone()).expect("supported");
    let c = fingerprint::check(&same, &fp, Some(&probes)).expect("check");
    assert!(
        !c.changed
            && c.identical
            && c.changed_decisions == 0
            && c.max_probability_change.abs() < f64::EPSILON,
        "{c:?}"
    );

    // A fingerprint whose values differ by one quantisation step (the same model rounded by
    // other arithmetic) is not a change; by two steps, it is.
    for (step, changed) in [(1u16, false), (2, true)] {
        let mut moved = fp.clone();
        moved.digest = "0".repeat(64);
        for v in moved.outputs.iter_mut().step_by(7) {
            *v = if *v >= step { *v - step } else { *v + step };
        }
        let c = fingerprint::check(&same, &moved, Some(&probes)).expect("check");
        assert!(!c.identical && c.changed == changed, "{step} steps: {c:?}");
    }

    // One weight: the bias of class 3, raised enough to flip some decisions to it.
    let mut altered = model.clone();
    let b = altered.initializers.get_mut("fc2.b").expect("bias");
    b.data[3] += 3.0;
    let s = Session::new(altered).expect("supported");
    let c = fingerprint::check(&s, &fp, Some(&probes)).expect("check");
    assert!(c.changed && !c.identical, "{c:?}");
    let total = fp.decisions.len();
    assert!(
        c.changed_decisions * 100 >= total,
        "{c:?}: fewer than 1% flipped"
    );
    assert!(
        c.agreement < 0.99 && c.max_probability_change > 0.1,
        "{c:?}"
    );

    // A change too small to flip anything still shows as a change of the outputs.
    let mut tiny = model;
    tiny.initializers.get_mut("fc2.w").expect("weights").data[0] += 1e-3;
    let s = Session::new(tiny).expect("supported");
    let c = fingerprint::check(&s, &fp, Some(&probes)).expect("check");
    assert!(
        c.changed && !c.identical && c.max_probability_change > 2.0 / 65535.0,
        "{c:?}"
    );

    // Other probes than the fingerprint's are refused.
    let e = fingerprint::check(&same, &fp, None)
        .expect_err("no probes")
        .to_string();
    assert!(e.contains("other probes"), "{e}");
}

#[test]
fn fingerprints_do_not_depend_on_the_thread_count() {
    let bytes = fixture("cnn.onnx");
    let model = onnx::parse(&bytes).expect("parses");
    let s = Session::new(model).expect("supported");
    let (probes, _) =
        npz::load_xy("digits-test-img.npz", &fixture("digits-test-img.npz")).expect("data");
    let with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| {
                fingerprint::take(&s, &bytes, 3, 100, &[1, 8, 8], UNIT, Some(&probes))
                    .expect("fingerprint")
            })
    };
    let one = with(1);
    assert_eq!(one, with(2));
    assert_eq!(one, with(5));
}
