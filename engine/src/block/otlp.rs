//! Zero-copy view of one trace's OTLP bytes (a `TracesData` encoding): the records the encoder
//! turns into rows, pointing into the input instead of owning strings.
//!
//! [`TraceRecords::parse`] walks the wire format once, validates everything the encoder will
//! store (structure, UTF-8 of every string it keeps) and fills flat record vectors that are
//! reused across traces. Only unusual encodings take a slower path: attribute values that are
//! arrays, key-value lists or bytes, `AnyValue`s with several fields and merged (repeated)
//! messages are decoded with prost and re-encoded into [`TraceRecords`]' scratch buffer, so every
//! value ends up exactly as prost would decode it (last scalar wins, repeated messages merge).

use std::ops::Range;

use prost::Message as _;
use tracecore_proto::otlp::{AnyValue, any_value};

use super::error::BlockError;
use super::wire::{Reader, Value, invalid, put_varint, varint_len, wrong_type};

/// A byte range of the trace's input, or (at and above the input length) of the scratch buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Loc {
    start: u32,
    end: u32,
}

impl Loc {
    pub(crate) fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// One attribute value, as the `attributes` column stores it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AttrValue {
    /// A `KeyValue` without `value`.
    Absent,
    Str(Loc),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// The prost encoding of the `AnyValue` (empty for an `AnyValue` with no value set).
    Other(Loc),
}

/// One `KeyValue`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttrRec {
    pub key: Loc,
    pub value: AttrValue,
}

/// One span event; `attributes` is the encoded `KeyValueList` the `events` column stores.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventRec {
    pub time: u64,
    pub name: Loc,
    pub attributes: Loc,
    pub dropped: u32,
}

/// One span link; `attributes` is the encoded `KeyValueList` the `links` column stores.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkRec {
    pub trace_id: Loc,
    pub span_id: Loc,
    pub trace_state: Loc,
    pub attributes: Loc,
    pub dropped: u32,
    pub flags: u32,
}

/// One span. `resource` / `scope` index [`TraceRecords::resources`] / [`TraceRecords::scopes`];
/// `attrs`, `events` and `links` are ranges of the matching record vectors.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpanRec {
    pub start: u64,
    pub end: u64,
    pub resource: u32,
    pub scope: u32,
    pub trace_id: Loc,
    pub span_id: Loc,
    pub parent_span_id: Loc,
    pub trace_state: Loc,
    pub name: Loc,
    pub kind: i32,
    pub flags: u32,
    pub dropped_attributes: u32,
    pub dropped_events: u32,
    pub dropped_links: u32,
    /// `Some((code, message))` when the span has a `Status` message.
    pub status: Option<(i32, Loc)>,
    pub attrs: Range<u32>,
    pub events: Range<u32>,
    pub links: Range<u32>,
}

/// The `resource` of a `ResourceSpans` or the `scope` of a `ScopeSpans` (field 1, merged when
/// repeated) and its `schema_url` (field 3).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Header {
    pub message: Option<Loc>,
    pub schema_url: Loc,
}

/// The records of one trace. Reused across traces: [`Self::parse`] clears it.
#[derive(Default)]
pub(crate) struct TraceRecords {
    pub spans: Vec<SpanRec>,
    pub attrs: Vec<AttrRec>,
    pub events: Vec<EventRec>,
    pub links: Vec<LinkRec>,
    pub resources: Vec<Header>,
    pub scopes: Vec<Header>,
    /// Re-encoded values (see the module docs); [`Loc`]s at or above `base` point here.
    scratch: Vec<u8>,
    /// The input length of the current trace.
    base: usize,
    /// Concatenated bytes of a repeated message field (decoding them merges the occurrences).
    merge: Vec<u8>,
}

/// Inputs at or above this size are refused (record offsets are 32-bit, scratch included).
const MAX_INPUT: usize = (u32::MAX / 4) as usize;

