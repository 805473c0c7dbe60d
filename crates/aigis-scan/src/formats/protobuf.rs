//! A minimal protobuf wire-format reader: enough to walk ONNX and TensorFlow messages without
//! generated code. Every length is checked against what remains; nothing is allocated from a
//! declared length.

use crate::reader::{Cursor, Eof};

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32,
}

/// Iterate the fields of one message; stops with `Err` on malformed input.
pub(crate) struct Fields<'a> {
    c: Cursor<'a>,
    failed: bool,
}

pub(crate) fn fields(msg: &[u8]) -> Fields<'_> {
    Fields {
        c: Cursor::new(msg),
        failed: false,
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Field<'a>), Eof>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.c.is_empty() {
            return None;
        }
        let r = (|| {
            let key = self.c.varint()?;
            let num = u32::try_from(key >> 3).map_err(|_| Eof)?;
            if num == 0 {
                return Err(Eof);
            }
            let f = match key & 7 {
                0 => Field::Varint(self.c.varint()?),
                1 => {
                    self.c.skip(8)?;
                    Field::Fixed64
                }
                2 => {
                    let n = self.c.varint()?;
                    Field::Bytes(self.c.take_u64(n)?)
                }
                5 => {
                    self.c.skip(4)?;
                    Field::Fixed32
                }
                _ => return Err(Eof),
            };
            Ok((num, f))
        })();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// Whether the whole buffer parses as one protobuf message with at least two fields.
pub(crate) fn looks_like_message(data: &[u8]) -> bool {
    let mut n = 0;
    for f in fields(data) {
        if f.is_err() {
            return false;
        }
        n += 1;
        if n > 1_000_000 {
            break;
        }
    }
    n >= 2
}

/// The string value of a bytes field, lossily.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_rejects_garbage() {
        // field 1 varint 150, field 2 bytes "hi"
        let m = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i'];
        let v: Vec<_> = fields(&m).collect::<Result<_, _>>().unwrap();
        assert!(matches!(v[0], (1, Field::Varint(150))));
        assert!(matches!(v[1], (2, Field::Bytes(b"hi"))));
        assert!(looks_like_message(&m));
        assert!(!looks_like_message(&[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]));
        assert!(!looks_like_message(b"hello"));
    }
}
