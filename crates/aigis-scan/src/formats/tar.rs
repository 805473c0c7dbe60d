//! POSIX tar, including `PyTorch`'s legacy tar checkpoints (`sys_info`, `pickle`, `storages`,
//! `tensors`). Every member is scanned by content.

use aigis_core::Finding;

use super::{pickle, scan_blob, zip::check_name};
use crate::ctx::{Loc, Sink};
use crate::rules;

fn octal(b: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8], depth: u32) -> &'static str {
    let mut p = 0usize;
    let mut legacy_torch = false;
    let mut members = 0;
    while p + 512 <= data.len() {
        let h = &data[p..p + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        members += 1;
        if members > 100_000 {
            sink.limit(loc.whole(), "more than 100000 tar members");
            break;
        }
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let mut name = String::from_utf8_lossy(&h[..name_end]).into_owned();
        let prefix_end = h[345..500].iter().position(|&b| b == 0).unwrap_or(155);
        if &h[257..262] == b"ustar" && prefix_end > 0 {
            name = format!(
                "{}/{}",
                String::from_utf8_lossy(&h[345..345 + prefix_end]),
                name
            );
        }
        let Some(size) = octal(&h[124..136]) else {
            sink.malformed(loc.at(p), "tar header", "size field is not octal");
            break;
        };
        let typeflag = h[156];
        let start = p + 512;
        let Some(end) = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
        else {
            sink.malformed(loc.at(p), "tar member", "size overflows");
            break;
        };
        if end > data.len() {
            sink.malformed(
                loc.at(p),
                "tar member",
                &format!("{name}: runs past the end of the archive"),
            );
            break;
        }
        check_name(sink, loc, &name);
        if typeflag == b'1' || typeflag == b'2' {
            sink.push(
                Finding::new(&rules::scn204::RULE, "tar member is a link", loc.whole())
                    .detail("Links in archives that get extracted can point outside the target directory.")
                    .evidence(&name),
            );
        }
        if typeflag == b'0' || typeflag == 0 {
            let body = &data[start..end];
            let mloc = loc.child(&name);
            let base = name.rsplit('/').next().unwrap_or(&name);
            if matches!(base, "sys_info" | "pickle" | "storages" | "tensors") {
                legacy_torch = true;
            }
            if matches!(base, "storages" | "tensors") {
                // Leading pickles (counts and per-storage records) then raw data: scan the
                // pickles at the front; raw bytes follow.
                if pickle::looks_like_pickle(body) {
                    pickle::scan_pickle_file(sink, &mloc, body, depth + 1);
                }
            } else {
                scan_blob(sink, &mloc, body, depth + 1, &name);
            }
        }
        p = start + (end - start).div_ceil(512) * 512;
    }
    if legacy_torch { "pytorch-tar" } else { "tar" }
}
