//! Shards: one pinned executor per core owning a WAL, a head block and a block encoder.
//!
//! The facade talks to a shard only through its [`ShardHandle`] (Send + Clone): a bounded
//! mailbox of [`ShardCommand`]s plus oneshot replies. A full mailbox is backpressure. Inside, a
//! single pump task drains the mailbox into one batch, writes one WAL record per tenant,
//! group-commits with fdatasync, applies the batch to the head block and only then replies.
//! Cut head blocks are encoded to Parquet on the background task queue and handed to the
//! [`BlockSink`]; their WAL segments are deleted when the sink reports the block committed.

pub mod command;
pub mod cut;
pub mod handle;
pub mod memory;
pub mod orphan_wal;
pub mod pool;
pub mod pump;
pub mod runtime;
pub mod startup;
pub mod wal_writer;

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod query_tests;

pub use command::{BlockSink, ShardCommand};
pub use handle::ShardHandle;
pub use pool::ShardPool;
