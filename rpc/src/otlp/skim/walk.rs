//! The validating walk: one pass over an `ExportTraceServiceRequest` that checks every field and
//! records where the resources, scopes and spans are, without decoding spans into structs.
//!
//! Levels (for prost's recursion limit) count the request as 0: `ResourceSpans` 1, `ScopeSpans`
//! and `Resource` 2, `Span` and `InstrumentationScope` 3, span attributes' `KeyValue` 4, their
//! `AnyValue` 5, and so on. A fragment has the same shape, so the same levels hold when it is
//! decoded as `TracesData`.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;

use super::trace_id_hash::TraceIdHashState;
use super::wire::{MAX_MESSAGE_LEVEL, Reader, WireError, WireProblem, WireResult, WireType};
use super::{Position, SkimError};

/// A declared field type, as far as validation is concerned.
#[derive(Clone, Copy)]
enum FieldType {
    Varint,
    Fixed32,
    Fixed64,
    Bytes,
    Utf8,
    Message(Msg),
}

/// The messages validated generically (everything below `Span`, plus `Span` itself).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Msg {
    Span,
    Resource,
    Scope,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    Event,
    Link,
    Status,
}

/// The declared type and name of `field` in `msg`, `None` for unknown fields.
const fn field_spec(msg: Msg, field: u32) -> Option<(FieldType, &'static str)> {
    use FieldType::{Bytes, Fixed32, Fixed64, Message, Utf8, Varint};
    Some(match (msg, field) {
        (Msg::Span, 1) => (Bytes, "Span.trace_id"),
        (Msg::Span, 2) => (Bytes, "Span.span_id"),
        (Msg::Span, 3) => (Utf8, "Span.trace_state"),
        (Msg::Span, 4) => (Bytes, "Span.parent_span_id"),
        (Msg::Span, 5) => (Utf8, "Span.name"),
        (Msg::Span, 6) => (Varint, "Span.kind"),
        (Msg::Span, 7) => (Fixed64, "Span.start_time_unix_nano"),
        (Msg::Span, 8) => (Fixed64, "Span.end_time_unix_nano"),
        (Msg::Span, 9) => (Message(Msg::KeyValue), "Span.attributes"),
        (Msg::Span, 10) => (Varint, "Span.dropped_attributes_count"),
        (Msg::Span, 11) => (Message(Msg::Event), "Span.events"),
        (Msg::Span, 12) => (Varint, "Span.dropped_events_count"),
        (Msg::Span, 13) => (Message(Msg::Link), "Span.links"),
        (Msg::Span, 14) => (Varint, "Span.dropped_links_count"),
        (Msg::Span, 15) => (Message(Msg::Status), "Span.status"),
        (Msg::Span, 16) => (Fixed32, "Span.flags"),
        (Msg::Resource, 1) => (Message(Msg::KeyValue), "Resource.attributes"),
        (Msg::Resource, 2) => (Varint, "Resource.dropped_attributes_count"),
        (Msg::Scope, 1) => (Utf8, "InstrumentationScope.name"),
        (Msg::Scope, 2) => (Utf8, "InstrumentationScope.version"),
        (Msg::Scope, 3) => (Message(Msg::KeyValue), "InstrumentationScope.attributes"),
        (Msg::Scope, 4) => (Varint, "InstrumentationScope.dropped_attributes_count"),
        (Msg::KeyValue, 1) => (Utf8, "KeyValue.key"),
        (Msg::KeyValue, 2) => (Message(Msg::AnyValue), "KeyValue.value"),
        (Msg::AnyValue, 1) => (Utf8, "AnyValue.string_value"),
        (Msg::AnyValue, 2) => (Varint, "AnyValue.bool_value"),
        (Msg::AnyValue, 3) => (Varint, "AnyValue.int_value"),
        (Msg::AnyValue, 4) => (Fixed64, "AnyValue.double_value"),
        (Msg::AnyValue, 5) => (Message(Msg::ArrayValue), "AnyValue.array_value"),
        (Msg::AnyValue, 6) => (Message(Msg::KeyValueList), "AnyValue.kvlist_value"),
        (Msg::AnyValue, 7) => (Bytes, "AnyValue.bytes_value"),
        (Msg::ArrayValue, 1) => (Message(Msg::AnyValue), "ArrayValue.values"),
        (Msg::KeyValueList, 1) => (Message(Msg::KeyValue), "KeyValueList.values"),
        (Msg::Event, 1) => (Fixed64, "Event.time_unix_nano"),
        (Msg::Event, 2) => (Utf8, "Event.name"),
        (Msg::Event, 3) => (Message(Msg::KeyValue), "Event.attributes"),
        (Msg::Event, 4) => (Varint, "Event.dropped_attributes_count"),
        (Msg::Link, 1) => (Bytes, "Link.trace_id"),
        (Msg::Link, 2) => (Bytes, "Link.span_id"),
        (Msg::Link, 3) => (Utf8, "Link.trace_state"),
        (Msg::Link, 4) => (Message(Msg::KeyValue), "Link.attributes"),
        (Msg::Link, 5) => (Varint, "Link.dropped_attributes_count"),
        (Msg::Link, 6) => (Fixed32, "Link.flags"),
        (Msg::Status, 2) => (Utf8, "Status.message"),
        (Msg::Status, 3) => (Varint, "Status.code"),
        _ => return None,
    })
}

