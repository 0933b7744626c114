//! Trace by ID: every shard's memory (head and cut blocks) plus the bucket's blocks.

use std::sync::Arc;

use prost::Message;
use tracecore_engine::{ShardHandle, TenantId, TraceId};
use tracecore_proto::otlp::{ResourceSpans, TracesData};

use super::combine::combine;
use super::span_id_dedupe::dedupe_shared_span_ids;
use crate::storage::StorageError;
use crate::storage::catalog::BlockCatalog;

/// A combined trace and what reading it cost.
pub struct FoundTrace {
    pub trace: TracesData,
    pub inspected_bytes: u64,
}

/// Why a by-ID read failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceByIdError {
    #[error("{0}")]
    Engine(#[from] tracecore_engine::EngineError),
    #[error("{0}")]
    Storage(#[from] StorageError),
}

/// Finds `id` for `tenant`. Every shard is asked for what it holds in memory: traces are
/// routed by ID, but after a change of the shard count a trace's older spans may sit on
/// another shard's replayed WAL. Blocks are pruned by time range (unix seconds), bloom filter
/// and Parquet statistics.
pub async fn find_trace(
    shards: &[ShardHandle],
    catalog: &Arc<BlockCatalog>,
    tenant: &TenantId,
    id: TraceId,
    range_seconds: Option<(u64, u64)>,
) -> Result<FoundTrace, TraceByIdError> {
    let memory = futures::future::try_join_all(
        shards
            .iter()
            .map(|shard| shard.find_trace(tenant.clone(), id.0)),
    );
    let (memory, blocks) = tokio::join!(
        memory,
        catalog.find_trace(tenant.as_str(), &id.0, range_seconds)
    );
    let memory: Vec<bytes::Bytes> = memory?.into_iter().flatten().collect();
    let blocks = blocks?;
    let mut parts: Vec<ResourceSpans> = blocks.resource_spans;
    let mut inspected = blocks.inspected_bytes;
    for bytes in memory {
        inspected += bytes.len() as u64;
        match TracesData::decode(bytes) {
            Ok(data) => parts.extend(data.resource_spans),
            Err(error) => {
                tracing::error!(trace_id = %id, %error, "head trace bytes do not decode");
            }
        }
    }
    let mut trace = combine(parts);
    dedupe_shared_span_ids(&mut trace);
    Ok(FoundTrace {
        trace,
        inspected_bytes: inspected,
    })
}
