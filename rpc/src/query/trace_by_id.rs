//! Trace by ID: every shard's memory (head and cut blocks) plus the bucket's blocks.

use std::sync::Arc;

use prost::Message;
use tracecore_engine::{ShardHandle, TenantId, TraceId};
use tracecore_proto::otlp::{ResourceSpans, TracesData};

use super::combine::combine;
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

/// Finds `id` for `tenant`. The owning shard is asked for what it holds in memory (traces are
/// routed by ID, so one shard has all of a trace's unflushed spans); blocks are pruned by time
/// range (unix seconds), bloom filter and Parquet statistics.
pub async fn find_trace(
    shard: &ShardHandle,
    catalog: &Arc<BlockCatalog>,
    tenant: &TenantId,
    id: TraceId,
    range_seconds: Option<(u64, u64)>,
) -> Result<FoundTrace, TraceByIdError> {
    let (memory, blocks) = tokio::join!(
        shard.find_trace(tenant.clone(), id.0),
        catalog.find_trace(tenant.as_str(), &id.0, range_seconds)
    );
    let memory = memory?;
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
    Ok(FoundTrace {
        trace: combine(parts),
        inspected_bytes: inspected,
    })
}