impl TraceRecords {
    /// Parses `input` (a `TracesData` encoding), replacing the previous trace's records.
    /// On error the records are unusable until the next successful parse.
    pub(crate) fn parse(&mut self, input: &[u8]) -> Result<(), BlockError> {
        if input.len() > MAX_INPUT {
            return Err(invalid(
                0,
                format!("trace of {} bytes is too large", input.len()),
            ));
        }
        self.spans.clear();
        self.attrs.clear();
        self.events.clear();
        self.links.clear();
        self.resources.clear();
        self.scopes.clear();
        self.scratch.clear();
        self.base = input.len();
        let mut reader = Reader::new(input, 0..input.len());
        while let Some((field, value)) = reader.next_field()? {
            if field == 1 {
                match value {
                    Value::Len(range) => self.resource_spans(input, range)?,
                    _ => return Err(wrong_type(reader.offset(), "TracesData", field)),
                }
            }
        }
        Ok(())
    }

    /// The bytes `loc` names; `input` must be the bytes of the last successful [`Self::parse`].
    #[inline]
    pub(crate) fn bytes<'a>(&'a self, input: &'a [u8], loc: Loc) -> &'a [u8] {
        slice(self.base, &self.scratch, input, loc)
    }

    fn resource_spans(&mut self, input: &[u8], range: Range<usize>) -> Result<(), BlockError> {
        let index = self.resources.len() as u32;
        self.resources.push(Header::default());
        let mut header = Header::default();
        let mut reader = Reader::new(input, range);
        while let Some((field, value)) = reader.next_field()? {
            let at = reader.offset();
            match (field, value) {
                (1, Value::Len(r)) => {
                    header.message = Some(self.merge_message(input, header.message, r)?)
                }
                (2, Value::Len(r)) => self.scope_spans(input, r, index)?,
                (3, Value::Len(r)) => header.schema_url = string(input, r)?,
                (1..=3, _) => return Err(wrong_type(at, "ResourceSpans", field)),
                _ => {}
            }
        }
        self.resources[index as usize] = header;
        Ok(())
    }

    fn scope_spans(
        &mut self,
        input: &[u8],
        range: Range<usize>,
        resource: u32,
    ) -> Result<(), BlockError> {
        let index = self.scopes.len() as u32;
        self.scopes.push(Header::default());
        let mut header = Header::default();
        let mut reader = Reader::new(input, range);
        while let Some((field, value)) = reader.next_field()? {
            let at = reader.offset();
            match (field, value) {
                (1, Value::Len(r)) => {
                    header.message = Some(self.merge_message(input, header.message, r)?)
                }
                (2, Value::Len(r)) => self.span(input, r, resource, index)?,
                (3, Value::Len(r)) => header.schema_url = string(input, r)?,
                (1..=3, _) => return Err(wrong_type(at, "ScopeSpans", field)),
                _ => {}
            }
        }
        self.scopes[index as usize] = header;
        Ok(())
    }

    // PERFORMANCE-CRITICAL: once per span; records only offsets and scalars, no allocation
    // (the record vectors are reused across traces).
    fn span(
        &mut self,
        input: &[u8],
        range: Range<usize>,
        resource: u32,
        scope: u32,
    ) -> Result<(), BlockError> {
        let attrs_start = self.attrs.len() as u32;
        let events_start = self.events.len() as u32;
        let links_start = self.links.len() as u32;
        let mut span = SpanRec {
            resource,
            scope,
            ..SpanRec::default()
        };
        let mut reader = Reader::new(input, range);
        while let Some((field, value)) = reader.next_field()? {
            let at = reader.offset();
            match (field, value) {
                (1, Value::Len(r)) => span.trace_id = loc(r),
                (2, Value::Len(r)) => span.span_id = loc(r),
                (3, Value::Len(r)) => span.trace_state = string(input, r)?,
                (4, Value::Len(r)) => span.parent_span_id = loc(r),
                (5, Value::Len(r)) => span.name = string(input, r)?,
                (6, Value::Varint(v)) => span.kind = v as i32,
                (7, Value::Fixed64(v)) => span.start = v,
                (8, Value::Fixed64(v)) => span.end = v,
                (9, Value::Len(r)) => {
                    let attr = self.key_value(input, r)?;
                    self.attrs.push(attr);
                }
                (10, Value::Varint(v)) => span.dropped_attributes = v as u32,
                (11, Value::Len(r)) => self.event(input, r)?,
                (12, Value::Varint(v)) => span.dropped_events = v as u32,
                (13, Value::Len(r)) => self.link(input, r)?,
                (14, Value::Varint(v)) => span.dropped_links = v as u32,
                (15, Value::Len(r)) => span.status = Some(status(input, r, span.status)?),
                (16, Value::Fixed32(v)) => span.flags = v,
                (1..=16, _) => return Err(wrong_type(at, "Span", field)),
                _ => {}
            }
        }
        span.attrs = attrs_start..self.attrs.len() as u32;
        span.events = events_start..self.events.len() as u32;
        span.links = links_start..self.links.len() as u32;
        self.spans.push(span);
        Ok(())
    }

