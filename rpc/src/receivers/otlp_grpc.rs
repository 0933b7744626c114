//! OTLP over gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.

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
use tracecore_proto::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use super::raw_codec::RawBytesCodec;
use super::retry_info::status_with_retry_info;
use crate::api::request_metrics::observe;
use crate::ingest::Ingester;
use crate::status::{RETRY_AFTER_SECONDS, grpc_code};
use crate::telemetry::RpcMetrics;
use crate::tenancy::{ORG_ID_HEADER, TenantError, resolve_tenant};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The TraceService server.
#[derive(Clone)]
pub struct OtlpGrpcService {
    ingester: Arc<Ingester>,
    metrics: RpcMetrics,
    multitenancy: bool,
    max_message_bytes: usize,
}

impl OtlpGrpcService {
    pub fn new(
        ingester: Arc<Ingester>,
        metrics: RpcMetrics,
        multitenancy: bool,
        max_message_bytes: usize,
    ) -> Self {
        OtlpGrpcService {
            ingester,
            metrics,
            multitenancy,
            max_message_bytes,
        }
    }
}

impl NamedService for OtlpGrpcService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> tower::Service<http::Request<B>> for OtlpGrpcService
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
        if request.uri().path() != EXPORT_PATH {
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
            let response = grpc.unary(ExportCall(service), request).await;
            // dskit labels gRPC requests `success` or `error` by the grpc-status it sent.
            let ok = response
                .headers()
                .get("grpc-status")
                .is_none_or(|status| status == "0");
            observe(
                &metrics,
                "gRPC".to_string(),
                EXPORT_PATH.to_string(),
                if ok { "success" } else { "error" }.to_string(),
                started,
            );
            Ok(response)
        })
    }
}

struct ExportCall(OtlpGrpcService);

impl UnaryService<Bytes> for ExportCall {
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
            let outcome = service.ingester.push(&tenant, &body).await.map_err(|e| {
                let code = grpc_code(e.kind());
                match e.kind() {
                    ErrorKind::Overloaded | ErrorKind::Unavailable => {
                        status_with_retry_info(code, e.to_string(), RETRY_AFTER_SECONDS)
                    }
                    _ => Status::new(code, e.to_string()),
                }
            })?;
            let response = ExportTraceServiceResponse {
                partial_success: (outcome.rejected_spans > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: outcome.rejected_spans as i64,
                    error_message: outcome.message.unwrap_or_default(),
                }),
            };
            Ok(Response::new(Bytes::from(response.encode_to_vec())))
        })
    }
}
