//! A bounds-checked cursor over untrusted bytes. Every read returns `Err(Eof)` at the end of
//! input instead of panicking, and lengths are checked against what remains before anything
//! is sliced or allocated.
#![forbid(unsafe_code)] // parsers and the scan driver: no exceptions (the one mmap lives in source.rs)

/// Ran past the end of the input (or a length did not fit in what remains).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eof;

pub(crate) type R<T> = Result<T, Eof>;

/// A forward-only reader over a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn at(data: &'a [u8], pos: usize) -> Self {
        Cursor {
            data,
            pos: pos.min(data.len()),
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    pub(crate) fn u8(&mut self) -> R<u8> {
        let b = *self.data.get(self.pos).ok_or(Eof)?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.remaining() {
            return Err(Eof);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Take a length that came from the input as a u64, refusing anything beyond what remains.
    pub(crate) fn take_u64(&mut self, n: u64) -> R<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| Eof)?;
        self.take(n)
    }

    pub(crate) fn skip(&mut self, n: usize) -> R<()> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u16_le(&mut self) -> R<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn u32_le(&mut self) -> R<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn i32_le(&mut self) -> R<i32> {
        self.array().map(i32::from_le_bytes)
    }

    pub(crate) fn u64_le(&mut self) -> R<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// Bytes up to (not including) the next `\n`, which is consumed.
    pub(crate) fn line(&mut self) -> R<&'a [u8]> {
        let rest = self.rest();
        let n = rest.iter().position(|&b| b == b'\n').ok_or(Eof)?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }

    /// A protobuf base-128 varint (at most 10 bytes).
    pub(crate) fn varint(&mut self) -> R<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Eof)
    }
}

/// Read a little-endian u16 at `off` of `data`, if in bounds.
pub(crate) fn le16(data: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        data.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// Read a little-endian u32 at `off` of `data`, if in bounds.
pub(crate) fn le32(data: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Read a little-endian u64 at `off` of `data`, if in bounds.
pub(crate) fn le64(data: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        data.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fail_at_end_instead_of_panicking() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u16_le(), Ok(0x0201));
        assert_eq!(c.u16_le(), Err(Eof));
        assert_eq!(c.u8(), Ok(3));
        assert_eq!(c.u8(), Err(Eof));
        assert_eq!(c.take_u64(u64::MAX), Err(Eof));
        assert_eq!(le32(&[0; 3], usize::MAX), None);
    }

    #[test]
    fn varint_and_line() {
        let mut c = Cursor::new(&[0x96, 0x01, b'a', b'b', b'\n', b'c']);
        assert_eq!(c.varint(), Ok(150));
        assert_eq!(c.line(), Ok(&b"ab"[..]));
        assert_eq!(c.line(), Err(Eof));
        let mut c = Cursor::new(&[0xff; 11]);
        assert_eq!(c.varint(), Err(Eof));
    }
}