    fn event(&mut self, input: &[u8], range: Range<usize>) -> Result<(), BlockError> {
        let mark = self.attrs.len();
        let mut event = EventRec {
            time: 0,
            name: Loc::default(),
            attributes: Loc::default(),
            dropped: 0,
        };
        let mut reader = Reader::new(input, range);
        while let Some((field, value)) = reader.next_field()? {
            let at = reader.offset();
            match (field, value) {
                (1, Value::Fixed64(v)) => event.time = v,
                (2, Value::Len(r)) => event.name = string(input, r)?,
                (3, Value::Len(r)) => {
                    let attr = self.key_value(input, r)?;
                    self.attrs.push(attr);
                }
                (4, Value::Varint(v)) => event.dropped = v as u32,
                (1..=4, _) => return Err(wrong_type(at, "Event", field)),
                _ => {}
            }
        }
        event.attributes = self.encode_key_value_list(input, mark)?;
        self.events.push(event);
        Ok(())
    }

    fn link(&mut self, input: &[u8], range: Range<usize>) -> Result<(), BlockError> {
        let mark = self.attrs.len();
        let mut link = LinkRec {
            trace_id: Loc::default(),
            span_id: Loc::default(),
            trace_state: Loc::default(),
            attributes: Loc::default(),
            dropped: 0,
            flags: 0,
        };
        let mut reader = Reader::new(input, range);
        while let Some((field, value)) = reader.next_field()? {
            let at = reader.offset();
            match (field, value) {
                (1, Value::Len(r)) => link.trace_id = loc(r),
                (2, Value::Len(r)) => link.span_id = loc(r),
                (3, Value::Len(r)) => link.trace_state = string(input, r)?,
                (4, Value::Len(r)) => {
                    let attr = self.key_value(input, r)?;
                    self.attrs.push(attr);
                }
                (5, Value::Varint(v)) => link.dropped = v as u32,
                (6, Value::Fixed32(v)) => link.flags = v,
                (1..=6, _) => return Err(wrong_type(at, "Link", field)),
                _ => {}
            }
        }
        link.attributes = self.encode_key_value_list(input, mark)?;
        self.links.push(link);
        Ok(())
    }

    // PERFORMANCE-CRITICAL: once per attribute. The common case (one string, int, double or
    // bool value) records offsets only.
    fn key_value(&mut self, input: &[u8], range: Range<usize>) -> Result<AttrRec, BlockError> {
        let mut key = Loc::default();
        let mut value: Option<Loc> = None;
        let mut reader = Reader::new(input, range);
        while let Some((field, v)) = reader.next_field()? {
            let at = reader.offset();
            match (field, v) {
                (1, Value::Len(r)) => key = string(input, r)?,
                (2, Value::Len(r)) => value = Some(self.merge_message(input, value, r)?),
                (1 | 2, _) => return Err(wrong_type(at, "KeyValue", field)),
                _ => {}
            }
        }
        let value = match value {
            None => AttrValue::Absent,
            Some(loc) if (loc.start as usize) < self.base => self.any_value(input, loc)?,
            Some(loc) => {
                // A merged value lives in scratch: decode it with prost.
                let bytes = self.bytes(input, loc).to_vec();
                self.any_value_slow(&bytes, loc.start as usize)?
            }
        };
        Ok(AttrRec { key, value })
    }

