//! OTLP over HTTP: `POST /v1/traces` with protobuf or JSON bodies, optionally compressed.
//!
//! Answers in the request's encoding: 200 + `ExportTraceServiceResponse` (with
//! `partial_success` when spans were refused); errors carry a `google.rpc.Status` body as the
//! OTLP/HTTP specification asks, 400 for malformed input, 408 for a body not sent within the read timeout, 413 for oversized bodies, 415 for
//! unknown content types, 429/503 with `Retry-After` when overloaded.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost::Message;
use tracecore_engine::ErrorKind;
use tracecore_proto::google_rpc::Status as RpcStatus;
use tracecore_proto::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use crate::ingest::Ingester;
use crate::otlp::decompress::{BodyError, decode_body};
use crate::otlp::json_in::parse_export_request_json;
use crate::receivers::request_body::{BodyReadError, read_request_body};
use crate::status::{RETRY_AFTER_SECONDS, http_status};
use crate::telemetry::{RpcMetrics, TenantLabels};
use crate::tenancy::{TenantError, tenant_from_headers};

/// Deepest JSON nesting accepted in an OTLP/JSON body.
const JSON_MAX_DEPTH: u32 = 32;

/// State of the OTLP/HTTP receiver.
#[derive(Clone)]
pub struct OtlpHttpState {
    pub ingester: Arc<Ingester>,
    pub metrics: RpcMetrics,
    pub multitenancy: bool,
    pub max_body_bytes: usize,
    /// Longest time a client may take to send its body (`None`: no limit).
    pub read_timeout: Option<Duration>,
}

/// The receiver's router, serving `path` (default `/v1/traces`).
pub fn router(state: OtlpHttpState, path: &str) -> Router {
    Router::new()
        .route(path, post(export))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::api::request_metrics::record_http_request,
        ))
        .with_state(state)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

async fn export(State(state): State<OtlpHttpState>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let encoding = if content_type.starts_with("application/x-protobuf")
        || content_type.starts_with("application/protobuf")
    {
        Encoding::Protobuf
    } else if content_type.starts_with("application/json") {
        Encoding::Json
    } else {
        return error_response(
            Encoding::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            3,
            &format!(
                "unsupported content type {content_type:?}: use application/x-protobuf or application/json"
            ),
        );
    };
    let tenant = match tenant_from_headers(state.multitenancy, &headers) {
        Ok(t) => t,
        Err(TenantError::Missing) => {
            return error_response(encoding, StatusCode::UNAUTHORIZED, 16, "no org id");
        }
        Err(TenantError::Invalid(m)) => {
            return error_response(encoding, StatusCode::BAD_REQUEST, 3, &m);
        }
    };
    let raw = match read_request_body(body, state.max_body_bytes, state.read_timeout).await {
        Ok(raw) => raw,
        Err(e) => {
            let code = match e {
                BodyReadError::TooLarge { .. } => 8,
                BodyReadError::TimedOut { .. } => 4,
                BodyReadError::Broken(_) => 3,
            };
            return error_response(encoding, e.status(), code, &e.to_string());
        }
    };
    state
        .metrics
        .ingress_bytes
        .get_or_create(&TenantLabels {
            tenant: tenant.to_string(),
        })
        .inc_by(raw.len() as u64);
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let decoded = match decode_body(raw, content_encoding, state.max_body_bytes) {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge { .. }) => {
            return error_response(encoding, StatusCode::PAYLOAD_TOO_LARGE, 8, &e.to_string());
        }
        Err(e) => return error_response(encoding, StatusCode::BAD_REQUEST, 3, &e.to_string()),
    };
    let protobuf = match encoding {
        Encoding::Protobuf => decoded,
        Encoding::Json => match parse_export_request_json(&decoded, JSON_MAX_DEPTH) {
            Ok(request) => Bytes::from(request.encode_to_vec()),
            Err(e) => {
                return error_response(encoding, StatusCode::BAD_REQUEST, 3, &e.to_string());
            }
        },
    };
    match state.ingester.push(&tenant, &protobuf).await {
        Ok(outcome) => {
            let response = ExportTraceServiceResponse {
                partial_success: (outcome.rejected_spans > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: outcome.rejected_spans as i64,
                    error_message: outcome.message.unwrap_or_default(),
                }),
            };
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                Encoding::Json => export_response_json(&response),
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, encoding.content_type())],
                body,
            )
                .into_response()
        }
        Err(error) => {
            let kind = error.kind();
            let code = crate::status::grpc_code(kind) as i32;
            let mut response =
                error_response(encoding, http_status(kind), code, &error.to_string());
            if matches!(kind, ErrorKind::Overloaded | ErrorKind::Unavailable) {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            response
        }
    }
}

fn error_response(encoding: Encoding, status: StatusCode, code: i32, message: &str) -> Response {
    let body = match encoding {
        Encoding::Protobuf => RpcStatus {
            code,
            message: message.to_string(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    };
    (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

fn export_response_json(response: &ExportTraceServiceResponse) -> Vec<u8> {
    let value = match &response.partial_success {
        Some(p) => serde_json::json!({"partialSuccess": {
            "rejectedSpans": p.rejected_spans.to_string(),
            "errorMessage": p.error_message,
        }}),
        None => serde_json::json!({}),
    };
    value.to_string().into_bytes()
}
