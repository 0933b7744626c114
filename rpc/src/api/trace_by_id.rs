//! `GET /api/traces/<id>` (v1) and `GET /api/v2/traces/<id>` (v2), TEMPO-SPEC §1.3–1.4.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use prost::Message;
use tracecore_engine::{TenantId, TraceId};
use tracecore_proto::tempo::{TraceByIdMetrics, TraceByIdResponse};

use super::{ApiError, ApiState};
use crate::query::trace_by_id::{FoundTrace, find_trace};
use crate::tempo_json::{trace_by_id_v2_json, trace_v1_json};
use crate::tenancy::{TenantError, tenant_from_headers};

/// v1: 404 with an empty body when absent; `batches` JSON key.
pub async fn v1(
    State(state): State<Arc<ApiState>>,
    Path(trace_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let found = match lookup(&state, &trace_id, &params, &headers).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    if found.trace.resource_spans.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    if wants_protobuf(&headers) {
        protobuf(found.trace.encode_to_vec())
    } else {
        json(trace_v1_json(&found.trace))
    }
}

/// v2: always 200; an absent trace is an empty `trace` object.
pub async fn v2(
    State(state): State<Arc<ApiState>>,
    Path(trace_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let found = match lookup(&state, &trace_id, &params, &headers).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let response = TraceByIdResponse {
        trace: Some(found.trace),
        metrics: Some(TraceByIdMetrics {
            inspected_bytes: found.inspected_bytes,
        }),
        status: 0,
        message: String::new(),
    };
    if wants_protobuf(&headers) {
        protobuf(response.encode_to_vec())
    } else {
        json(trace_by_id_v2_json(&response))
    }
}

async fn lookup(
    state: &ApiState,
    raw_id: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<FoundTrace, ApiError> {
    let tenant = tenant(state, headers)?;
    let id = TraceId::parse_hex(raw_id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let range = time_range(params)?;
    validate_querier_params(params)?;
    let shards = state.shards()?;
    find_trace(shards, &state.catalog, &tenant, id, range)
        .await
        .map_err(|e| {
            tracing::error!(trace_id = %id, error = %e, "trace by id failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        })
}

pub(crate) fn tenant(state: &ApiState, headers: &HeaderMap) -> Result<TenantId, ApiError> {
    tenant_from_headers(state.config.multitenancy_enabled, headers).map_err(|e| match e {
        TenantError::Missing => ApiError::new(StatusCode::UNAUTHORIZED, "no org id"),
        TenantError::Invalid(m) => ApiError::bad_request(m),
    })
}

/// `start`/`end` in unix seconds, both or neither.
fn time_range(params: &HashMap<String, String>) -> Result<Option<(u64, u64)>, ApiError> {
    let parse = |name: &str| -> Result<Option<u64>, ApiError> {
        match params.get(name).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid {name}: {v:?} is not unix seconds"))
            }),
        }
    };
    match (parse("start")?, parse("end")?) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) if start <= end => Ok(Some((start, end))),
        (Some(start), Some(end)) => Err(ApiError::bad_request(format!(
            "http parameter start must be before end. received start={start} end={end}"
        ))),
        _ => Err(ApiError::bad_request(
            "error parsing date range: only one of start and end provided: must provide both or neither",
        )),
    }
}

/// Tempo validates the querier-only parameters even on the frontend paths.
fn validate_querier_params(params: &HashMap<String, String>) -> Result<(), ApiError> {
    if let Some(mode) = params.get("mode")
        && !matches!(mode.as_str(), "all" | "ingesters" | "blocks" | "external")
    {
        return Err(ApiError::bad_request(format!(
            "invalid value for mode {mode}"
        )));
    }
    for bound in ["blockStart", "blockEnd"] {
        if let Some(v) = params.get(bound)
            && uuid::Uuid::parse_str(v).is_err()
        {
            return Err(ApiError::bad_request(format!(
                "invalid {bound}: {v:?} is not a uuid"
            )));
        }
    }
    Ok(())
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/protobuf"))
}

fn protobuf(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/protobuf")],
        body,
    )
        .into_response()
}

fn json(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
