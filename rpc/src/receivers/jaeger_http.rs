//! Jaeger thrift over HTTP: `POST /api/traces` with a Thrift-binary `Batch` body
//! (`application/x-thrift` or `application/vnd.apache.thrift.binary`), Tempo's default port 14268.
//!
//! 202 Accepted once the spans are durable; 400 naming the problem for another content type or
//! a body that does not decode; the rest as [`super::http_ingest`] describes.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use super::http_ingest::{HttpIngestState, error, media_type};
use crate::jaeger::decode_thrift_http_body;

/// The path Jaeger clients post to.
pub const PATH: &str = "/api/traces";

/// The media types of a Thrift-binary body, as the Jaeger collector accepts them.
const THRIFT_MEDIA_TYPES: [&str; 2] = [
    "application/x-thrift",
    "application/vnd.apache.thrift.binary",
];

/// The receiver's router.
pub fn router(state: HttpIngestState) -> Router {
    Router::new()
        .route(PATH, post(post_spans))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::api::request_metrics::record_http_request,
        ))
        .with_state(state)
}

/// Bytes read and discarded from a body refused before decoding.
const EARLY_REJECT_DRAIN_BYTES: usize = 1 << 20;

async fn post_spans(
    State(state): State<HttpIngestState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media_type = media_type(&headers);
    if !THRIFT_MEDIA_TYPES.contains(&media_type.as_str()) {
        // Read (a bounded amount of) the body first: answering before the client has sent it
        // makes the connection close under the client, which sees a reset, not the 400.
        let _ = axum::body::to_bytes(body, EARLY_REJECT_DRAIN_BYTES).await;
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "unsupported content type {media_type:?}: use application/x-thrift or \
                 application/vnd.apache.thrift.binary"
            ),
        );
    }
    let tenant = match state.tenant(&headers) {
        Ok(t) => t,
        Err(rejection) => return rejection.into_response(),
    };
    let body = match state.read_body(&tenant, &headers, body).await {
        Ok(b) => b,
        Err(rejection) => return rejection.into_response(),
    };
    match decode_thrift_http_body(&body) {
        Ok(request) => state.push(&tenant, &request).await,
        Err(e) => state.malformed(&tenant, &e.to_string()),
    }
}
