//! The `tc2` block schema: one Parquet row per span.
//!
//! Rows are sorted by (trace ID, span start); the spans of one trace are contiguous (they may
//! straddle a row-group boundary). The file's key-value metadata carries
//! [`FORMAT_KEY`] = [`FORMAT_VERSION`], and the Arrow schema below is embedded (`ARROW:schema`).
//!
//! | # | column | Arrow type | meaning |
//! |---|---|---|---|
//! | 0 | `trace_id` | FixedSizeBinary(16) | the trace; Parquet sort key 1 |
//! | 1 | `trace_start_unix_nano` | UInt64 | min span start of the trace in this block |
//! | 2 | `trace_duration_nano` | UInt64 | max span end − trace start (saturating) |
//! | 3 | `root_service_name` | Dictionary(Int32, Utf8) | `service.name` of the root span (see below) |
//! | 4 | `root_span_name` | Dictionary(Int32, Utf8) | name of the root span |
//! | 5 | `span_id` | FixedSizeBinary(8) | the span's ID (zeros when it is not 8 bytes, see `irregular_ids`) |
//! | 6 | `parent_index` | Int32 | row offset, within the trace's rows in this block, of the parent span; −1 if none / not found |
//! | 7 | `parent_span_id` | FixedSizeBinary(8), nullable | set only when the span has an 8-byte parent ID that is not in this block's rows of the trace |
//! | 8 | `irregular_ids` | Binary, nullable | see "irregular IDs"; null for well-formed spans |
//! | 9 | `name` | Utf8 | span name |
//! | 10 | `kind` | Int32 | `SpanKind` value (Int32, not Int8: unknown enum values survive, and Parquet stores Int8 as INT32 anyway) |
//! | 11 | `start_offset_nano` | UInt64 | span start − trace start; Parquet sort key 2 |
//! | 12 | `duration_nano` | UInt64 | end − start, saturating at 0 |
//! | 13 | `end_before_start_unix_nano` | UInt64, nullable | the span's end time, set only when end < start (so it round-trips) |
//! | 14 | `status_code` | Int32, nullable | `Status.code`; null when the span has no `Status` message |
//! | 15 | `status_message` | Utf8 | `Status.message` ("" without status) |
//! | 16 | `trace_state` | Utf8 | W3C trace state |
//! | 17 | `flags` | UInt32 | span flags |
//! | 18–20 | `dropped_{attributes,events,links}_count` | UInt32 | OTLP dropped counts |
//! | 21 | `service_name` | Dictionary(Int32, Utf8) | resource attribute `service.name` (string value), "" if absent |
//! | 22 | `resource` | Dictionary(Int32, Binary) | [`encode_resource`]: the span's resource and resource schema URL |
//! | 23 | `scope` | Dictionary(Int32, Binary) | [`encode_scope`]: the span's instrumentation scope and scope schema URL |
//! | 24 | `attributes` | List<Struct{key, str, int, double, bool, other}> | span attributes, in order |
//! | 25 | `events` | List<Struct{time_offset_nano, name, attributes, dropped}> | span events, in order |
//! | 26 | `links` | List<Struct{trace_id, span_id, trace_state, attributes, dropped, flags}> | span links, in order |
//! | 27 | `dedicated_layout` | Dictionary(Int32, Binary), nullable | positions of the span's dedicated attributes in its attribute list ([`super::dedicated`]) |
//! | 28–45 | `attr_<key>` | Utf8 / Dictionary(Int32, Utf8) / Int64, nullable | one dedicated span attribute each ([`super::dedicated::DEDICATED`]) |
//!
//! **Versions.** `tc2` = `tc1` + columns 27–45; its `attributes` column holds the span
//! attributes that did not go to a dedicated column. `tc1` blocks (columns 0–26, every
//! attribute in `attributes`) are still read: readers project only the columns a block has
//! ([`project`]) and treat absent dedicated columns as empty.
//!
//! Column encodings (dictionary or not, PLAIN / BYTE_STREAM_SPLIT) and page sizes are writer
//! choices, listed with their measurements in [`super::encoder`]; readers need not know them.
//!
//! **Root span**: the earliest-starting span with an empty parent ID; if there is none, the
//! earliest span. **Trace-level columns** repeat on every row of the trace (RLE/dictionary makes
//! them nearly free) and describe the spans of the trace *in this block* only.
//!
//! **Attributes**: one struct per `KeyValue`. A string, int, double or bool value sets exactly that
//! field. Arrays, key-value lists and bytes set `other` to the prost-encoded `AnyValue`; a
//! `KeyValue` whose `value` is an `AnyValue` with no value set stores `other` = empty bytes (the
//! encoding of an empty `AnyValue`); a `KeyValue` with no `value` at all leaves every value field null.
//!
//! **Events**: `time_offset_nano` = event time − span start in wrapping 64-bit arithmetic, read as
//! Int64 (negative when the event precedes the span); the exact event time is
//! `start.wrapping_add(offset as u64)`. `attributes` = the prost-encoded `KeyValueList`.
//!
//! **Links**: `trace_id`/`span_id` are Binary, not fixed-size, so link IDs of any length (including
//! empty) round-trip; links are rarely queried by ID and are few. `attributes` = encoded `KeyValueList`.
//!
//! **Irregular IDs**: a span is *regular* when its `trace_id` equals the block trace ID, its
//! `span_id` is 8 bytes and its `parent_span_id` is empty or 8 bytes. For any other span,
//! `irregular_ids` holds a prost-encoded `Span` with exactly its `trace_id`, `span_id` and
//! `parent_span_id` (nothing else), and those three fields are taken from it on read; its
//! `parent_index` is −1 and `parent_span_id` is null. This keeps the encoder total (no span is
//! refused for its IDs) and the round trip exact.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use prost::Message as _;
use tracecore_proto::otlp::{InstrumentationScope, Resource};

