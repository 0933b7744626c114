//! Engine settings, filled by `rpc` from the YAML config (Tempo key names live there).

use std::path::PathBuf;
use std::time::Duration;

/// When the WAL is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalSync {
    /// fdatasync every group commit before any request in it is acknowledged (default).
    Always,
    /// Never fsync. **Unsafe**: acknowledged spans can be lost on crash or power loss.
    Never,
}

/// Settings of the shard pool, its WALs and head blocks.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Number of shards; 0 = one per CPU of the process's allowed CPU set.
    pub shards: usize,
    /// Root of the per-shard WAL directories.
    pub wal_path: PathBuf,
    /// Durability of acknowledgements.
    pub wal_sync: WalSync,
    /// Records larger than this are zstd-compressed in the WAL.
    pub wal_compress_min_bytes: usize,
    /// A trace with no new spans for this long is no longer "live" (Tempo `trace_idle_period`).
    pub trace_idle_period: Duration,
    /// Cut the head block after this age (Tempo `max_block_duration`).
    pub max_block_duration: Duration,
    /// Cut the head block at this many bytes of OTLP (Tempo `max_block_bytes`), per shard.
    pub max_block_bytes: usize,
    /// Memory bound of a shard's head block: cut when it holds this many OTLP bytes, even
    /// below `max_block_bytes` (keeps RSS bounded at full ingest rate).
    pub max_head_bytes: usize,
    /// How often a shard checks whether to cut (Tempo `flush_check_period`).
    pub flush_check_period: Duration,
    /// Mailbox capacity per shard, in commands; a full mailbox is backpressure (429).
    pub mailbox_capacity: usize,
    /// Most bytes drained into one group commit.
    pub max_batch_bytes: usize,
    /// Cut blocks waiting to be encoded and uploaded before ingest is refused (backpressure).
    pub max_pending_cuts: usize,
    /// Memory budget of a shard: OTLP bytes held in its live head block plus its cuts not yet
    /// committed. A push that would exceed it is refused before the WAL write (429, retryable)
    /// instead of buffering without bound while uploads lag. A shard holding nothing admits any
    /// push, so one request larger than the budget cannot be refused forever.
    pub max_memory_bytes: usize,
    /// A tenant's share of a shard's live head block: once the tenant holds this many OTLP
    /// bytes in the head, its further pushes to that shard are refused (429, retryable) until the
    /// head is cut, while other tenants continue. One group commit may overshoot it by at most
    /// `max_batch_bytes`.
    pub max_head_bytes_per_tenant: usize,
    /// Spans per Parquet row group.
    pub row_group_spans: usize,
    /// zstd level of Parquet pages.
    pub zstd_level: i32,
    /// Bloom filter false-positive rate.
    pub bloom_false_positive: f64,
    /// glommio DMA buffer memory per shard; 0 = automatic from the memlock limit.
    pub io_memory_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            shards: 0,
            wal_path: PathBuf::from("./data/wal"),
            wal_sync: WalSync::Always,
            wal_compress_min_bytes: 256 * 1024,
            trace_idle_period: Duration::from_secs(5),
            max_block_duration: Duration::from_secs(30 * 60),
            max_block_bytes: 500 * 1024 * 1024,
            max_head_bytes: 64 * 1024 * 1024,
            flush_check_period: Duration::from_secs(10),
            mailbox_capacity: 1024,
            max_batch_bytes: 16 * 1024 * 1024,
            max_pending_cuts: 2,
            max_memory_bytes: 4 * 64 * 1024 * 1024,
            max_head_bytes_per_tenant: 64 * 1024 * 1024,
            row_group_spans: 100_000,
            zstd_level: 3,
            bloom_false_positive: 0.01,
            io_memory_bytes: 0,
        }
    }
}