impl FieldType {
    /// The wire type a field of this type must use.
    #[inline]
    fn wire_type(self) -> WireType {
        match self {
            FieldType::Varint => WireType::Varint,
            FieldType::Fixed32 => WireType::Fixed32,
            FieldType::Fixed64 => WireType::Fixed64,
            FieldType::Bytes | FieldType::Utf8 | FieldType::Message(_) => WireType::Len,
        }
    }

    /// The low three bits of a correctly encoded key of this type.
    const fn wire_bits(self) -> u64 {
        match self {
            FieldType::Varint => 0,
            FieldType::Fixed64 => 1,
            FieldType::Bytes | FieldType::Utf8 | FieldType::Message(_) => 2,
            FieldType::Fixed32 => 5,
        }
    }
}

/// Raw keys below this value can name fields 1..=16, the highest field number in any message.
const FAST_KEYS: usize = 17 << 3;

/// Every [`Msg`], in declaration order (the index of [`FAST_SPEC`]).
const ALL_MSGS: [Msg; 10] = [
    Msg::Span,
    Msg::Resource,
    Msg::Scope,
    Msg::KeyValue,
    Msg::AnyValue,
    Msg::ArrayValue,
    Msg::KeyValueList,
    Msg::Event,
    Msg::Link,
    Msg::Status,
];

/// `FAST_SPEC[msg][key]`: the type of the field a raw key (field << 3 | wire type) names, only
/// when the key carries the declared wire type. Built at compile time from [`field_spec`].
static FAST_SPEC: [[Option<FieldType>; FAST_KEYS]; ALL_MSGS.len()] = {
    let mut table = [[None; FAST_KEYS]; ALL_MSGS.len()];
    let mut m = 0;
    while m < ALL_MSGS.len() {
        let mut key = 0;
        while key < FAST_KEYS {
            if let Some((ty, _)) = field_spec(ALL_MSGS[m], (key >> 3) as u32)
                && (key & 7) as u64 == ty.wire_bits()
            {
                table[m][key] = Some(ty);
            }
            key += 1;
        }
        m += 1;
    }
    table
};

/// The hot-path lookup (see [`FAST_SPEC`]). Everything it does not match (unknown fields, wrong
/// wire types, invalid keys) goes to [`other_field`].
#[inline(always)]
fn fast_spec(msg: Msg, key: u64) -> Option<FieldType> {
    let row = FAST_SPEC.get(msg as usize)?;
    row.get(usize::try_from(key).ok()?).copied().flatten()
}

/// What a validated field yielded, for the few fields the walk keeps.
enum Value {
    None,
    Range(Range<usize>),
    U64(u64),
}

/// Whether `bytes` are UTF-8, with an inlined ASCII fast path for the common case.
#[inline]
fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}

/// A validated `ResourceSpans`: where its `resource` bodies and `schema_url` are.
pub(super) struct ResourceEntry {
    /// Indexes into [`Index::resource_parts`] (usually one; prost merges repeats).
    pub parts: Range<usize>,
    /// The last `schema_url` value (prost keeps the last).
    pub schema_url: Option<Range<usize>>,
}

/// A validated `ScopeSpans`.
pub(super) struct ScopeEntry {
    /// Index into [`Index::resources`].
    pub resource: u32,
    /// Indexes into [`Index::scope_parts`].
    pub parts: Range<usize>,
    /// The last `schema_url` value.
    pub schema_url: Option<Range<usize>>,
}

