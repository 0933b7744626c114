//! `tempopb.StreamingQuerier` over gRPC — what Grafana's Tempo data source uses for streaming
//! search and autocomplete (TEMPO-SPEC §1.11, §2.1): `Search`, `SearchTags`, `SearchTagsV2`,
//! `SearchTagValues`, `SearchTagValuesV2`. Served on the HTTP API port (h2c), as Tempo does
//! with `stream_over_http_enabled: true`. `Search` streams the traces found so far at most
//! every 500 ms, then the complete result (messages ≤ 1 MiB); the tag methods answer once.
//! Requests map onto the same parameters as the HTTP endpoints, so validation, limits and
//! error texts are identical.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use http::StatusCode;
use tonic::codegen::{Body, StdError, http as tonic_http};
use tonic::server::{Grpc, NamedService, ServerStreamingService};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;
use tracecore_engine::TenantId;
use tracecore_engine::scan::TraceHit;
use tracecore_proto::tempo::{
    MetadataMetrics, SearchRequest, SearchResponse, SearchTagValuesRequest,
    SearchTagValuesResponse, SearchTagValuesV2Response, SearchTagsRequest, SearchTagsResponse,
    SearchTagsV2Response, SearchTagsV2Scope, TagValue,
};

use super::search::execute_with_progress;
use super::search_proto::packets;
use super::tag_results::{self, Params};
use super::{ApiError, ApiState};
use crate::query::search::SearchMetrics as Metrics;
use crate::tenancy::{ORG_ID_HEADER, TenantError, resolve_tenant};

/// Fully qualified service name.
pub const SERVICE: &str = "tempopb.StreamingQuerier";

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

/// The request's tenant from `x-scope-orgid` metadata.
fn tenant_of<T>(state: &ApiState, request: &Request<T>) -> Result<TenantId, Status> {
    resolve_tenant(
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
    })
}

type Answer<Resp> = Pin<Box<dyn Future<Output = Result<Vec<Resp>, ApiError>> + Send>>;

/// One method: runs to completion for the tenant, then streams its messages.
struct Call<Req, Resp> {
    state: Arc<ApiState>,
    run: fn(Arc<ApiState>, TenantId, Req) -> Answer<Resp>,
}

type ResponseStream<Resp> = Pin<Box<dyn Stream<Item = Result<Resp, Status>> + Send>>;

impl<Req, Resp> ServerStreamingService<Req> for Call<Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type ResponseStream = ResponseStream<Resp>;
    type Future = Pin<
        Box<dyn Future<Output = Result<Response<ResponseStream<Resp>>, Status>> + Send + 'static>,
    >;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let state = self.state.clone();
        let run = self.run;
        Box::pin(async move {
            let tenant = tenant_of(&state, &request)?;
            let messages = run(state, tenant, request.into_inner())
                .await
                .map_err(status)?;
            let stream: ResponseStream<Resp> =
                Box::pin(futures::stream::iter(messages.into_iter().map(Ok)));
            Ok(Response::new(stream))
        })
    }
}

/// Diff messages are sent at most this often while a search runs (TEMPO-SPEC §1.11).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// `Search`: while it runs, messages with the traces found since the previous message (at most
/// every 500 ms, with the metrics so far), then the complete result.
fn search_stream(
    state: Arc<ApiState>,
    tenant: TenantId,
    r: SearchRequest,
) -> ResponseStream<SearchResponse> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<SearchResponse, Status>>();
    tokio::spawn(async move {
        let params = params_of(&r);
        let progress_tx = tx.clone();
        let mut pending: Vec<TraceHit> = Vec::new();
        let mut last = Instant::now();
        let mut report = move |new: Vec<TraceHit>, metrics: &Metrics| {
            pending.extend(new);
            if last.elapsed() >= PROGRESS_INTERVAL && !pending.is_empty() {
                for message in packets(&pending, metrics) {
                    let _ = progress_tx.send(Ok(message));
                }
                pending.clear();
                last = Instant::now();
            }
        };
        match execute_with_progress(&state, tenant, &params, Some(&mut report)).await {
            Ok(outcome) => {
                for message in packets(&outcome.traces, &outcome.metrics) {
                    let _ = tx.send(Ok(message));
                }
            }
            Err(e) => {
                let _ = tx.send(Err(status(e)));
            }
        }
    });
    Box::pin(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
}

/// `Search` as a gRPC server-streaming service.
struct SearchCall(Arc<ApiState>);

impl ServerStreamingService<SearchRequest> for SearchCall {
    type Response = SearchResponse;
    type ResponseStream = ResponseStream<SearchResponse>;
    type Future = Pin<
        Box<
            dyn Future<Output = Result<Response<ResponseStream<SearchResponse>>, Status>>
                + Send
                + 'static,
        >,
    >;

    fn call(&mut self, request: Request<SearchRequest>) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move {
            let tenant = tenant_of(&state, &request)?;
            Ok(Response::new(search_stream(
                state,
                tenant,
                request.into_inner(),
            )))
        })
    }
}