    /// Classifies an `AnyValue` of the input; anything but a single scalar field goes to prost.
    #[inline]
    fn any_value(&mut self, input: &[u8], at: Loc) -> Result<AttrValue, BlockError> {
        let range = at.start as usize..at.end as usize;
        let mut reader = Reader::new(input, range.clone());
        let Some((field, value)) = reader.next_field()? else {
            return Ok(AttrValue::Other(Loc::default()));
        };
        if reader.offset() < range.end {
            // Several fields (or unknown ones): prost's oneof semantics decide.
            return self.any_value_slow(&input[range.clone()], range.start);
        }
        Ok(match (field, value) {
            (1, Value::Len(r)) => AttrValue::Str(string(input, r)?),
            (2, Value::Varint(v)) => AttrValue::Bool(v != 0),
            (3, Value::Varint(v)) => AttrValue::Int(v as i64),
            (4, Value::Fixed64(v)) => AttrValue::Double(f64::from_bits(v)),
            (1..=4, _) => return Err(wrong_type(reader.offset(), "AnyValue", field)),
            _ => return self.any_value_slow(&input[range.clone()], range.start),
        })
    }

    /// Decodes an `AnyValue` with prost; strings and re-encoded values go to scratch.
    #[cold]
    fn any_value_slow(&mut self, bytes: &[u8], offset: usize) -> Result<AttrValue, BlockError> {
        let any = AnyValue::decode(bytes).map_err(|e| invalid(offset, e.to_string()))?;
        let start = self.scratch.len();
        Ok(match any.value {
            Some(any_value::Value::StringValue(s)) => {
                self.scratch.extend_from_slice(s.as_bytes());
                AttrValue::Str(self.scratch_loc(start)?)
            }
            Some(any_value::Value::BoolValue(v)) => AttrValue::Bool(v),
            Some(any_value::Value::IntValue(v)) => AttrValue::Int(v),
            Some(any_value::Value::DoubleValue(v)) => AttrValue::Double(v),
            Some(_) | None => {
                any.encode(&mut self.scratch)
                    .map_err(|e| invalid(offset, e.to_string()))?;
                AttrValue::Other(self.scratch_loc(start)?)
            }
        })
    }

    /// The location of a message field's bytes; a repeated occurrence is appended to the
    /// earlier ones in scratch (decoding the concatenation merges them, as prost does).
    fn merge_message(
        &mut self,
        input: &[u8],
        earlier: Option<Loc>,
        range: Range<usize>,
    ) -> Result<Loc, BlockError> {
        let Some(earlier) = earlier else {
            return Ok(loc(range));
        };
        self.merge.clear();
        self.merge
            .extend_from_slice(slice(self.base, &self.scratch, input, earlier));
        self.merge.extend_from_slice(&input[range]);
        let start = self.scratch.len();
        self.scratch.extend_from_slice(&self.merge);
        self.scratch_loc(start)
    }