/// A validated span: its trace, its scope and its encoded body.
pub(super) struct SpanEntry {
    /// Index into [`Index::traces`].
    pub trace: u32,
    /// Index into [`Index::scopes`].
    pub scope: u32,
    /// The span message body (without key and length).
    pub body: Range<usize>,
}

/// The spans of one trace seen so far.
pub(super) struct TraceEntry {
    pub id: [u8; 16],
    pub span_count: u32,
    pub start_min: u64,
    pub end_max: u64,
}

/// Everything the walk learned about a valid request, in request order.
#[derive(Default)]
pub(super) struct Index {
    pub resources: Vec<ResourceEntry>,
    pub scopes: Vec<ScopeEntry>,
    pub spans: Vec<SpanEntry>,
    pub traces: Vec<TraceEntry>,
    pub resource_parts: Vec<Range<usize>>,
    pub scope_parts: Vec<Range<usize>>,
    /// Bytes of the longest attribute key or string value (resource, scope, span, event and link
    /// attributes; not strings nested in arrays or key-value lists), for `max_attribute_bytes`.
    pub longest_attribute: usize,
    by_id: HashMap<u128, u32, TraceIdHashState>,
}

/// Walks and validates `body`, an encoded `ExportTraceServiceRequest`.
pub(super) fn walk_request(body: &[u8], max_value_depth: u32) -> Result<Index, SkimError> {
    let mut walker = Walker {
        max_value_depth,
        longest_attribute: Cell::new(0),
        index: Index {
            // A span is rarely under 64 bytes; this avoids most regrowth on typical requests.
            spans: Vec::with_capacity(body.len() / 256),
            ..Index::default()
        },
    };
    let mut r = Reader::new(body);
    let mut resource = 0u32;
    while r.has_more() {
        let at = Position::Request;
        let (field, wt) = r.key().map_err(|e| malformed(at, e))?;
        if field == 1 {
            r.check_wire_type(
                1,
                "ExportTraceServiceRequest.resource_spans",
                wt,
                WireType::Len,
            )
            .map_err(|e| malformed(at, e))?;
            let range = r.len_delimited(1).map_err(|e| malformed(at, e))?;
            walker.resource_spans(r.sub(range), resource)?;
            resource = resource.saturating_add(1);
        } else {
            r.skip(field, wt, 0).map_err(|e| malformed(at, e))?;
        }
    }
    walker.index.longest_attribute = walker.longest_attribute.get();
    Ok(walker.index)
}

fn malformed(at: Position, error: Box<WireError>) -> SkimError {
    SkimError::Malformed { at, error }
}

struct Walker {
    max_value_depth: u32,
    /// See [`Index::longest_attribute`]; a `Cell` because the value walk borrows `self` shared.
    longest_attribute: Cell<usize>,
    index: Index,
}

impl Walker {
    /// A `ResourceSpans` (level 1).
    fn resource_spans(&mut self, mut r: Reader<'_>, resource: u32) -> Result<(), SkimError> {
        let at = Position::Resource { resource };
        let me = u32::try_from(self.index.resources.len()).unwrap_or(u32::MAX);
        let parts_start = self.index.resource_parts.len();
        let mut schema_url = None;
        let mut scope = 0u32;
        while r.has_more() {
            let (field, wt) = r.key().map_err(|e| malformed(at, e))?;
            match field {
                1 => {
                    r.check_wire_type(1, "ResourceSpans.resource", wt, WireType::Len)
                        .map_err(|e| malformed(at, e))?;
                    let range = r.len_delimited(1).map_err(|e| malformed(at, e))?;
                    self.message(r.sub(range.clone()), Msg::Resource, 2, 0)
                        .map_err(|e| malformed(at, e))?;
                    self.index.resource_parts.push(range);
                }
                2 => {
                    r.check_wire_type(2, "ResourceSpans.scope_spans", wt, WireType::Len)
                        .map_err(|e| malformed(at, e))?;
                    let range = r.len_delimited(2).map_err(|e| malformed(at, e))?;
                    self.scope_spans(r.sub(range), me, resource, scope)?;
                    scope = scope.saturating_add(1);
                }
                3 => {
                    let range = utf8_field(&mut r, 3, "ResourceSpans.schema_url", wt)
                        .map_err(|e| malformed(at, e))?;
                    schema_url = Some(range);
                }
                _ => r.skip(field, wt, 1).map_err(|e| malformed(at, e))?,
            }
        }
        self.index.resources.push(ResourceEntry {
            parts: parts_start..self.index.resource_parts.len(),
            schema_url,
        });
        Ok(())
    }

