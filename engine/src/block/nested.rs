//! Builders of the `events` and `links` list columns, and helpers shared by the list builders.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BinaryBuilder, Int64Builder, ListArray, StringArray, StructArray,
    UInt32Builder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::Fields;

use super::error::BlockError;
use super::otlp::{EventRec, LinkRec, Loc};
use super::schema::{event_fields, link_fields, list_item};

/// A Utf8 column from binary values, validated in one pass per batch (the per-trace parse
/// already checked every string, so this cannot fail unless that check is broken).
pub(crate) fn utf8(values: BinaryArray) -> Result<ArrayRef, BlockError> {
    Ok(Arc::new(StringArray::try_from_binary(values)?))
}

/// Appends the end offset of a list row holding `len` more entries.
pub(crate) fn push_list_end(offsets: &mut Vec<i32>, len: usize) {
    let end = offsets.last().copied().unwrap_or(0) + len as i32;
    offsets.push(end);
}

/// Builds the `events` column.
pub(crate) struct EventColumnBuilder {
    offsets: Vec<i32>,
    time_offset: Int64Builder,
    name: BinaryBuilder,
    attributes: BinaryBuilder,
    dropped: UInt32Builder,
}

impl EventColumnBuilder {
    pub(crate) fn new() -> Self {
        EventColumnBuilder {
            offsets: vec![0],
            time_offset: Int64Builder::new(),
            name: BinaryBuilder::new(),
            attributes: BinaryBuilder::new(),
            dropped: UInt32Builder::new(),
        }
    }

    pub(crate) fn append_row<'a>(
        &mut self,
        events: &[EventRec],
        span_start: u64,
        bytes: &impl Fn(Loc) -> &'a [u8],
    ) {
        for event in events {
            // Wrapping difference: exact for every pair of u64 times (see the schema docs).
            self.time_offset
                .append_value(event.time.wrapping_sub(span_start) as i64);
            self.name.append_value(bytes(event.name));
            self.attributes.append_value(bytes(event.attributes));
            self.dropped.append_value(event.dropped);
        }
        push_list_end(&mut self.offsets, events.len());
    }

    pub(crate) fn value_bytes(&self) -> usize {
        self.name.values_slice().len() + self.attributes.values_slice().len()
    }

    pub(crate) fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let children: Vec<ArrayRef> = vec![
            Arc::new(self.time_offset.finish()),
            utf8(self.name.finish())?,
            Arc::new(self.attributes.finish()),
            Arc::new(self.dropped.finish()),
        ];
        finish_list(event_fields(), children, &mut self.offsets)
    }
}

/// Builds the `links` column.
pub(crate) struct LinkColumnBuilder {
    offsets: Vec<i32>,
    trace_id: BinaryBuilder,
    span_id: BinaryBuilder,
    trace_state: BinaryBuilder,
    attributes: BinaryBuilder,
    dropped: UInt32Builder,
    flags: UInt32Builder,
}

impl LinkColumnBuilder {
    pub(crate) fn new() -> Self {
        LinkColumnBuilder {
            offsets: vec![0],
            trace_id: BinaryBuilder::new(),
            span_id: BinaryBuilder::new(),
            trace_state: BinaryBuilder::new(),
            attributes: BinaryBuilder::new(),
            dropped: UInt32Builder::new(),
            flags: UInt32Builder::new(),
        }
    }

    pub(crate) fn append_row<'a>(&mut self, links: &[LinkRec], bytes: &impl Fn(Loc) -> &'a [u8]) {
        for link in links {
            self.trace_id.append_value(bytes(link.trace_id));
            self.span_id.append_value(bytes(link.span_id));
            self.trace_state.append_value(bytes(link.trace_state));
            self.attributes.append_value(bytes(link.attributes));
            self.dropped.append_value(link.dropped);
            self.flags.append_value(link.flags);
        }
        push_list_end(&mut self.offsets, links.len());
    }

    pub(crate) fn value_bytes(&self) -> usize {
        self.trace_id.values_slice().len()
            + self.span_id.values_slice().len()
            + self.trace_state.values_slice().len()
            + self.attributes.values_slice().len()
    }

    pub(crate) fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let children: Vec<ArrayRef> = vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            utf8(self.trace_state.finish())?,
            Arc::new(self.attributes.finish()),
            Arc::new(self.dropped.finish()),
            Arc::new(self.flags.finish()),
        ];
        finish_list(link_fields(), children, &mut self.offsets)
    }
}

/// A list column of `fields` structs from its children and row offsets (which are reset).
pub(crate) fn finish_list(
    fields: Fields,
    children: Vec<ArrayRef>,
    offsets: &mut Vec<i32>,
) -> Result<ArrayRef, BlockError> {
    let entries = StructArray::try_new(fields.clone(), children, None)?;
    let offsets = std::mem::replace(offsets, vec![0]);
    Ok(Arc::new(ListArray::try_new(
        list_item(fields),
        OffsetBuffer::new(offsets.into()),
        Arc::new(entries),
        None,
    )?))
}
