//! Scans what the shards hold in memory (head blocks and cut blocks not yet committed): the
//! traces' OTLP fragments are encoded into the same Arrow batches a block holds
//! (`BlockEncoder::in_memory`) and run through the same scan, so head and block answers agree.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use bytes::Bytes;
use tracecore_engine::block::BlockEncoder;
use tracecore_engine::scan::{BatchResult, ScanOptions, SearchPlan, SpanBatch, search_batch};
use tracecore_engine::{ShardHandle, TenantId, TraceSnapshot};

use super::SearchError;

/// One in-memory trace: its fragments from every shard, head and cut blocks.
#[derive(Default)]
pub struct MemoryTrace {
    pub fragments: Vec<Bytes>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

/// In-memory traces of `tenant`, by trace ID.
pub type MemoryTraces = BTreeMap<[u8; 16], MemoryTrace>;

/// In-memory traces of `tenant` on every shard, merged per trace ID, sorted by ID.
pub async fn snapshot(
    shards: &[ShardHandle],
    tenant: &TenantId,
) -> Result<MemoryTraces, SearchError> {
    let per_shard =
        futures::future::try_join_all(shards.iter().map(|s| s.snapshot_traces(tenant.clone())))
            .await?;
    let mut traces = MemoryTraces::new();
    for t in per_shard.into_iter().flatten() {
        let TraceSnapshot {
            trace_id,
            fragments,
            start_unix_nano,
            end_unix_nano,
            ..
        } = t;
        let entry = traces.entry(trace_id).or_insert_with(|| MemoryTrace {
            start_unix_nano: u64::MAX,
            ..MemoryTrace::default()
        });
        entry.fragments.extend(fragments);
        entry.start_unix_nano = entry.start_unix_nano.min(start_unix_nano);
        entry.end_unix_nano = entry.end_unix_nano.max(end_unix_nano);
    }
    Ok(traces)
}

/// Traces overlapping `range` (unix nanoseconds), newest start first, in chunks that grow
/// from `first` traces (doubling, up to 8192): a `limit` search usually stops after the first
/// chunk instead of encoding everything in memory. Each chunk is sorted by trace ID, as the
/// encoder requires.
pub fn newest_first_chunks(
    traces: MemoryTraces,
    range: Option<(u64, u64)>,
    first: usize,
) -> Vec<BTreeMap<[u8; 16], Vec<Bytes>>> {
    let mut selected: Vec<([u8; 16], MemoryTrace)> = traces
        .into_iter()
        .filter(|(_, t)| {
            range.is_none_or(|(from, to)| t.start_unix_nano <= to && t.end_unix_nano >= from)
        })
        .collect();
    selected.sort_by(|a, b| {
        b.1.start_unix_nano
            .cmp(&a.1.start_unix_nano)
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut chunks = Vec::new();
    let mut size = first.max(1);
    let mut rest = selected.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: BTreeMap<[u8; 16], Vec<Bytes>> = rest
            .by_ref()
            .take(size)
            .map(|(id, t)| (id, t.fragments))
            .collect();
        chunks.push(chunk);
        size = size.saturating_mul(2).min(8192);
    }
    chunks
}

/// The snapshot as `tc1` Arrow batches and the OTLP bytes encoded (CPU-bound: call from a
/// blocking thread).
pub fn batches(
    tenant: &str,
    traces: &BTreeMap<[u8; 16], Vec<Bytes>>,
) -> Result<(Vec<RecordBatch>, u64), SearchError> {
    let mut encoder = BlockEncoder::in_memory(tenant, traces.len());
    let mut bytes = 0u64;
    let mut joined = Vec::new();
    for (id, fragments) in traces {
        joined.clear();
        for f in fragments {
            joined.extend_from_slice(f);
        }
        bytes += joined.len() as u64;
        if let Err(error) = encoder.push_trace_otlp(id, &joined) {
            // Acknowledged bytes were validated on ingest; skip rather than fail the query.
            tracing::error!(trace_id = %hex::encode(id), %error, "head trace does not encode");
        }
    }
    Ok((
        encoder.finish_batches().map_err(SearchError::Encode)?,
        bytes,
    ))
}

/// Runs `plan` over the snapshot (CPU-bound: call from a blocking thread).
pub fn scan(
    tenant: &str,
    traces: &BTreeMap<[u8; 16], Vec<Bytes>>,
    plan: &SearchPlan,
    options: &ScanOptions,
) -> Result<(BatchResult, u64), SearchError> {
    let (batches, bytes) = batches(tenant, traces)?;
    let mut out = BatchResult::default();
    for batch in batches {
        let r = search_batch(plan, &SpanBatch::new(batch)?, options)?;
        out.hits.extend(r.hits);
        out.inspected_spans += r.inspected_spans;
        out.inspected_traces += r.inspected_traces;
    }
    Ok((out, bytes))
}
