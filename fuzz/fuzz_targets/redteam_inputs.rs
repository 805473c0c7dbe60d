#![no_main]
//! Fuzz target: everything `aigis redteam` reads from outside — probe data files, target
//! answers (chat completions, JSON selectors), saved reports for `diff`, and the reference
//! target's request parsing and decoders — must never panic, hang or allocate without bound.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 5 {
        0 => {
            let _ = aigis_redteam::probes::parse("fuzz.toml", &text);
        }
        1 => {
            let _ = aigis_redteam::target::parse_chat(rest);
        }
        2 => {
            // First line: a selector; the rest: a JSON answer.
            let (sel, body) = text.split_once('\n').unwrap_or((&text, "{}"));
            if let Ok(s) = aigis_redteam::target::Selector::parse(sel) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
                    let _ = s.select(&v);
                }
            }
        }
        3 => {
            let _ = aigis_redteam::report::Report::from_json("fuzz.json", &text);
        }
        _ => {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(rest) {
                if let Ok(req) = aigis_redteam::vulnerable::parse(&v) {
                    let _ = aigis_redteam::vulnerable::answer(&req, Default::default());
                }
            }
            let _ = aigis_redteam::vulnerable::reveal(&text);
        }
    }
});