    /// A `ScopeSpans` (level 2) of resource entry `owner`.
    fn scope_spans(
        &mut self,
        mut r: Reader<'_>,
        owner: u32,
        resource: u32,
        scope: u32,
    ) -> Result<(), SkimError> {
        let at = Position::Scope { resource, scope };
        let me = u32::try_from(self.index.scopes.len()).unwrap_or(u32::MAX);
        let parts_start = self.index.scope_parts.len();
        let mut schema_url = None;
        let mut span = 0u32;
        while r.has_more() {
            let (field, wt) = r.key().map_err(|e| malformed(at, e))?;
            match field {
                1 => {
                    r.check_wire_type(1, "ScopeSpans.scope", wt, WireType::Len)
                        .map_err(|e| malformed(at, e))?;
                    let range = r.len_delimited(1).map_err(|e| malformed(at, e))?;
                    self.message(r.sub(range.clone()), Msg::Scope, 3, 0)
                        .map_err(|e| malformed(at, e))?;
                    self.index.scope_parts.push(range);
                }
                2 => {
                    r.check_wire_type(2, "ScopeSpans.spans", wt, WireType::Len)
                        .map_err(|e| malformed(at, e))?;
                    let range = r.len_delimited(2).map_err(|e| malformed(at, e))?;
                    let pos = Position::Span {
                        resource,
                        scope,
                        span,
                    };
                    self.span(r.sub(range), me, pos)?;
                    span = span.saturating_add(1);
                }
                3 => {
                    let range = utf8_field(&mut r, 3, "ScopeSpans.schema_url", wt)
                        .map_err(|e| malformed(at, e))?;
                    schema_url = Some(range);
                }
                _ => r.skip(field, wt, 2).map_err(|e| malformed(at, e))?,
            }
        }
        // Pushed after the spans, but spans refer to `me`, the index it lands at.
        self.index.scopes.push(ScopeEntry {
            resource: owner,
            parts: parts_start..self.index.scope_parts.len(),
            schema_url,
        });
        Ok(())
    }

    // PERFORMANCE-CRITICAL: once per span. No allocation here (the index vectors grow
    // geometrically per request); the trace lookup is one probe of a small keyed table.
    /// A `Span` (level 3) of scope entry `scope`.
    fn span(&mut self, mut r: Reader<'_>, scope: u32, at: Position) -> Result<(), SkimError> {
        let start_pos = r.pos();
        let mut trace_id = 0..0;
        let mut span_id = 0..0;
        let mut parent = 0..0;
        let mut start = 0u64;
        let mut end = 0u64;
        while r.has_more() {
            let key_at = r.pos();
            let key = r.varint().map_err(|e| malformed(at, e))?;
            let value = if key == 0x4a {
                // Attributes, the bulk of a span.
                self.nested(&mut r, 9, Msg::KeyValue, 3, 0)
                    .map(|()| Value::None)
            } else {
                self.field(&mut r, Msg::Span, key_at, key, 3, 0)
            }
            .map_err(|e| malformed(at, e))?;
            // Only keys with the right wire type yield values, so matching the key is enough.
            match (key, value) {
                (0x0a, Value::Range(v)) => trace_id = v,
                (0x12, Value::Range(v)) => span_id = v,
                (0x22, Value::Range(v)) => parent = v,
                (0x39, Value::U64(v)) => start = v,
                (0x41, Value::U64(v)) => end = v,
                _ => {}
            }
        }
        let body = start_pos..r.pos();
        let Ok(id) = <[u8; 16]>::try_from(r.slice(trace_id.clone())) else {
            return Err(SkimError::InvalidTraceId {
                bits: trace_id.len() * 8,
                at,
            });
        };
        let span_bytes = r.slice(span_id.clone());
        if span_bytes.len() != 8 || span_bytes.iter().all(|&b| b == 0) {
            return Err(SkimError::InvalidSpanId {
                bits: span_id.len() * 8,
                at,
            });
        }
        if !(parent.is_empty() || parent.len() == 8) {
            return Err(SkimError::InvalidParentSpanId {
                bits: parent.len() * 8,
                at,
            });
        }
        let index = &mut self.index;
        let next = u32::try_from(index.traces.len()).unwrap_or(u32::MAX);
        let trace = *index.by_id.entry(u128::from_le_bytes(id)).or_insert(next);
        if trace == next {
            index.traces.push(TraceEntry {
                id,
                span_count: 0,
                start_min: u64::MAX,
                end_max: 0,
            });
        }
        if let Some(t) = index.traces.get_mut(trace as usize) {
            t.span_count = t.span_count.saturating_add(1);
            t.start_min = t.start_min.min(start);
            t.end_max = t.end_max.max(end);
        }
        index.spans.push(SpanEntry { trace, scope, body });
        Ok(())
    }

