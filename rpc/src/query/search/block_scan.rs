//! Scans one committed block for a search: row groups pruned by the trace-start statistics
//! of the time range, only the plan's columns fetched and decoded, batches re-cut on trace
//! boundaries (a trace may straddle two batches or row groups) before evaluation.

use std::sync::atomic::Ordering;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use futures::TryStreamExt as _;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::file::metadata::ParquetMetaData;
use tracecore_engine::block::layout::BlockLayout;
use tracecore_engine::block::schema::{col, project};
use tracecore_engine::scan::{
    BatchResult, IntrinsicRanges, ScanOptions, SearchPlan, SpanBatch, search_batch,
};

use super::SearchError;
use crate::storage::catalog::{BlockCatalog, CatalogBlock};

/// Rows decoded per Arrow batch.
const BATCH_ROWS: usize = 16 * 1024;

/// What scanning one block yielded.
#[derive(Default)]
pub struct BlockScan {
    pub result: BatchResult,
    pub inspected_bytes: u64,
}

/// Scans the block until it has found `enough` matching traces (all of them with `None`).
pub async fn scan_block(
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    plan: &SearchPlan,
    options: &ScanOptions,
    enough: Option<usize>,
) -> Result<BlockScan, SearchError> {
    let mut out = BlockScan::default();
    let (metadata, _) = catalog.open(block).await?;
    let layout = BlockLayout::of(metadata.metadata());
    let prefilter_columns = plan.prefilter_columns(&layout);
    let prefilter = prefilter_columns
        .as_deref()
        .map(|columns| Prefilter { columns, plan });
    let read = for_each_batch_where(
        catalog,
        block,
        plan.block_columns(&layout),
        options.range_unix_nano,
        |ranges| plan.may_match_ranges(ranges),
        prefilter,
        |batch| {
            evaluate(plan, batch, options, &mut out.result)?;
            Ok(enough.is_none_or(|n| out.result.hits.len() < n))
        },
    )
    .await?;
    out.inspected_bytes = read.bytes;
    out.result.inspected_spans += read.prefiltered_spans;
    Ok(out)
}

/// Reads `columns` of the block's row groups overlapping `range` and hands `visit` batches of
/// whole traces until it returns `false`. Returns the bytes fetched.
pub async fn for_each_batch(
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    columns: &[usize],
    range: Option<(u64, u64)>,
    visit: impl FnMut(RecordBatch) -> Result<bool, SearchError>,
) -> Result<u64, SearchError> {
    Ok(
        for_each_batch_where(catalog, block, columns, range, |_| true, None, visit)
            .await?
            .bytes,
    )
}

/// What reading a block cost.
pub struct ReadStats {
    /// Bytes fetched.
    pub bytes: u64,
    /// Spans the prefilter examined in row groups it then ruled out (never handed to `visit`).
    pub prefiltered_spans: u64,
}

/// Filter conditions evaluated on their own columns before a row group is read in full.
pub struct Prefilter<'a> {
    pub columns: &'a [usize],
    pub plan: &'a SearchPlan,
}

