//! A `tc1` record batch seen as spans grouped by trace: column lookup by name (batches carry
//! only the projected columns), trace boundaries, parent rows, and the per-batch decoding of
//! dictionary-encoded resources and scopes (done once per dictionary value, not per span).

use std::cell::OnceCell;
use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, Int32Array, RecordBatch, UInt64Array,
};
use arrow::datatypes::{Int32Type, UInt64Type};
use prost::Message as _;
use tracecore_proto::otlp::{InstrumentationScope, KeyValue, ResourceSpans, ScopeSpans};

use super::error::ScanError;
use crate::block::schema::COLUMN_NAMES;

/// A batch of whole traces (rows sorted by trace ID, a trace's rows contiguous).
pub struct SpanBatch {
    batch: RecordBatch,
    traces: Vec<Range<usize>>,
    /// Built by [`SpanBatch::rows_only`]: no trace structure.
    rows_only: bool,
    resources: OnceCell<Vec<Vec<KeyValue>>>,
    scopes: OnceCell<Vec<InstrumentationScope>>,
}

impl SpanBatch {
    /// Wraps `batch`, which must hold whole traces and at least the `trace_id` column.
    pub fn new(batch: RecordBatch) -> Result<SpanBatch, ScanError> {
        let ids = batch
            .column_by_name(COLUMN_NAMES[crate::block::schema::col::TRACE_ID])
            .ok_or(ScanError::MissingColumn("trace_id"))?
            .as_fixed_size_binary_opt()
            .ok_or(ScanError::Internal("trace_id is not FixedSizeBinary"))?
            .clone();
        let traces = trace_ranges(&ids);
        Ok(SpanBatch {
            batch,
            traces,
            rows_only: false,
            resources: OnceCell::new(),
            scopes: OnceCell::new(),
        })
    }

    /// Wraps rows that need not hold whole traces nor the `trace_id` column (a prefilter's
    /// batch): span-level values only; whatever needs the trace structure is an error.
    pub fn rows_only(batch: RecordBatch) -> SpanBatch {
        SpanBatch {
            batch,
            traces: Vec::new(),
            rows_only: true,
            resources: OnceCell::new(),
            scopes: OnceCell::new(),
        }
    }

    fn require_traces(&self) -> Result<(), ScanError> {
        if self.rows_only {
            return Err(ScanError::MissingColumn("trace_id"));
        }
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Row ranges of the traces, in row order.
    pub fn traces(&self) -> &[Range<usize>] {
        &self.traces
    }

    pub fn record_batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// The column at schema index `col` (see `block::schema::col`), if projected.
    pub fn column(&self, col: usize) -> Result<&ArrayRef, ScanError> {
        let name = COLUMN_NAMES[col];
        self.batch
            .column_by_name(name)
            .ok_or(ScanError::MissingColumn(name))
    }

    pub fn u64_column(&self, col: usize) -> Result<&UInt64Array, ScanError> {
        self.column(col)?
            .as_primitive_opt::<UInt64Type>()
            .ok_or(ScanError::Internal("expected a UInt64 column"))
    }

    pub fn i32_column(&self, col: usize) -> Result<&Int32Array, ScanError> {
        self.column(col)?
            .as_primitive_opt::<Int32Type>()
            .ok_or(ScanError::Internal("expected an Int32 column"))
    }

    pub fn fixed_binary_column(&self, col: usize) -> Result<&FixedSizeBinaryArray, ScanError> {
        self.column(col)?
            .as_fixed_size_binary_opt()
            .ok_or(ScanError::Internal("expected a FixedSizeBinary column"))
    }

    /// Resource attributes per dictionary value of the `resource` column.
    pub fn resource_attributes(&self) -> Result<&[Vec<KeyValue>], ScanError> {
        if let Some(r) = self.resources.get() {
            return Ok(r);
        }
        let column = self.column(crate::block::schema::col::RESOURCE)?;
        let dict = column
            .as_dictionary_opt::<Int32Type>()
            .ok_or(ScanError::Internal("resource is not a dictionary"))?;
        let values = dict.values().as_binary::<i32>();
        let mut decoded = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            let rs = ResourceSpans::decode(values.value(i)).map_err(ScanError::Decode)?;
            decoded.push(rs.resource.map(|r| r.attributes).unwrap_or_default());
        }
        Ok(self.resources.get_or_init(|| decoded))
    }

    /// Instrumentation scope per dictionary value of the `scope` column.
    pub fn scopes(&self) -> Result<&[InstrumentationScope], ScanError> {
        if let Some(s) = self.scopes.get() {
            return Ok(s);
        }
        let column = self.column(crate::block::schema::col::SCOPE)?;
        let dict = column
            .as_dictionary_opt::<Int32Type>()
            .ok_or(ScanError::Internal("scope is not a dictionary"))?;
        let values = dict.values().as_binary::<i32>();
        let mut decoded = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            let ss = ScopeSpans::decode(values.value(i)).map_err(ScanError::Decode)?;
            decoded.push(ss.scope.unwrap_or_default());
        }
        Ok(self.scopes.get_or_init(|| decoded))
    }

    /// Dictionary keys of a dictionary column.
    pub fn dictionary_keys(&self, col: usize) -> Result<&Int32Array, ScanError> {
        Ok(self
            .column(col)?
            .as_dictionary_opt::<Int32Type>()
            .ok_or(ScanError::Internal("expected a dictionary column"))?
            .keys())
    }

    /// Per row: whether its trace's root span (no parent ID) is in this batch. The block's
    /// root columns fall back to the earliest span otherwise, which TraceQL must not see.
    pub fn root_known(&self) -> Result<arrow::array::BooleanArray, ScanError> {
        self.require_traces()?;
        let parent_index = self.i32_column(crate::block::schema::col::PARENT_INDEX)?;
        let parent_span_id = self.fixed_binary_column(crate::block::schema::col::PARENT_SPAN_ID)?;
        let mut out = arrow::array::BooleanBufferBuilder::new(self.rows());
        for range in &self.traces {
            let known = range
                .clone()
                .any(|r| parent_index.value(r) < 0 && parent_span_id.is_null(r));
            out.append_n(range.len(), known);
        }
        Ok(arrow::array::BooleanArray::new(out.finish(), None))
    }

    /// The absolute row of each row's parent in this batch (`None` when it has none here).
    pub fn parent_rows(&self) -> Result<Vec<Option<u32>>, ScanError> {
        self.require_traces()?;
        let parent_index = self.i32_column(crate::block::schema::col::PARENT_INDEX)?;
        let mut out = vec![None; self.rows()];
        for range in &self.traces {
            let len = range.len();
            for row in range.clone() {
                let p = parent_index.value(row);
                if p >= 0 && (p as usize) < len && range.start + p as usize != row {
                    out[row] = Some((range.start + p as usize) as u32);
                }
            }
        }
        Ok(out)
    }
}

fn trace_ranges(ids: &FixedSizeBinaryArray) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for row in 1..ids.len() {
        if ids.value(row) != ids.value(row - 1) {
            out.push(start..row);
            start = row;
        }
    }
    if !ids.is_empty() {
        out.push(start..ids.len());
    }
    out
}
