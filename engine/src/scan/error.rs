//! Errors of planning and running a search scan.

/// Why a search could not be planned or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The query uses a feature the engine does not execute (Tempo's `… not yet supported`).
    #[error("{0} not yet supported")]
    Unsupported(String),
    /// The query is invalid for the data (Tempo reports these as 400).
    #[error("{0}")]
    Invalid(String),
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    /// A column the plan needs was not read.
    #[error("column {0} missing from the scanned batch")]
    MissingColumn(&'static str),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("stored protobuf does not decode: {0}")]
    Decode(prost::DecodeError),
    /// A stored value is malformed.
    #[error("block: {0}")]
    Block(crate::block::BlockError),
    #[error("scan invariant violated: {0}")]
    Internal(&'static str),
}

impl ScanError {
    /// True when the error is the query's fault (400), not the data's or ours (500).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            ScanError::Unsupported(_) | ScanError::Invalid(_) | ScanError::InvalidRegex(_)
        )
    }
}
