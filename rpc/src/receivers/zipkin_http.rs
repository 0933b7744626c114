//! Zipkin over HTTP, Tempo's default port 9411: `POST` on any path, as the Collector serves it.
//! A path containing `api/v1/spans` carries v1 (JSON, or Thrift with `application/x-thrift`),
//! any other path v2 (JSON, or protobuf with `application/x-protobuf`) — see
//! [`ZipkinEncoding::for_request`]. Bodies may be gzip, deflate or zlib compressed.
//!
//! 202 Accepted once the spans are durable; 400 naming the problem for a body that does not
//! decode; the rest as [`super::http_ingest`] describes.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, Method, StatusCode, Uri, header};

use super::http_ingest::{HttpIngestState, error};
use crate::zipkin::{ZipkinEncoding, decode_to_protobuf};

/// The receiver's router: the two documented paths by name (so request metrics label them),
/// every other path through the fallback.
pub fn router(state: HttpIngestState) -> Router {
    Router::new()
        .route("/api/v2/spans", post(post_spans))
        .route("/api/v1/spans", post(post_spans))
        .fallback(any_path)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::api::request_metrics::record_http_request,
        ))
        .with_state(state)
}

async fn any_path(
    State(state): State<HttpIngestState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {method} is not allowed: post zipkin spans"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    post_spans(State(state), uri, headers, body).await
}

async fn post_spans(
    State(state): State<HttpIngestState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let tenant = match state.tenant(&headers) {
        Ok(t) => t,
        Err(rejection) => return rejection.into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let encoding = ZipkinEncoding::for_request(uri.path(), content_type);
    let body = match state.read_body(&tenant, &headers, body).await {
        Ok(b) => b,
        Err(rejection) => return rejection.into_response(),
    };
    match decode_to_protobuf(&body, encoding) {
        Ok(protobuf) => state.push_protobuf(&tenant, protobuf.into()).await,
        Err(e) => state.malformed(&tenant, &e.to_string()),
    }
}
