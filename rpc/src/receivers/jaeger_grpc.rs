//! Jaeger over gRPC: `jaeger.api_v2.CollectorService/PostSpans`, Tempo's default port 14250.
//!
//! The `PostSpansRequest` arrives as raw bytes ([`RawBytesCodec`]), is converted to OTLP and
//! written; the answer is an empty `PostSpansResponse` once every span is durable. Statuses are
//! the OTLP gRPC receiver's: `INVALID_ARGUMENT` for a body that does not decode,
//! `UNAUTHENTICATED` without an org id, `RESOURCE_EXHAUSTED` / `UNAVAILABLE` with `RetryInfo`
//! when overloaded. `PostSpansResponse` has no partial-success field, so a request whose spans
//! were partly refused fails with `INVALID_ARGUMENT` naming the refusal.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use prost::Message;
use tonic::codegen::{Body, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tracecore_engine::ErrorKind;

use super::raw_codec::RawBytesCodec;
use super::retry_info::status_with_retry_info;
use crate::api::request_metrics::observe;
use crate::ingest::Ingester;
use crate::jaeger::decode_post_spans_request;
use crate::status::{RETRY_AFTER_SECONDS, grpc_code};
use crate::telemetry::RpcMetrics;
use crate::tenancy::{ORG_ID_HEADER, TenantError, resolve_tenant};

const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";

/// The CollectorService server.
#[derive(Clone)]
pub struct JaegerGrpcService {
    ingester: Arc<Ingester>,
    metrics: RpcMetrics,
    multitenancy: bool,
    max_message_bytes: usize,
}

impl JaegerGrpcService {
    pub fn new(
        ingester: Arc<Ingester>,
        metrics: RpcMetrics,
        multitenancy: bool,
        max_message_bytes: usize,
    ) -> Self {
        JaegerGrpcService {
            ingester,
            metrics,
            multitenancy,
            max_message_bytes,
        }
    }
}

impl NamedService for JaegerGrpcService {
    const NAME: &'static str = "jaeger.api_v2.CollectorService";
}

impl<B> tower::Service<http::Request<B>> for JaegerGrpcService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let service = self.clone();
        if request.uri().path() != POST_SPANS_PATH {
            return Box::pin(
                async move { Ok(Status::unimplemented("unknown method").into_http()) },
            );
        }
        Box::pin(async move {
            let mut grpc = Grpc::new(RawBytesCodec)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_decoding_message_size(service.max_message_bytes)
                .max_encoding_message_size(1 << 20);
            let started = std::time::Instant::now();
            let metrics = service.metrics.clone();
            let response = grpc.unary(PostSpansCall(service), request).await;
            let ok = response
                .headers()
                .get("grpc-status")
                .is_none_or(|status| status == "0");
            observe(
                &metrics,
                "gRPC".to_string(),
                POST_SPANS_PATH.to_string(),
                if ok { "success" } else { "error" }.to_string(),
                started,
            );
            Ok(response)
        })
    }
}

struct PostSpansCall(JaegerGrpcService);

impl UnaryService<Bytes> for PostSpansCall {
    type Response = Bytes;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move {
            let tenant = resolve_tenant(
                service.multitenancy,
                request
                    .metadata()
                    .get_all(ORG_ID_HEADER)
                    .iter()
                    .map(|v| v.as_bytes()),
            )
            .map_err(|e| match e {
                TenantError::Missing => Status::unauthenticated(e.to_string()),
                TenantError::Invalid(m) => Status::invalid_argument(m),
            })?;
            let body = request.into_inner();
            let converted = decode_post_spans_request(&body).map_err(|e| {
                service
                    .metrics
                    .discard("malformed_request", tenant.as_str(), 1);
                Status::new(grpc_code(e.kind()), e.to_string())
            })?;
            let protobuf = Bytes::from(converted.encode_to_vec());
            let outcome = service
                .ingester
                .push(&tenant, &protobuf)
                .await
                .map_err(|e| {
                    let code = grpc_code(e.kind());
                    match e.kind() {
                        ErrorKind::Overloaded | ErrorKind::Unavailable => {
                            status_with_retry_info(code, e.to_string(), RETRY_AFTER_SECONDS)
                        }
                        _ => Status::new(code, e.to_string()),
                    }
                })?;
            if outcome.rejected_spans > 0 {
                return Err(Status::invalid_argument(format!(
                    "{} of {} spans refused: {}",
                    outcome.rejected_spans,
                    outcome.rejected_spans + outcome.accepted_spans,
                    outcome.message.unwrap_or_default()
                )));
            }
            // An empty `PostSpansResponse` encodes to zero bytes.
            Ok(Response::new(Bytes::new()))
        })
    }
}
