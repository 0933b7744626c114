//! Tempo's HTTP API on the server port: trace by ID, operational endpoints, request metrics.

pub mod legacy_tags;
pub mod ops;
pub mod request_metrics;
pub mod search;
pub mod search_json;
pub mod search_proto;
pub mod streaming;
pub mod tag_results;
pub mod tags;
pub mod trace_by_id;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use prometheus_client::registry::Registry;
use tracecore_engine::ShardHandle;

use crate::config::Config;
use crate::limits::TenantOverrides;
use crate::storage::catalog::BlockCatalog;
use crate::telemetry::RpcMetrics;

/// Shared state of the API handlers.
pub struct ApiState {
    pub config: Arc<Config>,
    pub registry: Registry,
    pub metrics: RpcMetrics,
    pub catalog: Arc<BlockCatalog>,
    /// Set once every shard has replayed its WAL.
    pub shards: OnceLock<Vec<ShardHandle>>,
    /// In-memory traces prepared for queries (see `query::memory`).
    pub memory: crate::query::memory::MemoryCache,
    /// Per-tenant limits (`/status/overrides`, read limits of queries).
    pub overrides: Arc<TenantOverrides>,
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
        .route("/api/search", get(search::handler))
        .route("/api/search/tags", get(tags::v1_names))
        .route("/api/v2/search/tags", get(tags::v2_names))
        .route("/api/search/tag/{tag}/values", get(tags::v1_values))
        .route("/api/v2/search/tag/{tag}/values", get(tags::v2_values))
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
        .route("/status/overrides", get(ops::status_overrides))
        .route(
            "/status/overrides/{tenant}",
            get(ops::status_tenant_overrides),
        )
        .route("/flush", post(ops::flush))
        .merge(api)
        .route_service(
            "/tempopb.StreamingQuerier/{method}",
            streaming::StreamingQuerier::new(state.clone()),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            request_metrics::record_http_request,
        ))
        .with_state(state)
}
