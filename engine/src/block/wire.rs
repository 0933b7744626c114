//! A bounds-checked protobuf wire-format reader over borrowed bytes, for [`super::otlp`].
//!
//! It rejects what `prost` 0.14 rejects while decoding the OTLP messages: varints longer than
//! 10 bytes or above `u64::MAX`, keys above `u32::MAX`, field number 0, wire types 6 and 7,
//! lengths past the end of the enclosing message, unbalanced groups and groups nested deeper
//! than prost's recursion limit. Positions are absolute offsets into the whole input, so a
//! value's range can be stored and sliced out later.

use std::ops::Range;

use super::error::BlockError;

/// Deepest unknown-group nesting skipped (prost's recursion limit).
const MAX_GROUP_DEPTH: u32 = 100;

/// One field value. Groups (deprecated, never used by OTLP) are skipped and reported as
/// [`Value::Group`] so that a known field sent as a group is an error, as in prost.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(Range<usize>),
    Group,
}

/// Reads the fields of one message: `input[pos..end]`.
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    end: usize,
}

/// An [`BlockError::InvalidOtlp`] at `offset`.
pub(crate) fn invalid(offset: usize, reason: impl Into<String>) -> BlockError {
    BlockError::InvalidOtlp {
        offset,
        reason: reason.into(),
    }
}

impl<'a> Reader<'a> {
    /// Reads the message `input[range]`; `range` must lie within `input` (it came from this
    /// reader or is the whole input).
    pub(crate) fn new(input: &'a [u8], range: Range<usize>) -> Self {
        let end = range.end.min(input.len());
        Reader {
            input,
            pos: range.start.min(end),
            end,
        }
    }

