//! What the shards hold in memory (head blocks and cut blocks not yet committed), prepared for
//! queries: traces are grouped by head block (epoch) and arrival order into chunks of
//! [`CHUNK_TRACES`], each encoded once into Arrow batches plus a tag index — the same form a
//! committed block has — and cached. A chunk is encoded on the shard that holds its traces,
//! as a query job of a few traces per step. Within an epoch traces are only appended and only
//! gain fragments, so a chunk whose (trace ID, fragment count) list is unchanged is reused as
//! is; a chunk that gained spans is re-encoded. Under steady ingest a query therefore encodes
//! only the newest chunks, and the tag indexes let searches and tag lookups skip the rest.
//!
//! Memory: the cache holds at most the Arrow form of what is in memory for the tenants that
//! were queried; entries of cut-and-committed head blocks are dropped on the next query of
//! their tenant, and entries unused for [`IDLE_EVICTION`] on any query.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use tracecore_engine::block::BlockEncoder;
use tracecore_engine::block::tag_index::{BlockTagIndex, TagIndexBuilder};
use tracecore_engine::{ShardHandle, TenantId, TraceSnapshot};

use super::search::SearchError;

/// Traces per chunk.
pub const CHUNK_TRACES: usize = 512;
/// Cached chunks not used for this long are dropped.
pub const IDLE_EVICTION: Duration = Duration::from_secs(300);

/// A chunk of in-memory traces in block form.
pub struct MemoryChunk {
    /// Whole traces, ascending trace ID within each batch.
    pub batches: Vec<RecordBatch>,
    pub index: BlockTagIndex,
    /// OTLP bytes encoded.
    pub bytes: u64,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    signature: Vec<([u8; 16], usize)>,
}

impl MemoryChunk {
    /// Whether the chunk's traces can overlap `range` (unix nanoseconds).
    pub fn overlaps(&self, range: Option<(u64, u64)>) -> bool {
        range.is_none_or(|(from, to)| self.start_unix_nano <= to && self.end_unix_nano >= from)
    }
}

type Key = (String, u64, usize);

struct Entry {
    chunk: Arc<MemoryChunk>,
    last_used: Instant,
}

/// The chunk cache (one per process).
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

/// The in-memory data of a tenant for one query.
pub struct MemoryView {
    /// Newest first (by the latest span end in the chunk).
    pub chunks: Vec<Arc<MemoryChunk>>,
    /// OTLP bytes encoded for this query (chunks that were not cached).
    pub encoded_bytes: u64,
}

fn signature(traces: &[TraceSnapshot]) -> Vec<([u8; 16], usize)> {
    traces
        .iter()
        .map(|t| (t.trace_id, t.fragments.len()))
        .collect()
}

/// Traces encoded per step of a chunk's encoding job (~0.5 ms of work).
const TRACES_PER_STEP: usize = 32;

/// The encoding of one chunk, a few traces per step: run as a query job on the shard that
/// holds the traces.
struct ChunkEncoding {
    /// Sorted by trace ID (the encoder's order).
    traces: Vec<TraceSnapshot>,
    next: usize,
    encoder: BlockEncoder,
    joined: Vec<u8>,
    bytes: u64,
    start: u64,
    end: u64,
    signature: Vec<([u8; 16], usize)>,
}

impl ChunkEncoding {
    fn new(tenant: &str, mut traces: Vec<TraceSnapshot>) -> ChunkEncoding {
        let signature = signature(&traces);
        traces.sort_by_key(|t| t.trace_id);
        ChunkEncoding {
            encoder: BlockEncoder::in_memory(tenant, traces.len()),
            traces,
            next: 0,
            joined: Vec::new(),
            bytes: 0,
            start: u64::MAX,
            end: 0,
            signature,
        }
    }

    /// Encodes the next traces; the chunk once every trace is in.
    fn step(&mut self) -> Option<Result<MemoryChunk, SearchError>> {
        let until = (self.next + TRACES_PER_STEP).min(self.traces.len());
        for t in &self.traces[self.next..until] {
            self.joined.clear();
            for f in &t.fragments {
                self.joined.extend_from_slice(f);
            }
            self.bytes += self.joined.len() as u64;
            self.start = self.start.min(t.start_unix_nano);
            self.end = self.end.max(t.end_unix_nano);
            if let Err(error) = self.encoder.push_trace_otlp(&t.trace_id, &self.joined) {
                // Acknowledged bytes were validated on ingest; skip rather than fail the query.
                tracing::error!(trace_id = %hex::encode(t.trace_id), %error, "in-memory trace does not encode");
            }
        }
        self.next = until;
        if self.next < self.traces.len() {
            return None;
        }
        Some(self.finish())
    }

