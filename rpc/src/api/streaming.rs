//! `tempopb.StreamingQuerier` over gRPC — what Grafana's Tempo data source uses for streaming
//! search (TEMPO-SPEC §1.11, §2.1). Served on the HTTP API port (h2c), as Tempo does with
//! `stream_over_http_enabled: true`. `Search` answers with the complete result (split into
//! ≤ 1 MiB messages); the request maps onto the same parameters as `GET /api/search`, so
//! validation, limits and error texts are identical.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use http::StatusCode;
use tonic::codegen::{Body, StdError, http as tonic_http};
use tonic::server::{Grpc, NamedService, ServerStreamingService};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;
use tracecore_proto::tempo::{SearchRequest, SearchResponse};

use super::search::execute;
use super::search_proto::packets;
use super::{ApiError, ApiState};
use crate::tenancy::{ORG_ID_HEADER, TenantError, resolve_tenant};

/// Fully qualified service name.
pub const SERVICE: &str = "tempopb.StreamingQuerier";
const SEARCH_PATH: &str = "/tempopb.StreamingQuerier/Search";

/// The service; cheap to clone.
#[derive(Clone)]
pub struct StreamingQuerier {
    state: Arc<ApiState>,
}

impl StreamingQuerier {
    pub fn new(state: Arc<ApiState>) -> Self {
        StreamingQuerier { state }
    }
}

impl NamedService for StreamingQuerier {
    const NAME: &'static str = SERVICE;
}

/// Tempo's HTTP → gRPC status mapping (TEMPO-SPEC §1.11).
fn status(e: ApiError) -> Status {
    let code = match e.status {
        StatusCode::BAD_REQUEST => Code::InvalidArgument,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        s if s.is_server_error() => Code::Internal,
        _ => Code::Unknown,
    };
    Status::new(code, e.message)
}

/// `GET /api/search` parameters equivalent to a `SearchRequest`.
fn params_of(r: &SearchRequest) -> HashMap<String, String> {
    let mut p = HashMap::new();
    if !r.query.is_empty() {
        p.insert("q".to_owned(), r.query.clone());
    }
    if !r.tags.is_empty() {
        let mut pairs: Vec<_> = r.tags.iter().collect();
        pairs.sort();
        let logfmt: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        p.insert("tags".to_owned(), logfmt.join(" "));
    }
    for (name, value) in [
        ("limit", r.limit),
        ("spss", r.spans_per_span_set),
        ("start", r.start),
        ("end", r.end),
    ] {
        if value > 0 {
            p.insert(name.to_owned(), value.to_string());
        }
    }
    if r.min_duration_ms > 0 {
        p.insert("minDuration".to_owned(), format!("{}ms", r.min_duration_ms));
    }
    if r.max_duration_ms > 0 {
        p.insert("maxDuration".to_owned(), format!("{}ms", r.max_duration_ms));
    }
    p
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<SearchResponse, Status>> + Send>>;

struct SearchCall(Arc<ApiState>);

impl ServerStreamingService<SearchRequest> for SearchCall {
    type Response = SearchResponse;
    type ResponseStream = ResponseStream;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<ResponseStream>, Status>> + Send + 'static>>;

    fn call(&mut self, request: Request<SearchRequest>) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move {
            let tenant = resolve_tenant(
                state.config.multitenancy_enabled,
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
            let params = params_of(request.get_ref());
            let outcome = execute(&state, tenant, &params).await.map_err(status)?;
            let messages = packets(&outcome.traces, &outcome.metrics);
            let stream: ResponseStream =
                Box::pin(futures::stream::iter(messages.into_iter().map(Ok)));
            Ok(Response::new(stream))
        })
    }
}

impl<B> tower::Service<tonic_http::Request<B>> for StreamingQuerier
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = tonic_http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic_http::Request<B>) -> Self::Future {
        let state = self.state.clone();
        if request.uri().path() != SEARCH_PATH {
            return Box::pin(async move {
                Ok(Status::unimplemented("method not implemented by tracecore yet").into_http())
            });
        }
        Box::pin(async move {
            let mut grpc = Grpc::new(ProstCodec::<SearchResponse, SearchRequest>::default())
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_decoding_message_size(16 << 20)
                .max_encoding_message_size(16 << 20);
            Ok(grpc.server_streaming(SearchCall(state), request).await)
        })
    }
}
