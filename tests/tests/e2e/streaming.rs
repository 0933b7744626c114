//! `tempopb.StreamingQuerier/Search` over gRPC on the HTTP port (what Grafana's streaming
//! search calls): same traces as `GET /api/search`, Tempo's status codes for bad requests.

use std::collections::BTreeSet;

use tonic::transport::Endpoint;
use tonic::{Code, Request};
use tracecore_proto::tempo::{SearchRequest, SearchResponse};
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

async fn stream_search(
    server: &Server,
    request: SearchRequest,
    tenant: Option<&str>,
) -> Result<Vec<SearchResponse>, tonic::Status> {
    let url = format!("http://127.0.0.1:{}", server.ports().http);
    let channel = Endpoint::from_shared(url).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = Request::new(request);
    if let Some(t) = tenant {
        request
            .metadata_mut()
            .insert("x-scope-orgid", t.parse().unwrap());
    }
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/tempopb.StreamingQuerier/Search");
    let codec = tonic_prost::ProstCodec::<SearchRequest, SearchResponse>::default();
    let mut stream = grpc
        .server_streaming(request, path, codec)
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(message) = stream.message().await? {
        out.push(message);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_search_matches_http_search() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(21), 40);
    client.export_ok(&batch.request).await.unwrap();
    client.flush().await.unwrap().expect_status(204).unwrap();
    let more = TraceBatch::generate(&mut TraceGenerator::new(22), 40);
    client.export_ok(&more.request).await.unwrap();

    let request = SearchRequest {
        query: "{ status = error || duration > 20ms }".into(),
        limit: 500,
        spans_per_span_set: 5,
        ..SearchRequest::default()
    };
    let messages = stream_search(&server, request, None).await.unwrap();
    assert!(!messages.is_empty());
    assert!(
        messages.iter().all(|m| m.metrics.is_some()),
        "every message carries metrics"
    );
    let grpc_ids: BTreeSet<String> = messages
        .iter()
        .flat_map(|m| m.traces.iter().map(|t| t.trace_id.clone()))
        .collect();

    let reply = client
        .get(
            "/api/search?q=%7B%20status%20%3D%20error%20%7C%7C%20duration%20%3E%2020ms%20%7D&limit=500&spss=5",
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let http_ids: BTreeSet<String> = reply.json().unwrap()["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap().to_owned())
        .collect();
    assert!(!http_ids.is_empty());
    assert_eq!(grpc_ids, http_ids);
    let first = &messages[0].traces[0];
    assert_eq!(first.span_set.as_ref(), first.span_sets.first());
    assert!(first.span_sets[0].matched >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_search_errors_use_grpc_codes() {
    let server = Server::start(ServerOptions {
        multitenancy: true,
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let bad = SearchRequest {
        query: "{ .a = }".into(),
        ..SearchRequest::default()
    };
    let status = stream_search(&server, bad.clone(), Some("acme"))
        .await
        .expect_err("parse error");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("invalid TraceQL query: parse error"),
        "{status:?}"
    );
    let status = stream_search(&server, bad, None)
        .await
        .expect_err("no tenant");
    assert_eq!(status.code(), Code::Unauthenticated);
    let ok = SearchRequest {
        query: "{ }".into(),
        ..SearchRequest::default()
    };
    let messages = stream_search(&server, ok, Some("acme")).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].traces.is_empty());
}

async fn stream_call<Req, Resp>(server: &Server, method: &'static str, request: Req) -> Vec<Resp>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let url = format!("http://127.0.0.1:{}", server.ports().http);
    let channel = Endpoint::from_shared(url).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(method);
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    let mut stream = grpc
        .server_streaming(Request::new(request), path, codec)
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        out.push(message);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_tag_lookups_match_http() {
    use tracecore_proto::tempo::{
        SearchTagValuesRequest, SearchTagValuesV2Response, SearchTagsRequest, SearchTagsV2Response,
    };
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(23), 30);
    client.export_ok(&batch.request).await.unwrap();

    let tags: Vec<SearchTagsV2Response> = stream_call(
        &server,
        "/tempopb.StreamingQuerier/SearchTagsV2",
        SearchTagsRequest {
            scope: "resource".into(),
            ..SearchTagsRequest::default()
        },
    )
    .await;
    assert_eq!(tags.len(), 1);
    let http = client
        .get("/api/v2/search/tags?scope=resource", None)
        .await
        .unwrap()
        .json()
        .unwrap();
    let http_tags: Vec<String> = http["scopes"][0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tags[0].scopes.len(), 1);
    assert_eq!(tags[0].scopes[0].name, "resource");
    assert_eq!(tags[0].scopes[0].tags, http_tags);
    assert!(http_tags.contains(&"service.name".to_owned()));

    let values: Vec<SearchTagValuesV2Response> = stream_call(
        &server,
        "/tempopb.StreamingQuerier/SearchTagValuesV2",
        SearchTagValuesRequest {
            tag_name: "resource.service.name".into(),
            ..SearchTagValuesRequest::default()
        },
    )
    .await;
    let mut grpc_values: Vec<String> = values[0]
        .tag_values
        .iter()
        .map(|v| {
            assert_eq!(v.r#type, "string");
            v.value.clone()
        })
        .collect();
    grpc_values.sort();
    let http = client
        .get("/api/search/tag/service.name/values", None)
        .await
        .unwrap()
        .json()
        .unwrap();
    let http_values: Vec<String> = http["tagValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(grpc_values, http_values);
    assert!(!http_values.is_empty());
}
