//! Decoded `tc2` (or `tc1`) rows of one trace → OTLP `ResourceSpans` (the read side of [`super::schema`]).

use std::collections::HashMap;

use arrow::array::{
    Array, BinaryArray, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, StructArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::Int32Type;
use prost::Message as _;
use tracecore_proto::otlp::{Event, KeyValueList, Link, ResourceSpans, ScopeSpans, Span, Status};

use super::attributes::{AttributeColumnReader, downcast};
use super::dedicated::{self, DedicatedColumnsReader};
use super::error::BlockError;
use super::schema::{COLUMN_NAMES, col, event, link};

/// Top-level columns [`TraceDecoder`] needs (the projection of a by-ID read): every column
/// but the trace-level ones, which the decoder does not need.
pub(crate) const DECODED_COLUMNS: [usize; 22 + 1 + dedicated::COUNT] = {
    const TC1: [usize; 22] = [
        col::TRACE_START_UNIX_NANO,
        col::SPAN_ID,
        col::PARENT_INDEX,
        col::PARENT_SPAN_ID,
        col::IRREGULAR_IDS,
        col::NAME,
        col::KIND,
        col::START_OFFSET_NANO,
        col::DURATION_NANO,
        col::END_BEFORE_START_UNIX_NANO,
        col::STATUS_CODE,
        col::STATUS_MESSAGE,
        col::TRACE_STATE,
        col::FLAGS,
        col::DROPPED_ATTRIBUTES_COUNT,
        col::DROPPED_EVENTS_COUNT,
        col::DROPPED_LINKS_COUNT,
        col::RESOURCE,
        col::SCOPE,
        col::ATTRIBUTES,
        col::EVENTS,
        col::LINKS,
    ];
    let mut out = [0; 22 + 1 + dedicated::COUNT];
    let mut i = 0;
    while i < TC1.len() {
        out[i] = TC1[i];
        i += 1;
    }
    out[22] = col::DEDICATED_LAYOUT;
    let mut s = 0;
    while s < dedicated::COUNT {
        out[23 + s] = col::DEDICATED_FIRST + s;
        s += 1;
    }
    out
};

/// One decoded row before parents are resolved and spans are grouped.
struct DecodedRow {
    span: Span,
    parent_index: i32,
    resource: usize,
    scope: usize,
}

/// Accumulates the rows of one trace, in row order, across batches.
pub(crate) struct TraceDecoder {
    trace_id: [u8; 16],
    rows: Vec<DecodedRow>,
    resources: Vec<ResourceSpans>,
    resource_index: HashMap<Vec<u8>, usize>,
    /// Per resource: scope bytes → index in its `scope_spans`.
    scope_index: Vec<HashMap<Vec<u8>, usize>>,
}

impl TraceDecoder {
    pub(crate) fn new(trace_id: &[u8; 16]) -> Self {
        TraceDecoder {
            trace_id: *trace_id,
            rows: Vec::new(),
            resources: Vec::new(),
            resource_index: HashMap::new(),
            scope_index: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Decodes every row of `batch` (all rows must belong to the trace).
    pub(crate) fn push_batch(&mut self, batch: &RecordBatch) -> Result<(), BlockError> {
        let c = BatchColumns::new(batch)?;
        for row in 0..batch.num_rows() {
            let resource = self.resource_for(c.resource.bytes(row)?)?;
            let scope = self.scope_for(resource, c.scope.bytes(row)?)?;
            let start = c
                .trace_start
                .value(row)
                .wrapping_add(c.start_offset.value(row));
            let end = if c.end_before_start.is_valid(row) {
                c.end_before_start.value(row)
            } else {
                start.wrapping_add(c.duration.value(row))
            };
            let mut span = Span {
                trace_id: self.trace_id.to_vec(),
                span_id: c.span_id.value(row).to_vec(),
                trace_state: c.trace_state.value(row).to_owned(),
                parent_span_id: if c.parent_span_id.is_valid(row) {
                    c.parent_span_id.value(row).to_vec()
                } else {
                    Vec::new()
                },
                flags: c.flags.value(row),
                name: c.name.value(row).to_owned(),
                kind: c.kind.value(row),
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes: c.attributes(row)?,
                dropped_attributes_count: c.dropped_attributes.value(row),
                events: c.events(row, start)?,
                dropped_events_count: c.dropped_events.value(row),
                links: c.links(row)?,
                dropped_links_count: c.dropped_links.value(row),
                status: c.status_code.is_valid(row).then(|| Status {
                    message: c.status_message.value(row).to_owned(),
                    code: c.status_code.value(row),
                }),
            };
            let mut parent_index = c.parent_index.value(row);
            if c.irregular_ids.is_valid(row) {
                let ids = Span::decode(c.irregular_ids.value(row)).map_err(|source| {
                    BlockError::Protobuf {
                        column: "irregular_ids",
                        source,
                    }
                })?;
                span.trace_id = ids.trace_id;
                span.span_id = ids.span_id;
                span.parent_span_id = ids.parent_span_id;
                parent_index = -1;
            }
            self.rows.push(DecodedRow {
                span,
                parent_index,
                resource,
                scope,
            });
        }
        Ok(())
    }

    fn resource_for(&mut self, bytes: &[u8]) -> Result<usize, BlockError> {
        if let Some(&index) = self.resource_index.get(bytes) {
            return Ok(index);
        }
        let resource = ResourceSpans::decode(bytes).map_err(|source| BlockError::Protobuf {
            column: "resource",
            source,
        })?;
        let index = self.resources.len();
        self.resources.push(resource);
        self.scope_index.push(HashMap::new());
        self.resource_index.insert(bytes.to_vec(), index);
        Ok(index)
    }

    fn scope_for(&mut self, resource: usize, bytes: &[u8]) -> Result<usize, BlockError> {
        if let Some(&index) = self.scope_index[resource].get(bytes) {
            return Ok(index);
        }
        let scope = ScopeSpans::decode(bytes).map_err(|source| BlockError::Protobuf {
            column: "scope",
            source,
        })?;
        let scopes = &mut self.resources[resource].scope_spans;
        let index = scopes.len();
        scopes.push(scope);
        self.scope_index[resource].insert(bytes.to_vec(), index);
        Ok(index)
    }

    /// Resolves in-trace parents and groups the spans under their resource and scope
    /// (resources, scopes and spans in order of first row).
    pub(crate) fn finish(mut self) -> Result<Vec<ResourceSpans>, BlockError> {
        for i in 0..self.rows.len() {
            let parent_index = self.rows[i].parent_index;
            if parent_index < 0 {
                continue;
            }
            let parent = self.rows.get(parent_index as usize).ok_or_else(|| {
                BlockError::Corrupt(format!(
                    "trace {} row {i} has parent_index {parent_index} beyond its {} rows",
                    hex::encode(self.trace_id),
                    self.rows.len()
                ))
            })?;
            let parent_id = parent.span.span_id.clone();
            self.rows[i].span.parent_span_id = parent_id;
        }
        for row in self.rows {
            self.resources[row.resource].scope_spans[row.scope]
                .spans
                .push(row.span);
        }
        Ok(self.resources)
    }
}

/// A `Dictionary(Int32, Binary)` column.
struct BinaryDictionary<'a> {
    column: &'static str,
    keys: &'a Int32Array,
    values: &'a BinaryArray,
}

impl<'a> BinaryDictionary<'a> {
    fn new(array: &'a dyn Array, column: &'static str) -> Result<Self, BlockError> {
        let dictionary: &DictionaryArray<Int32Type> = downcast(array, column)?;
        Ok(BinaryDictionary {
            column,
            keys: dictionary.keys(),
            values: downcast(dictionary.values().as_ref(), column)?,
        })
    }

    fn bytes(&self, row: usize) -> Result<&'a [u8], BlockError> {
        let key = self.keys.value(row);
        if self.keys.is_null(row) || key < 0 || key as usize >= self.values.len() {
            return Err(BlockError::Corrupt(format!(
                "column {} row {row} has dictionary key {key} outside its {} values",
                self.column,
                self.values.len()
            )));
        }
        Ok(self.values.value(key as usize))
    }
}

/// Typed views of the decoded columns of one batch.
struct BatchColumns<'a> {
    trace_start: &'a UInt64Array,
    span_id: &'a FixedSizeBinaryArray,
    parent_index: &'a Int32Array,
    parent_span_id: &'a FixedSizeBinaryArray,
    irregular_ids: &'a BinaryArray,
    name: &'a StringArray,
    kind: &'a Int32Array,
    start_offset: &'a UInt64Array,
    duration: &'a UInt64Array,
    end_before_start: &'a UInt64Array,
    status_code: &'a Int32Array,
    status_message: &'a StringArray,
    trace_state: &'a StringArray,
    flags: &'a UInt32Array,
    dropped_attributes: &'a UInt32Array,
    dropped_events: &'a UInt32Array,
    dropped_links: &'a UInt32Array,
    resource: BinaryDictionary<'a>,
    scope: BinaryDictionary<'a>,
    attributes: AttributeColumnReader<'a>,
    /// `None` for a `tc1` batch (no dedicated columns).
    dedicated: Option<DedicatedColumnsReader<'a>>,
    events: &'a ListArray,
    event_time: &'a Int64Array,
    event_name: &'a StringArray,
    event_attributes: &'a BinaryArray,
    event_dropped: &'a UInt32Array,
    links: &'a ListArray,
    link_trace_id: &'a BinaryArray,
    link_span_id: &'a BinaryArray,
    link_trace_state: &'a StringArray,
    link_attributes: &'a BinaryArray,
    link_dropped: &'a UInt32Array,
    link_flags: &'a UInt32Array,
}

