//! Reading an HTTP receiver's request body: at most `limit` bytes (refused as soon as more
//! arrive) and within the read timeout (a client that trickles its body holds a connection and
//! a buffer; Tempo's Go server drops it after `server.http_server_read_timeout`).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyReadError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error(
        "request body not received within {}s (server.http_server_read_timeout)",
        timeout.as_secs_f64()
    )]
    TimedOut { timeout: Duration },
    #[error("cannot read request body: {0}")]
    Broken(String),
}

impl BodyReadError {
    /// 413, 408 or 400.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyReadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyReadError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyReadError::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Collects `body`, refusing it past `limit` bytes or `timeout` (`None`: no time limit).
pub async fn read_request_body(
    body: Body,
    limit: usize,
    timeout: Option<Duration>,
) -> Result<Bytes, BodyReadError> {
    let collect = http_body_util::Limited::new(body, limit).collect();
    let collected = match timeout {
        None => collect.await,
        Some(timeout) => tokio::time::timeout(timeout, collect)
            .await
            .map_err(|_| BodyReadError::TimedOut { timeout })?,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(BodyReadError::TooLarge { limit })
            } else {
                Err(BodyReadError::Broken(error.to_string()))
            }
        }
    }
}
