//! Zip archives read the way `PyTorch`'s miniz reader and streaming loaders do, not the way
//! Python's `zipfile` does: the central directory is read ourselves, data is located from the
//! *local* header, CRC and name mismatches are reported but do not stop the scan, every member
//! (duplicates and members missing from the central directory included) is returned, and
//! decompression is bounded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use aigis_core::Finding;

use crate::ctx::{Loc, Sink};
use crate::reader::{le16, le32, le64};
use crate::rules;

const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD64_LOC_SIG: &[u8; 4] = b"PK\x06\x07";
const EOCD64_SIG: &[u8; 4] = b"PK\x06\x06";
/// Most entries one archive may list.
const MAX_ENTRIES: usize = 200_000;

/// One member.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    /// The local header's name, when it differs from the central directory's.
    pub local_name: Option<String>,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    pub csize: u64,
    pub usize: u64,
    /// Offset of the member's data (after the local header).
    pub data_start: usize,
}

impl Entry {
    pub(crate) fn encrypted(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// A parsed archive over borrowed bytes.
pub(crate) struct Archive<'a> {
    data: &'a [u8],
    pub entries: Vec<Entry>,
    /// Bytes before the first member (self-extractor stubs, polyglots).
    pub prefix_len: usize,
}

/// Whether `data` looks like a zip: a local header at the start, or an end record near the end.
pub(crate) fn is_zip(data: &[u8]) -> bool {
    data.starts_with(LOCAL_SIG) || data.starts_with(EOCD_SIG) || find_eocd(data).is_some()
}

fn find_eocd(data: &[u8]) -> Option<usize> {
    if data.len() < 22 {
        return None;
    }
    let lo = data.len().saturating_sub(22 + 65_535);
    (lo..=data.len() - 22)
        .rev()
        .find(|&i| &data[i..i + 4] == EOCD_SIG)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Local {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    data_start: usize,
}

fn parse_local(data: &[u8], off: usize) -> Option<Local> {
    if data.get(off..off + 4)? != LOCAL_SIG {
        return None;
    }
    let flags = le16(data, off + 6)?;
    let method = le16(data, off + 8)?;
    let crc = le32(data, off + 14)?;
    let mut csize = u64::from(le32(data, off + 18)?);
    let mut usize_ = u64::from(le32(data, off + 22)?);
    let nlen = usize::from(le16(data, off + 26)?);
    let xlen = usize::from(le16(data, off + 28)?);
    let name = lossy(data.get(off + 30..off + 30 + nlen)?);
    let extra = data.get(off + 30 + nlen..off + 30 + nlen + xlen)?;
    if (csize == 0xFFFF_FFFF || usize_ == 0xFFFF_FFFF)
        && let Some(z) = zip64_extra(extra)
    {
        if usize_ == 0xFFFF_FFFF {
            usize_ = le64(z, 0).unwrap_or(usize_);
        }
        if csize == 0xFFFF_FFFF {
            csize = le64(z, 8).unwrap_or(csize);
        }
    }
    Some(Local {
        name,
        flags,
        method,
        crc,
        csize,
        usize: usize_,
        data_start: off + 30 + nlen + xlen,
    })
}

fn zip64_extra(extra: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = le16(extra, i)?;
        let len = usize::from(le16(extra, i + 2)?);
        let body = extra.get(i + 4..i + 4 + len)?;
        if id == 1 {
            return Some(body);
        }
        i += 4 + len;
    }
    None
}

impl<'a> Archive<'a> {
    /// Parse; findings about the structure go to `sink`. Returns None only when no member at
    /// all can be found.
    pub(crate) fn open(sink: &mut Sink, loc: &Loc, data: &'a [u8]) -> Option<Archive<'a>> {
        let mut entries = Vec::new();
        // data offset -> compressed size, for members the central directory lists.
        let mut seen_offsets: HashMap<usize, u64> = HashMap::new();
        let mut delta: i64 = 0;
        if let Some(eocd) = find_eocd(data) {
            let mut count = u64::from(le16(data, eocd + 10).unwrap_or(0));
            let mut cd_size = u64::from(le32(data, eocd + 12).unwrap_or(0));
            let mut cd_off = u64::from(le32(data, eocd + 16).unwrap_or(0));
            let mut record = eocd;
            if eocd >= 20
                && &data[eocd - 20..eocd - 16] == EOCD64_LOC_SIG
                && let Some(z) = le64(data, eocd - 12).and_then(|o| usize::try_from(o).ok())
                && data.get(z..z + 4) == Some(EOCD64_SIG)
            {
                count = le64(data, z + 32).unwrap_or(count);
                cd_size = le64(data, z + 40).unwrap_or(cd_size);
                cd_off = le64(data, z + 48).unwrap_or(cd_off);
                record = z;
            }
            // Where the directory really is, given its size: a difference means bytes were
            // prepended to the archive (self-extractors do this; so do polyglot attacks).
            let real = (record as u64).checked_sub(cd_size);
            if let Some(real) = real
                && real != cd_off
                && data.get(real as usize..real as usize + 4) == Some(CENTRAL_SIG)
            {
                delta = real as i64 - cd_off as i64;
            }
            let mut p = (cd_off as i64 + delta) as usize;
            let mut n = 0u64;
            while n < count && data.get(p..p + 4) == Some(CENTRAL_SIG) {
                if entries.len() >= MAX_ENTRIES {
                    sink.limit(loc.whole(), format!("more than {MAX_ENTRIES} zip entries"));
                    break;
                }
                let Some(e) = Self::central(data, p, delta) else {
                    break;
                };
                let (entry, next) = e;
                p = next;
                n += 1;
                if let Some(entry) = entry {
                    seen_offsets.insert(entry.data_start, entry.csize);
                    entries.push(entry);
                } else {
                    sink.push(
                        Finding::new(&rules::scn201::RULE, "zip entry points to no local header", loc.at(p))
                            .detail("The central directory names a member whose local header is missing or damaged."),
                    );
                    sink.incomplete = true;
                }
            }
            if n < count {
                sink.push(
                    Finding::new(
                        &rules::scn201::RULE,
                        "zip central directory is shorter than its end record says",
                        loc.whole(),
                    )
                    .evidence(format!("{n} of {count} entries readable")),
                );
            }
        } else {
            sink.push(
                Finding::new(&rules::scn201::RULE, "zip has no central directory; members found from local headers", loc.whole())
                    .detail("Python's zipfile refuses this file but streaming readers and some loaders accept it."),
            );
        }
        // Walk local headers from the front: members missing from the central directory are
        // invisible to zipfile-based scanners but not to every loader.
        let first_local = data.windows(4).take(1 << 20).position(|w| w == LOCAL_SIG);
        let mut p = first_local.unwrap_or(data.len());
        let prefix_len = entries
            .iter()
            .map(|e| e.data_start)
            .min()
            .map_or(p, |m| m.min(p));
        let mut walked = 0;
        while let Some(l) = parse_local(data, p) {
            walked += 1;
            if walked > MAX_ENTRIES {
                break;
            }
            let ds = l.data_start;
            let next = if l.flags & 8 != 0 && l.csize == 0 {
                // Sizes live in a data descriptor after the data. The central directory knows
                // them for listed members (PyTorch writes every member this way); only a
                // hidden member needs a search for the next header.
                match seen_offsets.get(&ds) {
                    Some(&cs) => usize::try_from(cs).ok().and_then(|c| ds.checked_add(c)),
                    None => next_header(data, ds),
                }
            } else {
                usize::try_from(l.csize)
                    .ok()
                    .and_then(|c| ds.checked_add(c))
            };
            if !seen_offsets.contains_key(&ds) {
                let csize = next.map_or(0, |n| n.saturating_sub(ds)) as u64;
                entries.push(Entry {
                    name: l.name.clone(),
                    local_name: None,
                    method: l.method,
                    flags: l.flags,
                    crc: l.crc,
                    csize: if l.csize == 0 && l.flags & 8 != 0 {
                        csize
                    } else {
                        l.csize
                    },
                    usize: l.usize,
                    data_start: ds,
                });
                sink.push(
                    Finding::new(&rules::scn205::RULE, "zip member is not listed in the central directory", loc.at(p))
                        .detail("Hidden from tools that read the directory, visible to streaming readers; it was scanned.")
                        .evidence(l.name),
                );
            }
            let Some(mut n) = next else { break };
            if l.flags & 8 != 0 {
                // Skip an optional data descriptor.
                if data.get(n..n + 4) == Some(b"PK\x07\x08") {
                    n += 16;
                }
                while n < data.len()
                    && data.get(n..n + 4) != Some(LOCAL_SIG)
                    && data.get(n..n + 4) != Some(CENTRAL_SIG)
                {
                    n += 1;
                    if n > ds + 64 + l.csize as usize {
                        break;
                    }
                }
            }
            p = n;
        }
        if entries.is_empty() {
            return None;
        }
        Some(Archive {
            data,
            entries,
            prefix_len,
        })
    }

    /// Parse one central directory entry at `p`; returns the entry (None when its local
    /// header is unusable) and the offset of the next one.
    fn central(data: &[u8], p: usize, delta: i64) -> Option<(Option<Entry>, usize)> {
        let flags = le16(data, p + 8)?;
        let method = le16(data, p + 10)?;
        let crc = le32(data, p + 16)?;
        let mut csize = u64::from(le32(data, p + 20)?);
        let mut usize_ = u64::from(le32(data, p + 24)?);
        let nlen = usize::from(le16(data, p + 28)?);
        let xlen = usize::from(le16(data, p + 30)?);
        let clen = usize::from(le16(data, p + 32)?);
        let mut lho = u64::from(le32(data, p + 42)?);
        let name = lossy(data.get(p + 46..p + 46 + nlen)?);
        let extra = data.get(p + 46 + nlen..p + 46 + nlen + xlen)?;
        if let Some(z) = zip64_extra(extra) {
            let mut i = 0;
            if usize_ == 0xFFFF_FFFF {
                usize_ = le64(z, i).unwrap_or(usize_);
                i += 8;
            }
            if csize == 0xFFFF_FFFF {
                csize = le64(z, i).unwrap_or(csize);
                i += 8;
            }
            if lho == 0xFFFF_FFFF {
                lho = le64(z, i).unwrap_or(lho);
            }
        }
        let next = p + 46 + nlen + xlen + clen;
        let off = usize::try_from(lho as i64 + delta).ok()?;
        let entry = parse_local(data, off).map(|l| Entry {
            local_name: (l.name != name).then(|| l.name.clone()),
            name: name.clone(),
            method,
            flags: flags | (l.flags & 1),
            crc,
            csize,
            usize: usize_,
            data_start: l.data_start,
        });
        Some((entry, next))
    }

    /// Bytes before the first member.
    pub(crate) fn prefix(&self) -> &'a [u8] {
        &self.data[..self.prefix_len.min(self.data.len())]
    }