    fn finish(&mut self) -> Result<MemoryChunk, SearchError> {
        let encoder = std::mem::replace(&mut self.encoder, BlockEncoder::in_memory("", 0));
        let batches = encoder.finish_batches().map_err(SearchError::Encode)?;
        let mut index = TagIndexBuilder::default();
        for batch in &batches {
            index.add_batch(batch).map_err(SearchError::Encode)?;
        }
        Ok(MemoryChunk {
            batches,
            index: index.finish(),
            bytes: self.bytes,
            start_unix_nano: self.start,
            end_unix_nano: self.end,
            signature: std::mem::take(&mut self.signature),
        })
    }
}

/// Encodes `traces` on `shard`'s query queue.
async fn encode_on(
    shard: &ShardHandle,
    tenant: &str,
    traces: Vec<TraceSnapshot>,
) -> Result<MemoryChunk, SearchError> {
    let mut encoding = ChunkEncoding::new(tenant, traces);
    shard.run_query(move || encoding.step()).await?
}

impl MemoryCache {
    /// The tenant's in-memory traces as chunks, encoding only what changed since last time.
    pub async fn view(
        &self,
        shards: &[ShardHandle],
        tenant: &TenantId,
    ) -> Result<MemoryView, SearchError> {
        let per_shard =
            futures::future::try_join_all(shards.iter().map(|s| s.snapshot_traces(tenant.clone())))
                .await?;
        // Chunks: per shard, consecutive traces of one epoch, CHUNK_TRACES at a time.
        let mut wanted: Vec<(Key, usize, Vec<TraceSnapshot>)> = Vec::new();
        for (shard, traces) in per_shard.into_iter().enumerate() {
            let mut by_epoch: BTreeMap<u64, Vec<TraceSnapshot>> = BTreeMap::new();
            for t in traces {
                by_epoch.entry(t.epoch).or_default().push(t);
            }
            for (epoch, traces) in by_epoch {
                let mut traces = traces.into_iter().peekable();
                let mut n = 0;
                while traces.peek().is_some() {
                    let chunk: Vec<TraceSnapshot> = traces.by_ref().take(CHUNK_TRACES).collect();
                    wanted.push(((tenant.as_str().to_owned(), epoch, n), shard, chunk));
                    n += 1;
                }
            }
        }
        let now = Instant::now();
        let mut ready: Vec<Arc<MemoryChunk>> = Vec::with_capacity(wanted.len());
        let mut missing: Vec<(Key, usize, Vec<TraceSnapshot>)> = Vec::new();
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            for (key, shard, traces) in wanted.iter() {
                match entries.get_mut(key) {
                    Some(e) if e.chunk.signature == signature(traces) => {
                        e.last_used = now;
                        ready.push(e.chunk.clone());
                    }
                    _ => missing.push((key.clone(), *shard, traces.clone())),
                }
            }
            // Chunks of this tenant no longer in memory (cut and committed) go, and anything
            // idle for long.
            let live: HashSet<&Key> = wanted.iter().map(|(k, _, _)| k).collect();
            entries.retain(|k, e| {
                (k.0 != tenant.as_str() || live.contains(k))
                    && now.duration_since(e.last_used) < IDLE_EVICTION
            });
        }
        let mut encoded_bytes = 0;
        if !missing.is_empty() {
            // Each chunk is encoded on the shard that holds its traces.
            let built = futures::future::try_join_all(missing.into_iter().map(
                |(key, shard, traces)| async move {
                    let shard = shards
                        .get(shard)
                        .ok_or(SearchError::Internal("chunk of an unknown shard"))?;
                    let chunk = encode_on(shard, tenant.as_str(), traces).await?;
                    Ok::<_, SearchError>((key, Arc::new(chunk)))
                },
            ))
            .await?;
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            for (key, chunk) in built {
                encoded_bytes += chunk.bytes;
                ready.push(chunk.clone());
                entries.insert(
                    key,
                    Entry {
                        chunk,
                        last_used: now,
                    },
                );
            }
        }
        ready.sort_by_key(|c| std::cmp::Reverse(c.end_unix_nano));
        Ok(MemoryView {
            chunks: ready,
            encoded_bytes,
        })
    }
}
