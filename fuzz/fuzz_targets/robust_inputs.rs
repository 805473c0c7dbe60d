#![no_main]
//! Fuzz target: ONNX models (parsed, checked, run forward and backward and attacked with FGSM
//! on a small input when they load, their weights written back) and `.npz`/CSV data for `aigis robust` must never panic,
//! hang or allocate without bound.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 4 == 0 {
        let _ = aigis_robust::npz::load_xy("fuzz.npz", rest);
        return;
    }
    if which % 4 == 2 {
        let _ = aigis_robust::npz::load_csv("fuzz.csv", rest);
        return;
    }
    let Ok(model) = aigis_robust::onnx::parse(rest) else {
        return;
    };
    let Ok(session) = aigis_robust::engine::Session::new(model) else {
        return;
    };
    // Weights written back into the same bytes (what `robust harden` does).
    if let Ok(names) = aigis_robust::train::trainable(&session) {
        let w: std::collections::HashMap<String, aigis_robust::Tensor> = names
            .iter()
            .filter_map(|n| session.weight(n).map(|t| (n.clone(), t.clone())))
            .collect();
        if let Ok(out) = aigis_robust::onnx::with_weights(rest, &w, &[("k", "v")]) {
            assert!(aigis_robust::onnx::parse(&out).is_ok(), "a rewritten model parses");
        }
    }
    // Run on a tiny input of the declared shape (symbolic dimensions as 1), if it is small.
    let shape: Vec<usize> = session.input_shape().iter().map(|d| d.unwrap_or(1)).collect();
    let n: usize = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
    if !shape.is_empty() && n <= 4096 {
        if let Ok(x) = aigis_robust::Tensor::new(shape, vec![0.5; n]) {
            if session.run(&x).is_ok() {
                let rows = x.shape[0];
                let labels = vec![0; rows];
                let _ = session.loss_gradient(&x, &labels);
                // The attacks' own path: blocks sized from one row's values, gradients per
                // block on the calling thread.
                let unit = aigis_robust::attack::Range { lo: 0.0, hi: 1.0 };
                let _ = aigis_robust::attack::fgsm(&session, &x, &labels, 0.1, unit);
            }
        }
    }
});
