//! The engine's Prometheus metrics. Shards update them at batch granularity (never per span).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set `{shard}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabel {
    pub shard: String,
}

/// Label set `{tenant}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    pub tenant: String,
}

/// Metrics owned by the engine; cheap to clone (shared atomics).
#[derive(Clone)]
pub struct EngineMetrics {
    pub wal_fsync_seconds: Histogram,
    pub wal_bytes_written: Counter,
    pub wal_records_written: Counter,
    pub wal_replay_records: Counter,
    pub wal_replay_corrupt_records: Counter,
    pub group_commit_requests: Histogram,
    pub head_live_traces: Family<ShardLabel, Gauge>,
    pub head_bytes: Family<ShardLabel, Gauge>,
    pub memory_bytes: Family<ShardLabel, Gauge>,
    pub traces_created: Family<TenantLabel, Counter>,
    pub blocks_flushed: Counter,
    pub failed_flushes: Counter,
    pub block_encode_seconds: Histogram,
    pub block_bytes_written: Counter,
    pub query_jobs: Family<ShardLabel, Counter>,
}

impl EngineMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> EngineMetrics {
        let metrics = EngineMetrics {
            wal_fsync_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            wal_bytes_written: Counter::default(),
            wal_records_written: Counter::default(),
            wal_replay_records: Counter::default(),
            wal_replay_corrupt_records: Counter::default(),
            group_commit_requests: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            head_live_traces: Family::default(),
            head_bytes: Family::default(),
            memory_bytes: Family::default(),
            traces_created: Family::default(),
            blocks_flushed: Counter::default(),
            failed_flushes: Counter::default(),
            block_encode_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            block_bytes_written: Counter::default(),
            query_jobs: Family::default(),
        };
        let m = metrics.clone();
        registry.register(
            "tracecore_wal_fsync_duration_seconds",
            "Latency of one WAL group-commit fdatasync",
            m.wal_fsync_seconds,
        );
        registry.register(
            "tracecore_wal_written_bytes",
            "Bytes appended to the WAL",
            m.wal_bytes_written,
        );
        registry.register(
            "tracecore_wal_records_written",
            "Records appended to the WAL",
            m.wal_records_written,
        );
        registry.register(
            "tracecore_wal_replayed_records",
            "WAL records replayed at start-up",
            m.wal_replay_records,
        );
        registry.register(
            "tempo_ingester_replay_errors",
            "Corrupt WAL records found at replay (replay of that segment stopped there)",
            m.wal_replay_corrupt_records,
        );
        registry.register(
            "tracecore_wal_group_commit_requests",
            "Push requests acknowledged by one group commit",
            m.group_commit_requests,
        );
        registry.register(
            "tracecore_head_live_traces",
            "Traces in the head block of a shard",
            m.head_live_traces,
        );
        registry.register(
            "tracecore_head_bytes",
            "OTLP bytes held in the head block of a shard",
            m.head_bytes,
        );
        registry.register(
            "tracecore_shard_memory_bytes",
            "OTLP bytes a shard holds in memory: its head block plus cuts not yet committed",
            m.memory_bytes,
        );
        registry.register(
            "tempo_ingester_traces_created",
            "Traces created in head blocks",
            m.traces_created,
        );
        registry.register(
            "tempo_ingester_blocks_flushed",
            "Blocks committed to the bucket",
            m.blocks_flushed,
        );
        registry.register(
            "tempo_ingester_failed_flushes",
            "Block encodes or uploads that failed (retried)",
            m.failed_flushes,
        );
        registry.register(
            "tracecore_block_encode_duration_seconds",
            "Time to encode one cut head block into Parquet",
            m.block_encode_seconds,
        );
        registry.register(
            "tracecore_block_written_bytes",
            "Bytes of data.parquet written",
            m.block_bytes_written,
        );
        registry.register(
            "tracecore_shard_query_jobs",
            "Query jobs (search scans of a block or an in-memory chunk) run on the shard",
            m.query_jobs,
        );
        metrics
    }

    /// Metrics registered nowhere (tests, benches).
    pub fn unregistered() -> EngineMetrics {
        EngineMetrics::register(&mut Registry::default())
    }
}