    /// Offset of the next unread byte.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// The next field number and value, or `None` at the end of the message.
    // PERFORMANCE-CRITICAL: runs once per protobuf field of every cut span; no allocation.
    #[inline]
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value)>, BlockError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let at = self.pos;
        let (field, wire_type) = self.key()?;
        let value = match wire_type {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.fixed::<8>(field)?)),
            2 => {
                let len = self.varint()?;
                let remaining = self.end - self.pos;
                if len > remaining as u64 {
                    return Err(invalid(
                        at,
                        format!("field {field} needs {len} bytes, {remaining} remain"),
                    ));
                }
                let start = self.pos;
                self.pos += len as usize;
                Value::Len(start..self.pos)
            }
            3 => {
                self.skip_group(field)?;
                Value::Group
            }
            4 => {
                return Err(invalid(
                    at,
                    format!("end-group tag of field {field} without a group"),
                ));
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.fixed::<4>(field)?)),
            other => return Err(invalid(at, format!("field {field} has wire type {other}"))),
        };
        Ok(Some((field, value)))
    }

    #[inline]
    fn key(&mut self) -> Result<(u32, u8), BlockError> {
        let at = self.pos;
        let key = self.varint()?;
        let key = u32::try_from(key)
            .map_err(|_| invalid(at, format!("field key {key} does not fit 32 bits")))?;
        let field = key >> 3;
        if field == 0 {
            return Err(invalid(at, "field number 0"));
        }
        Ok((field, (key & 7) as u8))
    }

    #[inline]
    fn fixed<const N: usize>(&mut self, field: u32) -> Result<[u8; N], BlockError> {
        let bytes = self
            .input
            .get(self.pos..self.pos + N)
            .filter(|_| self.pos + N <= self.end)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| invalid(self.pos, format!("field {field} truncated")))?;
        self.pos += N;
        Ok(bytes)
    }

    /// A varint as prost reads it: at most 10 bytes, the 10th at most 1.
    #[inline]
    fn varint(&mut self) -> Result<u64, BlockError> {
        let at = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self
                .input
                .get(self.pos)
                .filter(|_| self.pos < self.end)
                .ok_or_else(|| invalid(at, "truncated varint"))?;
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(invalid(at, "varint above 2^64-1"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(invalid(at, "varint longer than 10 bytes"))
    }

    /// Skips an unknown group whose start tag (of `field`) was just read.
    fn skip_group(&mut self, field: u32) -> Result<(), BlockError> {
        let at = self.pos;
        let mut open = vec![field];
        while let Some(&innermost) = open.last() {
            if self.pos >= self.end {
                return Err(invalid(at, format!("group of field {field} is not closed")));
            }
            let tag_at = self.pos;
            let (inner, wire_type) = self.key()?;
            match wire_type {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.fixed::<8>(inner)?;
                }
                2 => {
                    let len = self.varint()?;
                    if len > (self.end - self.pos) as u64 {
                        return Err(invalid(tag_at, format!("field {inner} truncated")));
                    }
                    self.pos += len as usize;
                }
                3 => {
                    if open.len() as u32 >= MAX_GROUP_DEPTH {
                        return Err(invalid(tag_at, "groups nested too deep"));
                    }
                    open.push(inner);
                }
                4 if inner == innermost => {
                    open.pop();
                }
                4 => {
                    return Err(invalid(
                        tag_at,
                        format!("end-group tag of field {inner} does not match group {innermost}"),
                    ));
                }
                5 => {
                    self.fixed::<4>(inner)?;
                }
                other => {
                    return Err(invalid(
                        tag_at,
                        format!("field {inner} has wire type {other}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The error for a known field that arrived with the wrong wire type.
pub(crate) fn wrong_type(offset: usize, message: &str, field: u32) -> BlockError {
    invalid(
        offset,
        format!("{message} field {field} has the wrong wire type"),
    )
}

/// Bytes a varint of `value` takes.
#[inline]
pub(crate) fn varint_len(value: u64) -> usize {
    // 1 byte per started group of 7 bits (0 takes one byte).
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `value` as a varint.
#[inline]
pub(crate) fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Result<Vec<(u32, Value)>, BlockError> {
        let mut reader = Reader::new(bytes, 0..bytes.len());
        let mut out = Vec::new();
        while let Some(field) = reader.next_field()? {
            out.push(field);
        }
        Ok(out)
    }

    #[test]
    fn reads_every_wire_type() {
        let mut bytes = vec![0x08, 0x96, 0x01]; // 1: varint 150
        bytes.extend([0x11, 1, 0, 0, 0, 0, 0, 0, 0]); // 2: fixed64 1
        bytes.extend([0x1a, 2, b'h', b'i']); // 3: len "hi"
        bytes.extend([0x23, 0x08, 0x01, 0x24]); // 4: group { 1: 1 }
        bytes.extend([0x2d, 7, 0, 0, 0]); // 5: fixed32 7
        assert_eq!(
            fields(&bytes).expect("valid"),
            vec![
                (1, Value::Varint(150)),
                (2, Value::Fixed64(1)),
                (3, Value::Len(14..16)),
                (4, Value::Group),
                (5, Value::Fixed32(7)),
            ]
        );
    }

    #[test]
    fn rejects_what_prost_rejects() {
        let bad: &[&[u8]] = &[
            &[0x08], // truncated varint
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
            ], // > u64::MAX
            &[
                0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ], // 11 bytes
            &[0x00, 0x00], // field 0
            &[0x0e], // wire type 6
            &[0x0a, 0x05, 1, 2], // length past the end
            &[0x0c], // end group without start
            &[0x0b, 0x08, 0x01], // unclosed group
            &[0x0b, 0x14], // mismatched end group
            &[0x11, 1, 2, 3], // truncated fixed64
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // key above u32::MAX
        ];
        for bytes in bad {
            assert!(fields(bytes).is_err(), "{bytes:?} accepted");
            assert!(
                <tracecore_proto::otlp::KeyValueList as prost::Message>::decode(*bytes).is_err(),
                "{bytes:?}: prost accepts it"
            );
        }
    }

    #[test]
    fn varint_helpers_agree_with_prost() {
        for value in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX, 1 << 63] {
            let mut ours = Vec::new();
            put_varint(value, &mut ours);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs);
            assert_eq!(varint_len(value), theirs.len());
            let mut reader = Reader::new(&ours, 0..0);
            reader.end = ours.len();
            assert_eq!(reader.varint().expect("valid"), value);
        }
    }
}
