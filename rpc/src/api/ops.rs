//! Operational endpoints: readiness, metrics, echo, build info, config, flush.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::{ApiState, plain};

pub async fn ready(State(state): State<Arc<ApiState>>) -> Response {
    match state.shards() {
        Ok(_) => plain(StatusCode::OK, "ready"),
        Err(error) => error.into_response(),
    }
}

pub async fn echo() -> Response {
    plain(StatusCode::OK, "echo")
}

pub async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode metrics: {error}"),
        );
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn build_info_json() -> serde_json::Value {
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": option_env!("TRACECORE_GIT_REVISION").unwrap_or("unknown"),
        "branch": "main",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "none (rust)",
    })
}

pub async fn buildinfo() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        build_info_json().to_string(),
    )
        .into_response()
}

pub async fn status_version() -> Response {
    plain(
        StatusCode::OK,
        &format!("tracecore, version {}", env!("CARGO_PKG_VERSION")),
    )
}

pub async fn status(State(state): State<Arc<ApiState>>) -> Response {
    let shards = state.shards.get().map_or(0, Vec::len);
    plain(
        StatusCode::OK,
        &format!(
            "tracecore {}\ntarget: {}\nshards: {shards}\nendpoints: /ready /metrics /status/config /flush /api/traces/<id> /api/v2/traces/<id>",
            env!("CARGO_PKG_VERSION"),
            state.config.target
        ),
    )
}

/// The effective configuration as YAML, secrets replaced by `********`.
pub async fn status_config(State(state): State<Arc<ApiState>>) -> Response {
    match crate::config::redacted_yaml(&state.config) {
        Ok(yaml) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            yaml,
        )
            .into_response(),
        Err(error) => plain(StatusCode::INTERNAL_SERVER_ERROR, &error),
    }
}

/// Cuts every shard's head block and waits until the blocks are in the bucket (204).
pub async fn flush(State(state): State<Arc<ApiState>>) -> Response {
    let shards = match state.shards() {
        Ok(s) => s.to_vec(),
        Err(error) => return error.into_response(),
    };
    let results = futures::future::join_all(shards.iter().map(|s| s.flush())).await;
    for result in results {
        if let Err(error) = result {
            return plain(crate::status::http_status(error.kind()), &error.to_string());
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
