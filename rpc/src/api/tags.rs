//! Tag names and values over HTTP (TEMPO-SPEC §1.6, §1.7, §4.7): `/api/search/tags`,
//! `/api/v2/search/tags`, `/api/search/tag/<tag>/values`, `/api/v2/search/tag/<tag>/values`,
//! rendered as Tempo's JSON. The lookups are in [`super::tag_results`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use super::tag_results::{self, Params};
use super::trace_by_id::tenant;
use super::{ApiError, ApiState};
use crate::tempo_json::{write_str, write_u64};

fn respond(body: Result<Vec<u8>, ApiError>) -> Response {
    match body {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn write_metrics(out: &mut Vec<u8>, inspected: u64) {
    out.extend_from_slice(b"\"metrics\":{");
    if inspected > 0 {
        out.extend_from_slice(b"\"inspectedBytes\":\"");
        write_u64(out, inspected);
        out.push(b'"');
    }
    out.push(b'}');
}

fn write_strings(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, s);
    }
    out.push(b']');
}

/// `{"tagNames"|"tagValues": [...], "metrics": {...}}`.
fn strings_body(key: &str, items: &[String], inspected: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + items.iter().map(|s| s.len() + 3).sum::<usize>());
    out.push(b'{');
    write_str(&mut out, key);
    out.push(b':');
    write_strings(&mut out, items);
    out.push(b',');
    write_metrics(&mut out, inspected);
    out.push(b'}');
    out
}

/// `GET /api/search/tags`.
pub async fn v1_names(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let tenant = tenant(&state, &headers)?;
        let a = tag_results::names_v1(&state, &tenant, &params).await?;
        Ok(strings_body("tagNames", &a.items, a.inspected_bytes))
    };
    respond(run.await)
}

/// `GET /api/v2/search/tags`.
pub async fn v2_names(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let tenant = tenant(&state, &headers)?;
        let a = tag_results::names_v2(&state, &tenant, &params).await?;
        let mut out = b"{\"scopes\":[".to_vec();
        for (i, (name, tags)) in a.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            write_str(&mut out, name);
            out.extend_from_slice(b",\"tags\":");
            write_strings(&mut out, tags);
            out.push(b'}');
        }
        out.extend_from_slice(b"],");
        write_metrics(&mut out, a.inspected_bytes);
        out.push(b'}');
        Ok(out)
    };
    respond(run.await)
}

/// `GET /api/search/tag/<tag>/values`.
pub async fn v1_values(
    State(state): State<Arc<ApiState>>,
    Path(tag): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let tenant = tenant(&state, &headers)?;
        let a = tag_results::values_v1(&state, &tenant, &tag, &params).await?;
        Ok(strings_body("tagValues", &a.items, a.inspected_bytes))
    };
    respond(run.await)
}

/// `GET /api/v2/search/tag/<tag>/values`.
pub async fn v2_values(
    State(state): State<Arc<ApiState>>,
    Path(tag): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let tenant = tenant(&state, &headers)?;
        let a = tag_results::values_v2(&state, &tenant, &tag, &params).await?;
        let mut out = b"{\"tagValues\":[".to_vec();
        for (i, (ty, v)) in a.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"type\":");
            write_str(&mut out, ty);
            out.extend_from_slice(b",\"value\":");
            write_str(&mut out, v);
            out.push(b'}');
        }
        out.extend_from_slice(b"],");
        write_metrics(&mut out, a.inspected_bytes);
        out.push(b'}');
        Ok(out)
    };
    respond(run.await)
}
