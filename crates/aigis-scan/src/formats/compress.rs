//! Compressed streams (gzip, zlib, xz, lzma, joblib's old `ZF` container), decompressed within
//! the member budget and scanned as whatever they hold.

use std::io::{Read, Write};

use super::scan_blob;
use crate::ctx::{Loc, Sink};

/// A writer that refuses to grow past a cap (lzma-rs writes into it).
struct Capped {
    buf: Vec<u8>,
    cap: u64,
    /// Stop past 8 MiB once the output exceeds this many bytes in all.
    ratio_cap: u64,
}

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let out = self.buf.len() as u64 + b.len() as u64;
        if out > self.cap || (out > (8 << 20) && out > self.ratio_cap) {
            return Err(std::io::Error::other(LIMIT));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const LIMIT: &str = "decompressed size limit reached";

pub(crate) fn scan(
    sink: &mut Sink,
    loc: &Loc,
    data: &[u8],
    depth: u32,
    name: &str,
) -> &'static str {
    let cap = sink.opts.max_member_bytes;
    let ratio_cap = (data.len() as u64).saturating_mul(sink.opts.max_ratio);
    let limit = |out: u64| out > cap || (out > (8 << 20) && out > ratio_cap);
    let (what, result): (&'static str, Result<Vec<u8>, String>) = match data {
        [0x1f, 0x8b, ..] => (
            "gzip",
            read_capped(flate2::read::MultiGzDecoder::new(data), &limit),
        ),
        [b'Z', b'F', ..] => {
            // joblib < 0.10: b"ZF" + hex length padded to 19 bytes, then a zlib stream.
            let body = data.get(21..).unwrap_or(&[]);
            (
                "joblib-zf",
                read_capped(flate2::read::ZlibDecoder::new(body), &limit),
            )
        }
        [0x78, ..] => (
            "zlib",
            read_capped(flate2::read::ZlibDecoder::new(data), &limit),
        ),
        [0xfd, b'7', ..] => {
            let mut w = Capped {
                buf: Vec::new(),
                cap,
                ratio_cap,
            };
            let r = lzma_rs::xz_decompress(&mut std::io::Cursor::new(data), &mut w);
            ("xz", r.map(|()| w.buf).map_err(|e| e.to_string()))
        }
        _ => {
            let mut w = Capped {
                buf: Vec::new(),
                cap,
                ratio_cap,
            };
            let r = lzma_rs::lzma_decompress(&mut std::io::Cursor::new(data), &mut w);
            ("lzma", r.map(|()| w.buf).map_err(|e| e.to_string()))
        }
    };
    match result {
        Err(e) if e.contains(LIMIT) => {
            let ev = format!(
                "{} compressed bytes expand past 8 MiB at a ratio above {}, or past {cap}",
                data.len(),
                sink.opts.max_ratio
            );
            sink.bomb(loc.whole(), &format!("{what} stream"), ev);
            what
        }
        Ok(inner) => {
            if !sink.charge(loc, inner.len() as u64) {
                return what;
            }
            let inner_name = name
                .trim_end_matches(".gz")
                .trim_end_matches(".xz")
                .trim_end_matches(".z");
            let kind = scan_blob(sink, loc, &inner, depth + 1, inner_name);
            match (what, kind) {
                (_, "joblib" | "pickle") => "joblib-compressed",
                _ => what,
            }
        }
        Err(e) => {
            sink.malformed(loc.whole(), &format!("{what} stream"), &e);
            what
        }
    }
}

/// Read a decoder in 1 MiB chunks until the end, or until `limit(bytes so far)` says stop.
fn read_capped(mut r: impl Read, limit: &dyn Fn(u64) -> bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if limit(out.len() as u64) {
            return Err(LIMIT.into());
        }
    }
}
