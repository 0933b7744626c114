//! Bounds-checked protobuf wire-format reader and the small encoders the skim needs.
//!
//! The reader rejects exactly what `prost` 0.14 rejects when it decodes, so bytes accepted here
//! decode later: varints longer than 10 bytes or above `u64::MAX`, field keys above `u32::MAX`,
//! field number 0, wire types 6 and 7, lengths past the end of the enclosing message, end-group
//! tags without their start group, and nesting deeper than prost's recursion limit
//! ([`MAX_MESSAGE_LEVEL`]). Positions are absolute byte offsets into the request body, so the
//! ranges it returns can be sliced out of the original `Bytes` without copying.

use std::fmt;
use std::ops::Range;

/// Deepest message (or unknown group) level the skim accepts, counting the top-level
/// `ExportTraceServiceRequest` / `TracesData` as level 0.
///
/// prost 0.14 decodes nested messages down to level 100 but already refuses to skip an unknown
/// field inside a level-100 message (its recursion budget of 100 is spent), so 99 is the deepest
/// level at which every field, known or unknown, is guaranteed to decode.
pub const MAX_MESSAGE_LEVEL: u32 = 99;

/// A protobuf wire type (the low three bits of a field key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    /// 0: varint.
    Varint,
    /// 1: eight little-endian bytes.
    Fixed64,
    /// 2: varint length followed by that many bytes.
    Len,
    /// 3: start of a (deprecated) group.
    StartGroup,
    /// 4: end of a group.
    EndGroup,
    /// 5: four little-endian bytes.
    Fixed32,
}

impl WireType {
    fn from_bits(bits: u64) -> Option<WireType> {
        match bits {
            0 => Some(WireType::Varint),
            1 => Some(WireType::Fixed64),
            2 => Some(WireType::Len),
            3 => Some(WireType::StartGroup),
            4 => Some(WireType::EndGroup),
            5 => Some(WireType::Fixed32),
            _ => None,
        }
    }
}

impl fmt::Display for WireType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireType::Varint => "varint",
            WireType::Fixed64 => "fixed64",
            WireType::Len => "length-delimited",
            WireType::StartGroup => "start-group",
            WireType::EndGroup => "end-group",
            WireType::Fixed32 => "fixed32",
        })
    }
}

/// What is wrong with the bytes at some offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireProblem {
    /// The buffer ended inside a varint.
    #[error("truncated varint")]
    TruncatedVarint,
    /// More than 10 bytes, or a value above `u64::MAX`.
    #[error("invalid varint (longer than 10 bytes or above 2^64-1)")]
    InvalidVarint,
    /// A field key that does not fit 32 bits.
    #[error("field key {key} does not fit 32 bits")]
    KeyTooLarge {
        /// The decoded key.
        key: u64,
    },
    /// Field number 0 is reserved.
    #[error("field number 0 is not allowed")]
    FieldNumberZero,
    /// Wire types 6 and 7 do not exist.
    #[error("field {field} has invalid wire type {wire_type}")]
    InvalidWireType {
        /// The field number.
        field: u32,
        /// The raw wire type bits.
        wire_type: u8,
    },
    /// A known field encoded with a wire type its declared type does not allow.
    #[error("field {field} ({name}) has wire type {found}, expected {expected}")]
    WrongWireType {
        /// The field number.
        field: u32,
        /// `Message.field` as in the .proto file.
        name: &'static str,
        /// The wire type found.
        found: WireType,
        /// The wire type the field's type requires.
        expected: WireType,
    },
    /// A value runs past the end of its enclosing message.
    #[error("field {field} needs {needed} bytes but only {remaining} remain")]
    Truncated {
        /// The field number.
        field: u32,
        /// Bytes the value claims or needs.
        needed: u64,
        /// Bytes left in the enclosing message.
        remaining: usize,
    },
    /// A `string` field that is not UTF-8.
    #[error("field {field} ({name}) is not valid utf-8")]
    InvalidUtf8 {
        /// The field number.
        field: u32,
        /// `Message.field` as in the .proto file.
        name: &'static str,
    },
    /// An end-group tag without the matching start-group tag.
    #[error("end-group tag of field {field} without a matching start-group")]
    UnexpectedEndGroup {
        /// The field number of the end-group tag.
        field: u32,
    },
    /// A group still open at the end of its enclosing message.
    #[error("group of field {field} is not closed")]
    UnclosedGroup {
        /// The field number of the start-group tag.
        field: u32,
    },
    /// Messages or groups nested deeper than [`MAX_MESSAGE_LEVEL`].
    #[error("messages nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: u32,
    },
    /// `AnyValue`s (arrays, key-value lists) nested deeper than the configured limit.
    #[error("attribute values nested deeper than {limit} levels")]
    ValueTooDeep {
        /// The configured limit.
        limit: u32,
    },
}

/// A [`WireProblem`] and the absolute byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at byte {offset}")]
pub struct WireError {
    /// Offset into the request body.
    pub offset: usize,
    /// What is wrong there.
    pub problem: WireProblem,
}

/// Results of the reader; errors are boxed so the hot `Ok` path returns in registers.
pub type WireResult<T> = Result<T, Box<WireError>>;

