//! The block module's error type.

use parquet::errors::ParquetError;

/// What went wrong while encoding, reading or describing a block.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// Traces reached the encoder out of trace-ID order.
    #[error(
        "trace {got} pushed after trace {previous}: traces must be pushed in ascending trace id order"
    )]
    TraceOrder { previous: String, got: String },
    /// An encoder option is outside its allowed range.
    #[error("invalid block encoder option {name} = {value}: {reason}")]
    InvalidOption {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The OTLP bytes of a pushed trace are not a valid `TracesData` encoding.
    #[error("invalid otlp trace bytes at byte {offset}: {reason}")]
    InvalidOtlp { offset: usize, reason: String },
    /// `finish` was called before any span was pushed.
    #[error("block for tenant {tenant:?} has no spans")]
    EmptyBlock { tenant: String },
    /// The Parquet writer failed (a bug or resource exhaustion, never bad input).
    #[error("parquet write failed: {0}")]
    Write(#[source] ParquetError),
    /// Reading the Parquet file failed: the bytes are not a readable block, or the reader's source failed.
    #[error("parquet read failed: {0}")]
    Read(#[source] ParquetError),
    /// Building an Arrow batch failed (a bug: the builders' invariants were violated).
    #[error("arrow batch build failed: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The file is a Parquet file but not a `tc1` block this reader understands.
    #[error("unsupported block format: {0}")]
    UnsupportedFormat(String),
    /// The file looked like a `tc1` block but a value in it is inconsistent.
    #[error("corrupt block: {0}")]
    Corrupt(String),
    /// An embedded protobuf value (resource, scope, attribute, event or link attributes) does not decode.
    #[error("corrupt block: column {column} holds an undecodable protobuf value: {source}")]
    Protobuf {
        column: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    /// A bloom filter object does not parse.
    #[error("invalid bloom filter ({len} bytes): {reason}")]
    InvalidBloom { len: usize, reason: String },
    /// `meta.json` does not parse or does not describe a `tc1` block.
    #[error("invalid meta.json: {0}")]
    InvalidMeta(String),
}

/// Coarse classes of [`BlockError`]; `rpc` maps these to HTTP / gRPC status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockErrorKind {
    /// The caller passed something unusable (option, ordering, empty block).
    InvalidArgument,
    /// Stored bytes are not a valid block (quarantine candidates).
    Corrupt,
    /// The byte source failed; retrying may help.
    Unavailable,
    /// A bug in this module or a dependency.
    Internal,
}

impl BlockError {
    /// The class of this error.
    pub fn kind(&self) -> BlockErrorKind {
        match self {
            BlockError::TraceOrder { .. }
            | BlockError::InvalidOption { .. }
            | BlockError::InvalidOtlp { .. }
            | BlockError::EmptyBlock { .. } => BlockErrorKind::InvalidArgument,
            BlockError::Read(ParquetError::External(_)) => BlockErrorKind::Unavailable,
            BlockError::Read(_)
            | BlockError::UnsupportedFormat(_)
            | BlockError::Corrupt(_)
            | BlockError::Protobuf { .. }
            | BlockError::InvalidBloom { .. }
            | BlockError::InvalidMeta(_) => BlockErrorKind::Corrupt,
            BlockError::Write(_) | BlockError::Arrow(_) => BlockErrorKind::Internal,
        }
    }
}