    /// The raw (possibly compressed) bytes of a member, clipped to the file.
    pub(crate) fn raw(&self, e: &Entry) -> &'a [u8] {
        let end = usize::try_from(e.csize)
            .unwrap_or(usize::MAX)
            .saturating_add(e.data_start)
            .min(self.data.len());
        &self.data[e.data_start.min(end)..end]
    }

    /// Decompress a member within the budgets; reports integrity problems. None when it
    /// cannot be read (encrypted, unsupported method, bomb), with a finding saying why.
    pub(crate) fn read(&self, sink: &mut Sink, loc: &Loc, e: &Entry) -> Option<Cow<'a, [u8]>> {
        let name = e.name.as_str();
        if e.encrypted() {
            sink.push(
                Finding::new(
                    &rules::scn202::RULE,
                    "zip member is encrypted and cannot be inspected",
                    loc.whole(),
                )
                .evidence(name),
            );
            sink.incomplete = true;
            return None;
        }
        let raw = self.raw(e);
        let out: Cow<'a, [u8]> = match e.method {
            0 => Cow::Borrowed(raw),
            8 => {
                let cap = sink.opts.max_member_bytes;
                // The declared sizes already tell a bomb: no need to inflate megabytes to see it.
                // (Sizes that lie low are caught while inflating.)
                let declared_ratio = e.usize / (raw.len() as u64).max(1);
                let declared = if e.usize > cap
                    || (e.usize > (8 << 20) && declared_ratio > sink.opts.max_ratio)
                {
                    Inflated::Bomb {
                        out: e.usize,
                        ratio: declared_ratio,
                    }
                } else {
                    inflate_bounded(raw, cap, sink.opts.max_ratio)
                };
                let buf = match declared {
                    Inflated::Done(b) => b,
                    Inflated::Damaged(b, err) => {
                        sink.malformed(
                            loc.whole(),
                            "compressed zip member",
                            &format!("{name}: {err}"),
                        );
                        if b.is_empty() {
                            return None;
                        }
                        b
                    }
                    Inflated::Bomb { out, ratio } => {
                        let ev = format!(
                            "{name}: {} compressed bytes expand to over {out} (ratio {ratio})",
                            raw.len()
                        );
                        sink.bomb(loc.whole(), "zip member", ev);
                        return None;
                    }
                };
                if !sink.charge(loc, buf.len() as u64) {
                    return None;
                }
                Cow::Owned(buf)
            }
            m => {
                sink.push(
                    Finding::new(
                        &rules::scn004::RULE,
                        "zip member uses a compression method aigis cannot open",
                        loc.whole(),
                    )
                    .evidence(format!("{name}: method {m}")),
                );
                sink.incomplete = true;
                return None;
            }
        };
        if e.csize > raw.len() as u64 {
            sink.malformed(
                loc.whole(),
                "zip member",
                &format!("{name}: data runs past the end of the file"),
            );
        }
        if crc32fast::hash(&out) != e.crc {
            sink.push(
                Finding::new(&rules::scn201::RULE, "zip member fails its CRC check", loc.whole())
                    .detail("Real writers never produce a bad CRC; PyTorch loads such members anyway while Python's zipfile \
                             refuses them, which makes this a known scanner bypass.")
                    .evidence(format!("{name}: stored crc {:08x}, actual {:08x}", e.crc, crc32fast::hash(&out))),
            );
        }
        Some(out)
    }
}

