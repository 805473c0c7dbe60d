//! APGD-CE, the Square Attack and HopSkipJump on the reference models: APGD is at least as
//! strong as PGD, every attack stays in its budget, results repeat exactly for a seed and do
//! not depend on the thread count, and plans that cannot run are refused.

mod common;
use aigis_robust::apgd;
use aigis_robust::attack::{self, Norm};
use aigis_robust::eval::{self, Attack};
use common::{UNIT, first, load, plan};

#[test]
fn apgd_is_at_least_as_strong_as_pgd_and_monotone_in_eps() {
    for (model, data) in [
        ("mlp.onnx", "digits-test.npz"),
        ("cnn.onnx", "digits-test-img.npz"),
    ] {
        let (s, x, y) = load(model, data);
        let mut last = 1.0;
        for eps in [0.02f32, 0.05, 0.1, 0.2] {
            let pgd = attack::accuracy(
                &s,
                &attack::pgd(&s, &x, &y, eps, 20, UNIT).expect("pgd"),
                &y,
            )
            .expect("accuracy");
            let a = apgd::apgd_ce(&s, &x, &y, eps, 20, Norm::Linf, 0, UNIT).expect("apgd");
            let ours = attack::accuracy(&s, &a, &y).expect("accuracy");
            eprintln!("{model} eps {eps}: APGD-CE {ours:.4}, PGD {pgd:.4}");
            assert!(
                ours <= pgd + 0.005,
                "{model}@{eps}: APGD {ours} vs PGD {pgd}"
            );
            assert!(ours <= last, "{model}: robust accuracy rises with eps");
            last = ours;
            let worst = x
                .data
                .iter()
                .zip(&a.data)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            assert!(
                worst <= eps * (1.0 + 1e-5),
                "{model}: APGD left the ball ({worst})"
            );
            assert!(a.data.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}

#[test]
fn black_box_attacks_fool_the_mlp_within_budget_and_repeat_exactly() {
    let (s, x, y) = load("mlp.onnx", "digits-test.npz");
    let (x, y) = first(&x, &y, 150);
    let p = plan(
        &[Attack::Pgd, Attack::Square, Attack::HopSkipJump],
        &[0.05, 0.1],
    );
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| eval::evaluate(&s, &x, &y, &p, &mut |_, _| {}).expect("evaluates"))
    };
    let (one, three) = (run(1), run(3));
    let json = |r: &eval::Report| {
        let mut v = serde_json::to_value(r).expect("json");
        for p in v["curve"].as_array_mut().expect("curve") {
            p["seconds"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(json(&one), json(&three), "thread count changed a result");
    let at = |r: &eval::Report, i: usize, a: &str| r.curve[i].attacks[a];
    for (i, eps) in [0.05, 0.1].iter().enumerate() {
        eprintln!("mlp@{eps}: {:?}", one.curve[i].attacks);
        // Score-based: as strong as white-box PGD give or take a few samples.
        assert!(at(&one, i, "square") <= at(&one, i, "pgd") + 0.05);
        // Decision-based, 1,000 queries: weaker, but it flips samples.
        assert!(at(&one, i, "hopskipjump") < one.clean_accuracy - 0.05);
    }
    assert!(one.curve[1].robust_accuracy <= one.curve[0].robust_accuracy);
    // The worst case over attacks is no better than any one of them.
    for p in &one.curve {
        assert!(p.attacks.values().all(|&a| p.robust_accuracy <= a));
    }
}

#[test]
fn plans_that_cannot_run_are_refused() {
    let (s, x, y) = load("mlp.onnx", "digits-test.npz");
    let mut p = plan(&[Attack::Square], &[0.5]);
    p.norm = Norm::L2;
    let e = eval::evaluate(&s, &x, &y, &p, &mut |_, _| {}).expect_err("L2 square");
    assert!(e.to_string().contains("L-inf only"), "{e}");
    let p = plan(&[], &[0.1]);
    assert!(eval::evaluate(&s, &x, &y, &p, &mut |_, _| {}).is_err());
    assert!(apgd::apgd_ce(&s, &x, &y[..3], 0.1, 5, Norm::Linf, 0, UNIT).is_err());
}
