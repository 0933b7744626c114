//! Operational endpoints: readiness, metrics, echo, build info, config, overrides, flush.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Serialize;

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
            "tracecore {}\ntarget: {}\nshards: {shards}\nendpoints: /ready /metrics /status/config /status/overrides /flush /api/traces/<id> /api/v2/traces/<id>",
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

/// `/status/overrides`: the default limits and every entry of the per-tenant overrides file,
/// resolved (an entry shows zero where it omits a key: entries do not inherit the defaults).
/// YAML, or JSON with `Accept: application/json`.
pub async fn status_overrides(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    yaml_or_json(&headers, &state.overrides.status())
}

/// `/status/overrides/{tenant}`: the limits `tenant` gets and their source (`tenant`,
/// `wildcard` or `defaults`).
pub async fn status_tenant_overrides(
    State(state): State<Arc<ApiState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = tracecore_engine::TenantId::parse(&tenant) {
        return plain(StatusCode::BAD_REQUEST, &error.to_string());
    }
    yaml_or_json(&headers, &state.overrides.tenant_status(&tenant))
}

fn yaml_or_json<T: Serialize>(headers: &HeaderMap, value: &T) -> Response {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let rendered = if json {
        serde_json::to_string(value).map_err(|e| e.to_string())
    } else {
        yaml_serde::to_string(value).map_err(|e| e.to_string())
    };
    match rendered {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                if json {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                },
            )],
            body,
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
