//! Arrow column builders for one batch of `tc2` rows (the write side of [`super::schema`]).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BinaryArray, BinaryBuilder, DictionaryArray, FixedSizeBinaryArray, Int32Builder,
    RecordBatch, StringArray, UInt32Builder, UInt64Builder,
};
use arrow::buffer::{Buffer, OffsetBuffer};
use arrow::datatypes::Int32Type;

use super::attributes::AttributeColumnBuilder;
use super::dedicated::{DedicatedColumnsBuilder, SlotMask};
use super::error::BlockError;
use super::hash::SeededXxh3;
use super::nested::{EventColumnBuilder, LinkColumnBuilder, utf8};
use super::otlp::{SpanRec, TraceRecords};
use super::schema::block_schema;

/// Values of one row that the encoder computes from the trace (everything else comes from the span).
pub(crate) struct RowContext<'a> {
    pub trace_id: &'a [u8; 16],
    pub trace_start: u64,
    pub trace_duration: u64,
    pub root_service_key: i32,
    pub root_span_name_key: i32,
    pub service_key: i32,
    pub resource_key: i32,
    pub scope_key: i32,
    /// `parent_index` column value.
    pub parent_index: i32,
    /// `parent_span_id` column value.
    pub parent_span_id: Option<[u8; 8]>,
    /// `irregular_ids` column value (already encoded), if the span is irregular.
    pub irregular_ids: Option<&'a [u8]>,
}

/// Deduplicates the values of a dictionary column within one batch.
#[derive(Default)]
pub(crate) struct Interner {
    keys: HashMap<Box<[u8]>, i32, SeededXxh3>,
    offsets: Vec<i32>,
    values: Vec<u8>,
}

impl Interner {
    /// The dictionary key of `value`, adding it if new.
    pub(crate) fn intern(&mut self, value: &[u8]) -> i32 {
        if let Some(key) = self.keys.get(value) {
            return *key;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let key = self.keys.len() as i32;
        self.values.extend_from_slice(value);
        self.offsets.push(self.values.len() as i32);
        self.keys.insert(value.into(), key);
        key
    }

    pub(crate) fn value_bytes(&self) -> usize {
        self.values.len()
    }

    fn take(&mut self) -> (OffsetBuffer<i32>, Buffer) {
        let mut offsets = std::mem::take(&mut self.offsets);
        if offsets.is_empty() {
            offsets.push(0);
        }
        self.keys.clear();
        (
            OffsetBuffer::new(offsets.into()),
            Buffer::from_vec(std::mem::take(&mut self.values)),
        )
    }

    /// A Dictionary(Int32, Binary) column of `keys` over the interned values.
    pub(crate) fn finish_binary(
        &mut self,
        keys: &mut Int32Builder,
    ) -> Result<ArrayRef, BlockError> {
        let (offsets, values) = self.take();
        dictionary(keys, Arc::new(BinaryArray::try_new(offsets, values, None)?))
    }

    /// A Dictionary(Int32, Utf8) column of `keys` over the interned values (validated once
    /// per distinct value).
    pub(crate) fn finish_utf8(&mut self, keys: &mut Int32Builder) -> Result<ArrayRef, BlockError> {
        let (offsets, values) = self.take();
        dictionary(keys, Arc::new(StringArray::try_new(offsets, values, None)?))
    }
}

fn dictionary(keys: &mut Int32Builder, values: ArrayRef) -> Result<ArrayRef, BlockError> {
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys.finish(),
        values,
    )?))
}

