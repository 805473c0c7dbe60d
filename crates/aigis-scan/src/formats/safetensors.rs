//! safetensors: a length-prefixed JSON header and raw tensor bytes. It holds no code, which is
//! why it is the format to prefer; the header is still validated, because parsers in other
//! languages have been crashed or misled by hostile ones.

use aigis_core::Finding;

use crate::ctx::{Loc, Sink};
use crate::reader::le64;
use crate::rules;

/// The reference implementation's header limit.
const MAX_HEADER: u64 = 100 << 20;

pub(crate) fn looks_like(data: &[u8]) -> bool {
    let Some(n) = le64(data, 0) else { return false };
    (2..=MAX_HEADER).contains(&n) && 8 + n <= data.len() as u64 && data.get(8) == Some(&b'{')
}

fn dtype_size(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8]) {
    let mut problems: Vec<String> = Vec::new();
    let n = le64(data, 0).unwrap_or(0) as usize;
    let body_len = (data.len() - 8 - n) as u64;
    let header: serde_json::Value = match serde_json::from_slice(&data[8..8 + n]) {
        Ok(v) => v,
        Err(e) => {
            push(sink, loc, &format!("header is not valid JSON: {e}"));
            return;
        }
    };
    let Some(obj) = header.as_object() else {
        push(sink, loc, "header is not a JSON object");
        return;
    };
    let mut ranges: Vec<(u64, u64, String)> = Vec::new();
    for (name, t) in obj {
        if name == "__metadata__" {
            if !t
                .as_object()
                .is_some_and(|m| m.values().all(serde_json::Value::is_string))
            {
                problems.push("__metadata__ must map strings to strings".into());
            }
            continue;
        }
        let dtype = t.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        let shape: Option<Vec<u64>> = t
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let offs: Option<Vec<u64>> = t
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            problems.push(format!(
                "tensor {name:?}: shape or data_offsets missing or not unsigned integers"
            ));
            continue;
        };
        if offs.len() != 2 || offs[0] > offs[1] {
            problems.push(format!(
                "tensor {name:?}: data_offsets {offs:?} are not [begin, end]"
            ));
            continue;
        }
        match dtype_size(dtype) {
            None => problems.push(format!("tensor {name:?}: unknown dtype {dtype:?}")),
            Some(sz) => {
                let want = shape.iter().try_fold(sz, |a, d| a.checked_mul(*d));
                if want != Some(offs[1] - offs[0]) {
                    problems.push(format!("tensor {name:?}: {dtype} {shape:?} needs {want:?} bytes but offsets span {}", offs[1] - offs[0]));
                }
            }
        }
        if offs[1] > body_len {
            problems.push(format!(
                "tensor {name:?}: ends at {} beyond the {body_len}-byte data section",
                offs[1]
            ));
        }
        ranges.push((offs[0], offs[1], name.clone()));
    }
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            problems.push(format!("tensors {:?} and {:?} overlap", w[0].2, w[1].2));
        }
    }
    if let Some(first) = problems.first() {
        let f = Finding::new(&rules::scn901::RULE, "safetensors header is invalid", loc.whole())
            .detail(format!("{} problem(s); the reference loader rejects such files, other parsers may misread them.", problems.len()))
            .evidence(first);
        sink.push(f);
    }
}

fn push(sink: &mut Sink, loc: &Loc, why: &str) {
    sink.push(
        Finding::new(
            &rules::scn901::RULE,
            "safetensors header is invalid",
            loc.whole(),
        )
        .evidence(why),
    );
}