    // PERFORMANCE-CRITICAL: once per attribute, value, event, link and status of every span.
    /// Validates a whole message of type `msg` at `level`; `depth` counts enclosing `AnyValue`s.
    fn message(&self, mut r: Reader<'_>, msg: Msg, level: u32, depth: u32) -> WireResult<()> {
        while r.has_more() {
            let key_at = r.pos();
            let key = r.varint()?;
            self.field(&mut r, msg, key_at, key, level, depth)?;
        }
        Ok(())
    }

    // PERFORMANCE-CRITICAL: once per field. The common case is one table lookup on the raw key.
    /// Validates one field of a message of type `msg` at `level`, whose raw key `key` was read
    /// at `key_at`.
    #[inline]
    fn field(
        &self,
        r: &mut Reader<'_>,
        msg: Msg,
        key_at: usize,
        key: u64,
        level: u32,
        depth: u32,
    ) -> WireResult<Value> {
        let Some(ty) = fast_spec(msg, key) else {
            return other_field(r, msg, key_at, key, level).map(|()| Value::None);
        };
        // `fast_spec` only matches field numbers up to 16.
        let field = (key >> 3) as u32;
        match ty {
            FieldType::Varint => r.varint().map(|_| Value::None),
            FieldType::Fixed64 => r.fixed64(field).map(Value::U64),
            FieldType::Fixed32 => r.fixed32(field).map(|_| Value::None),
            FieldType::Bytes => r.len_delimited(field).map(Value::Range),
            FieldType::Utf8 => {
                let at = r.pos();
                let range = r.len_delimited(field)?;
                if is_utf8(r.slice(range.clone())) {
                    Ok(Value::Range(range))
                } else {
                    Err(invalid_utf8(at, msg, field))
                }
            }
            FieldType::Message(inner) => self
                .nested(r, field, inner, level, depth)
                .map(|()| Value::None),
        }
    }

    /// A nested message field of type `inner` inside a message at `level` (key already read):
    /// checks the level and value-depth limits and validates it.
    #[inline(always)]
    fn nested(
        &self,
        r: &mut Reader<'_>,
        field: u32,
        inner: Msg,
        level: u32,
        depth: u32,
    ) -> WireResult<()> {
        let at = r.pos();
        let range = r.len_delimited(field)?;
        let level = level + 1;
        if level > MAX_MESSAGE_LEVEL {
            return Err(too_deep(at));
        }
        let depth = if inner == Msg::AnyValue {
            if depth >= self.max_value_depth {
                return Err(value_too_deep(at, self.max_value_depth));
            }
            depth + 1
        } else {
            depth
        };
        let sub = r.sub(range);
        match inner {
            Msg::KeyValue => self.key_value(sub, level, depth),
            Msg::AnyValue => self.any_value(sub, level, depth),
            _ => self.message(sub, inner, level, depth),
        }
    }

    // PERFORMANCE-CRITICAL: the most frequent message; its two fields are matched directly.
    /// A `KeyValue` at `level` (its key already checked against the limits).
    fn key_value(&self, mut r: Reader<'_>, level: u32, depth: u32) -> WireResult<()> {
        while r.has_more() {
            let key_at = r.pos();
            let key = r.varint()?;
            match key {
                0x0a => {
                    let at = r.pos();
                    let range = r.len_delimited(1)?;
                    // Depth 0: an attribute's own key, not one inside a key-value list.
                    if depth == 0 {
                        self.note_attribute_len(range.len());
                    }
                    if !is_utf8(r.slice(range)) {
                        return Err(invalid_utf8(at, Msg::KeyValue, 1));
                    }
                }
                0x12 => self.nested(&mut r, 2, Msg::AnyValue, level, depth)?,
                _ => {
                    self.field(&mut r, Msg::KeyValue, key_at, key, level, depth)?;
                }
            }
        }
        Ok(())
    }