fn column(batch: &RecordBatch, index: usize) -> Result<&dyn Array, BlockError> {
    batch
        .column_by_name(COLUMN_NAMES[index])
        .map(|c| c.as_ref())
        .ok_or_else(|| BlockError::Corrupt(format!("column {} missing", COLUMN_NAMES[index])))
}

fn typed<T: 'static>(batch: &RecordBatch, index: usize) -> Result<&T, BlockError> {
    downcast(column(batch, index)?, COLUMN_NAMES[index])
}

fn list_entries<'a>(list: &'a ListArray, column: &str) -> Result<&'a StructArray, BlockError> {
    downcast(list.values().as_ref(), column)
}

fn child<'a, T: 'static>(
    entries: &'a StructArray,
    index: usize,
    column: &str,
) -> Result<&'a T, BlockError> {
    if index >= entries.num_columns() {
        return Err(BlockError::Corrupt(format!(
            "column {column} has {} fields, expected more than {index}",
            entries.num_columns()
        )));
    }
    downcast(entries.column(index).as_ref(), column)
}

fn decode_key_values(
    bytes: &[u8],
    column: &'static str,
) -> Result<Vec<tracecore_proto::otlp::KeyValue>, BlockError> {
    KeyValueList::decode(bytes)
        .map(|list| list.values)
        .map_err(|source| BlockError::Protobuf { column, source })
}