    /// Encodes `attrs[mark..]` as a `KeyValueList` into scratch (exactly as prost encodes the
    /// decoded list) and removes them from `attrs`.
    fn encode_key_value_list(&mut self, input: &[u8], mark: usize) -> Result<Loc, BlockError> {
        let start = self.scratch.len();
        for i in mark..self.attrs.len() {
            let AttrRec { key, value } = self.attrs[i];
            let value_len = match value {
                AttrValue::Absent => None,
                AttrValue::Str(s) => Some(1 + varint_len(s.len() as u64) + s.len()),
                AttrValue::Int(v) => Some(1 + varint_len(v as u64)),
                AttrValue::Double(_) => Some(9),
                AttrValue::Bool(_) => Some(2),
                AttrValue::Other(o) => Some(o.len()),
            };
            let key_len = if key.is_empty() {
                0
            } else {
                1 + varint_len(key.len() as u64) + key.len()
            };
            let kv_len = key_len + value_len.map_or(0, |n| 1 + varint_len(n as u64) + n);
            self.scratch.push(0x0a);
            put_varint(kv_len as u64, &mut self.scratch);
            if !key.is_empty() {
                self.scratch.push(0x0a);
                put_varint(key.len() as u64, &mut self.scratch);
                self.push_loc(input, key);
            }
            let Some(value_len) = value_len else { continue };
            self.scratch.push(0x12);
            put_varint(value_len as u64, &mut self.scratch);
            match value {
                AttrValue::Absent => {}
                AttrValue::Str(s) => {
                    self.scratch.push(0x0a);
                    put_varint(s.len() as u64, &mut self.scratch);
                    self.push_loc(input, s);
                }
                AttrValue::Bool(v) => self.scratch.extend_from_slice(&[0x10, u8::from(v)]),
                AttrValue::Int(v) => {
                    self.scratch.push(0x18);
                    put_varint(v as u64, &mut self.scratch);
                }
                AttrValue::Double(v) => {
                    self.scratch.push(0x21);
                    self.scratch.extend_from_slice(&v.to_le_bytes());
                }
                AttrValue::Other(o) => self.push_loc(input, o),
            }
        }
        self.attrs.truncate(mark);
        self.scratch_loc(start)
    }

    /// Appends the bytes of `loc` (input or scratch) to scratch.
    fn push_loc(&mut self, input: &[u8], loc: Loc) {
        let (start, end) = (loc.start as usize, loc.end as usize);
        if start >= self.base {
            self.scratch
                .extend_from_within(start - self.base..end - self.base);
        } else if let Some(bytes) = input.get(start..end) {
            self.scratch.extend_from_slice(bytes);
        }
    }

    /// The location of `scratch[start..]`.
    fn scratch_loc(&self, start: usize) -> Result<Loc, BlockError> {
        let to_u32 = |offset: usize| {
            u32::try_from(self.base + offset)
                .map_err(|_| invalid(self.base, "trace re-encodes to more than 4 GiB"))
        };
        Ok(Loc {
            start: to_u32(start)?,
            end: to_u32(self.scratch.len())?,
        })
    }
}

/// The bytes of `loc`: `input`, or `scratch` at and above `base`.
#[inline]
fn slice<'a>(base: usize, scratch: &'a [u8], input: &'a [u8], loc: Loc) -> &'a [u8] {
    let (start, end) = (loc.start as usize, loc.end as usize);
    let bytes = if start >= base {
        scratch.get(start - base..end - base)
    } else {
        input.get(start..end)
    };
    // Locs come from the parse of `input`; an empty slice can only mean a caller bug.
    bytes.unwrap_or_default()
}

/// The location of an input range (inputs are below [`MAX_INPUT`], so offsets fit).
#[inline]
fn loc(range: Range<usize>) -> Loc {
    Loc {
        start: range.start as u32,
        end: range.end as u32,
    }
}

/// The location of a `string` field, after checking it is UTF-8 as prost does.
#[inline]
fn string(input: &[u8], range: Range<usize>) -> Result<Loc, BlockError> {
    let start = range.start;
    // ASCII (most telemetry strings) is checked a word at a time before the full decoder.
    match input.get(range.clone()) {
        Some(bytes) if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() => Ok(loc(range)),
        _ => Err(invalid(start, "string field is not valid utf-8")),
    }
}

/// Merges one `Status` message into the span's (repeated occurrences merge field by field).
fn status(
    input: &[u8],
    range: Range<usize>,
    earlier: Option<(i32, Loc)>,
) -> Result<(i32, Loc), BlockError> {
    let (mut code, mut message) = earlier.unwrap_or_default();
    let mut reader = Reader::new(input, range);
    while let Some((field, value)) = reader.next_field()? {
        let at = reader.offset();
        match (field, value) {
            (2, Value::Len(r)) => message = string(input, r)?,
            (3, Value::Varint(v)) => code = v as i32,
            (2 | 3, _) => return Err(wrong_type(at, "Status", field)),
            _ => {}
        }
    }
    Ok((code, message))
}
