//! The HTTP exchange shared by the Jaeger thrift_http and Zipkin receivers, which answer as the
//! OpenTelemetry Collector does: `202 Accepted` with an empty body on success, plain-text errors
//! (400 malformed, 401 no org id, 408 body too slow, 413 too large, 415 unknown content encoding, 429/503 with
//! `Retry-After` when overloaded, 500 otherwise).
//!
//! Neither protocol can report a partial success, so a request whose spans were partly refused
//! is answered 400 naming the refusal rather than 202: a client is never told "accepted" for a
//! span that was not kept.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost::Message;
use tracecore_engine::{ErrorKind, TenantId};
use tracecore_proto::otlp::ExportTraceServiceRequest;

use crate::ingest::Ingester;
use crate::otlp::decompress::{BodyError, decode_body};
use crate::receivers::request_body::read_request_body;
use crate::status::{RETRY_AFTER_SECONDS, http_status};
use crate::telemetry::{RpcMetrics, TenantLabels};
use crate::tenancy::{TenantError, tenant_from_headers};

/// What a Jaeger or Zipkin HTTP receiver needs.
#[derive(Clone)]
pub struct HttpIngestState {
    pub ingester: Arc<Ingester>,
    pub metrics: RpcMetrics,
    pub multitenancy: bool,
    /// Largest body accepted, before and after decompression.
    pub max_body_bytes: usize,
    /// Longest time a client may take to send its body (`None`: no limit).
    pub read_timeout: Option<Duration>,
}

/// A plain-text error response.
pub fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// A request refused before it reached the write path.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        error(self.status, &self.message)
    }
}

impl HttpIngestState {
    /// The tenant of the request (`X-Scope-OrgID` when multitenancy is on).
    pub fn tenant(&self, headers: &HeaderMap) -> Result<TenantId, Rejection> {
        tenant_from_headers(self.multitenancy, headers).map_err(|e| match e {
            TenantError::Missing => Rejection::new(StatusCode::UNAUTHORIZED, e.to_string()),
            TenantError::Invalid(m) => Rejection::new(StatusCode::BAD_REQUEST, m),
        })
    }

    /// Reads the body (refusing it once it exceeds the limit) and undoes `Content-Encoding`.
    pub async fn read_body(
        &self,
        tenant: &TenantId,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Bytes, Rejection> {
        let limit = self.max_body_bytes;
        let raw = read_request_body(body, limit, self.read_timeout)
            .await
            .map_err(|e| Rejection::new(e.status(), e.to_string()))?;
        self.metrics
            .ingress_bytes
            .get_or_create(&TenantLabels {
                tenant: tenant.to_string(),
            })
            .inc_by(raw.len() as u64);
        let content_encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        decode_body(raw, content_encoding, limit).map_err(|e| {
            let status = match e {
                BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::UnsupportedEncoding { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                BodyError::Corrupt { .. } => StatusCode::BAD_REQUEST,
            };
            Rejection::new(status, e.to_string())
        })
    }

    /// A body that did not decode: counted as one discarded request, answered 400.
    pub fn malformed(&self, tenant: &TenantId, message: &str) -> Response {
        self.metrics
            .discard("malformed_request", tenant.as_str(), 1);
        error(StatusCode::BAD_REQUEST, message)
    }

    /// Writes the converted request and answers 202 once every span is durable.
    pub async fn push(&self, tenant: &TenantId, request: &ExportTraceServiceRequest) -> Response {
        self.push_protobuf(tenant, Bytes::from(request.encode_to_vec()))
            .await
    }

    /// [`Self::push`] of a request already encoded.
    pub async fn push_protobuf(&self, tenant: &TenantId, protobuf: Bytes) -> Response {
        match self.ingester.push(tenant, &protobuf).await {
            Ok(outcome) if outcome.rejected_spans > 0 => error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "{} of {} spans refused: {}",
                    outcome.rejected_spans,
                    outcome.rejected_spans + outcome.accepted_spans,
                    outcome.message.unwrap_or_default()
                ),
            ),
            Ok(_) => StatusCode::ACCEPTED.into_response(),
            Err(e) => {
                let kind = e.kind();
                let mut response = error(http_status(kind), &e.to_string());
                if matches!(kind, ErrorKind::Overloaded | ErrorKind::Unavailable) {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
                }
                response
            }
        }
    }
}

/// The media type of `Content-Type`, lowercased, without parameters (`""` when absent).
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}
