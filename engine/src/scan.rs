//! TraceQL search scans over `tc1` span batches — committed blocks and the head block alike.
//!
//! Per batch of whole traces ([`SpanBatch`]):
//! 1. every span-level expression of the [`SearchPlan`] (filter conditions, aggregate and
//!    `by()` inputs, result attributes) is evaluated **column by column** over Arrow arrays
//!    ([`eval`]): dictionary strings are compared once per distinct value, numbers with Arrow's
//!    compare kernels, regexes once per dictionary value;
//! 2. traces in which no filter condition matched are skipped without touching their rows;
//! 3. the remaining traces run the spanset program (`&&`, `||`, structural operators,
//!    pipelines, aggregates, `by`, `coalesce`, `select`) over row lists ([`spanset`]);
//! 4. matches become [`TraceHit`]s with span sets truncated to `spss`.
//!
//! The head block is scanned by encoding its traces into the same Arrow batches as a block
//! (`BlockEncoder::in_memory`), so head and block answers agree by construction.
//! No runtime here: the caller reads batches and calls [`search_batch`].

mod arrays;
mod batch;
mod dictionary_probe;
mod error;
mod eval;
mod fields;
mod hits;
mod matcher;
mod plan;
mod prefilter;
mod prune;
mod row_value;
mod spanset;
mod tags;
mod values;

use arrow::array::BooleanArray;

pub use batch::SpanBatch;
pub use dictionary_probe::DictionaryProbe;
pub use error::ScanError;
pub use hits::{ServiceStats, SpanHit, SpansetHit, TraceHit};
pub use plan::SearchPlan;
pub use prune::IntrinsicRanges;
pub use row_value::RowValue;
pub use spanset::Spanset;
pub use tags::{TagLookup, TagNames, TagScope, TagValues};

use crate::block::schema::col;
use plan::PlanStage;

/// Per-request knobs of a scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// Spans per span set in results (`spss`).
    pub spans_per_spanset: usize,
    /// Only traces overlapping this range (unix nanoseconds, inclusive) are considered.
    pub range_unix_nano: Option<(u64, u64)>,
}

/// What one batch yielded.
#[derive(Debug, Default)]
pub struct BatchResult {
    pub hits: Vec<TraceHit>,
    pub inspected_spans: u64,
    pub inspected_traces: u64,
}

/// Runs `plan` over one batch of whole traces.
pub fn search_batch(
    plan: &SearchPlan,
    batch: &SpanBatch,
    options: &ScanOptions,
) -> Result<BatchResult, ScanError> {
    let rows = batch.rows();
    let mut masks: Vec<Option<BooleanArray>> = Vec::with_capacity(plan.exprs.len());
    let mut values = Vec::with_capacity(plan.exprs.len());
    for (expr, &leaf) in plan.exprs.iter().zip(&plan.leaves) {
        if leaf {
            masks.push(Some(eval::filter_mask(batch, expr, &plan.regexes)?));
            values.push(None);
        } else {
            masks.push(None);
            values.push(Some(eval::evaluate(batch, expr, &plan.regexes)?));
        }
    }
    // Traces can only match where some filter condition matched, unless the pipeline does not
    // start with a spanset filter (`count() > 2`, `by(...)`).
    let starts_with_filter = matches!(plan.pipeline.stages.first(), Some(PlanStage::Spanset(_)));
    let any_leaf: Option<BooleanArray> = if starts_with_filter {
        let mut acc: Option<BooleanArray> = None;
        for m in masks.iter().flatten() {
            acc = Some(match acc {
                None => m.clone(),
                Some(a) => arrow::compute::or(&a, m)?,
            });
        }
        acc
    } else {
        None
    };
    let parents = batch.parent_rows()?;
    let trace_start = batch.u64_column(col::TRACE_START_UNIX_NANO)?;
    let trace_duration = batch.u64_column(col::TRACE_DURATION_NANO)?;
    let outputs: Vec<(String, usize)> = plan
        .outputs
        .iter()
        .map(|o| (o.key.clone(), o.expr))
        .collect();
    let builder = hits::HitBuilder::new(
        batch,
        &values,
        &outputs,
        plan.wants_name,
        options.spans_per_spanset,
    )?;
    let mut result = BatchResult {
        inspected_spans: rows as u64,
        inspected_traces: batch.traces().len() as u64,
        ..BatchResult::default()
    };
    for range in batch.traces() {
        if let Some(any) = &any_leaf {
            let slice = any.values().slice(range.start, range.len());
            if slice.count_set_bits() == 0 {
                continue;
            }
        }
        if let Some((from, to)) = options.range_unix_nano {
            let start = trace_start.value(range.start);
            let end = start.saturating_add(trace_duration.value(range.start));
            if start > to || end < from {
                continue;
            }
        }
        let inputs = spanset::TraceInputs {
            start: range.start,
            end: range.end,
            masks: &masks,
            values: &values,
            parents: &parents,
        };
        let sets = inputs.run(&plan.pipeline)?;
        if sets.is_empty() {
            continue;
        }
        result
            .hits
            .push(builder.build(range.start, range.end, &sets)?);
    }
    debug_assert!(masks.iter().flatten().all(|m| m.len() == rows));
    Ok(result)
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