/// Parquet key-value metadata key naming the block format.
pub const FORMAT_KEY: &str = "tracecore.block.format";
/// The block format this module writes and reads (also `meta.json`'s `format` and `version`).
pub const FORMAT_VERSION: &str = "tc2";
/// The previous format, still read: no dedicated columns.
pub const FORMAT_TC1: &str = "tc1";
/// Columns of a `tc1` block (the first columns of `tc2`).
pub const TC1_COLUMNS: usize = col::DEDICATED_LAYOUT;

/// Top-level column indices (also the Parquet leaf indices: every column before
/// [`ATTRIBUTES`] is flat, so field index = leaf index there).
pub mod col {
    pub const TRACE_ID: usize = 0;
    pub const TRACE_START_UNIX_NANO: usize = 1;
    pub const TRACE_DURATION_NANO: usize = 2;
    pub const ROOT_SERVICE_NAME: usize = 3;
    pub const ROOT_SPAN_NAME: usize = 4;
    pub const SPAN_ID: usize = 5;
    pub const PARENT_INDEX: usize = 6;
    pub const PARENT_SPAN_ID: usize = 7;
    pub const IRREGULAR_IDS: usize = 8;
    pub const NAME: usize = 9;
    pub const KIND: usize = 10;
    pub const START_OFFSET_NANO: usize = 11;
    pub const DURATION_NANO: usize = 12;
    pub const END_BEFORE_START_UNIX_NANO: usize = 13;
    pub const STATUS_CODE: usize = 14;
    pub const STATUS_MESSAGE: usize = 15;
    pub const TRACE_STATE: usize = 16;
    pub const FLAGS: usize = 17;
    pub const DROPPED_ATTRIBUTES_COUNT: usize = 18;
    pub const DROPPED_EVENTS_COUNT: usize = 19;
    pub const DROPPED_LINKS_COUNT: usize = 20;
    pub const SERVICE_NAME: usize = 21;
    pub const RESOURCE: usize = 22;
    pub const SCOPE: usize = 23;
    pub const ATTRIBUTES: usize = 24;
    pub const EVENTS: usize = 25;
    pub const LINKS: usize = 26;
    pub const DEDICATED_LAYOUT: usize = 27;
    /// The first dedicated attribute column; slot `s` is at `DEDICATED_FIRST + s`.
    pub const DEDICATED_FIRST: usize = 28;
    /// Number of top-level columns.
    pub const COUNT: usize = DEDICATED_FIRST + crate::block::dedicated::COUNT;
}

/// The column of dedicated slot `slot`.
pub const fn dedicated_column(slot: usize) -> usize {
    col::DEDICATED_FIRST + slot
}

/// Top-level column names, indexed by [`col`].
pub const COLUMN_NAMES: [&str; col::COUNT] = {
    const TC1: [&str; TC1_COLUMNS] = [
        "trace_id",
        "trace_start_unix_nano",
        "trace_duration_nano",
        "root_service_name",
        "root_span_name",
        "span_id",
        "parent_index",
        "parent_span_id",
        "irregular_ids",
        "name",
        "kind",
        "start_offset_nano",
        "duration_nano",
        "end_before_start_unix_nano",
        "status_code",
        "status_message",
        "trace_state",
        "flags",
        "dropped_attributes_count",
        "dropped_events_count",
        "dropped_links_count",
        "service_name",
        "resource",
        "scope",
        "attributes",
        "events",
        "links",
    ];
    let mut names = [""; col::COUNT];
    let mut i = 0;
    while i < TC1_COLUMNS {
        names[i] = TC1[i];
        i += 1;
    }
    names[col::DEDICATED_LAYOUT] = "dedicated_layout";
    let mut s = 0;
    while s < super::dedicated::COUNT {
        names[col::DEDICATED_FIRST + s] = super::dedicated::DEDICATED[s].column;
        s += 1;
    }
    names
};

