//! Search results of one batch: a [`TraceHit`] per matching trace, shaped like Tempo's
//! `TraceSearchMetadata` (TEMPO-SPEC §4.2–4.4) but typed; the API layer renders JSON/proto.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int32Type;

use super::batch::SpanBatch;
use super::error::ScanError;
use super::row_value::RowValue;
use super::spanset::Spanset;
use super::values::Values;
use crate::block::schema::col;

/// Per-service span and error counts of a trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceStats {
    pub span_count: u32,
    pub error_count: u32,
}

/// One span of a result span set.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanHit {
    pub span_id: [u8; 8],
    pub start_unix_nano: u64,
    pub duration_nanos: u64,
    /// Present when the query referenced the span name.
    pub name: Option<String>,
    /// Fetched attributes and intrinsics (bare keys; TEMPO-SPEC §3.9).
    pub attributes: Vec<(String, RowValue)>,
}

/// One span set of a result.
#[derive(Clone, Debug, PartialEq)]
pub struct SpansetHit {
    pub spans: Vec<SpanHit>,
    /// Spans in the set before truncation to `spss`.
    pub matched: u32,
    /// `by(...)` values and aggregates; `None` is nil.
    pub attributes: Vec<(String, Option<RowValue>)>,
}

/// A matching trace as seen in one batch (one block or head fragment).
#[derive(Clone, Debug, PartialEq)]
pub struct TraceHit {
    pub trace_id: [u8; 16],
    /// Empty when the root span is not in this fragment.
    pub root_service_name: String,
    pub root_span_name: String,
    pub start_unix_nano: u64,
    pub duration_nanos: u64,
    pub service_stats: BTreeMap<String, ServiceStats>,
    pub spansets: Vec<SpansetHit>,
}

/// Builds hits from a batch's evaluated expressions.
pub(crate) struct HitBuilder<'a> {
    pub batch: &'a SpanBatch,
    pub values: &'a [Option<Values>],
    pub outputs: &'a [(String, usize)],
    pub wants_name: bool,
    pub spss: usize,
}

fn dict_str(array: &dyn Array, row: usize) -> String {
    let Some(dict) = array.as_dictionary_opt::<Int32Type>() else {
        return String::new();
    };
    if dict.is_null(row) {
        return String::new();
    }
    let key = dict.keys().value(row) as usize;
    dict.values()
        .as_string_opt::<i32>()
        .filter(|v| key < v.len())
        .map(|v| v.value(key).to_owned())
        .unwrap_or_default()
}

impl HitBuilder<'_> {
    pub fn build(&self, start: usize, end: usize, sets: &[Spanset]) -> Result<TraceHit, ScanError> {
        let b = self.batch;
        let trace_ids = b.fixed_binary_column(col::TRACE_ID)?;
        let trace_start = b.u64_column(col::TRACE_START_UNIX_NANO)?;
        let trace_duration = b.u64_column(col::TRACE_DURATION_NANO)?;
        let parent_index = b.i32_column(col::PARENT_INDEX)?;
        let parent_span_id = b.fixed_binary_column(col::PARENT_SPAN_ID)?;
        let status = b.i32_column(col::STATUS_CODE)?;
        let service = b.column(col::SERVICE_NAME)?;

        let root_known =
            (start..end).any(|r| parent_index.value(r) < 0 && parent_span_id.is_null(r));
        let (root_service_name, root_span_name) = if root_known {
            (
                dict_str(b.column(col::ROOT_SERVICE_NAME)?.as_ref(), start),
                dict_str(b.column(col::ROOT_SPAN_NAME)?.as_ref(), start),
            )
        } else {
            (String::new(), String::new())
        };
        let mut service_stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
        for row in start..end {
            let name = dict_str(service.as_ref(), row);
            let stats = service_stats.entry(name).or_default();
            stats.span_count += 1;
            if status.is_valid(row) && status.value(row) == 2 {
                stats.error_count += 1;
            }
        }
        let mut trace_id = [0u8; 16];
        trace_id.copy_from_slice(trace_ids.value(start));
        let spansets = sets
            .iter()
            .map(|s| self.spanset(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TraceHit {
            trace_id,
            root_service_name,
            root_span_name,
            start_unix_nano: trace_start.value(start),
            duration_nanos: trace_duration.value(start),
            service_stats,
            spansets,
        })
    }

    fn spanset(&self, set: &Spanset) -> Result<SpansetHit, ScanError> {
        let b = self.batch;
        let span_ids = b.fixed_binary_column(col::SPAN_ID)?;
        let trace_start = b.u64_column(col::TRACE_START_UNIX_NANO)?;
        let offsets = b.u64_column(col::START_OFFSET_NANO)?;
        let durations = b.u64_column(col::DURATION_NANO)?;
        let names = if self.wants_name {
            Some(b.column(col::NAME)?.as_string::<i32>())
        } else {
            None
        };
        let mut spans = Vec::with_capacity(set.rows.len().min(self.spss));
        for &row in set.rows.iter().take(self.spss) {
            let row = row as usize;
            let mut span_id = [0u8; 8];
            span_id.copy_from_slice(span_ids.value(row));
            let attributes = self
                .outputs
                .iter()
                .filter_map(|(key, expr)| {
                    let v = self.values[*expr].as_ref()?.get_for_span(row)?;
                    Some((key.clone(), v))
                })
                .collect();
            spans.push(SpanHit {
                span_id,
                start_unix_nano: trace_start.value(row).wrapping_add(offsets.value(row)),
                duration_nanos: durations.value(row),
                name: names.map(|n| n.value(row).to_owned()),
                attributes,
            });
        }
        Ok(SpansetHit {
            spans,
            matched: u32::try_from(set.rows.len()).unwrap_or(u32::MAX),
            attributes: set.attributes.clone(),
        })
    }
}
