//! Bad input never hurts (RELIABILITY.md promise 3, tests S2–S3): malformed, truncated, oversized
//! and compressed-bomb payloads get a clear 4xx / INVALID_ARGUMENT, memory stays bounded, and the
//! server keeps serving normal traffic afterwards.

use std::io::Write;
use std::time::{Duration, Instant};

use prost::Message;
use tonic::Code;
use tracecore_proto::otlp::{ExportTraceServiceRequest, Span};
use tracecore_tests::client::gzip;
use tracecore_tests::readback::{check_trace_absent, check_trace_everywhere};
use tracecore_tests::{Client, Encoding, Server, ServerOptions, TraceBatch, TraceGenerator};

const MIB: usize = 1 << 20;
/// The OTLP receivers' body limit, after decompression.
const BODY_LIMIT: usize = 20 * MIB;

fn varint(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: usize) -> usize {
    let mut buf = Vec::new();
    varint(v, &mut buf);
    buf.len()
}

/// A length-delimited field.
fn ld(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    varint(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// The bytes before a string attribute of `len` bytes that ends a one-span request: writing the
/// prefix and then `len` value bytes gives a valid `ExportTraceServiceRequest`, so a huge
/// payload can be streamed (or compressed) without being materialised.
fn big_attribute_prefix(len: usize) -> Vec<u8> {
    let mut span_head = ld(0x0a, &[0x42; 16]); // trace_id
    span_head.extend(ld(0x12, &[0x24; 8])); // span_id
    span_head.extend(ld(0x2a, b"huge")); // name
    span_head.push(0x39); // start_time_unix_nano, fixed64
    span_head.extend(1_700_000_000_000_000_000u64.to_le_bytes());
    span_head.push(0x41); // end_time_unix_nano, fixed64
    span_head.extend(1_700_000_000_100_000_000u64.to_le_bytes());
    let any_len = 1 + varint_len(len) + len;
    let kv_len = ld(0x0a, b"bomb").len() + 1 + varint_len(any_len) + any_len;
    let span_len = span_head.len() + 1 + varint_len(kv_len) + kv_len;
    let scope_len = 1 + varint_len(span_len) + span_len;
    let rs_len = 1 + varint_len(scope_len) + scope_len;
    let mut out = vec![0x0a];
    varint(rs_len, &mut out);
    out.push(0x12); // ResourceSpans.scope_spans
    varint(scope_len, &mut out);
    out.push(0x12); // ScopeSpans.spans
    varint(span_len, &mut out);
    out.extend(span_head);
    out.push(0x4a); // Span.attributes
    varint(kv_len, &mut out);
    out.extend(ld(0x0a, b"bomb"));
    out.push(0x12); // KeyValue.value
    varint(any_len, &mut out);
    out.push(0x0a); // AnyValue.string_value
    varint(len, &mut out);
    out
}

fn big_request(len: usize) -> Vec<u8> {
    let mut body = big_attribute_prefix(len);
    body.resize(body.len() + len, b'a');
    body
}

/// gzip of a valid request whose attribute is `len` bytes of `a`: a decompression bomb.
fn gzip_bomb(len: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&big_attribute_prefix(len)).unwrap();
    let chunk = vec![b'a'; MIB];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    encoder.finish().unwrap()
}

/// A request whose innermost attribute value nests `depth` array values.
fn deeply_nested_protobuf(depth: usize) -> Vec<u8> {
    let mut any = Vec::new(); // empty AnyValue
    for _ in 0..depth {
        any = ld(0x2a, &ld(0x0a, &any)); // AnyValue.array_value(ArrayValue.values[AnyValue])
    }
    let mut span = ld(0x0a, &[0x42; 16]);
    span.extend(ld(0x12, &[0x24; 8]));
    span.extend(ld(0x2a, b"deep"));
    let mut kv = ld(0x0a, b"deep");
    kv.extend(ld(0x12, &any));
    span.extend(ld(0x4a, &kv));
    ld(0x0a, &ld(0x12, &ld(0x12, &span)))
}

fn deeply_nested_json(depth: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"42424242424242424242424242424242","spanId":"2424242424242424","name":"deep","attributes":[{"key":"deep","value":"#,
    );
    for _ in 0..depth {
        s.push_str(r#"{"arrayValue":{"values":["#);
    }
    for _ in 0..depth {
        s.push_str("]}}");
    }
    s.push_str("}]}]}]}]}");
    s.into_bytes()
}

fn mutate_spans(
    request: &ExportTraceServiceRequest,
    mut f: impl FnMut(&mut Span),
) -> ExportTraceServiceRequest {
    let mut r = request.clone();
    r.resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
        .for_each(&mut f);
    r
}

/// A valid batch whose second trace has 64-bit trace IDs: the whole push must be refused.
fn half_bad_batch(generator: &mut TraceGenerator) -> (TraceBatch, ExportTraceServiceRequest) {
    let batch = TraceBatch::generate(generator, 2);
    let bad_id = batch.traces[1].0;
    let request = mutate_spans(&batch.request, |s| {
        if s.trace_id == bad_id {
            s.trace_id.truncate(8);
        }
    });
    (batch, request)
}

struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn assert_none(&self) {
        assert!(
            self.0.is_empty(),
            "{} hostile-input failures:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

#[allow(clippy::too_many_arguments)]
async fn expect_http(
    f: &mut Failures,
    client: &Client,
    name: &str,
    body: Vec<u8>,
    content_type: &str,
    encoding: Option<&str>,
    allowed: &[u16],
    message: Option<&str>,
) {
    let started = Instant::now();
    match client.otlp_http_post(body, content_type, encoding).await {
        Err(e) => f.0.push(format!("{name}: no HTTP response ({e:#})")),
        Ok(reply) => {
            let text = reply.text();
            f.check(allowed.contains(&reply.status), || {
                format!(
                    "{name}: HTTP {} {text:.200?}, expected one of {allowed:?}",
                    reply.status
                )
            });
            if let Some(m) = message {
                f.check(text.contains(m), || {
                    format!("{name}: message {text:.300?} should contain {m:?}")
                });
            }
            f.check(started.elapsed() < Duration::from_secs(15), || {
                format!("{name}: took {:?}", started.elapsed())
            });
        }
    }
}

async fn expect_grpc(
    f: &mut Failures,
    client: &Client,
    name: &str,
    body: Vec<u8>,
    gzip: bool,
    allowed: &[Code],
    message: Option<&str>,
) {
    let started = Instant::now();
    match client.otlp_grpc_export_raw(body, gzip).await {
        Ok(r) => f.0.push(format!(
            "{name}: accepted ({r:?}), expected one of {allowed:?}"
        )),
        Err(status) => {
            f.check(allowed.contains(&status.code()), || {
                format!(
                    "{name}: {:?} {:.200?}, expected one of {allowed:?}",
                    status.code(),
                    status.message()
                )
            });
            if let Some(m) = message {
                f.check(status.message().contains(m), || {
                    format!(
                        "{name}: message {:.300?} should contain {m:?}",
                        status.message()
                    )
                });
            }
        }
    }
    f.check(started.elapsed() < Duration::from_secs(15), || {
        format!("{name}: took {:?}", started.elapsed())
    });
}

/// The server still accepts and serves normal traffic on both receivers.
async fn still_serves(server: &mut Server, generator: &mut TraceGenerator) {
    assert!(
        server.is_running(),
        "tracecore died:\n{}",
        server.log_tail(40)
    );
    let client = server.client();
    let via_grpc = TraceBatch::generate(generator, 1);
    client.export_ok(&via_grpc.request).await.unwrap();
    let via_http = TraceBatch::generate(generator, 1);
    client
        .otlp_http_export(&via_http.request, Encoding::Protobuf, true)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();
    for (id, spans) in via_grpc.traces.iter().chain(&via_http.traces) {
        check_trace_everywhere(&client, id, spans).await.unwrap();
    }
}

fn peak_growth_mib(server: &Server, before_kib: Option<u64>) -> Option<u64> {
    Some((server.peak_rss_kib()?.saturating_sub(before_kib?)) / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_otlp_http_payloads() {
    let mut server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(6006);
    let mut f = Failures(Vec::new());
    let valid = TraceBatch::generate(&mut generator, 2);
    let encoded = valid.request.encode_to_vec();
    let proto = "application/x-protobuf";
    let json = "application/json";

    expect_http(
        &mut f,
        &client,
        "garbage protobuf",
        b"\x0f\xde\xad\xbe\xef not protobuf".to_vec(),
        proto,
        None,
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "plain text as protobuf",
        b"this is not protobuf at all".to_vec(),
        proto,
        None,
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "truncated protobuf",
        encoded[..encoded.len() / 2].to_vec(),
        proto,
        None,
        &[400],
        None,
    )
    .await;
    let short_trace = mutate_spans(&valid.request, |s| s.trace_id.truncate(8));
    expect_http(
        &mut f,
        &client,
        "64-bit trace IDs",
        short_trace.encode_to_vec(),
        proto,
        None,
        &[400],
        Some("trace ids must be 128 bit, received 64 bits"),
    )
    .await;
    let no_trace = mutate_spans(&valid.request, |s| s.trace_id.clear());
    expect_http(
        &mut f,
        &client,
        "empty trace IDs",
        no_trace.encode_to_vec(),
        proto,
        None,
        &[400],
        Some("trace ids must be 128 bit, received 0 bits"),
    )
    .await;
    let short_span = mutate_spans(&valid.request, |s| s.span_id.truncate(4));
    expect_http(
        &mut f,
        &client,
        "32-bit span IDs",
        short_span.encode_to_vec(),
        proto,
        None,
        &[400],
        Some("span ids must be 64 bit and not all zero, received 32 bits"),
    )
    .await;
    let zero_span = mutate_spans(&valid.request, |s| s.span_id = vec![0; 8]);
    expect_http(
        &mut f,
        &client,
        "all-zero span IDs",
        zero_span.encode_to_vec(),
        proto,
        None,
        &[400],
        Some("span ids must be 64 bit and not all zero"),
    )
    .await;
    let (half, half_bad) = half_bad_batch(&mut generator);
    expect_http(
        &mut f,
        &client,
        "one bad trace in a batch",
        half_bad.encode_to_vec(),
        proto,
        None,
        &[400],
        None,
    )
    .await;
    if let Err(e) = check_trace_absent(&client, &half.traces[0].0).await {
        f.0.push(format!(
            "a refused push must store nothing, but its valid trace is readable: {e:#}"
        ));
    }
    expect_http(
        &mut f,
        &client,
        "deeply nested protobuf",
        deeply_nested_protobuf(5000),
        proto,
        None,
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "invalid JSON",
        br#"{"resourceSpans": [{"scopeSpans": ["#.to_vec(),
        json,
        None,
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "JSON that is not OTLP",
        br#"{"resourceSpans": 5}"#.to_vec(),
        json,
        None,
        &[400],
        None,
    )
    .await;
    let mut json_body = tracecore_tests::otlp_json::request_to_otlp_json(&valid.request);
    json_body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] =
        "zz0123456789abcdef0123456789abcd".into();
    expect_http(
        &mut f,
        &client,
        "JSON with a non-hex trace ID",
        serde_json::to_vec(&json_body).unwrap(),
        json,
        None,
        &[400],
        None,
    )
    .await;
    json_body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] =
        "QkJCQkJCQkJCQkJCQkJCQg==".into();
    expect_http(
        &mut f,
        &client,
        "JSON with a base64 trace ID (OTLP/JSON wants hex)",
        serde_json::to_vec(&json_body).unwrap(),
        json,
        None,
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "deeply nested JSON",
        deeply_nested_json(5000),
        json,
        None,
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "gzip header on a plain body",
        encoded.clone(),
        proto,
        Some("gzip"),
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "truncated gzip",
        gzip(&encoded)[..40].to_vec(),
        proto,
        Some("gzip"),
        &[400],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "unsupported content type",
        encoded.clone(),
        "text/plain",
        None,
        &[400, 415],
        None,
    )
    .await;
    expect_http(
        &mut f,
        &client,
        "empty body is an empty export",
        Vec::new(),
        proto,
        None,
        &[200],
        None,
    )
    .await;

    expect_http(
        &mut f,
        &client,
        "body over 20 MiB",
        big_request(BODY_LIMIT + MIB),
        proto,
        None,
        &[413],
        None,
    )
    .await;
    let before = server.peak_rss_kib();
    let bomb = gzip_bomb(200 * MIB);
    let started = Instant::now();
    expect_http(
        &mut f,
        &client,
        &format!("gzip bomb ({} KiB -> 200 MiB)", bomb.len() / 1024),
        bomb,
        proto,
        Some("gzip"),
        &[413],
        None,
    )
    .await;
    let elapsed = started.elapsed();
    f.check(elapsed < Duration::from_secs(10), || {
        format!("gzip bomb answered after {elapsed:?}")
    });
    let growth = peak_growth_mib(&server, before);
    eprintln!("HTTP gzip bomb: answered in {elapsed:?}, server peak RSS grew by {growth:?} MiB");
    if let Some(growth) = growth {
        f.check(growth < 128, || {
            format!("gzip bomb raised peak RSS by {growth} MiB (decompression not capped?)")
        });
    }
    // Just under the limit is fine.
    expect_http(
        &mut f,
        &client,
        "body just under 20 MiB",
        big_request(BODY_LIMIT - MIB),
        proto,
        None,
        &[200],
        None,
    )
    .await;

    still_serves(&mut server, &mut generator).await;
    f.assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_otlp_grpc_payloads() {
    let mut server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(7007);
    let mut f = Failures(Vec::new());
    let valid = TraceBatch::generate(&mut generator, 2);
    let encoded = valid.request.encode_to_vec();
    let invalid = [Code::InvalidArgument];

    expect_grpc(
        &mut f,
        &client,
        "garbage protobuf",
        b"\x0f\xde\xad\xbe\xef not protobuf".to_vec(),
        false,
        &invalid,
        None,
    )
    .await;
    expect_grpc(
        &mut f,
        &client,
        "truncated protobuf",
        encoded[..encoded.len() / 2].to_vec(),
        false,
        &invalid,
        None,
    )
    .await;
    let short_trace = mutate_spans(&valid.request, |s| s.trace_id.truncate(8));
    expect_grpc(
        &mut f,
        &client,
        "64-bit trace IDs",
        short_trace.encode_to_vec(),
        false,
        &invalid,
        Some("trace ids must be 128 bit, received 64 bits"),
    )
    .await;
    let short_span = mutate_spans(&valid.request, |s| s.span_id.truncate(4));
    expect_grpc(
        &mut f,
        &client,
        "32-bit span IDs (gzip)",
        short_span.encode_to_vec(),
        true,
        &invalid,
        Some("span ids must be 64 bit and not all zero, received 32 bits"),
    )
    .await;
    let (half, half_bad) = half_bad_batch(&mut generator);
    expect_grpc(
        &mut f,
        &client,
        "one bad trace in a batch",
        half_bad.encode_to_vec(),
        false,
        &invalid,
        None,
    )
    .await;
    if let Err(e) = check_trace_absent(&client, &half.traces[0].0).await {
        f.0.push(format!(
            "a refused push must store nothing, but its valid trace is readable: {e:#}"
        ));
    }
    expect_grpc(
        &mut f,
        &client,
        "deeply nested protobuf",
        deeply_nested_protobuf(5000),
        false,
        &invalid,
        None,
    )
    .await;

    let too_big = [
        Code::ResourceExhausted,
        Code::OutOfRange,
        Code::InvalidArgument,
    ];
    expect_grpc(
        &mut f,
        &client,
        "message over 20 MiB",
        big_request(BODY_LIMIT + MIB),
        false,
        &too_big,
        None,
    )
    .await;
    let before = server.peak_rss_kib();
    let started = Instant::now();
    expect_grpc(
        &mut f,
        &client,
        "gzip bomb (256 MiB inflated)",
        big_request(256 * MIB),
        true,
        &too_big,
        None,
    )
    .await;
    let growth = peak_growth_mib(&server, before);
    eprintln!(
        "gRPC gzip bomb: answered in {:?} (client-side compression included), server peak RSS grew by {growth:?} MiB",
        started.elapsed()
    );
    if let Some(growth) = growth {
        f.check(growth < 128, || {
            format!("gRPC gzip bomb raised peak RSS by {growth} MiB")
        });
    }

    still_serves(&mut server, &mut generator).await;
    f.assert_none();
}
