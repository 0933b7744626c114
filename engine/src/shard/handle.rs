//! The Send + Clone handle through which the facade reaches one shard.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::command::{QueryJob, ShardCommand};
use super::memory::MemoryGate;
use crate::error::EngineError;
use crate::fragment::TraceFragment;
use crate::head::TraceSnapshot;
use crate::tenant::TenantId;
use crate::trace_limits::{LimitRefusals, TraceLimits};

/// Mailbox of one shard.
#[derive(Clone)]
pub struct ShardHandle {
    pub(crate) id: usize,
    pub(crate) tx: mpsc::Sender<ShardCommand>,
    pub(crate) memory: Arc<MemoryGate>,
}

impl ShardHandle {
    /// The shard's index.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Reserves a mailbox slot for a push of `bytes` from `tenant` without waiting, so a
    /// request spanning several shards can be admitted to all of them or to none. `Overloaded`
    /// kinds when the mailbox is full, the shard is over its memory budget or the tenant over
    /// its share of the head block (see [`super::memory`]); the pump checks the budgets again.
    pub fn try_reserve(
        &self,
        tenant: &TenantId,
        bytes: usize,
    ) -> Result<PushPermit<'_>, EngineError> {
        self.memory.precheck(tenant.as_str(), bytes)?;
        let permit = self.tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineError::Overloaded {
                shard: self.id,
                reason: "ingest queue is full",
            },
            mpsc::error::TrySendError::Closed(_) => self.stopped(),
        })?;
        Ok(PushPermit { permit })
    }

    /// Queues fragments for durable ingest under the tenant's per-trace `limits`. Fails at
    /// once with an `Overloaded` kind when the mailbox or a memory budget is full; otherwise the returned receiver resolves
    /// after fdatasync with the spans refused for the limits.
    pub fn push(
        &self,
        tenant: TenantId,
        fragments: Vec<TraceFragment>,
        limits: TraceLimits,
    ) -> Result<oneshot::Receiver<Result<LimitRefusals, EngineError>>, EngineError> {
        let bytes = fragments.iter().map(TraceFragment::byte_len).sum();
        self.memory.precheck(tenant.as_str(), bytes)?;
        let (reply, rx) = oneshot::channel();
        let command = ShardCommand::Push {
            tenant,
            fragments,
            bytes,
            limits,
            reply,
        };
        self.tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineError::Overloaded {
                shard: self.id,
                reason: "ingest queue is full",
            },
            mpsc::error::TrySendError::Closed(_) => self.stopped(),
        })?;
        Ok(rx)
    }

    /// OTLP bytes the shard holds in memory (live head plus uncommitted cuts), as last
    /// published by its pump.
    pub fn memory_bytes(&self) -> usize {
        self.memory.held()
    }

    /// The in-memory OTLP bytes of a trace on this shard.
    pub async fn find_trace(
        &self,
        tenant: TenantId,
        trace_id: [u8; 16],
    ) -> Result<Vec<Bytes>, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.send(ShardCommand::FindTrace {
            tenant,
            trace_id,
            reply,
        })
        .await?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Every trace of `tenant` this shard holds in memory (see [`ShardCommand::SnapshotTraces`]).
    pub async fn snapshot_traces(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<TraceSnapshot>, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.send(ShardCommand::SnapshotTraces { tenant, reply })
            .await?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Cuts the head block and waits until everything is committed to the bucket.
    pub async fn flush(&self) -> Result<(), EngineError> {
        let (reply, rx) = oneshot::channel();
        self.send(ShardCommand::Flush { reply }).await?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Runs CPU work of a query on the shard's query task queue: `step` is called until it
    /// returns `Some(result)`, and the shard yields to ingest between calls, so each call
    /// should take well under a millisecond.
    pub async fn run_query<T, F>(&self, mut step: F) -> Result<T, EngineError>
    where
        F: FnMut() -> Option<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let mut reply = Some(reply);
        let job = QueryJob::new(move || match step() {
            None => true,
            Some(result) => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(result);
                }
                false
            }
        });
        self.send(ShardCommand::Query(job)).await?;
        rx.await
            .map_err(|_| EngineError::QueryPanicked { shard: self.id })
    }

    async fn send(&self, command: ShardCommand) -> Result<(), EngineError> {
        self.tx.send(command).await.map_err(|_| self.stopped())
    }

    fn stopped(&self) -> EngineError {
        EngineError::ShardUnavailable {
            shard: self.id,
            reason: "shard has stopped".to_string(),
        }
    }
}

/// A reserved slot in a shard's mailbox (see [`ShardHandle::try_reserve`]).
pub struct PushPermit<'a> {
    permit: mpsc::Permit<'a, ShardCommand>,
}

impl PushPermit<'_> {
    /// Sends the push through the reserved slot; resolves after fdatasync with the spans
    /// refused for the tenant's per-trace `limits`.
    pub fn push(
        self,
        tenant: TenantId,
        fragments: Vec<TraceFragment>,
        limits: TraceLimits,
    ) -> oneshot::Receiver<Result<LimitRefusals, EngineError>> {
        let (reply, rx) = oneshot::channel();
        let bytes = fragments.iter().map(TraceFragment::byte_len).sum();
        self.permit.send(ShardCommand::Push {
            tenant,
            fragments,
            bytes,
            limits,
            reply,
        });
        rx
    }
}
