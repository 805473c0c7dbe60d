//! A bounded reader for the protobuf wire format: fields of one message, never recursing on
//! its own (callers decide which length-delimited fields are messages).

/// One field's value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates the fields of `msg`; an `Err` item ends it (truncated or malformed data).
pub(crate) fn fields(msg: &[u8]) -> impl Iterator<Item = Result<(u32, Value<'_>), String>> {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= msg.len() {
            return None;
        }
        let r = next(msg, &mut pos);
        failed = r.is_err();
        Some(r)
    })
}

fn varint(msg: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *msg.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

fn take<'a>(msg: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= msg.len())
        .ok_or("truncated field")?;
    let s = &msg[*pos..end];
    *pos = end;
    Ok(s)
}

fn next<'a>(msg: &'a [u8], pos: &mut usize) -> Result<(u32, Value<'a>), String> {
    let key = varint(msg, pos)?;
    let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
    if number == 0 {
        return Err("field number 0".into());
    }
    let v = match key & 7 {
        0 => Value::Varint(varint(msg, pos)?),
        1 => {
            let b = take(msg, pos, 8)?;
            Value::Fixed64(u64::from_le_bytes(b.try_into().map_err(|_| "fixed64")?))
        }
        2 => {
            let n = usize::try_from(varint(msg, pos)?).map_err(|_| "length out of range")?;
            Value::Bytes(take(msg, pos, n)?)
        }
        5 => {
            let b = take(msg, pos, 4)?;
            Value::Fixed32(u32::from_le_bytes(b.try_into().map_err(|_| "fixed32")?))
        }
        w => return Err(format!("unsupported wire type {w}")),
    };
    Ok((number, v))
}

/// Packed (or single) varints of a repeated field.
pub(crate) fn varints(v: Value<'_>, out: &mut Vec<u64>) -> Result<(), String> {
    match v {
        Value::Varint(x) => out.push(x),
        Value::Bytes(b) => {
            let mut pos = 0;
            while pos < b.len() {
                out.push(varint(b, &mut pos)?);
            }
        }
        _ => return Err("expected varints".into()),
    }
    Ok(())
}

/// Packed (or single) 32-bit floats of a repeated field.
pub(crate) fn floats(v: Value<'_>, out: &mut Vec<f32>) -> Result<(), String> {
    match v {
        Value::Fixed32(x) => out.push(f32::from_bits(x)),
        Value::Bytes(b) if b.len() % 4 == 0 => out.extend(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ),
        _ => return Err("expected 32-bit floats".into()),
    }
    Ok(())
}

/// A length-delimited field as UTF-8 text.
pub(crate) fn text(v: Value<'_>) -> Result<String, String> {
    match v {
        Value::Bytes(b) => std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| "a name is not UTF-8".into()),
        _ => Err("expected a string".into()),
    }
}

/// Iterates the fields of `msg` with the bytes each occupies (key included), so a writer can
/// copy the fields it does not change verbatim.
pub(crate) fn spans(msg: &[u8]) -> impl Iterator<Item = Result<(u32, Value<'_>, &[u8]), String>> {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= msg.len() {
            return None;
        }
        let start = pos;
        let r = next(msg, &mut pos).map(|(k, v)| (k, v, &msg[start..pos]));
        failed = r.is_err();
        Some(r)
    })
}

/// Append `v` as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append a length-delimited field.
pub(crate) fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_varint(out, (u64::from(field) << 3) | 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Append a varint field.
pub(crate) fn put_uint(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field) << 3);
    put_varint(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_rejects_truncation() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed32 1.0
        let mut m = vec![0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d];
        m.extend_from_slice(&1.0f32.to_le_bytes());
        let f: Vec<_> = fields(&m).collect::<Result<_, _>>().expect("parses");
        assert!(matches!(f[0], (1, Value::Varint(150))));
        assert!(matches!(f[1], (2, Value::Bytes(b"hi"))));
        assert!(matches!(f[2], (3, Value::Fixed32(x)) if x == 1.0f32.to_bits()));
        for cut in 1..m.len() {
            let r: Result<Vec<_>, _> = fields(&m[..cut]).collect();
            assert!(r.is_err() || cut == 3 || cut == 7, "cut {cut}");
        }
        assert!(fields(&[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]).any(|r| r.is_err()));
        assert!(fields(&[0x0b]).any(|r| r.is_err()), "group wire type");
    }

    #[test]
    fn writes_what_it_reads() {
        let mut m = Vec::new();
        put_uint(&mut m, 1, 300);
        put_bytes(&mut m, 2, b"weights");
        put_uint(&mut m, 3, u64::MAX);
        let f: Vec<_> = spans(&m).collect::<Result<_, _>>().expect("parses");
        assert!(matches!(f[0], (1, Value::Varint(300), _)));
        assert!(matches!(f[1], (2, Value::Bytes(b"weights"), _)));
        assert!(matches!(f[2], (3, Value::Varint(u64::MAX), _)));
        let joined: Vec<u8> = f.iter().flat_map(|x| x.2.iter().copied()).collect();
        assert_eq!(joined, m, "spans cover the message exactly");
    }
}
