//! MessagePack (Flax `flax_model.msgpack` weights): validated structurally, bounded in depth
//! and count. MessagePack has no way to name code; a file that parses completely is data.

use crate::reader::Cursor;

/// True when `data` is exactly one well-formed MessagePack value whose top level is a map.
pub(crate) fn is_msgpack_map(data: &[u8]) -> bool {
    let top_map = matches!(data.first(), Some(0x80..=0x8f | 0xde | 0xdf));
    let mut c = Cursor::new(data);
    top_map && value(&mut c, 0).is_some() && c.is_empty()
}

fn len(c: &mut Cursor, bytes: usize) -> Option<usize> {
    Some(match bytes {
        1 => usize::from(c.u8().ok()?),
        2 => usize::from(u16::from_be_bytes(c.array().ok()?)),
        _ => u32::from_be_bytes(c.array().ok()?) as usize,
    })
}

fn value(c: &mut Cursor, depth: u32) -> Option<()> {
    if depth > 64 {
        return None;
    }
    let b = c.u8().ok()?;
    let (items, skip): (usize, usize) = match b {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
        0x80..=0x8f => (2 * usize::from(b & 0x0f), 0),
        0x90..=0x9f => (usize::from(b & 0x0f), 0),
        0xa0..=0xbf => (0, usize::from(b & 0x1f)),
        0xc4 | 0xd9 => (0, len(c, 1)?),
        0xc5 | 0xda => (0, len(c, 2)?),
        0xc6 | 0xdb => (0, len(c, 4)?),
        0xc7 => (0, len(c, 1)? + 1),
        0xc8 => (0, len(c, 2)? + 1),
        0xc9 => (0, len(c, 4)? + 1),
        0xca | 0xce | 0xd2 => (0, 4),
        0xcb | 0xcf | 0xd3 => (0, 8),
        0xcc | 0xd0 => (0, 1),
        0xcd | 0xd1 => (0, 2),
        0xd4 => (0, 2),
        0xd5 => (0, 3),
        0xd6 => (0, 5),
        0xd7 => (0, 9),
        0xd8 => (0, 17),
        0xdc => (len(c, 2)?, 0),
        0xdd => (len(c, 4)?, 0),
        0xde => (2 * len(c, 2)?, 0),
        0xdf => (2 * len(c, 4)?, 0),
        0xc1 => return None,
    };
    c.skip(skip).ok()?;
    // Each item takes at least a byte: refuse counts the input cannot hold.
    if items > c.remaining() {
        return None;
    }
    for _ in 0..items {
        value(c, depth + 1)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_maps_and_rejects_garbage() {
        // {"a": [1, 2.0], "b": bin8 of 2 bytes}
        let m = [
            0x82, 0xa1, b'a', 0x92, 0x01, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xa1, b'b', 0xc4, 2, 9, 9,
        ];
        assert!(is_msgpack_map(&m));
        assert!(!is_msgpack_map(&m[..m.len() - 1]), "truncated");
        assert!(
            !is_msgpack_map(&[0xdf, 0xff, 0xff, 0xff, 0xff]),
            "count beyond input"
        );
        assert!(!is_msgpack_map(b"hello"));
        let mut deep = vec![0x81, 0xa1, b'k'];
        for _ in 0..100 {
            deep.extend_from_slice(&[0x91]);
        }
        deep.push(0x01);
        assert!(!is_msgpack_map(&deep), "depth bounded");
    }
}
