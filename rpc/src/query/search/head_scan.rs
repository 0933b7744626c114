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

/// In-memory traces of `tenant` on every shard, merged per trace ID, sorted by ID.
pub async fn snapshot(
    shards: &[ShardHandle],
    tenant: &TenantId,
) -> Result<BTreeMap<[u8; 16], Vec<Bytes>>, SearchError> {
    let per_shard =
        futures::future::try_join_all(shards.iter().map(|s| s.snapshot_traces(tenant.clone())))
            .await?;
    let mut traces: BTreeMap<[u8; 16], Vec<Bytes>> = BTreeMap::new();
    for TraceSnapshot {
        trace_id,
        fragments,
        ..
    } in per_shard.into_iter().flatten()
    {
        traces.entry(trace_id).or_default().extend(fragments);
    }
    Ok(traces)
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