/// What bounded inflation produced.
pub(crate) enum Inflated {
    Done(Vec<u8>),
    /// Stopped: output over the cap, or over 8 MiB at a ratio above the limit so far.
    Bomb {
        out: u64,
        ratio: u64,
    },
    /// The stream is damaged; what came out before the damage.
    Damaged(Vec<u8>, String),
}

/// Inflate `raw` in chunks, stopping early (without holding the whole output) once it is past
/// `cap`, or past 8 MiB at a compression ratio above `max_ratio`: a bomb is caught after a
/// few megabytes, not after gigabytes.
pub(crate) fn inflate_bounded(raw: &[u8], cap: u64, max_ratio: u64) -> Inflated {
    let mut dec = flate2::read::DeflateDecoder::new(raw);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match dec.read(&mut chunk) {
            Ok(0) => return Inflated::Done(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Inflated::Damaged(buf, e.to_string()),
        }
        let out = buf.len() as u64;
        let ratio = out / dec.total_in().max(1);
        if out > cap || (out > (8 << 20) && ratio > max_ratio) {
            return Inflated::Bomb { out, ratio };
        }
    }
}

/// Offset of the next local or central header at or after `from`.
fn next_header(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let p = super::hdf5::find(data, b"PK", i)?;
        if matches!(data.get(p + 2..p + 4), Some([3, 4] | [1, 2])) {
            return Some(p);
        }
        i = p + 1;
    }
}

/// Report names that would escape an extraction directory.
pub(crate) fn check_name(sink: &mut Sink, loc: &Loc, name: &str) {
    let n = name.replace('\\', "/");
    let bad = n.starts_with('/')
        || n.split('/').any(|c| c == "..")
        || n.as_bytes().get(1) == Some(&b':')
        || n.contains('\u{0}');
    if bad {
        sink.push(
            Finding::new(
                &rules::scn204::RULE,
                "archive member name escapes the extraction directory",
                loc.whole(),
            )
            .evidence(name),
        );
    }
}