/// Child indices of the `attributes` list's struct.
pub mod attr {
    pub const KEY: usize = 0;
    pub const STR: usize = 1;
    pub const INT: usize = 2;
    pub const DOUBLE: usize = 3;
    pub const BOOL: usize = 4;
    pub const OTHER: usize = 5;
}

/// Child indices of the `events` list's struct.
pub mod event {
    pub const TIME_OFFSET_NANO: usize = 0;
    pub const NAME: usize = 1;
    pub const ATTRIBUTES: usize = 2;
    pub const DROPPED: usize = 3;
}

/// Child indices of the `links` list's struct.
pub mod link {
    pub const TRACE_ID: usize = 0;
    pub const SPAN_ID: usize = 1;
    pub const TRACE_STATE: usize = 2;
    pub const ATTRIBUTES: usize = 3;
    pub const DROPPED: usize = 4;
    pub const FLAGS: usize = 5;
}

/// Name of the item field of every list column (Parquet's LIST convention).
pub const LIST_ITEM: &str = "element";

fn dictionary(value: DataType) -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(value))
}

/// Fields of one `attributes` entry.
pub fn attribute_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("str", DataType::Utf8, true),
        Field::new("int", DataType::Int64, true),
        Field::new("double", DataType::Float64, true),
        Field::new("bool", DataType::Boolean, true),
        Field::new("other", DataType::Binary, true),
    ])
}

/// Fields of one `events` entry.
pub fn event_fields() -> Fields {
    Fields::from(vec![
        Field::new("time_offset_nano", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("attributes", DataType::Binary, false),
        Field::new("dropped", DataType::UInt32, false),
    ])
}

/// Fields of one `links` entry.
pub fn link_fields() -> Fields {
    Fields::from(vec![
        Field::new("trace_id", DataType::Binary, false),
        Field::new("span_id", DataType::Binary, false),
        Field::new("trace_state", DataType::Utf8, false),
        Field::new("attributes", DataType::Binary, false),
        Field::new("dropped", DataType::UInt32, false),
        Field::new("flags", DataType::UInt32, false),
    ])
}

/// The list item field wrapping a struct of `fields`.
pub fn list_item(fields: Fields) -> Arc<Field> {
    Arc::new(Field::new(LIST_ITEM, DataType::Struct(fields), false))
}

/// The Arrow schema of a `tc2` block (shared, built once).
pub fn block_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(build_schema).clone()
}

