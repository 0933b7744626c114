//! tracecore's storage engine.
//!
//! Owns everything that touches trace data at rest: the per-core shards (each with its own WAL,
//! head block and block encoder), the Parquet block format, bloom filters and the by-ID read of
//! a block. It never starts a tokio runtime and never names tonic/axum (it uses only
//! runtime-agnostic `tokio::sync` channels for the bridge); object storage is reached through
//! the [`shard::BlockSink`] trait that the `rpc` crate implements on its io runtime.
//!
//! Write path: `TraceFragment`s (OTLP bytes per trace, from the receivers' skim) → shard mailbox →
//! WAL record (CRC32C, group-committed with fdatasync) → head block → cut → Parquet block
//! (+ bloom, `meta.json` last) → sink → WAL segments deleted.
//!
//! Invariants: a push is acknowledged only after its WAL record is durable (with the default
//! `wal.sync: always`); WAL segments are deleted only after every block built from them is
//! committed; replay finishes before a shard reports ready.

pub mod block;
pub mod config;
pub mod error;
pub mod fragment;
pub mod head;
pub mod metrics;
pub mod routing;
pub mod scan;
pub mod shard;
pub mod tenant;
pub mod trace_id;
pub mod trace_limits;
pub mod wal;

pub use config::{EngineConfig, WalSync};
pub use error::{EngineError, ErrorKind};
pub use fragment::TraceFragment;
pub use head::TraceSnapshot;
pub use metrics::EngineMetrics;
pub use shard::{BlockSink, ShardHandle, ShardPool};
pub use tenant::TenantId;
pub use trace_id::TraceId;
pub use trace_limits::{LimitRefusals, TraceLimits};
