//! ONNX: walks the graph, its subgraphs, functions and training graphs over the wire format.
//! Checks external-data locations (path traversal: CVE-2022-25882, CVE-2024-27318) and
//! operator domains (custom and Python ops).

use aigis_core::{Finding, Severity};

use super::protobuf::{Field, fields, text};
use crate::ctx::{Loc, Sink};
use crate::rules;

const MAX_GRAPH_DEPTH: u32 = 16;
const STANDARD_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "com.microsoft.mlfeaturizers",
    "com.ms.internal.nhwc",
    "org.pytorch.aten",
];

pub(crate) fn looks_like_onnx(data: &[u8]) -> bool {
    let mut graph = false;
    for f in fields(data) {
        match f {
            // A GraphProto has nodes, a name, initializers or inputs: length-delimited fields.
            Ok((7, Field::Bytes(g))) => {
                graph = fields(g).any(|x| matches!(x, Ok((1 | 2 | 5 | 11 | 12, Field::Bytes(_)))));
            }
            Ok((1..=8 | 14 | 20 | 25, _)) => {}
            _ => return false,
        }
    }
    graph
}

struct W<'s, 'o, 'l> {
    sink: &'s mut Sink<'o>,
    loc: &'l Loc,
    custom: Vec<String>,
    malformed: bool,
}

impl W<'_, '_, '_> {
    fn each<'a>(&mut self, msg: &'a [u8], mut f: impl FnMut(&mut Self, u32, Field<'a>)) {
        for r in fields(msg) {
            if let Ok((n, v)) = r {
                f(self, n, v);
            } else {
                self.malformed = true;
                return;
            }
        }
    }

    fn graph(&mut self, g: &[u8], depth: u32) {
        if depth > MAX_GRAPH_DEPTH {
            self.sink
                .limit(self.loc.whole(), "ONNX subgraphs nested too deep");
            return;
        }
        self.each(g, |w, n, v| match (n, v) {
            (1, Field::Bytes(node)) => w.node(node, depth),
            (5, Field::Bytes(t)) => w.tensor(t),
            (15, Field::Bytes(st)) => w.sparse(st),
            _ => {}
        });
    }

    fn node(&mut self, node: &[u8], depth: u32) {
        let mut op = String::new();
        let mut domain = String::new();
        self.each(node, |w, n, v| match (n, v) {
            (4, Field::Bytes(b)) => op = text(b),
            (7, Field::Bytes(b)) => domain = text(b),
            (5, Field::Bytes(attr)) => w.attribute(attr, depth),
            _ => {}
        });
        if !STANDARD_DOMAINS.contains(&domain.as_str()) {
            let key = format!("{domain}::{op}");
            if !self.custom.contains(&key) && self.custom.len() < 64 {
                self.custom.push(key);
            }
        }
    }

    fn attribute(&mut self, attr: &[u8], depth: u32) {
        self.each(attr, |w, n, v| match (n, v) {
            (5, Field::Bytes(t)) => w.tensor(t),
            (6 | 11, Field::Bytes(g)) => w.graph(g, depth + 1),
            (10, Field::Bytes(t)) => w.tensor(t),
            (22 | 23, Field::Bytes(st)) => w.sparse(st),
            _ => {}
        });
    }

    fn sparse(&mut self, st: &[u8]) {
        self.each(st, |w, n, v| {
            if let (1 | 2, Field::Bytes(t)) = (n, v) {
                w.tensor(t);
            }
        });
    }

    fn tensor(&mut self, t: &[u8]) {
        let mut external = false;
        let mut location = None;
        let mut name = String::new();
        self.each(t, |w, n, v| match (n, v) {
            (8, Field::Bytes(b)) => name = text(b),
            (14, Field::Varint(1)) => external = true,
            (13, Field::Bytes(entry)) => {
                let mut k = String::new();
                let mut val = String::new();
                w.each(entry, |_, n2, v2| match (n2, v2) {
                    (1, Field::Bytes(b)) => k = text(b),
                    (2, Field::Bytes(b)) => val = text(b),
                    _ => {}
                });
                if k == "location" {
                    location = Some(val);
                }
            }
            _ => {}
        });
        if let (true, Some(loc)) = (external, location) {
            if escapes(&loc).is_none()
                && self.sink.data_refs.len() < 4096
                && !self.sink.data_refs.contains(&loc)
            {
                self.sink.data_refs.push(loc.clone());
            }
            if let Some(why) = escapes(&loc) {
                self.sink.push(
                    Finding::new(&rules::scn701::RULE, format!("external data of tensor {name:?} points outside the model directory"), self.loc.whole())
                        .detail(format!("The location {why}; loading the model reads (or with some tools writes) that file."))
                        .evidence(loc),
                );
            }
        }
    }
}

/// Why an external-data location escapes the model directory, if it does.
pub(crate) fn escapes(loc: &str) -> Option<&'static str> {
    if loc.contains('\0') {
        return Some("contains a NUL byte");
    }
    let l = loc.replace('\\', "/");
    if l.starts_with('/') {
        return Some("is an absolute path");
    }
    if l.len() >= 2 && l.as_bytes()[1] == b':' {
        return Some("names a drive");
    }
    if l.contains(':') {
        return Some("contains a colon (drive or stream name)");
    }
    let mut depth: i32 = 0;
    for c in l.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("climbs out with `..`");
                }
            }
            _ => depth += 1,
        }
    }
    if l.split('/').any(|c| c == "..") {
        return Some("contains `..` (normalises inside, but tools disagree on symlinked parents)");
    }
    None
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8], _name: &str) {
    let mut w = W {
        sink,
        loc,
        custom: Vec::new(),
        malformed: false,
    };
    let mut graph_seen = false;
    w.each(data, |w, n, v| match (n, v) {
        (7, Field::Bytes(g)) => {
            graph_seen = true;
            w.graph(g, 0);
        }
        (20, Field::Bytes(ti)) => w.each(ti, |w, _, v2| {
            if let Field::Bytes(g) = v2 {
                w.graph(g, 1);
            }
        }),
        (25, Field::Bytes(func)) => w.each(func, |w, n2, v2| {
            if let (7, Field::Bytes(node)) = (n2, v2) {
                w.node(node, 1);
            }
        }),
        _ => {}
    });
    if w.malformed || !graph_seen {
        w.sink
            .malformed(loc.whole(), "ONNX model", "protobuf structure is damaged");
    }
    for key in std::mem::take(&mut w.custom) {
        let (domain, op) = key.split_once("::").unwrap_or(("", &key));
        let python = op.contains("PyOp") || op.contains("Python") || domain == "ai.onnx.contrib";
        let sev = if python {
            Severity::High
        } else {
            Severity::Low
        };
        w.sink.push(
            Finding::new(&rules::scn702::RULE, format!("operator {op} from non-standard domain {domain:?}"), loc.whole())
                .severity(sev)
                .detail(if python {
                    "Custom Python operators (onnxruntime-extensions PyOp) run Python code registered in the loading process."
                } else {
                    "Needs a custom operator library at load time; that native code is outside the model's checks."
                })
                .evidence(key),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_locations() {
        assert!(escapes("weights.bin").is_none());
        assert!(escapes("sub/weights.bin").is_none());
        assert!(escapes("../../etc/passwd").is_some());
        assert!(escapes("a/../../x").is_some());
        assert!(escapes("a/../x").is_some());
        assert!(escapes("/etc/passwd").is_some());
        assert!(escapes("C:\\Windows\\x").is_some());
        assert!(escapes("\\\\server\\share").is_some());
        assert!(escapes("x\0y").is_some());
    }
}
