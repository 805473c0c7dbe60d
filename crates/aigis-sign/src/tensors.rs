//! Per-tensor digests for safetensors and GGUF files, so a failed verification names the tensor
//! that changed (`layers.12.mlp.down_proj.weight`) rather than only the file.
//!
//! Each file gets a digest of its header region and one SHA-256 per tensor byte range. Ranges run
//! from a tensor's offset to the next tensor's (padding included), so every byte is covered by the
//! file digest and every data byte by exactly one tensor digest. The parsers are bounded: header
//! sizes, counts and string lengths are checked against the file size before anything is read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::SignError;

const MAX_HEADER: u64 = 100 << 20;
const MAX_TENSORS: u64 = 1 << 20;

/// Digests of one tensor file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorDigests {
    /// `safetensors` or `gguf`.
    pub format: &'static str,
    /// SHA-256 of the bytes before the first tensor (header, metadata).
    pub header: String,
    /// Tensor name → SHA-256 of its byte range.
    pub tensors: BTreeMap<String, String>,
}

impl TensorDigests {
    /// JSON form stored in the signed payload's aigis extension.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"format": self.format, "header": self.header, "tensors": self.tensors})
    }

    /// Parses [`Self::to_json`].
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let format = match v.get("format")?.as_str()? {
            "safetensors" => "safetensors",
            "gguf" => "gguf",
            _ => return None,
        };
        let header = v.get("header")?.as_str()?.to_string();
        let tensors = v
            .get("tensors")?
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect::<Option<_>>()?;
        Some(Self {
            format,
            header,
            tensors,
        })
    }
}

/// Names of tensors that differ between two digests of the same file (plus `<header>`).
pub fn changed_tensors(signed: &TensorDigests, now: &TensorDigests) -> Vec<String> {
    let mut out = Vec::new();
    if signed.header != now.header {
        out.push("<header>".to_string());
    }
    for (name, d) in &signed.tensors {
        if now.tensors.get(name) != Some(d) {
            out.push(name.clone());
        }
    }
    for name in now.tensors.keys() {
        if !signed.tensors.contains_key(name) {
            out.push(name.clone());
        }
    }
    out
}

/// Per-tensor digests when `path` is a safetensors or GGUF file; `Ok(None)` for other files.
pub fn digest_file(path: &Path) -> Result<Option<TensorDigests>, SignError> {
    let mut f = File::open(path).map_err(|e| SignError::io(path, e))?;
    let len = f.metadata().map_err(|e| SignError::io(path, e))?.len();
    digest_stream(&mut f, len).map_err(|e| SignError::io(path, e))
}

/// [`digest_file`] over any seekable stream of `len` bytes (the fuzz target drives this).
pub fn digest_stream<R: Read + Seek>(
    f: &mut R,
    len: u64,
) -> std::io::Result<Option<TensorDigests>> {
    let mut head = [0u8; 8];
    if len < 8 {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut head)?;
    let parsed = if &head[..4] == b"GGUF" {
        gguf_ranges(f, len)?.map(|r| ("gguf", r))
    } else {
        safetensors_ranges(f, len, u64::from_le_bytes(head))?.map(|r| ("safetensors", r))
    };
    let Some((format, (data_start, mut ranges))) = parsed else {
        return Ok(None);
    };
    ranges.sort_by_key(|(_, start)| *start);
    let header = hash_range(f, 0, data_start)?;
    let mut tensors = BTreeMap::new();
    for i in 0..ranges.len() {
        let start = data_start + ranges[i].1;
        let end = ranges.get(i + 1).map_or(len, |r| data_start + r.1);
        tensors.insert(ranges[i].0.clone(), hash_range(f, start, end)?);
    }
    Ok(Some(TensorDigests {
        format,
        header,
        tensors,
    }))
}

fn hash_range<R: Read + Seek>(f: &mut R, start: u64, end: u64) -> std::io::Result<String> {
    f.seek(SeekFrom::Start(start))?;
    let mut h = Sha256::new();
    let mut left = end.saturating_sub(start);
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        f.read_exact(&mut buf[..want])?;
        h.update(&buf[..want]);
        left -= want as u64;
    }
    Ok(crate::hex(&h.finalize()))
}

type Ranges = (u64, Vec<(String, u64)>);

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn safetensors_ranges<R: Read>(f: &mut R, len: u64, n: u64) -> std::io::Result<Option<Ranges>> {
    if !(2..=MAX_HEADER).contains(&n) || n > len - 8 {
        return Ok(None);
    }
    let mut buf = vec![0u8; n as usize];
    f.read_exact(&mut buf)?;
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&buf)
    else {
        return Ok(None);
    };
    let data_len = len - 8 - n;
    let mut out = Vec::new();
    for (name, v) in map {
        if name == "__metadata__" {
            continue;
        }
        let offs = v
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .ok_or_else(|| invalid("safetensors tensor without data_offsets"))?;
        let begin = offs
            .first()
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| invalid("bad data_offsets"))?;
        let end = offs
            .get(1)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| invalid("bad data_offsets"))?;
        if begin > end || end > data_len {
            return Err(invalid("safetensors data_offsets out of range"));
        }
        out.push((name, begin));
    }
    Ok(Some((8 + n, out)))
}

