//! Scans one committed block for a search: row groups pruned by the trace-start statistics
//! of the time range, only the plan's columns fetched and decoded, batches re-cut on trace
//! boundaries (a trace may straddle two batches or row groups) before evaluation.
//!
//! The facade fetches each row group's bytes (object store, io runtime); decoding and
//! evaluation run as query jobs on a shard (`ShardHandle::run_query`), one batch per step,
//! so scans share the cores with ingest on the shards' terms instead of competing with it
//! from extra threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use futures::TryStreamExt as _;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReader};
use parquet::arrow::async_reader::ParquetRecordBatchStream;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::ParquetMetaData;
use tracecore_engine::block::layout::BlockLayout;
use tracecore_engine::block::schema::{col, project};
use tracecore_engine::scan::{
    BatchResult, IntrinsicRanges, ScanOptions, SearchPlan, SpanBatch, search_batch,
};

use tracecore_engine::ShardHandle;

use super::SearchError;
use super::dictionary_prefilter::probe_row_groups;
use crate::storage::catalog::{BlockCatalog, CatalogBlock};
use crate::storage::object_reader::ObjectReader;

/// Rows decoded per Arrow batch.
const BATCH_ROWS: usize = 16 * 1024;

/// What scanning one block yielded.
#[derive(Default)]
pub struct BlockScan {
    pub result: BatchResult,
    pub inspected_bytes: u64,
}

/// Rows decoded per Arrow batch on a shard: one batch is one step of a query job, so it
/// stays well under a millisecond of decoding.
const SHARD_BATCH_ROWS: usize = 8 * 1024;

/// Scans the block until it has found `enough` matching traces (all of them with `None`).
/// The bytes are fetched here (io runtime); decoding and evaluation run on `shard`'s query
/// task queue, one row group at a time, a batch per step.
pub async fn scan_block(
    shard: &ShardHandle,
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    plan: &Arc<SearchPlan>,
    options: &ScanOptions,
    enough: Option<usize>,
) -> Result<BlockScan, SearchError> {
    let (metadata, _) = catalog.open(block).await?;
    let layout = BlockLayout::of(metadata.metadata());
    let block_id = block.meta.block_id.to_string();
    let mut row_groups: Vec<usize> =
        row_groups_in_range(metadata.metadata(), options.range_unix_nano)
            .into_iter()
            .filter(|&rg| plan.may_match_ranges(&ranges_of(metadata.metadata().row_group(rg))))
            .collect();
    let mut out = BlockScan::default();
    let schema = metadata.metadata().file_metadata().schema_descr_ptr();
    if let Some(mask) = plan.prefilter_mask(&layout, &schema)
        && !row_groups.is_empty()
    {
        let mut matched = vec![false; metadata.metadata().num_row_groups()];
        let mut undecided = row_groups.clone();
        if let Some(probe) = plan.dictionary_probe(&layout, &schema, metadata.schema()) {
            let probed =
                probe_row_groups(shard, catalog, block, &metadata, plan, probe, &row_groups)
                    .await?;
            for (rg, m) in probed.decided {
                matched[rg] = m;
            }
            out.inspected_bytes += probed.bytes;
            undecided = probed.undecided;
        }
        if !undecided.is_empty() {
            let (mut stream, bytes) =
                row_group_stream(catalog, block, &metadata, mask, undecided.clone()).await?;
            for &rg in &undecided {
                let reader = next_row_group(&mut stream, &block_id).await?;
                matched[rg] = prefilter_on_shard(shard, reader, plan.clone(), &block_id).await?;
            }
            out.inspected_bytes += bytes.load(Ordering::Relaxed);
        }
        let kept = with_straddling(metadata.metadata(), matched);
        let mut is_kept = vec![false; metadata.metadata().num_row_groups()];
        for &rg in &kept {
            is_kept[rg] = true;
        }
        out.result.inspected_spans += row_groups
            .iter()
            .filter(|&&rg| !is_kept[rg])
            .map(|&rg| metadata.metadata().row_group(rg).num_rows() as u64)
            .sum::<u64>();
        row_groups = kept;
    }
    if row_groups.is_empty() {
        return Ok(out);
    }
    let count = row_groups.len();
    let mask = project(&schema, plan.block_columns(&layout).iter().copied());
    let (mut stream, bytes) = row_group_stream(catalog, block, &metadata, mask, row_groups).await?;
    let mut eval = BlockEval {
        plan: plan.clone(),
        options: *options,
        enough,
        cut: TraceCut::default(),
        result: std::mem::take(&mut out.result),
    };
    for i in 0..count {
        let reader = next_row_group(&mut stream, &block_id).await?;
        let (back, go_on) = eval_on_shard(shard, reader, eval, i + 1 == count, &block_id).await?;
        eval = back;
        if !go_on {
            break;
        }
    }
    out.result = eval.result;
    out.inspected_bytes += bytes.load(Ordering::Relaxed);
    Ok(out)
}

/// A stream over `row_groups` of the block reading `mask`, with its fetched-bytes counter.
async fn row_group_stream(
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    metadata: &ArrowReaderMetadata,
    mask: ProjectionMask,
    row_groups: Vec<usize>,
) -> Result<(ParquetRecordBatchStream<ObjectReader>, Arc<AtomicU64>), SearchError> {
    let (_, reader) = catalog.open(block).await?;
    let bytes = reader.bytes_read();
    let stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
        .with_projection(mask)
        .with_row_groups(row_groups)
        .with_batch_size(SHARD_BATCH_ROWS)
        .build()
        .map_err(block_error(&block.meta.block_id.to_string()))?;
    Ok((stream, bytes))
}