    /// Records an attribute key or string value of `len` bytes (one compare per attribute).
    #[inline(always)]
    fn note_attribute_len(&self, len: usize) {
        if len > self.longest_attribute.get() {
            self.longest_attribute.set(len);
        }
    }

    // PERFORMANCE-CRITICAL: scalar values are matched directly; nested ones take the table path.
    /// An `AnyValue` at `level` and value depth `depth` (both already checked).
    fn any_value(&self, mut r: Reader<'_>, level: u32, depth: u32) -> WireResult<()> {
        while r.has_more() {
            let key_at = r.pos();
            let key = r.varint()?;
            match key {
                0x0a => {
                    let at = r.pos();
                    let range = r.len_delimited(1)?;
                    // Depth 1: an attribute's own value, not one inside an array or list.
                    if depth == 1 {
                        self.note_attribute_len(range.len());
                    }
                    if !is_utf8(r.slice(range)) {
                        return Err(invalid_utf8(at, Msg::AnyValue, 1));
                    }
                }
                0x10 | 0x18 => {
                    r.varint()?;
                }
                0x21 => {
                    r.fixed64(4)?;
                }
                _ => {
                    self.field(&mut r, Msg::AnyValue, key_at, key, level, depth)?;
                }
            }
        }
        Ok(())
    }
}

/// A field the hot path did not match: an unknown field (skipped), a known field with the
/// wrong wire type, or an invalid key (both errors).
#[cold]
#[inline(never)]
fn other_field(
    r: &mut Reader<'_>,
    msg: Msg,
    key_at: usize,
    key: u64,
    level: u32,
) -> WireResult<()> {
    let (field, wt) = r.split_key(key_at, key)?;
    match field_spec(msg, field) {
        Some((ty, name)) => r.check_wire_type(field, name, wt, ty.wire_type()),
        None => r.skip(field, wt, level),
    }
}

#[cold]
fn invalid_utf8(offset: usize, msg: Msg, field: u32) -> Box<WireError> {
    let name = field_spec(msg, field).map_or("string", |(_, name)| name);
    Box::new(WireError {
        offset,
        problem: WireProblem::InvalidUtf8 { field, name },
    })
}

#[cold]
fn too_deep(offset: usize) -> Box<WireError> {
    Box::new(WireError {
        offset,
        problem: WireProblem::TooDeep {
            limit: MAX_MESSAGE_LEVEL,
        },
    })
}

#[cold]
fn value_too_deep(offset: usize, limit: u32) -> Box<WireError> {
    Box::new(WireError {
        offset,
        problem: WireProblem::ValueTooDeep { limit },
    })
}

/// Reads a `string` envelope field (its key already read) and checks its UTF-8.
fn utf8_field(
    r: &mut Reader<'_>,
    field: u32,
    name: &'static str,
    wt: WireType,
) -> WireResult<Range<usize>> {
    r.check_wire_type(field, name, wt, WireType::Len)?;
    let at = r.pos();
    let range = r.len_delimited(field)?;
    if is_utf8(r.slice(range.clone())) {
        Ok(range)
    } else {
        Err(Box::new(WireError {
            offset: at,
            problem: WireProblem::InvalidUtf8 { field, name },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_table_rows_follow_the_enum_order() {
        for (i, msg) in ALL_MSGS.iter().enumerate() {
            assert_eq!(*msg as usize, i);
        }
        // Span.flags is field 16 (fixed32): key 0x85 is in the table, the varint key 0x80 is not.
        assert!(matches!(
            fast_spec(Msg::Span, 0x85),
            Some(FieldType::Fixed32)
        ));
        assert!(fast_spec(Msg::Span, 0x80).is_none());
        assert!(fast_spec(Msg::Span, 17 << 3 | 2).is_none());
        assert!(matches!(
            fast_spec(Msg::KeyValue, 0x12),
            Some(FieldType::Message(Msg::AnyValue))
        ));
    }
}