/// The dedicated columns of a `tc2` batch; `None` when it has none (`tc1`).
fn dedicated_columns(
    batch: &RecordBatch,
) -> Result<Option<DedicatedColumnsReader<'_>>, BlockError> {
    let Some(layout) = batch.column_by_name(COLUMN_NAMES[col::DEDICATED_LAYOUT]) else {
        return Ok(None);
    };
    let columns = (0..dedicated::COUNT)
        .map(|s| column(batch, col::DEDICATED_FIRST + s))
        .collect::<Result<Vec<_>, BlockError>>()?;
    Ok(Some(DedicatedColumnsReader::new(
        layout.as_ref(),
        &columns,
    )?))
}

impl<'a> BatchColumns<'a> {
    fn new(batch: &'a RecordBatch) -> Result<Self, BlockError> {
        let events: &ListArray = typed(batch, col::EVENTS)?;
        let event_entries = list_entries(events, "events")?;
        let links: &ListArray = typed(batch, col::LINKS)?;
        let link_entries = list_entries(links, "links")?;
        Ok(BatchColumns {
            trace_start: typed(batch, col::TRACE_START_UNIX_NANO)?,
            span_id: typed(batch, col::SPAN_ID)?,
            parent_index: typed(batch, col::PARENT_INDEX)?,
            parent_span_id: typed(batch, col::PARENT_SPAN_ID)?,
            irregular_ids: typed(batch, col::IRREGULAR_IDS)?,
            name: typed(batch, col::NAME)?,
            kind: typed(batch, col::KIND)?,
            start_offset: typed(batch, col::START_OFFSET_NANO)?,
            duration: typed(batch, col::DURATION_NANO)?,
            end_before_start: typed(batch, col::END_BEFORE_START_UNIX_NANO)?,
            status_code: typed(batch, col::STATUS_CODE)?,
            status_message: typed(batch, col::STATUS_MESSAGE)?,
            trace_state: typed(batch, col::TRACE_STATE)?,
            flags: typed(batch, col::FLAGS)?,
            dropped_attributes: typed(batch, col::DROPPED_ATTRIBUTES_COUNT)?,
            dropped_events: typed(batch, col::DROPPED_EVENTS_COUNT)?,
            dropped_links: typed(batch, col::DROPPED_LINKS_COUNT)?,
            resource: BinaryDictionary::new(column(batch, col::RESOURCE)?, "resource")?,
            scope: BinaryDictionary::new(column(batch, col::SCOPE)?, "scope")?,
            attributes: AttributeColumnReader::new(column(batch, col::ATTRIBUTES)?)?,
            dedicated: dedicated_columns(batch)?,
            events,
            event_time: child(event_entries, event::TIME_OFFSET_NANO, "events")?,
            event_name: child(event_entries, event::NAME, "events")?,
            event_attributes: child(event_entries, event::ATTRIBUTES, "events")?,
            event_dropped: child(event_entries, event::DROPPED, "events")?,
            links,
            link_trace_id: child(link_entries, link::TRACE_ID, "links")?,
            link_span_id: child(link_entries, link::SPAN_ID, "links")?,
            link_trace_state: child(link_entries, link::TRACE_STATE, "links")?,
            link_attributes: child(link_entries, link::ATTRIBUTES, "links")?,
            link_dropped: child(link_entries, link::DROPPED, "links")?,
            link_flags: child(link_entries, link::FLAGS, "links")?,
        })
    }

