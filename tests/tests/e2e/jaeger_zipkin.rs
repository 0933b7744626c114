//! Jaeger (thrift_http, agent UDP compact/binary, gRPC) and Zipkin (v2 JSON) in, trace by ID
//! out: spans checked against what was sent under each protocol's documented mapping
//! (`tracecore_tests::jaeger_zipkin::Fidelity`), the same logical trace compared across OTLP,
//! Jaeger and Zipkin, and hostile bodies and datagrams refused without harming the server.

use std::time::{Duration, Instant};

use prost::Message;
use tonic::codegen::http::uri::PathAndQuery;
use tracecore_proto::otlp::ResourceSpans;
use tracecore_rpc::jaeger::model_proto::{PostSpansRequest, PostSpansResponse};
use tracecore_tests::client::gzip;
use tracecore_tests::jaeger_zipkin::{
    CoreSpan, Fidelity, agent_datagram, first_difference, jaeger_post_spans_requests,
    jaeger_thrift_batches, project, thrift_binary_body, with_trace_id, zipkin_v2_json,
};
use tracecore_tests::{HttpReply, Server, ServerOptions, TraceGenerator, TraceId};

fn options() -> ServerOptions {
    ServerOptions {
        jaeger_zipkin: true,
        ..ServerOptions::default()
    }
}

/// A trace whose ID has its high 8 bytes zero: a 64-bit tracer's ID, widened on the way in.
fn trace_64(generator: &mut TraceGenerator, low: u64) -> (TraceId, Vec<ResourceSpans>) {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&low.to_be_bytes());
    (id, generator.next_trace_with_id(id))
}

