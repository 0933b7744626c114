//! Search results of one batch: a [`TraceHit`] per matching trace, shaped like Tempo's
//! `TraceSearchMetadata` (TEMPO-SPEC §4.2–4.4) but typed; the API layer renders JSON/proto.

use std::collections::BTreeMap;

use arrow::array::{
    Array, AsArray, DictionaryArray, FixedSizeBinaryArray, Int32Array, StringArray, UInt64Array,
};
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

/// Builds hits from a batch's evaluated expressions; the columns it reads are resolved once
/// per batch ([`HitBuilder::new`]), not per hit.
pub(crate) struct HitBuilder<'a> {
    values: &'a [Option<Values>],
    outputs: &'a [(String, usize)],
    spss: usize,
    trace_ids: &'a FixedSizeBinaryArray,
    trace_start: &'a UInt64Array,
    trace_duration: &'a UInt64Array,
    parent_index: &'a Int32Array,
    parent_span_id: &'a FixedSizeBinaryArray,
    status: &'a Int32Array,
    service: &'a dyn Array,
    root_service: &'a dyn Array,
    root_name: &'a dyn Array,
    span_ids: &'a FixedSizeBinaryArray,
    offsets: &'a UInt64Array,
    durations: &'a UInt64Array,
    names: Option<&'a StringArray>,
}

fn dict_str(array: &dyn Array, row: usize) -> String {
    let Some(dict) = array.as_dictionary_opt::<Int32Type>() else {
        return String::new();
    };
    if dict.is_null(row) {
        return String::new();
    }
    dict_value(dict, dict.keys().value(row))
}

fn dict_value(dict: &DictionaryArray<Int32Type>, key: i32) -> String {
    let key = key as usize;
    dict.values()
        .as_string_opt::<i32>()
        .filter(|v| key < v.len())
        .map(|v| v.value(key).to_owned())
        .unwrap_or_default()
}

impl<'a> HitBuilder<'a> {
    pub fn new(
        b: &'a SpanBatch,
        values: &'a [Option<Values>],
        outputs: &'a [(String, usize)],
        wants_name: bool,
        spss: usize,
    ) -> Result<Self, ScanError> {
        let names = if wants_name {
            Some(
                b.column(col::NAME)?
                    .as_string_opt::<i32>()
                    .ok_or(ScanError::Internal("name is not Utf8"))?,
            )
        } else {
            None
        };
        Ok(HitBuilder {
            values,
            outputs,
            spss,
            trace_ids: b.fixed_binary_column(col::TRACE_ID)?,
            trace_start: b.u64_column(col::TRACE_START_UNIX_NANO)?,
            trace_duration: b.u64_column(col::TRACE_DURATION_NANO)?,
            parent_index: b.i32_column(col::PARENT_INDEX)?,
            parent_span_id: b.fixed_binary_column(col::PARENT_SPAN_ID)?,
            status: b.i32_column(col::STATUS_CODE)?,
            service: b.column(col::SERVICE_NAME)?.as_ref(),
            root_service: b.column(col::ROOT_SERVICE_NAME)?.as_ref(),
            root_name: b.column(col::ROOT_SPAN_NAME)?.as_ref(),
            span_ids: b.fixed_binary_column(col::SPAN_ID)?,
            offsets: b.u64_column(col::START_OFFSET_NANO)?,
            durations: b.u64_column(col::DURATION_NANO)?,
            names,
        })
    }

    pub fn build(&self, start: usize, end: usize, sets: &[Spanset]) -> Result<TraceHit, ScanError> {
        let root_known =
            (start..end).any(|r| self.parent_index.value(r) < 0 && self.parent_span_id.is_null(r));
        let (root_service_name, root_span_name) = if root_known {
            (
                dict_str(self.root_service, start),
                dict_str(self.root_name, start),
            )
        } else {
            (String::new(), String::new())
        };
        let mut trace_id = [0u8; 16];
        trace_id.copy_from_slice(self.trace_ids.value(start));
        let spansets = sets
            .iter()
            .map(|s| self.spanset(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TraceHit {
            trace_id,
            root_service_name,
            root_span_name,
            start_unix_nano: self.trace_start.value(start),
            duration_nanos: self.trace_duration.value(start),
            service_stats: self.service_stats(start, end),
            spansets,
        })
    }

    // PERFORMANCE-CRITICAL: counted per dictionary key (a trace has few services); names are
    // materialized once per key, not per span.
    fn service_stats(&self, start: usize, end: usize) -> BTreeMap<String, ServiceStats> {
        let mut out: BTreeMap<String, ServiceStats> = BTreeMap::new();
        let Some(dict) = self.service.as_dictionary_opt::<Int32Type>() else {
            let stats = out.entry(String::new()).or_default();
            for row in start..end {
                stats.span_count += 1;
                stats.error_count += u32::from(self.is_error(row));
            }
            return out;
        };
        let keys = dict.keys();
        let mut by_key: Vec<(Option<i32>, ServiceStats)> = Vec::new();
        for row in start..end {
            let key = keys.is_valid(row).then(|| keys.value(row));
            let slot = match by_key.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    by_key.push((key, ServiceStats::default()));
                    by_key.len() - 1
                }
            };
            let stats = &mut by_key[slot].1;
            stats.span_count += 1;
            stats.error_count += u32::from(self.is_error(row));
        }
        for (key, stats) in by_key {
            let name = key.map(|k| dict_value(dict, k)).unwrap_or_default();
            let entry = out.entry(name).or_default();
            entry.span_count += stats.span_count;
            entry.error_count += stats.error_count;
        }
        out
    }

    fn is_error(&self, row: usize) -> bool {
        self.status.is_valid(row) && self.status.value(row) == 2
    }

    fn spanset(&self, set: &Spanset) -> Result<SpansetHit, ScanError> {
        let mut spans = Vec::with_capacity(set.rows.len().min(self.spss));
        for &row in set.rows.iter().take(self.spss) {
            let row = row as usize;
            let mut span_id = [0u8; 8];
            span_id.copy_from_slice(self.span_ids.value(row));
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
                start_unix_nano: self
                    .trace_start
                    .value(row)
                    .wrapping_add(self.offsets.value(row)),
                duration_nanos: self.durations.value(row),
                name: self.names.map(|n| n.value(row).to_owned()),
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