/// A FixedSizeBinary column builder that cannot fail on append (the width is in the type).
struct FixedBinaryBuilder<const N: usize> {
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl<const N: usize> FixedBinaryBuilder<N> {
    fn new() -> Self {
        FixedBinaryBuilder {
            values: Vec::new(),
            nulls: NullBufferBuilder::new(0),
        }
    }

    fn append(&mut self, value: Option<&[u8; N]>) {
        match value {
            Some(v) => {
                self.values.extend_from_slice(v);
                self.nulls.append_non_null();
            }
            None => {
                self.values.extend_from_slice(&[0u8; N]);
                self.nulls.append_null();
            }
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let values = Buffer::from_vec(std::mem::take(&mut self.values));
        Ok(Arc::new(FixedSizeBinaryArray::try_new(
            N as i32,
            values,
            self.nulls.finish(),
        )?))
    }
}

/// Column builders for the rows of one Arrow batch.
pub(crate) struct SpanColumns {
    rows: usize,
    trace_id: FixedBinaryBuilder<16>,
    trace_start: UInt64Builder,
    trace_duration: UInt64Builder,
    root_service_keys: Int32Builder,
    root_span_name_keys: Int32Builder,
    span_id: FixedBinaryBuilder<8>,
    parent_index: Int32Builder,
    parent_span_id: FixedBinaryBuilder<8>,
    irregular_ids: BinaryBuilder,
    /// Utf8 columns are built as binary (their bytes were validated when the trace was parsed)
    /// and checked once per batch by [`utf8`].
    name: BinaryBuilder,
    kind: Int32Builder,
    start_offset: UInt64Builder,
    duration: UInt64Builder,
    end_before_start: UInt64Builder,
    status_code: Int32Builder,
    status_message: BinaryBuilder,
    trace_state: BinaryBuilder,
    flags: UInt32Builder,
    dropped_attributes: UInt32Builder,
    dropped_events: UInt32Builder,
    dropped_links: UInt32Builder,
    service_keys: Int32Builder,
    resource_keys: Int32Builder,
    scope_keys: Int32Builder,
    attributes: AttributeColumnBuilder,
    dedicated: DedicatedColumnsBuilder,
    events: EventColumnBuilder,
    links: LinkColumnBuilder,
    /// Dictionary of `root_service_name`, `root_span_name` and `service_name` (shared).
    pub(crate) names: Interner,
    /// Dictionary of `resource`.
    pub(crate) resources: Interner,
    /// Dictionary of `scope`.
    pub(crate) scopes: Interner,
}

impl SpanColumns {
    pub(crate) fn new() -> Self {
        SpanColumns {
            rows: 0,
            trace_id: FixedBinaryBuilder::new(),
            trace_start: UInt64Builder::new(),
            trace_duration: UInt64Builder::new(),
            root_service_keys: Int32Builder::new(),
            root_span_name_keys: Int32Builder::new(),
            span_id: FixedBinaryBuilder::new(),
            parent_index: Int32Builder::new(),
            parent_span_id: FixedBinaryBuilder::new(),
            irregular_ids: BinaryBuilder::new(),
            name: BinaryBuilder::new(),
            kind: Int32Builder::new(),
            start_offset: UInt64Builder::new(),
            duration: UInt64Builder::new(),
            end_before_start: UInt64Builder::new(),
            status_code: Int32Builder::new(),
            status_message: BinaryBuilder::new(),
            trace_state: BinaryBuilder::new(),
            flags: UInt32Builder::new(),
            dropped_attributes: UInt32Builder::new(),
            dropped_events: UInt32Builder::new(),
            dropped_links: UInt32Builder::new(),
            service_keys: Int32Builder::new(),
            resource_keys: Int32Builder::new(),
            scope_keys: Int32Builder::new(),
            attributes: AttributeColumnBuilder::new(),
            dedicated: DedicatedColumnsBuilder::new(),
            events: EventColumnBuilder::new(),
            links: LinkColumnBuilder::new(),
            names: Interner::default(),
            resources: Interner::default(),
            scopes: Interner::default(),
        }
    }

    /// Rows buffered in this batch.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Approximate bytes of variable-length values buffered (keeps i32 offsets far from overflow).
    pub(crate) fn value_bytes(&self) -> usize {
        self.name.values_slice().len()
            + self.status_message.values_slice().len()
            + self.trace_state.values_slice().len()
            + self.irregular_ids.values_slice().len()
            + self.attributes.value_bytes()
            + self.dedicated.value_bytes()
            + self.events.value_bytes()
            + self.links.value_bytes()
            + self.names.value_bytes()
            + self.resources.value_bytes()
            + self.scopes.value_bytes()
    }

    /// Appends one span row; `trace` holds the records of `input`, the trace's OTLP bytes.
    // PERFORMANCE-CRITICAL: once per span. Appends into column builders only (byte copies, no
    // UTF-8 checks, no allocation but builder growth); the trace-level and dictionary keys are
    // computed once per trace / resource / scope by the caller.
    pub(crate) fn append(
        &mut self,
        ctx: &RowContext<'_>,
        span: &SpanRec,
        trace: &TraceRecords,
        input: &[u8],
    ) {
        let bytes = |loc| trace.bytes(input, loc);
        self.rows += 1;
        self.trace_id.append(Some(ctx.trace_id));
        self.trace_start.append_value(ctx.trace_start);
        self.trace_duration.append_value(ctx.trace_duration);
        self.root_service_keys.append_value(ctx.root_service_key);
        self.root_span_name_keys
            .append_value(ctx.root_span_name_key);
        let span_id: Option<&[u8; 8]> = bytes(span.span_id).try_into().ok();
        self.span_id.append(Some(span_id.unwrap_or(&[0u8; 8])));
        self.parent_index.append_value(ctx.parent_index);
        self.parent_span_id.append(ctx.parent_span_id.as_ref());
        self.irregular_ids.append_option(ctx.irregular_ids);
        self.name.append_value(bytes(span.name));
        self.kind.append_value(span.kind);
        let (start, end) = (span.start, span.end);
        // trace_start is the minimum start of the trace's spans, so this cannot underflow.
        self.start_offset.append_value(start - ctx.trace_start);
        self.duration.append_value(end.saturating_sub(start));
        self.end_before_start
            .append_option((end < start).then_some(end));
        match span.status {
            Some((code, message)) => {
                self.status_code.append_value(code);
                self.status_message.append_value(bytes(message));
            }
            None => {
                self.status_code.append_null();
                self.status_message.append_value(b"");
            }
        }
        self.trace_state.append_value(bytes(span.trace_state));
        self.flags.append_value(span.flags);
        self.dropped_attributes
            .append_value(span.dropped_attributes);
        self.dropped_events.append_value(span.dropped_events);
        self.dropped_links.append_value(span.dropped_links);
        self.service_keys.append_value(ctx.service_key);
        self.resource_keys.append_value(ctx.resource_key);
        self.scope_keys.append_value(ctx.scope_key);
        let range = |r: &std::ops::Range<u32>| r.start as usize..r.end as usize;
        let generic = &mut self.attributes;
        self.dedicated
            .append_row(&trace.attrs[range(&span.attrs)], &bytes, |attr| {
                generic.append_entry(attr, &bytes)
            });
        self.attributes.end_row();
        self.events
            .append_row(&trace.events[range(&span.events)], start, &bytes);
        self.links
            .append_row(&trace.links[range(&span.links)], &bytes);
    }

    /// Dedicated keys written to the generic `attributes` list so far (all batches).
    pub(crate) fn spilled(&self) -> SlotMask {
        self.dedicated.spilled()
    }

    /// Finishes the batch and resets every builder (dictionaries included).
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, BlockError> {
        self.rows = 0;
        // The three name columns share one dictionary; each column gets its own copy of it.
        let (name_offsets, name_values) = self.names.take();
        let names: ArrayRef = Arc::new(StringArray::try_new(name_offsets, name_values, None)?);
        let name_dictionary = |keys: &mut Int32Builder| -> Result<ArrayRef, BlockError> {
            Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys.finish(),
                names.clone(),
            )?))
        };
        let mut columns: Vec<ArrayRef> = vec![
            self.trace_id.finish()?,
            Arc::new(self.trace_start.finish()),
            Arc::new(self.trace_duration.finish()),
            name_dictionary(&mut self.root_service_keys)?,
            name_dictionary(&mut self.root_span_name_keys)?,
            self.span_id.finish()?,
            Arc::new(self.parent_index.finish()),
            self.parent_span_id.finish()?,
            Arc::new(self.irregular_ids.finish()),
            utf8(self.name.finish())?,
            Arc::new(self.kind.finish()),
            Arc::new(self.start_offset.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.end_before_start.finish()),
            Arc::new(self.status_code.finish()),
            utf8(self.status_message.finish())?,
            utf8(self.trace_state.finish())?,
            Arc::new(self.flags.finish()),
            Arc::new(self.dropped_attributes.finish()),
            Arc::new(self.dropped_events.finish()),
            Arc::new(self.dropped_links.finish()),
            name_dictionary(&mut self.service_keys)?,
            self.resources.finish_binary(&mut self.resource_keys)?,
            self.scopes.finish_binary(&mut self.scope_keys)?,
            self.attributes.finish()?,
            self.events.finish()?,
            self.links.finish()?,
        ];
        columns.extend(self.dedicated.finish()?);
        Ok(RecordBatch::try_new(block_schema(), columns)?)
    }
}
