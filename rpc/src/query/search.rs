//! TraceQL search over every shard's memory and the tenant's blocks (TEMPO-SPEC §1.5, §4.6).
//!
//! Order of work, deterministic by design (Tempo's is not): the in-memory traces first, then
//! blocks newest end time first, [`BLOCK_CONCURRENCY`] at a time but consumed in that order.
//! The first `limit` distinct traces found are kept (later hits of kept traces still merge),
//! and no further block is opened once `limit` traces are held — unless the query asks for
//! `most_recent`, which scans everything in range and keeps the newest. The response is
//! sorted by trace start, newest first. Metrics report the bytes actually fetched from
//! blocks (plus the in-memory bytes encoded), spans inspected, and blocks planned/scanned.

pub(crate) mod block_scan;
mod combiner;
mod dictionary_prefilter;

use std::sync::Arc;

use futures::StreamExt as _;
use tracecore_engine::scan::{
    BatchResult, ScanError, ScanOptions, SearchPlan, SpanBatch, TraceHit, search_batch,
};
use tracecore_engine::{ShardHandle, TenantId};

use super::memory::MemoryCache;
use crate::storage::StorageError;
use crate::storage::catalog::BlockCatalog;
pub use combiner::Combiner;

/// Blocks scanned concurrently, each on a shard's query queue (results are still consumed
/// newest first).
pub const BLOCK_CONCURRENCY: usize = 2;

/// A search to run.
pub struct SearchRequest {
    pub tenant: TenantId,
    pub plan: Arc<SearchPlan>,
    pub limit: usize,
    pub spans_per_spanset: usize,
    /// Unix seconds, inclusive.
    pub range_seconds: Option<(u64, u64)>,
}

/// Tempo's `SearchMetrics` (TEMPO-SPEC §4.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchMetrics {
    pub inspected_traces: u64,
    pub inspected_bytes: u64,
    pub inspected_spans: u64,
    pub total_blocks: u64,
    pub total_block_bytes: u64,
    pub total_jobs: u64,
    pub completed_jobs: u64,
}

