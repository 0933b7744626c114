//! The plumbing every raw-bytes unary gRPC receiver shares: method routing, gzip, message size
//! limit, tenant from `x-scope-orgid` metadata, request metrics, and the mapping of ingest
//! errors to statuses (with `RetryInfo` when the client should come back later). A receiver
//! supplies only a [`RawUnaryHandler`]: the protocol's decode and response.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tonic::codegen::{Body, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tracecore_engine::{ErrorKind, TenantId};

use super::raw_codec::RawBytesCodec;
use super::retry_info::status_with_retry_info;
use crate::api::request_metrics::observe;
use crate::ingest::IngestError;
use crate::status::{RETRY_AFTER_SECONDS, grpc_code};
use crate::telemetry::RpcMetrics;
use crate::tenancy::{ORG_ID_HEADER, TenantError, resolve_tenant};

/// One unary method whose request arrives as raw bytes.
pub trait RawUnaryHandler: Clone + Send + Sync + 'static {
    /// Fully qualified service name (`package.Service`).
    const SERVICE: &'static str;
    /// The method's path (`/package.Service/Method`).
    const METHOD_PATH: &'static str;
    /// Handles one request of `tenant`; returns the encoded response message.
    fn handle(
        &self,
        tenant: TenantId,
        body: Bytes,
    ) -> impl Future<Output = Result<Bytes, Status>> + Send;
}

/// A tonic service serving one [`RawUnaryHandler`].
#[derive(Clone)]
pub struct RawUnaryService<H> {
    handler: H,
    metrics: RpcMetrics,
    multitenancy: bool,
    max_message_bytes: usize,
}

impl<H: RawUnaryHandler> RawUnaryService<H> {
    pub fn new(
        handler: H,
        metrics: RpcMetrics,
        multitenancy: bool,
        max_message_bytes: usize,
    ) -> Self {
        RawUnaryService {
            handler,
            metrics,
            multitenancy,
            max_message_bytes,
        }
    }
}

impl<H: RawUnaryHandler> NamedService for RawUnaryService<H> {
    const NAME: &'static str = H::SERVICE;
}

impl<H, B> tower::Service<http::Request<B>> for RawUnaryService<H>
where
    H: RawUnaryHandler,
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
        if request.uri().path() != H::METHOD_PATH {
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
            let response = grpc.unary(UnaryCall(service), request).await;
            // dskit labels gRPC requests `success` or `error` by the grpc-status it sent.
            let ok = response
                .headers()
                .get("grpc-status")
                .is_none_or(|status| status == "0");
            observe(
                &metrics,
                "gRPC".to_string(),
                H::METHOD_PATH.to_string(),
                if ok { "success" } else { "error" }.to_string(),
                started,
            );
            Ok(response)
        })
    }
}

struct UnaryCall<H>(RawUnaryService<H>);

impl<H: RawUnaryHandler> UnaryService<Bytes> for UnaryCall<H> {
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
            let response = service.handler.handle(tenant, body).await?;
            Ok(Response::new(response))
        })
    }
}

/// The status for a refused write: retryable refusals carry `RetryInfo`.
pub fn ingest_status(error: &IngestError) -> Status {
    let code = grpc_code(error.kind());
    match error.kind() {
        ErrorKind::Overloaded | ErrorKind::Unavailable => {
            status_with_retry_info(code, error.to_string(), RETRY_AFTER_SECONDS)
        }
        _ => Status::new(code, error.to_string()),
    }
}
