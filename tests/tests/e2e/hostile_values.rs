//! Edge values inside otherwise well-formed OTLP (RELIABILITY.md promise 3, test S2): spans that
//! end before they start, timestamps at both ends of `u64`, out-of-range enum numbers, invalid
//! UTF-8 in strings, `AnyValue`s nested 10,000 deep. Tempo stores the first three as sent, and
//! so must we — read back by ID exactly, searchable, in memory and after they became a Parquet
//! block; the last two are refused with 400 / INVALID_ARGUMENT naming the problem. Nothing
//! panics (the test binary is a debug build, so an arithmetic overflow would), and the server
//! keeps serving.

use prost::Message;
use tonic::Code;
use tracecore_proto::otlp::{ResourceSpans, Span, Status};
use tracecore_tests::readback::check_trace_everywhere;
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

fn mutate(resource_spans: &mut [ResourceSpans], f: &mut impl FnMut(usize, &mut Span)) {
    let spans = resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans);
    for (i, span) in spans.enumerate() {
        f(i, span);
    }
}

/// One generated trace with `f` applied to every span, as a batch that knows what it sent.
fn edited_trace(generator: &mut TraceGenerator, mut f: impl FnMut(usize, &mut Span)) -> TraceBatch {
    let (id, mut resource_spans) = generator.next_trace();
    mutate(&mut resource_spans, &mut f);
    TraceBatch::from_traces(vec![(id, resource_spans)])
}

/// The traces that must be stored as sent.
fn storable_edge_cases(generator: &mut TraceGenerator) -> Vec<(&'static str, TraceBatch)> {
    vec![
        (
            "end before start",
            edited_trace(generator, |_, s| {
                std::mem::swap(&mut s.start_time_unix_nano, &mut s.end_time_unix_nano);
                s.start_time_unix_nano += 1_000_000_000;
            }),
        ),
        (
            "timestamps at u64::MAX",
            edited_trace(generator, |i, s| {
                s.start_time_unix_nano = u64::MAX - 1_000 * (i as u64 + 1);
                s.end_time_unix_nano = u64::MAX;
            }),
        ),
        (
            "zero timestamps",
            edited_trace(generator, |_, s| {
                s.start_time_unix_nano = 0;
                s.end_time_unix_nano = 0;
            }),
        ),
        (
            "start zero, end u64::MAX",
            edited_trace(generator, |_, s| {
                s.start_time_unix_nano = 0;
                s.end_time_unix_nano = u64::MAX;
            }),
        ),
        (
            "enum numbers out of range",
            edited_trace(generator, |i, s| {
                s.kind = [99, -1, i32::MAX][i % 3];
                s.status = Some(Status {
                    code: [42, -7, i32::MIN][i % 3],
                    message: "odd status".to_owned(),
                });
                for event in &mut s.events {
                    event.time_unix_nano = u64::MAX;
                }
            }),
        ),
    ]
}

/// A valid one-span request whose span name contains `bad` (bytes the encoder cannot hold in
/// a `String`), made by patching a placeholder of the same length in the encoded request.
fn request_with_raw_name(generator: &mut TraceGenerator, bad: &[u8]) -> Vec<u8> {
    let placeholder: String = "Q".repeat(bad.len());
    let batch = edited_trace(generator, |_, s| s.name = format!("x{placeholder}x"));
    let mut body = batch.request.encode_to_vec();
    let needle = format!("x{placeholder}x").into_bytes();
    let mut at = 0;
    while let Some(pos) = body[at..]
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
    {
        let start = at + pos + 1;
        body[start..start + bad.len()].copy_from_slice(bad);
        at = start + bad.len();
    }
    body
}

/// A one-span request whose attribute value nests `depth` array values.
fn nested_any_value(depth: usize) -> Vec<u8> {
    fn ld(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let mut len = body.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(body);
        out
    }
    let mut any = Vec::new();
    for _ in 0..depth {
        any = ld(0x2a, &ld(0x0a, &any));
    }
    let mut span = ld(0x0a, &[0x43; 16]);
    span.extend(ld(0x12, &[0x34; 8]));
    span.extend(ld(0x2a, b"deep"));
    let mut kv = ld(0x0a, b"deep");
    kv.extend(ld(0x12, &any));
    span.extend(ld(0x4a, &kv));
    ld(0x0a, &ld(0x12, &ld(0x12, &span)))
}