fn build_schema() -> SchemaRef {
    use DataType::*;
    let tc1: [(DataType, bool); TC1_COLUMNS] = [
        (FixedSizeBinary(16), false),
        (UInt64, false),
        (UInt64, false),
        (dictionary(Utf8), false),
        (dictionary(Utf8), false),
        (FixedSizeBinary(8), false),
        (Int32, false),
        (FixedSizeBinary(8), true),
        (Binary, true),
        (Utf8, false),
        (Int32, false),
        (UInt64, false),
        (UInt64, false),
        (UInt64, true),
        (Int32, true),
        (Utf8, false),
        (Utf8, false),
        (UInt32, false),
        (UInt32, false),
        (UInt32, false),
        (UInt32, false),
        (dictionary(Utf8), false),
        (dictionary(Binary), false),
        (dictionary(Binary), false),
        (List(list_item(attribute_fields())), false),
        (List(list_item(event_fields())), false),
        (List(list_item(link_fields())), false),
    ];
    let dedicated = super::dedicated::DEDICATED
        .iter()
        .map(|d| (super::dedicated::data_type(d.kind), true));
    let types = tc1
        .into_iter()
        .chain([(dictionary(Binary), true)])
        .chain(dedicated);
    let fields: Vec<Field> = COLUMN_NAMES
        .iter()
        .zip(types)
        .map(|(name, (data_type, nullable))| Field::new(*name, data_type, nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

/// A projection of the top-level `columns` that a block has: a `tc1` block has no column at
/// or after [`TC1_COLUMNS`], and those are left out.
pub fn project(
    schema: &parquet::schema::types::SchemaDescriptor,
    columns: impl IntoIterator<Item = usize>,
) -> parquet::arrow::ProjectionMask {
    let roots = schema.root_schema().get_fields().len();
    parquet::arrow::ProjectionMask::roots(schema, columns.into_iter().filter(|&c| c < roots))
}

/// Names of the `attributes` entry fields, by [`attr`] index.
pub const ATTRIBUTE_CHILDREN: [&str; 6] = ["key", "str", "int", "double", "bool", "other"];

/// Like [`project`], but of the `attributes` list only the entry fields `children` ([`attr`]
/// indices; the others are neither fetched nor decoded).
pub fn project_attribute_children(
    schema: &parquet::schema::types::SchemaDescriptor,
    columns: &[usize],
    children: &[usize],
) -> parquet::arrow::ProjectionMask {
    let roots = schema.root_schema().get_fields().len();
    let names: Vec<&str> = children
        .iter()
        .filter_map(|&c| ATTRIBUTE_CHILDREN.get(c).copied())
        .collect();
    let leaves = (0..schema.num_columns()).filter(|&leaf| {
        let root = schema.get_column_root_idx(leaf);
        root < roots
            && columns.contains(&root)
            && (root != col::ATTRIBUTES || names.contains(&schema.column(leaf).name()))
    });
    parquet::arrow::ProjectionMask::leaves(schema, leaves)
}

/// Encodes the `resource` column value: a `ResourceSpans` message with only `resource` (field 1)
/// and `schema_url` (field 3) set, appended to `out`. Decode with `ResourceSpans::decode`.
pub fn encode_resource(resource: Option<&Resource>, schema_url: &str, out: &mut Vec<u8>) {
    if let Some(resource) = resource {
        prost::encoding::message::encode(1, resource, out);
    }
    if !schema_url.is_empty() {
        encode_str_field(3, schema_url, out);
    }
}

/// Encodes the `scope` column value: a `ScopeSpans` message with only `scope` (field 1) and
/// `schema_url` (field 3) set, appended to `out`. Decode with `ScopeSpans::decode`.
pub fn encode_scope(scope: Option<&InstrumentationScope>, schema_url: &str, out: &mut Vec<u8>) {
    if let Some(scope) = scope {
        prost::encoding::message::encode(1, scope, out);
    }
    if !schema_url.is_empty() {
        encode_str_field(3, schema_url, out);
    }
}

/// Appends a protobuf string field without requiring an owned `String`.
fn encode_str_field(tag: u32, value: &str, out: &mut Vec<u8>) {
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(value.len() as u64, out);
    out.extend_from_slice(value.as_bytes());
}

/// Encodes a `KeyValueList` holding `values` (field 1, repeated) into `out`, without cloning them.
pub fn encode_key_value_list(values: &[tracecore_proto::otlp::KeyValue], out: &mut Vec<u8>) {
    for value in values {
        prost::encoding::message::encode(1, value, out);
    }
}

/// Size of [`encode_key_value_list`]'s output, for reserving.
pub fn key_value_list_len(values: &[tracecore_proto::otlp::KeyValue]) -> usize {
    values
        .iter()
        .map(|v| {
            let len = v.encoded_len();
            1 + prost::encoding::encoded_len_varint(len as u64) + len
        })
        .sum()
}

/// What the `service.name` attribute of an encoded `resource` column value is, without
/// decoding the resource: `None` when absent, `Some(true)` for a string value, `Some(false)`
/// for any other (or no) value. The first attribute with the key counts, as in TraceQL.
// PERFORMANCE-CRITICAL: once per distinct resource of every searched batch; no allocation.
pub fn resource_service_name(encoded: &[u8]) -> Result<Option<bool>, super::error::BlockError> {
    use super::wire::{Reader, Value};
    let len = |v: &Value| match v {
        Value::Len(r) => Some(r.clone()),
        _ => None,
    };
    let mut spans = Reader::new(encoded, 0..encoded.len());
    while let Some((field, value)) = spans.next_field()? {
        let Some(resource) = len(&value).filter(|_| field == 1) else {
            continue;
        };
        let mut attrs = Reader::new(encoded, resource);
        while let Some((field, value)) = attrs.next_field()? {
            let Some(kv) = len(&value).filter(|_| field == 1) else {
                continue;
            };
            let (mut key, mut value_kind) = (None, None);
            let mut fields = Reader::new(encoded, kv);
            while let Some((field, value)) = fields.next_field()? {
                match (field, len(&value)) {
                    (1, Some(k)) => key = Some(k),
                    (2, Some(any)) => {
                        // The oneof's last field wins, as when prost decodes it.
                        let mut any = Reader::new(encoded, any);
                        let mut last = value_kind.unwrap_or(0);
                        while let Some((f, _)) = any.next_field()? {
                            last = f;
                        }
                        value_kind = Some(last);
                    }
                    _ => {}
                }
            }
            if key.is_some_and(|k| &encoded[k] == b"service.name") {
                return Ok(Some(value_kind == Some(1)));
            }
        }
    }
    Ok(None)
}
