//! The bounds-checked little-endian byte reader both containers (`.lic` and `.licv`) parse with.
//!
//! Every read names its field; reading past the end is [`FormatError::Truncated`] with the field,
//! the bytes it needs, its offset and the input length. Nothing here panics on any input.

use super::FormatError;

/// A cursor over untrusted bytes.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader::at(bytes, 0)
    }

    /// A reader at offset `pos` of `bytes` (offsets in errors count from the start of `bytes`).
    pub(super) fn at(bytes: &'a [u8], pos: usize) -> Self {
        Reader { bytes, pos }
    }

    /// Offset of the next byte.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(FormatError::Truncated {
            field,
            needed: n,
            offset: self.pos,
            len: self.bytes.len(),
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, FormatError> {
        Ok(self.take(field, 1)?[0])
    }

    pub(super) fn u16(&mut self, field: &'static str) -> Result<u16, FormatError> {
        let b = self.take(field, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, FormatError> {
        Ok(le32(self.take(field, 4)?))
    }
}

/// The little-endian `u32` in the first 4 bytes of `b` (which must have them).
pub(super) fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_names_the_truncated_field() {
        let mut r = Reader::new(&[1, 2, 0, 3, 0, 0, 0, 9]);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u32("c").unwrap(), 3);
        assert_eq!(r.pos(), 7);
        assert_eq!(
            r.u16("d"),
            Err(FormatError::Truncated {
                field: "d",
                needed: 2,
                offset: 7,
                len: 8
            })
        );
        let mut r = Reader::at(&[0; 4], 2);
        assert!(matches!(
            r.take("e", usize::MAX),
            Err(FormatError::Truncated { offset: 2, .. })
        ));
    }
}