struct Reader<'a, R> {
    f: &'a mut R,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Reader<'_, R> {
    fn bytes(&mut self, n: u64) -> std::io::Result<Vec<u8>> {
        if n > self.len.saturating_sub(self.pos) || n > MAX_HEADER {
            return Err(invalid("GGUF field runs past the end of the file"));
        }
        let mut b = vec![0u8; n as usize];
        self.f.read_exact(&mut b)?;
        self.pos += n;
        Ok(b)
    }
    fn u32(&mut self) -> std::io::Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> std::io::Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> std::io::Result<String> {
        let n = self.u64()?;
        String::from_utf8(self.bytes(n)?).map_err(|_| invalid("GGUF string is not UTF-8"))
    }
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        if n > self.len.saturating_sub(self.pos) {
            return Err(invalid("GGUF value runs past the end of the file"));
        }
        self.f.seek(SeekFrom::Current(
            i64::try_from(n).map_err(|_| invalid("GGUF value too large"))?,
        ))?;
        self.pos += n;
        Ok(())
    }
    /// Skips a value of type `t`; returns it as u64 when it is a small unsigned integer.
    fn value(&mut self, t: u32, depth: u32) -> std::io::Result<Option<u64>> {
        Ok(match t {
            0 | 1 | 7 => Some(u64::from(self.bytes(1)?[0])),
            2 | 3 => {
                self.skip(2)?;
                None
            }
            4 => Some(u64::from(self.u32()?)),
            5 | 6 => {
                self.skip(4)?;
                None
            }
            10 => Some(self.u64()?),
            11 | 12 => {
                self.skip(8)?;
                None
            }
            8 => {
                let n = self.u64()?;
                self.skip(n)?;
                None
            }
            9 if depth < 4 => {
                let et = self.u32()?;
                let count = self.u64()?;
                if count > self.len {
                    return Err(invalid("GGUF array longer than the file"));
                }
                let fixed = match et {
                    0 | 1 | 7 => Some(1),
                    2 | 3 => Some(2),
                    4..=6 => Some(4),
                    10..=12 => Some(8),
                    _ => None,
                };
                if let Some(w) = fixed {
                    self.skip(count.saturating_mul(w))?;
                } else {
                    for _ in 0..count {
                        self.value(et, depth + 1)?;
                    }
                }
                None
            }
            _ => return Err(invalid("unknown or too deeply nested GGUF value type")),
        })
    }
}

fn gguf_ranges<R: Read + Seek>(f: &mut R, len: u64) -> std::io::Result<Option<Ranges>> {
    let mut r = Reader { f, len, pos: 4 };
    r.f.seek(SeekFrom::Start(4))?;
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Ok(None);
    }
    let n_tensors = r.u64()?;
    let n_kv = r.u64()?;
    if n_tensors > MAX_TENSORS || n_kv > MAX_TENSORS {
        return Err(invalid("GGUF declares too many tensors or keys"));
    }
    let mut alignment = 32u64;
    for _ in 0..n_kv {
        let key = r.string()?;
        let t = r.u32()?;
        let v = r.value(t, 0)?;
        if key == "general.alignment"
            && let Some(a) = v
        {
            alignment = a;
        }
    }
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(invalid("GGUF alignment is not a power of two"));
    }
    let mut out = Vec::new();
    for _ in 0..n_tensors {
        let name = r.string()?;
        let dims = r.u32()?;
        if dims > 8 {
            return Err(invalid("GGUF tensor has more than 8 dimensions"));
        }
        r.skip(u64::from(dims) * 8)?;
        let _ty = r.u32()?;
        let off = r.u64()?;
        out.push((name, off));
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    if out.iter().any(|(_, o)| data_start.saturating_add(*o) > len) {
        return Err(invalid("GGUF tensor offset past the end of the file"));
    }
    Ok(Some((data_start, out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safetensors(tensors: &[(&str, &[u8])]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, bytes) in tensors {
            header.insert(
                (*name).to_string(),
                serde_json::json!({"dtype": "U8", "shape": [bytes.len()], "data_offsets": [data.len(), data.len() + bytes.len()]}),
            );
            data.extend_from_slice(bytes);
        }
        let h = serde_json::to_vec(&header).unwrap();
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn safetensors_change_names_the_tensor() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.safetensors");
        std::fs::write(&p, safetensors(&[("a.weight", b"aaaa"), ("b.bias", b"bb")])).unwrap();
        let before = digest_file(&p).unwrap().unwrap();
        assert_eq!(before.tensors.len(), 2);
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1; // inside b.bias
        std::fs::write(&p, &bytes).unwrap();
        let after = digest_file(&p).unwrap().unwrap();
        assert_eq!(changed_tensors(&before, &after), ["b.bias"]);
        assert_eq!(TensorDigests::from_json(&before.to_json()).unwrap(), before);
    }

    #[test]
    fn gguf_tensors_are_found_and_a_change_is_named() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../aigis-scan/tests/fixtures/benign/tiny.gguf");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.gguf");
        std::fs::copy(&src, &p).unwrap();
        let before = digest_file(&p).unwrap().unwrap();
        assert_eq!(before.format, "gguf");
        assert!(!before.tensors.is_empty());
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        let after = digest_file(&p).unwrap().unwrap();
        let changed = changed_tensors(&before, &after);
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_ne!(changed[0], "<header>");
    }

    #[test]
    fn hostile_headers_are_errors_or_ignored_not_panics() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        for bytes in [
            b"GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00"
                .to_vec(),
            b"GGUF\x03\x00\x00\x00".to_vec(),
            {
                let mut v = 20u64.to_le_bytes().to_vec();
                v.extend_from_slice(br#"{"t":{"data_offsets":[0,999]}}"#);
                v
            },
            u64::MAX.to_le_bytes().to_vec(),
            b"short".to_vec(),
        ] {
            std::fs::write(&p, &bytes).unwrap();
            let _ = digest_file(&p); // must return, whatever it returns
        }
        std::fs::write(&p, b"plain text file").unwrap();
        assert!(digest_file(&p).unwrap().is_none());
    }
}