fn tag_params(query: &str, scope: &str, start: u32, end: u32, limit: u32, stale: u32) -> Params {
    let mut p = Params::new();
    for (k, v) in [("q", query), ("scope", scope)] {
        if !v.is_empty() {
            p.insert(k.to_owned(), v.to_owned());
        }
    }
    for (k, v) in [
        ("start", start),
        ("end", end),
        ("limit", limit),
        ("maxStaleValues", stale),
    ] {
        if v > 0 {
            p.insert(k.to_owned(), v.to_string());
        }
    }
    p
}

fn metadata(inspected_bytes: u64) -> Option<MetadataMetrics> {
    Some(MetadataMetrics {
        inspected_bytes,
        total_jobs: 1,
        completed_jobs: 1,
        ..MetadataMetrics::default()
    })
}

fn tags_params(r: &SearchTagsRequest) -> Params {
    tag_params(
        &r.query,
        &r.scope,
        r.start,
        r.end,
        r.max_tags_per_scope,
        r.stale_values_threshold,
    )
}

fn values_params(r: &SearchTagValuesRequest) -> Params {
    tag_params(
        &r.query,
        "",
        r.start,
        r.end,
        r.max_tag_values,
        r.stale_value_threshold,
    )
}

fn search_tags(
    state: Arc<ApiState>,
    tenant: TenantId,
    r: SearchTagsRequest,
) -> Answer<SearchTagsResponse> {
    Box::pin(async move {
        let a = tag_results::names_v1(&state, &tenant, &tags_params(&r)).await?;
        Ok(vec![SearchTagsResponse {
            tag_names: a.items,
            metrics: metadata(a.inspected_bytes),
        }])
    })
}

fn search_tags_v2(
    state: Arc<ApiState>,
    tenant: TenantId,
    r: SearchTagsRequest,
) -> Answer<SearchTagsV2Response> {
    Box::pin(async move {
        let a = tag_results::names_v2(&state, &tenant, &tags_params(&r)).await?;
        Ok(vec![SearchTagsV2Response {
            scopes: a
                .items
                .into_iter()
                .map(|(name, tags)| SearchTagsV2Scope { name, tags })
                .collect(),
            metrics: metadata(a.inspected_bytes),
        }])
    })
}

fn search_tag_values(
    state: Arc<ApiState>,
    tenant: TenantId,
    r: SearchTagValuesRequest,
) -> Answer<SearchTagValuesResponse> {
    Box::pin(async move {
        let a = tag_results::values_v1(&state, &tenant, &r.tag_name, &values_params(&r)).await?;
        Ok(vec![SearchTagValuesResponse {
            tag_values: a.items,
            metrics: metadata(a.inspected_bytes),
        }])
    })
}

fn search_tag_values_v2(
    state: Arc<ApiState>,
    tenant: TenantId,
    r: SearchTagValuesRequest,
) -> Answer<SearchTagValuesV2Response> {
    Box::pin(async move {
        let a = tag_results::values_v2(&state, &tenant, &r.tag_name, &values_params(&r)).await?;
        Ok(vec![SearchTagValuesV2Response {
            tag_values: a
                .items
                .into_iter()
                .map(|(ty, value)| TagValue {
                    r#type: ty.to_owned(),
                    value,
                })
                .collect(),
            metrics: metadata(a.inspected_bytes),
        }])
    })
}

/// Serves one method with `run` (request and response types fixed by `run`).
async fn serve<Req, Resp, B>(
    state: Arc<ApiState>,
    request: tonic_http::Request<B>,
    run: fn(Arc<ApiState>, TenantId, Req) -> Answer<Resp>,
) -> tonic_http::Response<tonic::body::Body>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    let mut grpc = Grpc::new(ProstCodec::<Resp, Req>::default())
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(16 << 20);
    grpc.server_streaming(Call { state, run }, request).await
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
        let method = request
            .uri()
            .path()
            .strip_prefix("/tempopb.StreamingQuerier/")
            .unwrap_or("")
            .to_owned();
        Box::pin(async move {
            Ok(match method.as_str() {
                "Search" => {
                    let mut grpc =
                        Grpc::new(ProstCodec::<SearchResponse, SearchRequest>::default())
                            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                            .max_decoding_message_size(16 << 20)
                            .max_encoding_message_size(16 << 20);
                    grpc.server_streaming(SearchCall(state), request).await
                }
                "SearchTags" => serve(state, request, search_tags).await,
                "SearchTagsV2" => serve(state, request, search_tags_v2).await,
                "SearchTagValues" => serve(state, request, search_tag_values).await,
                "SearchTagValuesV2" => serve(state, request, search_tag_values_v2).await,
                _ => Status::unimplemented(format!(
                    "tempopb.StreamingQuerier/{method} is not implemented by tracecore yet"
                ))
                .into_http(),
            })
        })
    }
}