/// [`for_each_batch`] over the row groups whose duration statistics `keep` accepts and, with
/// a `prefilter`, in which some filter condition holds (plus the row groups sharing a trace
/// with those, so traces stay whole).
pub async fn for_each_batch_where(
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    columns: &[usize],
    range: Option<(u64, u64)>,
    keep: impl Fn(&IntrinsicRanges) -> bool,
    prefilter: Option<Prefilter<'_>>,
    mut visit: impl FnMut(RecordBatch) -> Result<bool, SearchError>,
) -> Result<ReadStats, SearchError> {
    let (metadata, reader) = catalog.open(block).await?;
    let counter = reader.bytes_read();
    let mut row_groups: Vec<usize> = row_groups_in_range(metadata.metadata(), range)
        .into_iter()
        .filter(|&rg| keep(&ranges_of(metadata.metadata().row_group(rg))))
        .collect();
    let block_error = |e: parquet::errors::ParquetError| SearchError::Block {
        block: block.meta.block_id.to_string(),
        message: e.to_string(),
    };
    let schema = metadata.metadata().file_metadata().schema_descr_ptr();
    let (mut prefiltered_bytes, mut prefiltered_spans) = (0, 0);
    if let Some(prefilter) = prefilter
        && !row_groups.is_empty()
    {
        let mut matched = vec![false; metadata.metadata().num_row_groups()];
        for &rg in &row_groups {
            let (_, reader) = catalog.open(block).await?;
            let bytes = reader.bytes_read();
            let mut stream =
                ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
                    .with_projection(project(&schema, prefilter.columns.iter().copied()))
                    .with_row_groups(vec![rg])
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .map_err(block_error)?;
            while let Some(batch) = stream.try_next().await.map_err(block_error)? {
                if prefilter.plan.prefilter_matches(batch) {
                    matched[rg] = true;
                    break;
                }
            }
            prefiltered_bytes += bytes.load(Ordering::Relaxed);
        }
        let kept = with_straddling(metadata.metadata(), matched);
        let mut is_kept = vec![false; metadata.metadata().num_row_groups()];
        for &rg in &kept {
            is_kept[rg] = true;
        }
        prefiltered_spans = row_groups
            .iter()
            .filter(|&&rg| !is_kept[rg])
            .map(|&rg| metadata.metadata().row_group(rg).num_rows() as u64)
            .sum();
        row_groups = kept;
    }
    let stats = |bytes: u64| ReadStats {
        bytes: prefiltered_bytes + bytes,
        prefiltered_spans,
    };
    if row_groups.is_empty() {
        return Ok(stats(0));
    }
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
        .with_projection(project(&schema, columns.iter().copied()))
        .with_row_groups(row_groups)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(block_error)?;
    let mut pending: Option<RecordBatch> = None;
    while let Some(batch) = stream.try_next().await.map_err(block_error)? {
        let batch = match pending.take() {
            Some(p) => concat_batches(&batch.schema(), [&p, &batch])?,
            None => batch,
        };
        let cut = last_trace_start(&batch)?;
        if cut > 0 && !visit(batch.slice(0, cut))? {
            return Ok(stats(counter.load(Ordering::Relaxed)));
        }
        pending = Some(batch.slice(cut, batch.num_rows() - cut));
    }
    if let Some(rest) = pending.filter(|b| b.num_rows() > 0) {
        visit(rest)?;
    }
    Ok(stats(counter.load(Ordering::Relaxed)))
}

/// The `selected` row groups and, transitively, their neighbours that share a trace with
/// them (a row group's last trace ID equals the next one's first: rows are sorted by trace
/// ID, so the `trace_id` statistics give both), in order.
fn with_straddling(metadata: &ParquetMetaData, mut selected: Vec<bool>) -> Vec<usize> {
    let n = selected.len();
    let bound = |rg: usize| {
        let stats = metadata.row_group(rg).column(col::TRACE_ID).statistics();
        (
            stats.and_then(|s| s.min_bytes_opt()),
            stats.and_then(|s| s.max_bytes_opt()),
        )
    };
    // shared[i]: row groups i and i + 1 may hold the same trace (unknown counts as shared).
    let shared: Vec<bool> = (0..n.saturating_sub(1))
        .map(|i| match (bound(i).1, bound(i + 1).0) {
            (Some(last), Some(first)) => last == first,
            _ => true,
        })
        .collect();
    for i in 0..n.saturating_sub(1) {
        if shared[i] && selected[i] {
            selected[i + 1] = true;
        }
    }
    for i in (0..n.saturating_sub(1)).rev() {
        if shared[i] && selected[i + 1] {
            selected[i] = true;
        }
    }
    (0..n).filter(|&rg| selected[rg]).collect()
}

fn evaluate(
    plan: &SearchPlan,
    batch: RecordBatch,
    options: &ScanOptions,
    into: &mut BatchResult,
) -> Result<(), SearchError> {
    let batch = SpanBatch::new(batch)?;
    let r = search_batch(plan, &batch, options)?;
    into.hits.extend(r.hits);
    into.inspected_spans += r.inspected_spans;
    into.inspected_traces += r.inspected_traces;
    Ok(())
}

/// The first row of the batch's last trace (its rows may continue in the next batch).
fn last_trace_start(batch: &RecordBatch) -> Result<usize, SearchError> {
    let ids = batch
        .column_by_name("trace_id")
        .and_then(|c| c.as_fixed_size_binary_opt())
        .ok_or(SearchError::Internal("trace_id column missing"))?;
    let n = ids.len();
    if n == 0 {
        return Ok(0);
    }
    let last = ids.value(n - 1);
    let mut row = n - 1;
    while row > 0 && ids.value(row - 1) == last {
        row -= 1;
    }
    Ok(row)
}

