//! GGUF (llama.cpp): bounds-checked metadata and tensor-info parsing; chat templates in the
//! metadata are analysed for template injection.

use aigis_core::Finding;

use super::jinja;
use crate::ctx::{Loc, Sink};
use crate::reader::{Cursor, Eof};
use crate::rules;

struct G<'a> {
    c: Cursor<'a>,
    v1: bool,
}

impl<'a> G<'a> {
    fn len(&mut self) -> Result<u64, Eof> {
        if self.v1 {
            self.c.u32_le().map(u64::from)
        } else {
            self.c.u64_le()
        }
    }

    fn string(&mut self) -> Result<&'a [u8], Eof> {
        let n = self.len()?;
        self.c.take_u64(n)
    }

    /// Skip (or return, for strings) one value of type `t`.
    fn value(&mut self, t: u32, depth: u32, out: Option<&mut Vec<String>>) -> Result<(), Eof> {
        match t {
            0 | 1 | 7 => self.c.skip(1),
            2 | 3 => self.c.skip(2),
            4..=6 => self.c.skip(4),
            10..=12 => self.c.skip(8),
            8 => {
                let s = self.string()?;
                if let Some(o) = out {
                    o.push(String::from_utf8_lossy(s).into_owned());
                }
                Ok(())
            }
            9 => {
                if depth > 4 {
                    return Err(Eof);
                }
                let et = self.c.u32_le()?;
                let n = self.len()?;
                // Every element takes at least one byte: refuse counts the file cannot hold.
                if n > self.c.remaining() as u64 {
                    return Err(Eof);
                }
                for _ in 0..n {
                    self.value(et, depth + 1, None)?;
                }
                Ok(())
            }
            _ => Err(Eof),
        }
    }
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8]) {
    let mut g = G {
        c: Cursor::new(data),
        v1: false,
    };
    let mut templates: Vec<(String, String)> = Vec::new();
    let mut alignment: u64 = 32;
    let res = (|| -> Result<String, (Eof, &'static str)> {
        g.c.skip(4).map_err(|e| (e, "magic"))?;
        let version = g.c.u32_le().map_err(|e| (e, "version"))?;
        if !(1..=3).contains(&version) {
            return Ok(format!("unsupported GGUF version {version}"));
        }
        g.v1 = version == 1;
        let n_tensors = g.len().map_err(|e| (e, "tensor count"))?;
        let n_kv = g.len().map_err(|e| (e, "metadata count"))?;
        if n_kv > g.c.remaining() as u64 || n_tensors > g.c.remaining() as u64 {
            return Ok(format!(
                "counts ({n_kv} metadata, {n_tensors} tensors) exceed the file size"
            ));
        }
        for _ in 0..n_kv {
            let key =
                String::from_utf8_lossy(g.string().map_err(|e| (e, "metadata key"))?).into_owned();
            let t = g.c.u32_le().map_err(|e| (e, "metadata type"))?;
            if key.starts_with("tokenizer.chat_template") && t == 8 {
                let mut v = Vec::new();
                g.value(t, 0, Some(&mut v))
                    .map_err(|e| (e, "metadata value"))?;
                templates.extend(v.into_iter().map(|s| (key.clone(), s)));
            } else if key == "general.alignment" && t == 4 {
                alignment = u64::from(g.c.u32_le().map_err(|e| (e, "alignment"))?);
            } else {
                g.value(t, 0, None).map_err(|e| (e, "metadata value"))?;
            }
        }
        let mut max_off = 0u64;
        for _ in 0..n_tensors {
            g.string().map_err(|e| (e, "tensor name"))?;
            let nd = g.c.u32_le().map_err(|e| (e, "tensor dims"))?;
            if nd > 8 {
                return Ok(format!("tensor with {nd} dimensions"));
            }
            for _ in 0..nd {
                g.len().map_err(|e| (e, "tensor shape"))?;
            }
            g.c.u32_le().map_err(|e| (e, "tensor type"))?;
            max_off = max_off.max(g.c.u64_le().map_err(|e| (e, "tensor offset"))?);
        }
        if alignment == 0 || !alignment.is_power_of_two() {
            return Ok(format!("alignment {alignment} is not a power of two"));
        }
        let data_start = (g.c.pos() as u64).div_ceil(alignment) * alignment;
        if n_tensors > 0 && data_start.saturating_add(max_off) >= data.len() as u64 {
            return Ok(format!(
                "tensor data offset {max_off} lies beyond the end of the file"
            ));
        }
        Ok(String::new())
    })();
    match res {
        Ok(problem) if !problem.is_empty() => sink.malformed(loc.whole(), "GGUF header", &problem),
        Ok(_) => {}
        Err((_, what)) => sink.malformed(
            loc.whole(),
            "GGUF header",
            &format!("{what} runs past the end of the file"),
        ),
    }
    for (key, t) in templates {
        report_template(sink, loc, &key, &t);
    }
}

/// Report the problems of one chat template.
pub(crate) fn report_template(sink: &mut Sink, loc: &Loc, key: &str, template: &str) {
    for h in jinja::analyse(template) {
        sink.push(
            Finding::new(&rules::scn801::RULE, format!("chat template {key}: {}", h.why), loc.whole())
                .severity(h.severity)
                .detail("Inference servers render this template with user text; reaching Python internals from it runs code on the server.")
                .evidence(h.snippet),
        );
    }
}
