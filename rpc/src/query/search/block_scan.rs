//! Scans one committed block for a search: row groups pruned by the trace-start statistics
//! of the time range, only the plan's columns fetched and decoded, batches re-cut on trace
//! boundaries (a trace may straddle two batches or row groups) before evaluation.

use std::sync::atomic::Ordering;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use futures::TryStreamExt as _;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::file::metadata::ParquetMetaData;
use tracecore_engine::block::dedicated;
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
    let columns = plan.block_columns(dedicated::spilled(metadata.metadata()));
    out.inspected_bytes = for_each_batch_where(
        catalog,
        block,
        columns,
        options.range_unix_nano,
        |ranges| plan.may_match_ranges(ranges),
        |batch| {
            evaluate(plan, batch, options, &mut out.result)?;
            Ok(enough.is_none_or(|n| out.result.hits.len() < n))
        },
    )
    .await?;
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
    for_each_batch_where(catalog, block, columns, range, |_| true, visit).await
}

/// [`for_each_batch`] over the row groups whose duration statistics `keep` accepts.
pub async fn for_each_batch_where(
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    columns: &[usize],
    range: Option<(u64, u64)>,
    keep: impl Fn(&IntrinsicRanges) -> bool,
    mut visit: impl FnMut(RecordBatch) -> Result<bool, SearchError>,
) -> Result<u64, SearchError> {
    let (metadata, reader) = catalog.open(block).await?;
    let counter = reader.bytes_read();
    let row_groups: Vec<usize> = row_groups_in_range(metadata.metadata(), range)
        .into_iter()
        .filter(|&rg| keep(&ranges_of(metadata.metadata().row_group(rg))))
        .collect();
    if row_groups.is_empty() {
        return Ok(0);
    }
    let block_error = |e: parquet::errors::ParquetError| SearchError::Block {
        block: block.meta.block_id.to_string(),
        message: e.to_string(),
    };
    let schema = metadata.metadata().file_metadata().schema_descr_ptr();
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
            return Ok(counter.load(Ordering::Relaxed));
        }
        pending = Some(batch.slice(cut, batch.num_rows() - cut));
    }
    if let Some(rest) = pending.filter(|b| b.num_rows() > 0) {
        visit(rest)?;
    }
    Ok(counter.load(Ordering::Relaxed))
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
