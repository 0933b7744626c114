//! Object storage: the bucket backend, the sink that commits blocks, the block catalog that
//! answers by-ID reads, and Parquet range reads over `object_store`.
//!
//! Everything here runs on the tokio io runtime; shards reach it only through
//! [`sink::BucketSink`] (the engine's `BlockSink`).

pub mod backend;
pub mod catalog;
pub mod object_reader;
pub mod sink;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("block {block}: {source}")]
    Block {
        block: String,
        source: tracecore_engine::block::BlockError,
    },
    #[error("invalid block meta at {path}: {message}")]
    BadMeta { path: String, message: String },
    #[error("storage configuration: {0}")]
    Config(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}
