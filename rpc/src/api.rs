//! Tempo's HTTP API on the server port: trace by ID, operational endpoints, request metrics.

pub mod ops;
pub mod trace_by_id;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use prometheus_client::registry::Registry;
use tracecore_engine::ShardHandle;

use crate::config::Config;
use crate::storage::catalog::BlockCatalog;
use crate::telemetry::{RequestLabels, RpcMetrics};

/// Shared state of the API handlers.
pub struct ApiState {
    pub config: Arc<Config>,
    pub registry: Registry,
    pub metrics: RpcMetrics,
    pub catalog: Arc<BlockCatalog>,
    /// Set once every shard has replayed its WAL.
    pub shards: OnceLock<Vec<ShardHandle>>,
}

impl ApiState {
    /// The shards, or a 503 while they replay.
    pub fn shards(&self) -> Result<&[ShardHandle], ApiError> {
        self.shards.get().map(Vec::as_slice).ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "tracecore is starting: the wal is being replayed",
            )
        })
    }
}

/// An API error: a status and a plain-text message (Tempo answers errors in plain text).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        plain(self.status, &self.message)
    }
}

/// A plain-text response with Go's `http.Error` framing (message + newline).
pub fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The API router; `http_api_prefix` applies to `/api/...` paths only, as in Tempo.
pub fn router(state: Arc<ApiState>) -> Router {
    let prefix = state
        .config
        .http_api_prefix
        .trim_end_matches('/')
        .to_string();
    let api = Router::new()
        .route("/api/echo", get(ops::echo))
        .route("/api/status/buildinfo", get(ops::buildinfo))
        .route("/api/traces/{traceid}", get(trace_by_id::v1))
        .route("/api/v2/traces/{traceid}", get(trace_by_id::v2));
    let api = if prefix.is_empty() {
        api
    } else {
        Router::new().nest(&prefix, api)
    };
    Router::new()
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/status", get(ops::status))
        .route("/status/config", get(ops::status_config))
        .route("/status/version", get(ops::status_version))
        .route("/flush", post(ops::flush))
        .merge(api)
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .with_state(state)
}

async fn record_request(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_name(p.as_str()))
        .unwrap_or_else(|| "other".to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    state
        .metrics
        .request_duration
        .get_or_create(&RequestLabels {
            method,
            route,
            status_code: response.status().as_u16().to_string(),
            ws: "false".to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// dskit's route naming: the path template with non-alphanumerics turned into `_`.
pub fn route_name(template: &str) -> String {
    let mut name = String::with_capacity(template.len());
    for c in template.trim_start_matches('/').chars() {
        match c {
            '{' | '}' => {}
            c if c.is_ascii_alphanumeric() => name.push(c.to_ascii_lowercase()),
            _ => name.push('_'),
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::route_name;

    #[test]
    fn route_names_follow_dskit() {
        assert_eq!(route_name("/api/traces/{traceID}"), "api_traces_traceid");
        assert_eq!(route_name("/api/v2/search/tags"), "api_v2_search_tags");
        assert_eq!(route_name("/ready"), "ready");
    }
}