/// The merged result.
pub struct SearchOutcome {
    pub traces: Vec<TraceHit>,
    pub metrics: SearchMetrics,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    Scan(#[from] ScanError),
    #[error("{0}")]
    Engine(#[from] tracecore_engine::EngineError),
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("block {block}: {message}")]
    Block { block: String, message: String },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("encoding in-memory traces: {0}")]
    Encode(tracecore_engine::block::BlockError),
    #[error("search task failed: {0}")]
    Task(String),
    #[error("search invariant violated: {0}")]
    Internal(&'static str),
}

/// An inclusive range of unix seconds as unix nanoseconds (the end second included whole).
pub(crate) fn range_nanos(range: Option<(u64, u64)>) -> Option<(u64, u64)> {
    range.map(|(s, e)| {
        (
            s.saturating_mul(1_000_000_000),
            e.saturating_mul(1_000_000_000).saturating_add(999_999_999),
        )
    })
}

/// Receives, while a search runs, the traces newly kept and the metrics so far (streaming
/// clients show them before the final answer).
pub type Progress<'a> = &'a mut (dyn FnMut(Vec<TraceHit>, &SearchMetrics) + Send);

pub async fn search(
    shards: &[ShardHandle],
    catalog: &Arc<BlockCatalog>,
    memory: &MemoryCache,
    request: SearchRequest,
    mut progress: Option<Progress<'_>>,
) -> Result<SearchOutcome, SearchError> {
    let options = ScanOptions {
        spans_per_spanset: request.spans_per_spanset,
        range_unix_nano: range_nanos(request.range_seconds),
    };
    let most_recent = request.plan.most_recent;
    let mut combiner = Combiner::new(if most_recent {
        usize::MAX
    } else {
        request.limit
    });
    let mut metrics = SearchMetrics::default();

    // In memory first: the newest data, newest chunk first, stopping once `limit` traces are
    // held; chunks whose tag index rules the query out are not scanned.
    let view = memory.view(shards, &request.tenant).await?;
    let blocks = catalog
        .blocks_newest_first(request.tenant.as_str(), request.range_seconds)
        .await;
    metrics.total_blocks = blocks.len() as u64;
    metrics.total_block_bytes = blocks.iter().map(|b| b.meta.size).sum();
    metrics.total_jobs = 1 + blocks.len() as u64;
    let mut chunk_index = 0;
    for chunk in view.chunks {
        if combiner.is_full() {
            break;
        }
        if !chunk.overlaps(options.range_unix_nano) || !request.plan.may_match(&chunk.index) {
            continue;
        }
        let plan = request.plan.clone();
        let bytes = chunk.bytes;
        let shard = pick_shard(shards, chunk_index)?;
        chunk_index += 1;
        // One batch per step on the shard's query queue.
        let (mut next, mut out) = (0, BatchResult::default());
        let result = shard
            .run_query(move || {
                let Some(batch) = chunk.batches.get(next) else {
                    return Some(Ok(std::mem::take(&mut out)));
                };
                next += 1;
                let r = match SpanBatch::new(batch.clone())
                    .map_err(SearchError::from)
                    .and_then(|b| Ok(search_batch(&plan, &b, &options)?))
                {
                    Ok(r) => r,
                    Err(e) => return Some(Err(e)),
                };
                out.hits.extend(r.hits);
                out.inspected_spans += r.inspected_spans;
                out.inspected_traces += r.inspected_traces;
                None
            })
            .await??;
        metrics.inspected_bytes += bytes;
        metrics.inspected_spans += result.inspected_spans;
        metrics.inspected_traces += result.inspected_traces;
        for hit in result.hits {
            combiner.add(hit);
        }
        if let Some(p) = progress.as_mut()
            && !most_recent
        {
            p(combiner.take_new(), &metrics);
        }
    }
    metrics.completed_jobs += 1;

    let plan = request.plan.clone();
    // A block stops being read once it alone holds `limit` matches (not with most_recent,
    // which must see every trace in range).
    let enough = (!most_recent).then_some(request.limit);
    let mut scans = futures::stream::iter(blocks)
        .enumerate()
        .map(|(i, block)| {
            let plan = plan.clone();
            let catalog = catalog.clone();
            async move {
                // The tag index proves the block holds no match: nothing to read.
                if block.tag_index.as_ref().is_some_and(|i| !plan.may_match(i)) {
                    return Ok(block_scan::BlockScan::default());
                }
                // Blocks are spread over the shards, whose query queues decode them.
                let shard = pick_shard(shards, i)?;
                block_scan::scan_block(shard, &catalog, &block, &plan, &options, enough).await
            }
        })
        .buffered(BLOCK_CONCURRENCY);
    let mut kept = if most_recent { Some(Vec::new()) } else { None };
    while !(combiner.is_full() && kept.is_none()) {
        let Some(scan) = scans.next().await else {
            break;
        };
        let scan = scan?;
        metrics.completed_jobs += 1;
        metrics.inspected_bytes += scan.inspected_bytes;
        metrics.inspected_spans += scan.result.inspected_spans;
        metrics.inspected_traces += scan.result.inspected_traces;
        match &mut kept {
            Some(all) => all.extend(scan.result.hits),
            None => {
                for hit in scan.result.hits {
                    combiner.add(hit);
                }
                if let Some(p) = progress.as_mut() {
                    p(combiner.take_new(), &metrics);
                }
            }
        }
    }
    let traces = match kept {
        None => combiner.finish(),
        Some(block_hits) => newest(combiner, block_hits, request.limit),
    };
    Ok(SearchOutcome { traces, metrics })
}

/// The shard whose query queue runs the `i`-th piece of work.
fn pick_shard(shards: &[ShardHandle], i: usize) -> Result<&ShardHandle, SearchError> {
    shards
        .get(i % shards.len().max(1))
        .ok_or(SearchError::Internal("no shard to scan on"))
}

/// `most_recent`: every hit merged per trace, then the `limit` newest.
fn newest(head: Combiner, block_hits: Vec<TraceHit>, limit: usize) -> Vec<TraceHit> {
    let mut all = Combiner::new(usize::MAX);
    for hit in head.finish().into_iter().chain(block_hits) {
        all.add(hit);
    }
    let mut traces = all.finish();
    traces.truncate(limit);
    traces
}