/// A cursor over one message's bytes inside the request body.
///
/// Invariant: `pos <= end <= buf.len()`.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the whole buffer.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// A reader over `range`, which a previous call of this reader returned (so it is in bounds).
    pub fn sub(&self, range: Range<usize>) -> Reader<'a> {
        let end = range.end.min(self.buf.len());
        Reader {
            buf: self.buf,
            pos: range.start.min(end),
            end,
        }
    }

    /// Whether bytes remain before the end of the message.
    #[inline]
    pub fn has_more(&self) -> bool {
        self.pos < self.end
    }

    /// The current absolute offset.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes at `range` (which this reader returned).
    #[inline]
    pub fn slice(&self, range: Range<usize>) -> &'a [u8] {
        self.buf.get(range).unwrap_or_default()
    }

    #[cold]
    #[inline(never)]
    fn fail<T>(&self, offset: usize, problem: WireProblem) -> WireResult<T> {
        Err(Box::new(WireError { offset, problem }))
    }

    // PERFORMANCE-CRITICAL: called for every field of every span; the one-byte case must stay
    // a compare and an increment, no allocation.
    /// Reads a varint with prost's overflow rules.
    #[inline]
    pub fn varint(&mut self) -> WireResult<u64> {
        let rest = self.buf.get(self.pos..self.end).unwrap_or_default();
        match rest.first() {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.varint_slow(rest),
        }
    }

    #[inline(never)]
    fn varint_slow(&mut self, rest: &[u8]) -> WireResult<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = rest.get(i) else {
                return self.fail(self.pos, WireProblem::TruncatedVarint);
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b >= 0x02 {
                    break;
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        self.fail(self.pos, WireProblem::InvalidVarint)
    }

    /// Reads a field key: `(field number, wire type)`.
    #[inline]
    pub fn key(&mut self) -> WireResult<(u32, WireType)> {
        let at = self.pos;
        let key = self.varint()?;
        self.split_key(at, key)
    }

    /// Splits a raw key read at offset `at` into `(field number, wire type)`, with prost's checks.
    pub fn split_key(&self, at: usize, key: u64) -> WireResult<(u32, WireType)> {
        let Ok(key32) = u32::try_from(key) else {
            return self.fail(at, WireProblem::KeyTooLarge { key });
        };
        let field = key32 >> 3;
        let Some(wire_type) = WireType::from_bits(key & 7) else {
            return self.fail(
                at,
                WireProblem::InvalidWireType {
                    field,
                    wire_type: (key & 7) as u8,
                },
            );
        };
        if field == 0 {
            return self.fail(at, WireProblem::FieldNumberZero);
        }
        Ok((field, wire_type))
    }

    /// Fails unless `found` is `expected` (for the known field `name`).
    #[inline]
    pub fn check_wire_type(
        &self,
        field: u32,
        name: &'static str,
        found: WireType,
        expected: WireType,
    ) -> WireResult<()> {
        if found == expected {
            Ok(())
        } else {
            self.fail(
                self.pos,
                WireProblem::WrongWireType {
                    field,
                    name,
                    found,
                    expected,
                },
            )
        }
    }

    /// Reads a length prefix and returns the absolute range of the value, skipping it.
    #[inline]
    pub fn len_delimited(&mut self, field: u32) -> WireResult<Range<usize>> {
        let at = self.pos;
        let len = self.varint()?;
        let remaining = self.end - self.pos;
        if len > remaining as u64 {
            return self.fail(
                at,
                WireProblem::Truncated {
                    field,
                    needed: len,
                    remaining,
                },
            );
        }
        let start = self.pos;
        // `len <= remaining` so the cast is lossless.
        self.pos += len as usize;
        Ok(start..self.pos)
    }

    fn fixed<const N: usize>(&mut self, field: u32) -> WireResult<[u8; N]> {
        let remaining = self.end - self.pos;
        match self
            .buf
            .get(self.pos..self.pos + N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
        {
            Some(bytes) if remaining >= N => {
                self.pos += N;
                Ok(bytes)
            }
            _ => self.fail(
                self.pos,
                WireProblem::Truncated {
                    field,
                    needed: N as u64,
                    remaining,
                },
            ),
        }
    }

    /// Reads eight little-endian bytes.
    #[inline]
    pub fn fixed64(&mut self, field: u32) -> WireResult<u64> {
        self.fixed::<8>(field).map(u64::from_le_bytes)
    }

    /// Reads four little-endian bytes.
    #[inline]
    pub fn fixed32(&mut self, field: u32) -> WireResult<u32> {
        self.fixed::<4>(field).map(u32::from_le_bytes)
    }

    /// Skips an unknown field of a message at `level`, recursing into groups like prost does.
    pub fn skip(&mut self, field: u32, wire_type: WireType, level: u32) -> WireResult<()> {
        match wire_type {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64(field).map(drop),
            WireType::Fixed32 => self.fixed32(field).map(drop),
            WireType::Len => self.len_delimited(field).map(drop),
            WireType::EndGroup => self.fail(self.pos, WireProblem::UnexpectedEndGroup { field }),
            WireType::StartGroup => {
                let inner = level + 1;
                if inner > MAX_MESSAGE_LEVEL {
                    return self.fail(
                        self.pos,
                        WireProblem::TooDeep {
                            limit: MAX_MESSAGE_LEVEL,
                        },
                    );
                }
                loop {
                    if !self.has_more() {
                        return self.fail(self.pos, WireProblem::UnclosedGroup { field });
                    }
                    let at = self.pos;
                    let (f, w) = self.key()?;
                    if w == WireType::EndGroup {
                        if f != field {
                            return self.fail(at, WireProblem::UnexpectedEndGroup { field: f });
                        }
                        return Ok(());
                    }
                    self.skip(f, w, inner)?;
                }
            }
        }
    }
}

/// Encoded size of `value` as a varint.
#[inline]
pub fn varint_len(value: u64) -> usize {
    // One byte per started group of seven bits; zero still takes one byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Encoded size of a length-delimited field with a one-byte key (field numbers 1..=15).
#[inline]
pub fn len_field_size(body_len: usize) -> usize {
    1 + varint_len(body_len as u64) + body_len
}

/// Appends `value` as a varint.
#[inline]
pub fn put_varint(out: &mut bytes::BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.extend_from_slice(&[(value as u8) | 0x80]);
        value >>= 7;
    }
    out.extend_from_slice(&[value as u8]);
}

/// Appends a length-delimited field header with a one-byte key (field numbers 1..=15).
#[inline]
pub fn put_len_header(out: &mut bytes::BytesMut, field: u8, body_len: usize) {
    out.extend_from_slice(&[(field << 3) | 2]);
    put_varint(out, body_len as u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn read_varint(bytes: &[u8]) -> WireResult<u64> {
        Reader::new(bytes).varint()
    }

    #[test]
    fn varint_round_trips_and_sizes_agree() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = BytesMut::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "size of {v}");
            assert_eq!(read_varint(&out), Ok(v));
        }
    }

    #[test]
    fn varint_rejects_what_prost_rejects() {
        // 10th byte 0x02 overflows u64.
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            read_varint(&over).map_err(|e| e.problem),
            Err(WireProblem::InvalidVarint)
        );
        let eleven = [0x80; 11];
        assert_eq!(
            read_varint(&eleven).map_err(|e| e.problem),
            Err(WireProblem::InvalidVarint)
        );
        assert_eq!(
            read_varint(&[0x80, 0x80]).map_err(|e| e.problem),
            Err(WireProblem::TruncatedVarint)
        );
        // Over-long but in range is fine, as in prost.
        assert_eq!(read_varint(&[0x81, 0x80, 0x00]), Ok(1));
        for bytes in [&over[..], &eleven[..], &[0x80, 0x80][..]] {
            assert!(prost::encoding::decode_varint(&mut &bytes[..]).is_err());
        }
    }

    #[test]
    fn keys_reject_field_zero_and_wire_types_6_7() {
        assert_eq!(
            Reader::new(&[0x02]).key().map_err(|e| e.problem),
            Err(WireProblem::FieldNumberZero)
        );
        assert_eq!(
            Reader::new(&[0x0e]).key().map_err(|e| e.problem),
            Err(WireProblem::InvalidWireType {
                field: 1,
                wire_type: 6
            })
        );
        assert_eq!(Reader::new(&[0x0a]).key(), Ok((1, WireType::Len)));
    }

    #[test]
    fn groups_are_skipped_and_must_match() {
        // field 5 start-group, inner varint field 1 = 7, field 5 end-group, then a byte.
        let ok = [0x2b, 0x08, 0x07, 0x2c, 0x08];
        let mut r = Reader::new(&ok);
        let (f, w) = r.key().expect("valid key");
        r.skip(f, w, 0).expect("valid group");
        assert_eq!(r.pos(), 4);
        // end-group of field 6 closes group 5.
        let bad = [0x2b, 0x34];
        let mut r = Reader::new(&bad);
        let (f, w) = r.key().expect("valid key");
        assert_eq!(
            r.skip(f, w, 0).map_err(|e| e.problem),
            Err(WireProblem::UnexpectedEndGroup { field: 6 })
        );
        let open = [0x2b, 0x08, 0x07];
        let mut r = Reader::new(&open);
        let (f, w) = r.key().expect("valid key");
        assert_eq!(
            r.skip(f, w, 0).map_err(|e| e.problem),
            Err(WireProblem::UnclosedGroup { field: 5 })
        );
    }

    #[test]
    fn lengths_past_the_end_are_rejected() {
        let mut r = Reader::new(&[0x05, 1, 2]);
        assert_eq!(
            r.len_delimited(9).map_err(|e| e.problem),
            Err(WireProblem::Truncated {
                field: 9,
                needed: 5,
                remaining: 2
            })
        );
        let mut r = Reader::new(&[1, 2, 3]);
        assert!(r.fixed32(3).is_err());
        let mut r = Reader::new(&[1, 2, 3, 4]);
        assert_eq!(r.fixed32(3), Ok(0x0403_0201));
    }
}
