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

fn span_times(resource_spans: &[ResourceSpans]) -> Vec<(u64, u64)> {
    let mut times: Vec<(u64, u64)> = resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| (s.start_time_unix_nano, s.end_time_unix_nano))
        .collect();
    times.sort_unstable();
    times
}

async fn post_body(url: String, body: Vec<u8>, content_type: &str) -> (u16, String) {
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap_or_default())
}

/// The same matrix through the Jaeger thrift and Zipkin receivers: their times are signed
/// microseconds, so the extremes are `i64::MAX`, negative starts and negative durations; they
/// saturate (as the Collector's conversion does) and are stored; a Zipkin span with 1,000 tags
/// of 150 distinct keys keeps each key once with its last value; invalid UTF-8 and nested tag
/// values are refused with 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_and_zipkin_edge_values_saturate_and_bad_bodies_are_refused() {
    use tracecore_tests::jaeger_zipkin::{jaeger_thrift_batches, thrift_binary_body};
    tracecore_tests::install_tls_provider();
    let mut server = Server::start(ServerOptions {
        jaeger_zipkin: true,
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let ports = server.ports();
    let client = server.client();
    let jaeger = format!("http://127.0.0.1:{}/api/traces", ports.jaeger_thrift_http);
    let zipkin = format!("http://127.0.0.1:{}/api/v2/spans", ports.zipkin);
    let mut generator = TraceGenerator::new(9110);

    // Jaeger: start at i64::MAX µs with a huge duration, and a negative start and duration.
    let mut jaeger_ids = Vec::new();
    for (start, duration) in [(i64::MAX, i64::MAX), (-5, -7)] {
        let (id, sent) = generator.next_trace();
        for mut batch in jaeger_thrift_batches(&sent) {
            for span in &mut batch.spans {
                span.start_time = start;
                span.duration = duration;
            }
            let (status, text) = post_body(
                jaeger.clone(),
                thrift_binary_body(&batch),
                "application/x-thrift",
            )
            .await;
            assert_eq!(
                status, 202,
                "jaeger start {start} duration {duration}: {text}"
            );
        }
        jaeger_ids.push((id, start));
    }

    // Zipkin: the same extremes, a tag key with escapes, and repeated keys.
    let trace = |n: u32| format!("{:032x}", 0xabc0_0000 + n);
    let tags: String = (0..1000)
        .map(|i| format!(r#""k{}":"v{i}""#, i % 150))
        .collect::<Vec<_>>()
        .join(",");
    let body = format!(
        r#"[{{"traceId":"{}","id":"1","name":"max","timestamp":{},"duration":{}}},
            {{"traceId":"{}","id":"2","name":"negative","timestamp":-5,"duration":-7}},
            {{"traceId":"{}","id":"3","name":"tags","timestamp":1700000000000000,"duration":1,
              "localEndpoint":{{"serviceName":"svc","ipv4":"10.0.0.1"}},
              "tags":{{"a\"b\u00e9":"q\n","net.host.ip":"first",{tags}}}}}]"#,
        trace(1),
        i64::MAX,
        i64::MAX,
        trace(2),
        trace(3)
    );
    let (status, text) = post_body(zipkin.clone(), body.into_bytes(), "application/json").await;
    assert_eq!(status, 202, "zipkin edge values: {text}");

    let read = |id: [u8; 16]| {
        let client = client.clone();
        async move {
            client
                .trace_v1(&id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("trace {} not stored", hex::encode(id)))
        }
    };
    for stage in ["in memory", "after flush"] {
        for (id, start) in &jaeger_ids {
            let times = span_times(&read(*id).await);
            let expected = if *start > 0 {
                (u64::MAX, u64::MAX)
            } else {
                (0, 0)
            };
            assert!(
                times.iter().all(|t| *t == expected),
                "jaeger start {start} ({stage}): {times:?}"
            );
        }
        let id = |n: u32| -> [u8; 16] { hex::decode(trace(n)).unwrap().try_into().unwrap() };
        assert_eq!(
            span_times(&read(id(1)).await),
            vec![(u64::MAX, u64::MAX)],
            "{stage}"
        );
        assert_eq!(span_times(&read(id(2)).await), vec![(0, 0)], "{stage}");
        let tagged = read(id(3)).await;
        let span = &tagged[0].scope_spans[0].spans[0];
        let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys.len(), 152, "{stage}: {keys:?}");
        assert_eq!(keys[0], "a\"b\u{e9}", "{stage}: escaped key");
        assert_eq!(
            keys[1], "net.host.ip",
            "{stage}: the endpoint sets the tag in place"
        );
        let value = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone())
                .and_then(|v| v.value)
        };
        use tracecore_proto::otlp::any_value::Value;
        assert_eq!(value("a\"b\u{e9}"), Some(Value::StringValue("q\n".into())));
        assert_eq!(
            value("net.host.ip"),
            Some(Value::StringValue("10.0.0.1".into()))
        );
        assert_eq!(value("k0"), Some(Value::StringValue("v900".into())));
        assert_eq!(value("k149"), Some(Value::StringValue("v899".into())));
        if stage == "in memory" {
            client.flush().await.unwrap().expect_status(204).unwrap();
        }
    }

    let mut bad_utf8 = br#"[{"traceId":"1","id":"1","name":""#.to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(br#""}]"#);
    let nested = format!(
        r#"[{{"traceId":"1","id":"1","tags":{{"deep":{}1{}}}}}]"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    for (what, body) in [
        ("invalid UTF-8", bad_utf8),
        (
            "nested tag value",
            br#"[{"traceId":"1","id":"1","tags":{"a":{"b":1}}}]"#.to_vec(),
        ),
        ("tag value nested 10,000 deep", nested.into_bytes()),
    ] {
        let (status, text) = post_body(zipkin.clone(), body, "application/json").await;
        assert_eq!(status, 400, "zipkin {what}: {text}");
        assert!(
            text.contains("invalid zipkin json"),
            "zipkin {what}: {text}"
        );
    }
    assert!(
        server.is_running(),
        "tracecore died:\n{}",
        server.log_tail(40)
    );
}
