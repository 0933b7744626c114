//! Messages into a shard, and the sink that receives finished blocks.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::block::EncodedBlock;
use crate::error::EngineError;
use crate::fragment::TraceFragment;
use crate::head::TraceSnapshot;
use crate::tenant::TenantId;
use crate::trace_limits::{LimitRefusals, TraceLimits};

/// Reply channel of a command.
pub type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// A request to a shard's pump.
pub enum ShardCommand {
    /// Make fragments durable, then add them to the head block. Replies after fdatasync
    /// with the spans refused for the tenant's per-trace `limits` (never written).
    Push {
        tenant: TenantId,
        fragments: Vec<TraceFragment>,
        bytes: usize,
        limits: TraceLimits,
        reply: Reply<LimitRefusals>,
    },
    /// The OTLP bytes (valid `TracesData`) of a trace held in memory: head and cut blocks not
    /// yet committed. Empty when the shard holds none of it.
    FindTrace {
        tenant: TenantId,
        trace_id: [u8; 16],
        reply: Reply<Vec<Bytes>>,
    },
    /// Every trace of `tenant` held in memory (head and cut blocks not yet committed), for
    /// searches. A trace may appear more than once (once per cut and once in the head).
    SnapshotTraces {
        tenant: TenantId,
        reply: Reply<Vec<TraceSnapshot>>,
    },
    /// Cut the head block now; reply when everything cut so far is committed to the bucket.
    Flush { reply: Reply<()> },
    /// Periodic check: cut by age or size, refresh gauges.
    Tick,
    /// A cut's blocks were committed (or failed for good).
    CutCommitted { cut_seq: u64 },
    /// CPU work of a query (block scans), run on the shard's query task queue.
    Query(QueryJob),
}

/// CPU work a query hands to a shard, in slices: the shard calls [`QueryJob::step`] on its
/// query task queue until it returns `false`, yielding to ingest between calls. A step should
/// take well under a millisecond; the job delivers its result through a channel it owns.
pub struct QueryJob {
    step: Box<dyn FnMut() -> bool + Send>,
}

impl QueryJob {
    pub fn new(step: impl FnMut() -> bool + Send + 'static) -> QueryJob {
        QueryJob {
            step: Box::new(step),
        }
    }

    /// Does one slice of the work; `false` once finished.
    pub fn step(&mut self) -> bool {
        (self.step)()
    }
}

/// Where finished blocks go. Implemented by `rpc` on its object-store io runtime; the returned
/// future resolves when `meta.json` (written last) is durable in the bucket and the block is
/// visible to queries.
pub trait BlockSink: Send + Sync + 'static {
    fn commit(
        &self,
        block: EncodedBlock,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
}