fn span_count(rs: &[ResourceSpans]) -> usize {
    rs.iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

fn http() -> reqwest::Client {
    tracecore_tests::install_tls_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(url: String, body: Vec<u8>, headers: &[(&str, &str)]) -> HttpReply {
    let mut builder = http().post(&url).body(body);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = builder
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let retry_after = response.headers().get("retry-after").is_some();
    let body = response.bytes().await.unwrap();
    let _ = retry_after;
    HttpReply {
        status,
        content_type,
        content_encoding: String::new(),
        body,
    }
}

fn jaeger_url(server: &Server) -> String {
    format!(
        "http://127.0.0.1:{}/api/traces",
        server.ports().jaeger_thrift_http
    )
}

fn zipkin_url(server: &Server, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.ports().zipkin)
}

/// The trace by ID, waiting up to `wait` for `spans` spans (UDP has no acknowledgement).
async fn read_back(
    server: &Server,
    id: &TraceId,
    spans: usize,
    wait: Duration,
) -> Vec<ResourceSpans> {
    let client = server.client();
    let started = Instant::now();
    loop {
        let got = client.trace_v1(id).await.unwrap().unwrap_or_default();
        if span_count(&got) >= spans || started.elapsed() > wait {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_same(expected: &[CoreSpan], actual: &[CoreSpan], how: &str) {
    if let Some(diff) = first_difference(expected, actual) {
        panic!("{how}: {diff}");
    }
}

/// Reads back `id` and checks it against `sent` under `fidelity`.
async fn check(
    server: &Server,
    id: &TraceId,
    sent: &[ResourceSpans],
    fidelity: Fidelity,
    how: &str,
    wait: Duration,
) {
    let got = read_back(server, id, span_count(sent), wait).await;
    assert!(
        !got.is_empty(),
        "{how}: trace {} not found",
        hex::encode(id)
    );
    for span in got
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
    {
        assert_eq!(
            span.trace_id,
            id.to_vec(),
            "{how}: trace ID read back as sent, 16 bytes"
        );
    }
    assert_same(&project(sent, fidelity), &project(&got, fidelity), how);
}

/// A metric's value from `/metrics` (`series` is the name with its labels, as exposed).
async fn metric(server: &Server, series: &str) -> f64 {
    let reply = server.client().get("/metrics", None).await.unwrap();
    reply
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn wait_for_metric(server: &Server, series: &str, at_least: f64) -> f64 {
    let started = Instant::now();
    loop {
        let v = metric(server, series).await;
        if v >= at_least || started.elapsed() > Duration::from_secs(10) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_thrift_http_reads_back_with_widened_ids() {
    let server = Server::start(options()).await.unwrap();
    let mut generator = TraceGenerator::new(7001);
    let (id, sent) = trace_64(&mut generator, 0x0102_0304_0506_0708);
    for batch in jaeger_thrift_batches(&sent) {
        post(
            jaeger_url(&server),
            thrift_binary_body(&batch),
            &[("content-type", "application/x-thrift")],
        )
        .await
        .expect_status(202)
        .unwrap();
    }
    // Acknowledged means durable and readable: no waiting.
    check(
        &server,
        &id,
        &sent,
        Fidelity::Jaeger,
        "jaeger thrift_http",
        Duration::ZERO,
    )
    .await;

    // The other Thrift media type, gzip-compressed, a 128-bit ID.
    let (id2, sent2) = generator.next_trace();
    for batch in jaeger_thrift_batches(&sent2) {
        post(
            jaeger_url(&server),
            gzip(&thrift_binary_body(&batch)),
            &[
                ("content-type", "application/vnd.apache.thrift.binary"),
                ("content-encoding", "gzip"),
            ],
        )
        .await
        .expect_status(202)
        .unwrap();
    }
    check(
        &server,
        &id2,
        &sent2,
        Fidelity::Jaeger,
        "jaeger thrift_http gzip",
        Duration::ZERO,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_thrift_http_refuses_bad_requests_and_keeps_serving() {
    let server = Server::start(options()).await.unwrap();
    let mut generator = TraceGenerator::new(7002);
    let (_, sent) = generator.next_trace();
    let good = thrift_binary_body(&jaeger_thrift_batches(&sent)[0]);
    let thrift = [("content-type", "application/x-thrift")];

    let reply = post(
        jaeger_url(&server),
        b"\x0c\x00\x01garbage".to_vec(),
        &thrift,
    )
    .await;
    reply.expect_status(400).unwrap();
    assert!(
        reply.text().contains("invalid jaeger thrift"),
        "{}",
        reply.text()
    );
    let truncated = good[..good.len() / 2].to_vec();
    post(jaeger_url(&server), truncated, &thrift)
        .await
        .expect_status(400)
        .unwrap();
    let reply = post(
        jaeger_url(&server),
        good.clone(),
        &[("content-type", "application/json")],
    )
    .await;
    reply.expect_status(400).unwrap();
    assert!(
        reply.text().contains("unsupported content type"),
        "{}",
        reply.text()
    );
    let reply = post(
        jaeger_url(&server),
        good.clone(),
        &[
            ("content-type", "application/x-thrift"),
            ("content-encoding", "gzip"),
        ],
    )
    .await;
    reply.expect_status(400).unwrap();
    // Over the 20 MiB cap.
    let reply = post(jaeger_url(&server), vec![0u8; 21 << 20], &thrift).await;
    reply.expect_status(413).unwrap();

    assert!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"malformed_request\",tenant=\"single-tenant\"}"
        )
        .await
            >= 2.0
    );
    post(jaeger_url(&server), good, &thrift)
        .await
        .expect_status(202)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_agent_udp_compact_and_binary() {
    let server = Server::start(options()).await.unwrap();
    let ports = server.ports();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut generator = TraceGenerator::new(7003);
    for (compact, port, how) in [
        (true, ports.jaeger_compact, "jaeger agent compact"),
        (false, ports.jaeger_binary, "jaeger agent binary"),
    ] {
        let (id, sent) = trace_64(&mut generator, if compact { 0xc0 } else { 0xb1 });
        for batch in jaeger_thrift_batches(&sent) {
            let datagram = agent_datagram(&batch, compact);
            assert!(
                datagram.len() < 65_000,
                "datagram of {} bytes",
                datagram.len()
            );
            socket
                .send_to(&datagram, ("127.0.0.1", port))
                .await
                .unwrap();
        }
        check(
            &server,
            &id,
            &sent,
            Fidelity::Jaeger,
            how,
            Duration::from_secs(15),
        )
        .await;
    }

    // Garbage: random bytes, a truncated message, a binary datagram on the compact port.
    let (_, sent) = generator.next_trace();
    let batch = &jaeger_thrift_batches(&sent)[0];
    let compact = agent_datagram(batch, true);
    let garbage: [Vec<u8>; 4] = [
        vec![0xff; 100],
        compact[..compact.len() / 3].to_vec(),
        agent_datagram(batch, false),
        Vec::new(),
    ];
    for g in &garbage {
        socket
            .send_to(g, ("127.0.0.1", ports.jaeger_compact))
            .await
            .unwrap();
    }
    let series = "tracecore_receiver_datagrams_total{receiver=\"jaeger_thrift_compact\",outcome=\"malformed\"}";
    let malformed = wait_for_metric(&server, series, 4.0).await;
    assert_eq!(malformed, 4.0, "every garbage datagram counted once");
    assert!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"malformed_request\",tenant=\"single-tenant\"}"
        )
        .await
            >= 4.0
    );
    let accepted = metric(&server, "tracecore_receiver_datagrams_total{receiver=\"jaeger_thrift_compact\",outcome=\"accepted\"}").await;
    assert!(accepted >= 1.0, "accepted datagrams counted");
    // Still serving, on UDP too.
    let (id, sent) = generator.next_trace();
    for batch in jaeger_thrift_batches(&sent) {
        socket
            .send_to(
                &agent_datagram(&batch, true),
                ("127.0.0.1", ports.jaeger_compact),
            )
            .await
            .unwrap();
    }
    check(
        &server,
        &id,
        &sent,
        Fidelity::Jaeger,
        "jaeger agent after garbage",
        Duration::from_secs(15),
    )
    .await;
}

async fn post_spans(
    server: &Server,
    request: PostSpansRequest,
    tenant: Option<&str>,
) -> Result<PostSpansResponse, tonic::Status> {
    let url = format!("http://127.0.0.1:{}", server.ports().jaeger_grpc);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(request);
    if let Some(t) = tenant {
        request
            .metadata_mut()
            .insert("x-scope-orgid", t.parse().unwrap());
    }
    let codec = tonic_prost::ProstCodec::<PostSpansRequest, PostSpansResponse>::default();
    grpc.unary(
        request,
        PathAndQuery::from_static("/jaeger.api_v2.CollectorService/PostSpans"),
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_grpc_post_spans() {
    let server = Server::start(options()).await.unwrap();
    let mut generator = TraceGenerator::new(7004);
    let (id, sent) = generator.next_trace();
    for request in jaeger_post_spans_requests(&sent) {
        let response = post_spans(&server, request, None).await.unwrap();
        assert_eq!(response.encoded_len(), 0, "empty PostSpansResponse");
    }
    check(
        &server,
        &id,
        &sent,
        Fidelity::Jaeger,
        "jaeger grpc",
        Duration::ZERO,
    )
    .await;

    // A 3-byte trace ID is refused with INVALID_ARGUMENT naming the field.
    let (_, other) = generator.next_trace();
    let mut bad = jaeger_post_spans_requests(&other).remove(0);
    if let Some(span) = bad.batch.as_mut().and_then(|b| b.spans.first_mut()) {
        span.trace_id = vec![1, 2, 3];
    }
    let status = post_spans(&server, bad, None).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("trace_id"),
        "{}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipkin_v2_json_reads_back_with_widened_ids() {
    let server = Server::start(options()).await.unwrap();
    let mut generator = TraceGenerator::new(7005);
    let json = [("content-type", "application/json")];

    let (id, sent) = trace_64(&mut generator, 0x1122_3344_5566_7788);
    let body = serde_json::to_vec(&zipkin_v2_json(&sent)).unwrap();
    post(zipkin_url(&server, "/api/v2/spans"), body, &json)
        .await
        .expect_status(202)
        .unwrap();
    check(
        &server,
        &id,
        &sent,
        Fidelity::Zipkin,
        "zipkin v2 json",
        Duration::ZERO,
    )
    .await;

    // gzip and deflate (zlib) bodies; any path is v2.
    for (encoding, path) in [("gzip", "/api/v2/spans"), ("deflate", "/custom/zipkin")] {
        let (id, sent) = generator.next_trace();
        let raw = serde_json::to_vec(&zipkin_v2_json(&sent)).unwrap();
        let body = if encoding == "gzip" {
            gzip(&raw)
        } else {
            use std::io::Write as _;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&raw).unwrap();
            z.finish().unwrap()
        };
        post(
            zipkin_url(&server, path),
            body,
            &[
                ("content-type", "application/json"),
                ("content-encoding", encoding),
            ],
        )
        .await
        .expect_status(202)
        .unwrap();
        check(
            &server,
            &id,
            &sent,
            Fidelity::Zipkin,
            &format!("zipkin {encoding} {path}"),
            Duration::ZERO,
        )
        .await;
    }

    // Malformed bodies: 400 naming the problem, and the server keeps serving.
    let reply = post(
        zipkin_url(&server, "/api/v2/spans"),
        b"[{\"traceId\": 5}]".to_vec(),
        &json,
    )
    .await;
    reply.expect_status(400).unwrap();
    assert!(reply.text().contains("invalid zipkin"), "{}", reply.text());
    post(
        zipkin_url(&server, "/api/v2/spans"),
        b"{not json".to_vec(),
        &json,
    )
    .await
    .expect_status(400)
    .unwrap();
    post(
        zipkin_url(&server, "/api/v1/spans"),
        b"\x00\x01\x02".to_vec(),
        &[("content-type", "application/x-thrift")],
    )
    .await
    .expect_status(400)
    .unwrap();
    post(
        zipkin_url(&server, "/api/v2/spans"),
        b"[]".to_vec(),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
    )
    .await
    .expect_status(400)
    .unwrap();
    let get = http()
        .get(zipkin_url(&server, "/api/v2/spans"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let (id, sent) = generator.next_trace();
    let body = serde_json::to_vec(&zipkin_v2_json(&sent)).unwrap();
    post(zipkin_url(&server, "/api/v2/spans"), body, &json)
        .await
        .expect_status(202)
        .unwrap();
    check(
        &server,
        &id,
        &sent,
        Fidelity::Zipkin,
        "zipkin after malformed",
        Duration::ZERO,
    )
    .await;
}

/// One logical trace sent three times (three trace IDs) over OTLP, Jaeger thrift_http and
/// Zipkin v2 JSON reads back the same in the parts all three carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_trace_over_otlp_jaeger_and_zipkin_reads_back_equivalent() {
    let server = Server::start(options()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(7006);
    let (_, logical) = generator.next_trace();
    let ids: [TraceId; 3] = [[0xa1; 16], [0xb2; 16], [0xc3; 16]];
    let [otlp_id, jaeger_id, zipkin_id] = ids;

    let otlp = with_trace_id(&logical, &otlp_id);
    client
        .export_ok(&tracecore_proto::otlp::ExportTraceServiceRequest {
            resource_spans: otlp.clone(),
        })
        .await
        .unwrap();
    for batch in jaeger_thrift_batches(&with_trace_id(&logical, &jaeger_id)) {
        post(
            jaeger_url(&server),
            thrift_binary_body(&batch),
            &[("content-type", "application/x-thrift")],
        )
        .await
        .expect_status(202)
        .unwrap();
    }
    let body = serde_json::to_vec(&zipkin_v2_json(&with_trace_id(&logical, &zipkin_id))).unwrap();
    post(
        zipkin_url(&server, "/api/v2/spans"),
        body,
        &[("content-type", "application/json")],
    )
    .await
    .expect_status(202)
    .unwrap();

    let spans = span_count(&logical);
    let mut views = Vec::new();
    for id in &ids {
        let got = read_back(&server, id, spans, Duration::ZERO).await;
        let mut view = project(&with_trace_id(&got, &[0; 16]), Fidelity::Common);
        view.sort();
        views.push(view);
    }
    let expected = {
        let mut v = project(&with_trace_id(&logical, &[0; 16]), Fidelity::Common);
        v.sort();
        v
    };
    assert_same(&expected, &views[0], "otlp vs sent");
    assert_same(&views[0], &views[1], "otlp vs jaeger thrift_http");
    assert_same(&views[0], &views[2], "otlp vs zipkin v2 json");
}

/// UDP carries no tenant: with multitenancy on, datagrams are refused and counted, and start-up
/// says so; the HTTP receivers take `X-Scope-OrgID` like OTLP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multitenancy_refuses_udp_and_reads_the_org_id_header() {
    let server = Server::start(ServerOptions {
        multitenancy: true,
        ..options()
    })
    .await
    .unwrap();
    let log = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(
        log.contains("multitenancy_enabled every datagram is refused"),
        "start-up warning missing:\n{log}"
    );

    let mut generator = TraceGenerator::new(7007);
    let (id, sent) = generator.next_trace();
    let batches = jaeger_thrift_batches(&sent);
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(
            &agent_datagram(&batches[0], false),
            ("127.0.0.1", server.ports().jaeger_binary),
        )
        .await
        .unwrap();
    let series = "tracecore_receiver_datagrams_total{receiver=\"jaeger_thrift_binary\",outcome=\"refused_multitenant\"}";
    assert_eq!(wait_for_metric(&server, series, 1.0).await, 1.0);

    let thrift = ("content-type", "application/x-thrift");
    let reply = post(
        jaeger_url(&server),
        thrift_binary_body(&batches[0]),
        &[thrift],
    )
    .await;
    reply.expect_status(401).unwrap();
    for batch in &batches {
        post(
            jaeger_url(&server),
            thrift_binary_body(batch),
            &[thrift, ("x-scope-orgid", "team-j")],
        )
        .await
        .expect_status(202)
        .unwrap();
    }
    let got = server
        .client_for("team-j")
        .trace_v1(&id)
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(span_count(&got), span_count(&sent));
    assert!(
        server
            .client_for("team-other")
            .trace_v1(&id)
            .await
            .unwrap()
            .is_none()
    );

    let body = serde_json::to_vec(&zipkin_v2_json(&sent)).unwrap();
    post(
        zipkin_url(&server, "/api/v2/spans"),
        body,
        &[("content-type", "application/json")],
    )
    .await
    .expect_status(401)
    .unwrap();
}