/// Min/max of an unsigned 64-bit column chunk (Parquet stores UInt64 as INT64 bits).
fn u64_range(rg: &parquet::file::metadata::RowGroupMetaData, column: usize) -> Option<(u64, u64)> {
    let stats = rg.column(column).statistics()?;
    let read = |b: &[u8]| Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?));
    Some((read(stats.min_bytes_opt()?)?, read(stats.max_bytes_opt()?)?))
}

fn ranges_of(rg: &parquet::file::metadata::RowGroupMetaData) -> IntrinsicRanges {
    IntrinsicRanges {
        duration: u64_range(rg, col::DURATION_NANO),
        trace_duration: u64_range(rg, col::TRACE_DURATION_NANO),
    }
}

/// Row groups whose traces can overlap the range, by `trace_start_unix_nano` min/max and
/// `trace_duration_nano` max statistics.
fn row_groups_in_range(metadata: &ParquetMetaData, range: Option<(u64, u64)>) -> Vec<usize> {
    let all = 0..metadata.num_row_groups();
    let Some((from, to)) = range else {
        return all.collect();
    };
    all.filter(|&i| {
        let rg = metadata.row_group(i);
        let start = u64_range(rg, col::TRACE_START_UNIX_NANO);
        let duration = u64_range(rg, col::TRACE_DURATION_NANO);
        match (start, duration) {
            (Some((min_start, max_start)), Some((_, max_duration))) => {
                min_start <= to && max_start.saturating_add(max_duration) >= from
            }
            _ => true,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use tracecore_engine::block::{BlockEncoder, BlockEncoderOptions};
    use tracecore_proto::otlp::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    /// 30 traces of 5 spans in row groups of `rows`.
    fn block(rows: usize) -> Bytes {
        let options = BlockEncoderOptions {
            row_group_spans: rows,
            batch_spans: 3,
            ..BlockEncoderOptions::default()
        };
        let mut encoder = BlockEncoder::new("t", 30, options).expect("encoder");
        for t in 0..30u8 {
            let id = [t; 16];
            let spans = (0..5u8)
                .map(|s| Span {
                    trace_id: id.to_vec(),
                    span_id: vec![t, s, 1, 1, 1, 1, 1, 1],
                    start_time_unix_nano: 1_000 + u64::from(s),
                    end_time_unix_nano: 2_000,
                    ..Span::default()
                })
                .collect();
            let rs = ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            };
            encoder.push_trace(&id, &[rs]).expect("push");
        }
        encoder.finish().expect("finish").data
    }

    #[test]
    fn selected_row_groups_keep_their_traces_whole() {
        // Row groups of 7: most traces straddle a boundary.
        let data = block(7);
        let builder = ParquetRecordBatchReaderBuilder::try_new(data.clone()).expect("reader");
        let metadata = builder.metadata().clone();
        let groups = metadata.num_row_groups();
        assert_eq!(groups, 150usize.div_ceil(7));
        for pick in [0, 3, 10, groups - 1] {
            let mut selected = vec![false; groups];
            selected[pick] = true;
            let chosen = with_straddling(&metadata, selected);
            assert!(chosen.contains(&pick));
            assert!(
                chosen.windows(2).all(|w| w[1] == w[0] + 1),
                "one run: {chosen:?}"
            );
            let reader = ParquetRecordBatchReaderBuilder::try_new(data.clone())
                .expect("reader")
                .with_row_groups(chosen.clone())
                .build()
                .expect("build");
            let mut rows_per_trace = std::collections::HashMap::<Vec<u8>, usize>::new();
            for batch in reader {
                let batch = batch.expect("batch");
                let ids = batch.column(col::TRACE_ID).as_fixed_size_binary();
                for id in ids.iter().flatten() {
                    *rows_per_trace.entry(id.to_vec()).or_default() += 1;
                }
            }
            assert!(
                rows_per_trace.values().all(|&n| n == 5),
                "row group {pick} → {chosen:?} splits a trace: {rows_per_trace:?}"
            );
        }
    }

    #[test]
    fn clean_boundaries_add_no_row_group() {
        // Row groups of 10 rows hold exactly two traces each.
        let data = block(10);
        let builder = ParquetRecordBatchReaderBuilder::try_new(data).expect("reader");
        let metadata = builder.metadata().clone();
        let mut selected = vec![false; metadata.num_row_groups()];
        selected[4] = true;
        assert_eq!(with_straddling(&metadata, selected), vec![4]);
    }
}