    /// The span attributes of `row`, dedicated ones back in their places.
    fn attributes(&self, row: usize) -> Result<Vec<tracecore_proto::otlp::KeyValue>, BlockError> {
        let generic = self.attributes.row(row)?;
        match &self.dedicated {
            Some(d) => d.merge(row, generic),
            None => Ok(generic),
        }
    }

    fn events(&self, row: usize, span_start: u64) -> Result<Vec<Event>, BlockError> {
        let offsets = self.events.value_offsets();
        let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
        (from..to)
            .map(|i| {
                Ok(Event {
                    time_unix_nano: span_start.wrapping_add(self.event_time.value(i) as u64),
                    name: self.event_name.value(i).to_owned(),
                    attributes: decode_key_values(
                        self.event_attributes.value(i),
                        "events.attributes",
                    )?,
                    dropped_attributes_count: self.event_dropped.value(i),
                })
            })
            .collect()
    }

    fn links(&self, row: usize) -> Result<Vec<Link>, BlockError> {
        let offsets = self.links.value_offsets();
        let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
        (from..to)
            .map(|i| {
                Ok(Link {
                    trace_id: self.link_trace_id.value(i).to_vec(),
                    span_id: self.link_span_id.value(i).to_vec(),
                    trace_state: self.link_trace_state.value(i).to_owned(),
                    attributes: decode_key_values(
                        self.link_attributes.value(i),
                        "links.attributes",
                    )?,
                    dropped_attributes_count: self.link_dropped.value(i),
                    flags: self.link_flags.value(i),
                })
            })
            .collect()
    }
}
