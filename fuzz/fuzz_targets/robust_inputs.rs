#![no_main]
//! Fuzz target: ONNX models (parsed, checked, and run on a small input when they load) and
//! `.npz` data for `aigis robust` must never panic, hang or allocate without bound.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let _ = aigis_robust::npz::load_xy("fuzz.npz", rest);
        return;
    }
    let Ok(model) = aigis_robust::onnx::parse(rest) else {
        return;
    };
    let Ok(session) = aigis_robust::engine::Session::new(model) else {
        return;
    };
    // Run on a tiny input of the declared shape (symbolic dimensions as 1), if it is small.
    let shape: Vec<usize> = session.input_shape().iter().map(|d| d.unwrap_or(1)).collect();
    let n: usize = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
    if !shape.is_empty() && n <= 4096 {
        if let Ok(x) = aigis_robust::Tensor::new(shape, vec![0.5; n]) {
            let _ = session.run(&x);
        }
    }
});