/// The next row group of a stream built over as many row groups as the caller reads.
async fn next_row_group(
    stream: &mut ParquetRecordBatchStream<ObjectReader>,
    block: &str,
) -> Result<ParquetRecordBatchReader, SearchError> {
    stream
        .next_row_group()
        .await
        .map_err(block_error(block))?
        .ok_or(SearchError::Internal(
            "block stream ended before its row groups",
        ))
}

pub(super) fn block_error(
    block: &str,
) -> impl Fn(parquet::errors::ParquetError) -> SearchError + use<> {
    let block = block.to_owned();
    move |e| SearchError::Block {
        block: block.clone(),
        message: e.to_string(),
    }
}

/// Whether some filter condition of `plan` holds in the row group `reader` decodes (read
/// with the prefilter's columns), decided on `shard`.
async fn prefilter_on_shard(
    shard: &ShardHandle,
    mut reader: ParquetRecordBatchReader,
    plan: Arc<SearchPlan>,
    block: &str,
) -> Result<bool, SearchError> {
    let error = block_error(block);
    shard
        .run_query(move || match reader.next() {
            Some(Ok(batch)) => plan.prefilter_matches(batch).then_some(Ok(true)),
            Some(Err(e)) => Some(Err(error(e.into()))),
            None => Some(Ok(false)),
        })
        .await?
}

/// Feeds the row group `reader` decodes to `eval` on `shard`; returns `eval` and whether the
/// block scan goes on (`false` once it holds enough traces). The `last` row group also
/// evaluates the trace left pending at its end.
async fn eval_on_shard(
    shard: &ShardHandle,
    reader: ParquetRecordBatchReader,
    eval: BlockEval,
    last: bool,
    block: &str,
) -> Result<(BlockEval, bool), SearchError> {
    let error = block_error(block);
    let mut state = Some((reader, eval));
    shard
        .run_query(move || {
            let Some((reader, eval)) = state.as_mut() else {
                return Some(Err(SearchError::Internal(
                    "row group job stepped after its end",
                )));
            };
            let go_on = match reader.next() {
                Some(Ok(batch)) => match eval.push(batch) {
                    Ok(true) => return None,
                    Ok(false) => false,
                    Err(e) => return Some(Err(e)),
                },
                Some(Err(e)) => return Some(Err(error(e.into()))),
                None => true,
            };
            let (_, mut eval) = state.take()?;
            if go_on
                && last
                && let Err(e) = eval.finish()
            {
                return Some(Err(e));
            }
            Some(Ok((eval, go_on)))
        })
        .await?
}

/// Evaluation state of one block scan, carried from one row group's job to the next.
struct BlockEval {
    plan: Arc<SearchPlan>,
    options: ScanOptions,
    enough: Option<usize>,
    cut: TraceCut,
    result: BatchResult,
}

impl BlockEval {
    /// Evaluates the whole traces `batch` completes; `false` once enough traces were found.
    fn push(&mut self, batch: RecordBatch) -> Result<bool, SearchError> {
        if let Some(whole) = self.cut.push(batch)? {
            evaluate(&self.plan, whole, &self.options, &mut self.result)?;
        }
        Ok(self.enough.is_none_or(|n| self.result.hits.len() < n))
    }

    /// Evaluates the trace still pending after the block's last batch.
    fn finish(&mut self) -> Result<(), SearchError> {
        if let Some(rest) = self.cut.finish() {
            evaluate(&self.plan, rest, &self.options, &mut self.result)?;
        }
        Ok(())
    }
}

/// Re-cuts batches on trace boundaries: a trace's rows may continue in the next batch or
/// row group.
#[derive(Default)]
struct TraceCut {
    pending: Option<RecordBatch>,
}

impl TraceCut {
    /// The traces `batch` completes (with the rows held back from earlier batches), if any.
    fn push(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>, SearchError> {
        let batch = match self.pending.take() {
            Some(p) => concat_batches(&batch.schema(), [&p, &batch])?,
            None => batch,
        };
        let cut = last_trace_start(&batch)?;
        self.pending = Some(batch.slice(cut, batch.num_rows() - cut));
        Ok((cut > 0).then(|| batch.slice(0, cut)))
    }

    /// The rows still held back.
    fn finish(&mut self) -> Option<RecordBatch> {
        self.pending.take().filter(|b| b.num_rows() > 0)
    }
}

/// Reads `columns` of the block's row groups overlapping `range` and hands `visit` batches of
/// whole traces until it returns `false`. Returns the bytes fetched.
pub async fn for_each_batch(
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    columns: &[usize],
    range: Option<(u64, u64)>,
    mut visit: impl FnMut(RecordBatch) -> Result<bool, SearchError>,
) -> Result<u64, SearchError> {
    let (metadata, reader) = catalog.open(block).await?;
    let counter = reader.bytes_read();
    let row_groups = row_groups_in_range(metadata.metadata(), range);
    if row_groups.is_empty() {
        return Ok(0);
    }
    let schema = metadata.metadata().file_metadata().schema_descr_ptr();
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
        .with_projection(project(&schema, columns.iter().copied()))
        .with_row_groups(row_groups)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(block_error(&block.meta.block_id.to_string()))?;
    let mut cut = TraceCut::default();
    let error = block_error(&block.meta.block_id.to_string());
    while let Some(batch) = stream.try_next().await.map_err(&error)? {
        if let Some(whole) = cut.push(batch)?
            && !visit(whole)?
        {
            return Ok(counter.load(Ordering::Relaxed));
        }
    }
    if let Some(rest) = cut.finish() {
        visit(rest)?;
    }
    Ok(counter.load(Ordering::Relaxed))
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
