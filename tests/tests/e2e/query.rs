//! Trace-by-ID edge cases (absent traces, malformed and short IDs, time windows) and the
//! operational endpoints.

use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use tracecore_proto::tempo::TraceByIdResponse;
use tracecore_tests::readback::{Form, check_trace_everywhere, read_trace};
use tracecore_tests::{Format, Server, ServerOptions, TraceBatch, TraceGenerator};

/// v1 answers 404 with an empty body; v2 answers 200 with an empty trace (TEMPO-SPEC §1.3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_trace() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    // Something is stored, just not this trace.
    let batch = TraceBatch::generate(&mut TraceGenerator::new(1), 1);
    client.export_ok(&batch.request).await.unwrap();
    let absent = "5b8efff798038103d269b633813fc60c";

    for format in [Format::Json, Format::Protobuf] {
        let v1 = client.get_trace_v1(absent, format).await.unwrap();
        assert_eq!(v1.status, 404, "v1 {format:?}: {}", v1.text());
        assert!(
            v1.body.is_empty(),
            "v1 404 body must be empty, got {:?}",
            v1.text()
        );
    }
    let v2 = client.get_trace_v2(absent, Format::Json).await.unwrap();
    v2.expect_status(200).unwrap();
    let body = v2.json().unwrap();
    let trace = body
        .get("trace")
        .unwrap_or_else(|| panic!("v2 JSON needs a \"trace\" key: {body}"));
    assert!(
        trace.as_object().is_some_and(|t| t
            .get("resourceSpans")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty))),
        "v2 absent trace should be {{\"trace\":{{}}}}, got {body}"
    );
    let v2p = client.get_trace_v2(absent, Format::Protobuf).await.unwrap();
    v2p.expect_status(200).unwrap();
    let decoded = TraceByIdResponse::decode(v2p.body.clone()).expect("TraceByIDResponse");
    assert!(decoded.trace.is_none_or(|t| t.resource_spans.is_empty()));
}

/// Malformed IDs are a 400 with Tempo's plain-text message, on v1 and v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_are_400() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let cases = [
        ("xyz", "trace IDs can only contain hex characters"),
        (
            "12345678901234567890123456789g12",
            "trace IDs can only contain hex characters",
        ),
        (
            "0123456789abcdef0123456789abcdef01",
            "trace IDs can't be larger than 128 bits",
        ),
        (
            "123456789abcdef0123456789abcdef01",
            "trace IDs can't be larger than 128 bits",
        ),
    ];
    let mut failures = Vec::new();
    for (id, message) in cases {
        for v2 in [false, true] {
            let reply = if v2 {
                client.get_trace_v2(id, Format::Json).await.unwrap()
            } else {
                client.get_trace_v1(id, Format::Json).await.unwrap()
            };
            let text = reply.text();
            if reply.status != 400 || !text.contains(message) {
                failures.push(format!(
                    "{} {id}: HTTP {} {text:?}, expected 400 containing {message:?}",
                    if v2 { "v2" } else { "v1" },
                    reply.status
                ));
            } else if !reply.content_type.starts_with("text/plain") {
                failures.push(format!(
                    "{id}: error Content-Type {:?}, expected text/plain",
                    reply.content_type
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Short IDs are left-padded with zero bytes; odd lengths get a leading `0` (TEMPO-SPEC §1.4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_ids_address_the_padded_id() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(77);
    let mut tiny = [0u8; 16];
    tiny[14..].copy_from_slice(&[0x12, 0x34]);
    let mut wide64 = [0u8; 16];
    wide64[8..].copy_from_slice(&[0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89]);
    let traces = vec![
        (tiny, generator.next_trace_with_id(tiny)),
        (wide64, generator.next_trace_with_id(wide64)),
    ];
    let batch = TraceBatch::from_traces(traces);
    client.export_ok(&batch.request).await.unwrap();

    let addresses = [
        (0, "1234"),
        (0, "01234"),
        (0, "0001234"),
        (0, "00000000000000000000000000001234"),
        (1, "abcdef0123456789"),
        (1, "ABCDEF0123456789"),
        (1, "0000000000000000abcdef0123456789"),
    ];
    let mut failures = Vec::new();
    for (which, id) in addresses {
        let expected = &batch.traces[which].1;
        for form in Form::ALL {
            match read_trace(&client, id, form).await {
                Ok(Some(spans)) => {
                    if let Err(diff) = tracecore_tests::compare_spans(expected, &spans) {
                        failures.push(format!("{id} {form:?}: {diff}"));
                    }
                }
                Ok(None) => failures.push(format!("{id} {form:?}: not found")),
                Err(e) => failures.push(format!("{id} {form:?}: {e:#}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `start`/`end` (unix seconds) around the trace still find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_window_around_the_trace() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(88), 1);
    client.export_ok(&batch.request).await.unwrap();
    let (id, _) = &batch.traces[0];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = (now - 3600, now + 3600);
    for path in [
        format!("/api/traces/{}?start={start}&end={end}", hex::encode(id)),
        format!("/api/v2/traces/{}?start={start}&end={end}", hex::encode(id)),
    ] {
        let reply = client
            .get(&path, Some("application/protobuf"))
            .await
            .unwrap();
        reply.expect_status(200).unwrap();
        assert!(
            reply.body.len() > 100,
            "{path}: trace expected, got {} bytes",
            reply.body.len()
        );
    }
    check_trace_everywhere(&client, id, &batch.traces[0].1)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_endpoints() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let ready = client.get("/ready", None).await.unwrap();
    ready.expect_status(200).unwrap();
    let echo = client.get("/api/echo", None).await.unwrap();
    echo.expect_status(200).unwrap();
    assert_eq!(echo.text().trim(), "echo");
    let build = client.get("/api/status/buildinfo", None).await.unwrap();
    build.expect_status(200).unwrap();
    let info = build.json().unwrap();
    assert!(
        info.get("version").is_some(),
        "buildinfo has a version: {info}"
    );
    // Ingest something so ingest metrics exist.
    let batch = TraceBatch::generate(&mut TraceGenerator::new(99), 2);
    client.export_ok(&batch.request).await.unwrap();
    let metrics = client.get("/metrics", None).await.unwrap();
    metrics.expect_status(200).unwrap();
    let text = metrics.text();
    assert!(
        text.contains("# TYPE "),
        "Prometheus text format expected:\n{text:.500}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("tracecore_") || l.starts_with("tempo_")),
        "tracecore_/tempo_ metrics expected:\n{text:.1000}"
    );
}

/// Query-API responses are gzip-compressed when the client accepts it (TEMPO-SPEC §1.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_gzipped_when_accepted() {
    use std::io::Read;
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(111), 1);
    client.export_ok(&batch.request).await.unwrap();
    let id = hex::encode(batch.traces[0].0);
    let plain = client.get_trace_v1(&id, Format::Json).await.unwrap();
    plain.expect_status(200).unwrap();
    for path in [format!("/api/traces/{id}"), format!("/api/v2/traces/{id}")] {
        let reply = client
            .get_with_headers(
                &path,
                &[("accept", "application/json"), ("accept-encoding", "gzip")],
            )
            .await
            .unwrap();
        reply.expect_status(200).unwrap();
        assert_eq!(
            reply.content_encoding, "gzip",
            "GET {path} with Accept-Encoding: gzip should answer Content-Encoding: gzip"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&reply.body[..])
            .read_to_string(&mut text)
            .expect("gzip body");
        if path.starts_with("/api/traces") {
            assert_eq!(text.as_bytes(), &plain.body[..], "same JSON, compressed");
        }
    }
}
