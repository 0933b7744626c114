//! The engine's error type. Mapping to HTTP status codes and gRPC statuses happens only in `rpc`.

use std::io;

/// What kind of failure an [`EngineError`] is, so the facade can answer with the right status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is wrong (bad tenant, bad ID, malformed data).
    InvalidArgument,
    /// A queue or memory budget is full; the client should retry later.
    Overloaded,
    /// The engine cannot serve right now (disk failure, shutting down); retryable.
    Unavailable,
    /// A bug or an unexpected state.
    Internal,
}

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid tenant id {tenant:?}: {reason}")]
    InvalidTenant {
        tenant: String,
        reason: &'static str,
    },
    #[error("shard {shard} is overloaded: {reason}")]
    Overloaded { shard: usize, reason: &'static str },
    #[error(
        "shard {shard} holds {held} bytes in memory and this request adds {incoming}, over its budget of {budget} bytes (engine.max_memory_bytes): block uploads are behind, retry later"
    )]
    MemoryBudgetExceeded {
        shard: usize,
        held: usize,
        incoming: usize,
        budget: usize,
    },
    #[error(
        "tenant {tenant} holds over its share of {share} bytes in the head block of shard {shard} (engine.max_head_bytes_per_tenant): retry after the next block cut"
    )]
    TenantHeadExceeded {
        shard: usize,
        tenant: String,
        share: usize,
    },
    #[error("shard {shard} is unavailable: {reason}")]
    ShardUnavailable { shard: usize, reason: String },
    #[error("wal write failed on shard {shard}: {source}")]
    WalWrite { shard: usize, source: io::Error },
    #[error("wal replay failed on shard {shard} at {path}: {source}")]
    WalReplay {
        shard: usize,
        path: String,
        source: io::Error,
    },
    #[error("shard start-up failed: {0}")]
    Startup(String),
    #[error("block error: {0}")]
    Block(#[from] crate::block::BlockError),
    #[error("block upload failed: {0}")]
    Upload(String),
    #[error("query work on shard {shard} did not finish (it panicked or the shard stopped)")]
    QueryPanicked { shard: usize },
}

impl EngineError {
    /// The kind used to choose a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::InvalidTenant { .. } => ErrorKind::InvalidArgument,
            EngineError::Overloaded { .. }
            | EngineError::MemoryBudgetExceeded { .. }
            | EngineError::TenantHeadExceeded { .. } => ErrorKind::Overloaded,
            EngineError::ShardUnavailable { .. } | EngineError::WalWrite { .. } => {
                ErrorKind::Unavailable
            }
            EngineError::WalReplay { .. }
            | EngineError::Startup(_)
            | EngineError::Block(_)
            | EngineError::Upload(_)
            | EngineError::QueryPanicked { .. } => ErrorKind::Internal,
        }
    }
}
