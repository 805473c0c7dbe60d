//! Pickle: the format behind `PyTorch` checkpoints, joblib and `NumPy` object arrays, and the one
//! that runs code on load. See [`vm`] for the machine; this module handles streams, stacked
//! pickles and the legacy `PyTorch` layout.

mod value;
pub(crate) mod vm;

pub(crate) use vm::StorageRef;

use aigis_core::Finding;

use crate::ctx::{Loc, Sink};
use crate::rules;

/// Scan a buffer holding one or more pickles (raw `.pkl`, legacy `.pt`, joblib, a zip member).
/// Returns the torch storages named by persistent ids.
pub(crate) fn scan_pickle_file(
    sink: &mut Sink,
    loc: &Loc,
    data: &[u8],
    depth: u32,
) -> Vec<StorageRef> {
    let mut pos = 0;
    let mut storages = Vec::new();
    let mut legacy = false;
    for n in 1usize.. {
        let end = vm::Machine::new(data, sink, loc, depth).run(pos);
        storages.extend(end.storages);
        if n == 1 && end.torch_magic {
            legacy = true;
        }
        if !end.complete || end.end >= data.len() {
            break;
        }
        pos = end.end;
        // Legacy torch: magic, protocol, sys_info, the object, the storage keys; then raw
        // storage bytes that are not pickles.
        if legacy && n >= 5 {
            break;
        }
        let rest = &data[pos..];
        if rest.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            break;
        }
        if !looks_like_pickle(rest) {
            sink.push(
                Finding::new(&rules::scn109::RULE, "data follows the end of the pickle", loc.at(pos))
                    .detail("pickle.load stops at STOP; the trailing bytes are not a pickle and are ignored by a plain loader, \
                             but a custom loader could read them.")
                    .evidence(format!("{} trailing bytes", rest.len())),
            );
            break;
        }
        if n >= 1 && !legacy {
            sink.push(
                Finding::new(
                    &rules::scn109::RULE,
                    "another pickle follows the first one",
                    loc.at(pos),
                )
                .detail("Loaders that call pickle.load repeatedly run each one; each was scanned.")
                .evidence(format!("pickle #{} at offset {pos}", n + 1)),
            );
        }
        if n > 10_000 {
            sink.limit(loc.at(pos), "more than 10000 stacked pickles");
            break;
        }
    }
    storages
}

/// Operand layout of an opcode, for the syntactic sniffer.
enum Arg {
    None,
    Fixed(usize),
    Line,
    TwoLines,
    Len1,
    Len4,
    Len8,
}

fn arg_of(op: u8) -> Option<Arg> {
    use Arg::{Fixed, Len1, Len4, Len8, Line, None as N, TwoLines};
    Some(match op {
        b'('
        | b'.'
        | b'0'
        | b'1'
        | b'2'
        | b'N'
        | b'Q'
        | b'R'
        | b'a'
        | b'b'
        | b'd'
        | b'}'
        | b'e'
        | b'l'
        | b']'
        | b'o'
        | b's'
        | b't'
        | b')'
        | b'u'
        | 0x81
        | 0x85..=0x89
        | 0x8f..=0x94
        | 0x97
        | 0x98 => N,
        b'F' | b'I' | b'L' | b'P' | b'S' | b'V' | b'g' | b'p' => Line,
        b'c' | b'i' => TwoLines,
        b'J' | b'j' | b'r' => Fixed(4),
        b'K' | b'h' | b'q' | 0x80 | 0x82 => Fixed(1),
        b'M' | 0x83 => Fixed(2),
        0x84 => Fixed(4),
        b'G' | 0x95 => Fixed(8),
        0x8a | b'U' | b'C' | 0x8c => Len1,
        0x8b | b'T' | b'X' | b'B' => Len4,
        0x8d | 0x8e | 0x96 => Len8,
        _ => return None,
    })
}

/// Whether `data` starts like a pickle: protocol 2+ header, or a run of well-formed
/// protocol 0/1 opcodes reaching STOP (text files rarely survive this: `I` needs a number
/// line, `c` two identifier lines, and so on).
pub(crate) fn looks_like_pickle(data: &[u8]) -> bool {
    if data.len() >= 2 && data[0] == 0x80 && data[1] <= 5 {
        return true;
    }
    let mut c = crate::reader::Cursor::new(data);
    let mut ops = 0;
    let mut globals = 0;
    loop {
        let Ok(op) = c.u8() else {
            // Ran out at an opcode boundary: a truncated pickle (whose payload may already
            // have run in a loader) if it imported something or is long enough not to be text.
            return globals > 0 || ops >= 8;
        };
        ops += 1;
        let Some(arg) = arg_of(op) else { return false };
        // None: ran out of data inside the operand; Some(false): malformed operand.
        let ok: Option<bool> = match arg {
            Arg::None => Some(true),
            Arg::Fixed(n) => c.skip(n).ok().map(|()| true),
            Arg::Line => c.line().ok().map(|l| line_ok(op, l)),
            Arg::TwoLines => {
                globals += 1;
                match (c.line(), c.line()) {
                    (Ok(a), Ok(b)) => Some(ident(a) && ident(b)),
                    (Ok(a), Err(_)) if !ident(a) => Some(false),
                    _ => {
                        globals -= 1;
                        None
                    }
                }
            }
            Arg::Len1 => c
                .u8()
                .ok()
                .and_then(|n| c.skip(usize::from(n)).ok())
                .map(|()| true),
            Arg::Len4 => c
                .u32_le()
                .ok()
                .and_then(|n| c.skip(n as usize).ok())
                .map(|()| true),
            Arg::Len8 => c
                .u64_le()
                .ok()
                .and_then(|n| c.take_u64(n).ok())
                .map(|_| true),
        };
        match ok {
            Some(true) => {}
            Some(false) => return false,
            None => return globals > 0 || ops >= 8,
        }
        if op == b'.' {
            return ops >= 2 || globals > 0;
        }
        if ops >= 256 {
            return true;
        }
    }
}

fn ident(l: &[u8]) -> bool {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    !l.is_empty()
        && l.len() < 512
        && l.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.".contains(b))
}

fn line_ok(op: u8, l: &[u8]) -> bool {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    match op {
        b'I' | b'L' | b'g' | b'p' => {
            let l = l.strip_suffix(b"L").unwrap_or(l);
            !l.is_empty() && l.iter().all(|b| b.is_ascii_digit() || *b == b'-')
        }
        b'F' => std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some(),
        b'S' => l.len() >= 2 && (l[0] == b'\'' || l[0] == b'"') && l[l.len() - 1] == l[0],
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffer_accepts_pickles_and_rejects_text() {
        assert!(looks_like_pickle(b"\x80\x04K\x01."));
        assert!(looks_like_pickle(b"cos\nsystem\n(S'ls'\ntR."));
        assert!(looks_like_pickle(b"(lp0\nI1\naI2\na."));
        assert!(!looks_like_pickle(b"I love models\n"));
        assert!(!looks_like_pickle(b"# README\n\nThis is a model card."));
        assert!(!looks_like_pickle(b"(hello world)"));
        assert!(!looks_like_pickle(b""));
        assert!(
            looks_like_pickle(b"cposix\nsystem\n(S'id'\ntR"),
            "truncated before STOP"
        );
    }
}