async fn search_ok(server: &Server, query: &str, what: &str) -> Vec<String> {
    let client = server.client();
    let path = format!("/api/search?q={}&limit=100", urlencode(query));
    let reply = client.get(&path, None).await.unwrap();
    assert_eq!(
        reply.status,
        200,
        "{what}: search {query} answered {} {}",
        reply.status,
        reply.text()
    );
    let json = reply.json().unwrap();
    json["traces"]
        .as_array()
        .map(|traces| {
            traces
                .iter()
                .filter_map(|t| t["traceID"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_values_are_stored_as_sent_or_refused_by_name() {
    let mut server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(9109);
    let cases = storable_edge_cases(&mut generator);
    for (i, (what, batch)) in cases.iter().enumerate() {
        // Alternate the receivers: both share the skim, but not the transport code.
        if i % 2 == 0 {
            client
                .export_ok(&batch.request)
                .await
                .unwrap_or_else(|e| panic!("{what}: OTLP/gRPC export refused: {e:#}"));
        } else {
            let reply = client
                .otlp_http_export(&batch.request, tracecore_tests::Encoding::Json, false)
                .await
                .unwrap();
            assert_eq!(reply.status, 200, "{what}: OTLP/JSON {}", reply.text());
        }
    }
    let check_all = |stage: &'static str| {
        let cases = &cases;
        let client = &client;
        async move {
            for (what, batch) in cases {
                let (id, spans) = &batch.traces[0];
                check_trace_everywhere(client, id, spans)
                    .await
                    .unwrap_or_else(|e| panic!("{what} ({stage}): {e:#}"));
            }
        }
    };
    check_all("in memory").await;
    let queries = [
        "{ }",
        "{ duration > 0 }",
        "{ duration < 0 }",
        "{ span:kind = server }",
        "{ span:status = error }",
        "{ trace:duration > 1s }",
        "{ } | count() > 1",
        "{ } >> { }",
    ];
    for query in queries {
        search_ok(&server, query, "in memory").await;
    }
    let all_in_memory = search_ok(&server, "{ }", "in memory").await;

    client.flush().await.unwrap().expect_status(204).unwrap();
    check_all("after flush").await;
    for query in queries {
        search_ok(&server, query, "after flush").await;
    }
    let all_in_blocks = search_ok(&server, "{ }", "after flush").await;
    for (what, batch) in &cases {
        let hex = hex::encode(batch.traces[0].0);
        let hex = hex.trim_start_matches('0');
        assert!(
            all_in_memory.iter().any(|t| t == hex) && all_in_blocks.iter().any(|t| t == hex),
            "{what}: trace {hex} not found by {{ }} (memory {}: {:?}, blocks {}: {:?})",
            all_in_memory.len(),
            all_in_memory,
            all_in_blocks.len(),
            all_in_blocks
        );
    }
    for path in ["/api/search/tags", "/api/v2/search/tag/span:kind/values"] {
        let reply = client.get(path, None).await.unwrap();
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    }

    // Refused, naming the problem, on both receivers.
    let invalid_utf8 = request_with_raw_name(&mut generator, &[0xff, 0xfe, 0xc0]);
    let overlong = request_with_raw_name(&mut generator, &[0xc0, 0xaf]);
    let surrogate = request_with_raw_name(&mut generator, &[0xed, 0xa0, 0x80]);
    let deep = nested_any_value(10_000);
    let refused: [(&str, &Vec<u8>, &str); 4] = [
        ("invalid UTF-8 in a span name", &invalid_utf8, "utf-8"),
        ("overlong UTF-8 in a span name", &overlong, "utf-8"),
        ("UTF-16 surrogate in a span name", &surrogate, "utf-8"),
        ("AnyValue nested 10,000 deep", &deep, "nest"),
    ];
    for (what, body, word) in refused {
        let reply = client
            .otlp_http_post(body.clone(), "application/x-protobuf", None)
            .await
            .unwrap();
        assert_eq!(reply.status, 400, "{what} over HTTP: {}", reply.text());
        assert!(
            reply.text().to_lowercase().contains(word),
            "{what} over HTTP: {:?} should name the problem ({word})",
            reply.text()
        );
        let status = client
            .otlp_grpc_export_raw(body.clone(), false)
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what} over gRPC");
        assert!(
            status.message().to_lowercase().contains(word),
            "{what} over gRPC: {:?} should name the problem ({word})",
            status.message()
        );
    }
    let mut deep_json = String::from(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"43434343434343434343434343434343","spanId":"3434343434343434","name":"deep","attributes":[{"key":"deep","value":"#,
    );
    deep_json.push_str(&r#"{"arrayValue":{"values":["#.repeat(10_000));
    deep_json.push_str(&"]}}".repeat(10_000));
    deep_json.push_str("}]}]}]}]}");
    let reply = client
        .otlp_http_post(deep_json.into_bytes(), "application/json", None)
        .await
        .unwrap();
    assert_eq!(
        reply.status,
        400,
        "JSON nested 10,000 deep: {}",
        reply.text()
    );
    let mut bad_json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"43434343434343434343434343434344","spanId":"3434343434343435","name":""#.to_vec();
    bad_json.extend_from_slice(&[0xff, 0xfe]);
    bad_json.extend_from_slice(br#""}]}]}]}"#);
    let reply = client
        .otlp_http_post(bad_json, "application/json", None)
        .await
        .unwrap();
    assert_eq!(
        reply.status,
        400,
        "JSON with invalid UTF-8: {}",
        reply.text()
    );

    assert!(
        server.is_running(),
        "tracecore died:\n{}",
        server.log_tail(40)
    );
    // Still whole after a restart (WAL replay and block reads of the same values).
    server.restart().await.unwrap();
    check_all("after restart").await;
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    assert!(!log.contains("panicked"), "a thread panicked:\n{log}");
}
