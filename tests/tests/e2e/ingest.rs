//! Every ingest path in, every trace-by-ID form out, compared span for span.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use tracecore_proto::otlp::ExportTraceServiceResponse;
use tracecore_tests::readback::check_trace_everywhere;
use tracecore_tests::{Encoding, Format, Server, ServerOptions, TraceBatch, TraceGenerator};

async fn check_batch(server: &Server, batch: &TraceBatch, how: &str) {
    let client = server.client();
    for (id, spans) in &batch.traces {
        if let Err(e) = check_trace_everywhere(&client, id, spans).await {
            panic!("ingested via {how}: {e:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_plain_and_gzip() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(101);
    for gzip in [false, true] {
        let batch = TraceBatch::generate(&mut generator, 3);
        let response = client
            .otlp_grpc_export(&batch.request, gzip)
            .await
            .unwrap_or_else(|s| {
                panic!(
                    "gRPC export (gzip {gzip}) failed: {:?}: {}",
                    s.code(),
                    s.message()
                )
            });
        let rejected = response.partial_success.map_or(0, |p| p.rejected_spans);
        assert_eq!(rejected, 0, "partial_success rejected spans");
        check_batch(&server, &batch, &format!("OTLP/gRPC gzip={gzip}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_protobuf_plain_and_gzip() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(202);
    for gzip in [false, true] {
        let batch = TraceBatch::generate(&mut generator, 3);
        let reply = client
            .otlp_http_export(&batch.request, Encoding::Protobuf, gzip)
            .await
            .unwrap();
        reply.expect_status(200).unwrap();
        assert!(
            reply.content_type.starts_with("application/x-protobuf"),
            "response Content-Type {:?} should match the request's",
            reply.content_type
        );
        let response = ExportTraceServiceResponse::decode(reply.body.clone())
            .expect("body is an ExportTraceServiceResponse");
        assert_eq!(response.partial_success.map_or(0, |p| p.rejected_spans), 0);
        check_batch(&server, &batch, &format!("OTLP/HTTP protobuf gzip={gzip}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_json_with_hex_ids() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(303);
    for gzip in [false, true] {
        let batch = TraceBatch::generate(&mut generator, 3);
        let reply = client
            .otlp_http_export(&batch.request, Encoding::Json, gzip)
            .await
            .unwrap();
        reply.expect_status(200).unwrap();
        assert!(
            reply.content_type.starts_with("application/json"),
            "response Content-Type {:?} should match the request's",
            reply.content_type
        );
        let body = reply.json().unwrap();
        assert!(
            body.is_object(),
            "JSON ExportTraceServiceResponse expected, got {body}"
        );
        check_batch(&server, &batch, &format!("OTLP/HTTP JSON gzip={gzip}")).await;
    }
}

/// The JSON renderings follow Tempo's proto3 JSON rules to the letter (TEMPO-SPEC §1.1, §1.3),
/// checked on the raw JSON rather than through the decoder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_uses_tempo_encoding() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(404);
    let batch = TraceBatch::generate(&mut generator, 1);
    client.export_ok(&batch.request).await.unwrap();
    let (id, sent) = &batch.traces[0];
    let id_hex = hex::encode(id);

    let v1 = client.get_trace_v1(&id_hex, Format::Json).await.unwrap();
    v1.expect_status(200).unwrap();
    let v1 = v1.json().unwrap();
    let top: Vec<_> = v1.as_object().expect("object").keys().cloned().collect();
    assert_eq!(
        top,
        ["batches"],
        "v1 JSON top level is {{\"batches\": [...]}}"
    );
    let first_span = &v1["batches"][0]["scopeSpans"][0]["spans"][0];
    assert!(
        first_span.is_object(),
        "batches[0].scopeSpans[0].spans[0] missing: {v1:.400}"
    );
    let spans: Vec<serde_json::Value> = v1["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    let sent_count: usize = sent
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(spans.len(), sent_count);
    let b64_id = STANDARD.encode(id);
    for s in &spans {
        assert_eq!(
            s["traceId"], b64_id,
            "traceId is standard base64 of the 16 bytes"
        );
        let span_id = s["spanId"].as_str().expect("spanId string");
        assert_eq!(
            STANDARD.decode(span_id).map(|b| b.len()).ok(),
            Some(8),
            "spanId {span_id:?}"
        );
        for key in ["startTimeUnixNano", "endTimeUnixNano"] {
            let t = s[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} must be a string: {s}"));
            assert!(t.parse::<u64>().is_ok(), "{key} {t:?}");
        }
        let kind = s["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("kind by name: {}", s["kind"]));
        assert!(kind.starts_with("SPAN_KIND_"), "kind {kind:?}");
        for attr in s["attributes"].as_array().into_iter().flatten() {
            if let Some(i) = attr["value"].get("intValue") {
                assert!(i.is_string(), "intValue must be a JSON string: {attr}");
            }
        }
        if let Some(code) = s["status"].get("code") {
            assert!(
                code == "STATUS_CODE_ERROR" || code == "STATUS_CODE_OK",
                "status code {code}"
            );
        }
        assert!(s.get("instrumentationLibrarySpans").is_none());
    }
    let root = spans
        .iter()
        .find(|s| s.get("parentSpanId").is_none_or(|p| p == ""))
        .expect("a root span without parentSpanId");
    assert!(root["name"].is_string());
    assert!(
        v1["batches"][0]["resource"]["attributes"].is_array(),
        "resource attributes present"
    );

    let v2 = client.get_trace_v2(&id_hex, Format::Json).await.unwrap();
    v2.expect_status(200).unwrap();
    let v2 = v2.json().unwrap();
    assert!(
        v2["trace"]["resourceSpans"].is_array(),
        "v2 uses trace.resourceSpans: {v2:.300}"
    );
    assert!(v2["trace"].get("batches").is_none());
    assert_eq!(
        v2["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"], b64_id,
        "v2 IDs are base64 too"
    );
    if let Some(m) = v2.get("metrics") {
        assert!(m.is_object());
        if let Some(b) = m.get("inspectedBytes") {
            assert!(
                b.is_string(),
                "inspectedBytes is a uint64: JSON string, got {b}"
            );
        }
    }
}

/// With multitenancy off every request is tenant `single-tenant`; `X-Scope-OrgID` is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_tenant_mode_ignores_org_id() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let mut generator = TraceGenerator::new(505);
    let batch = TraceBatch::generate(&mut generator, 2);
    let reply = server
        .client_for("someone")
        .otlp_http_export(&batch.request, Encoding::Protobuf, false)
        .await
        .unwrap();
    reply.expect_status(200).unwrap();
    for client in [server.client(), server.client_for("someone-else")] {
        for (id, spans) in &batch.traces {
            check_trace_everywhere(&client, id, spans)
                .await
                .unwrap_or_else(|e| panic!("tenant header {:?}: {e:#}", client.tenant()));
        }
    }
}

/// One trace arriving in pieces over every receiver, the last piece after the trace went idle,
/// reads back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_split_across_requests_and_idle_cut() {
    let server = Server::start(ServerOptions {
        trace_idle_period: "1s".to_owned(),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(606);
    let (id, spans) = generator.next_trace();
    let parts = tracecore_tests::split_spans(&spans, 4);
    let request = |rs: &Vec<tracecore_proto::otlp::ResourceSpans>| {
        tracecore_proto::otlp::ExportTraceServiceRequest {
            resource_spans: rs.clone(),
        }
    };
    client.export_ok(&request(&parts[0])).await.unwrap();
    client
        .otlp_http_export(&request(&parts[1]), Encoding::Json, false)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();
    client
        .otlp_http_export(&request(&parts[2]), Encoding::Protobuf, true)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();
    let first_three: Vec<_> = parts[..3].iter().flatten().cloned().collect();
    check_trace_everywhere(&client, &id, &first_three)
        .await
        .unwrap_or_else(|e| panic!("three of four pieces: {e:#}"));
    // Past trace_idle_period the live trace is cut; a late piece must still join it on read.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    client.export_ok(&request(&parts[3])).await.unwrap();
    check_trace_everywhere(&client, &id, &spans)
        .await
        .unwrap_or_else(|e| panic!("all four pieces, the last after the idle cut: {e:#}"));
}

/// A client retry sends the same spans twice; trace by ID returns each span once (Tempo
/// deduplicates by span ID and kind when combining, TEMPO-SPEC §1.3.3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_request_is_deduplicated_on_read() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(707), 2);
    client.export_ok(&batch.request).await.unwrap();
    client
        .otlp_http_export(&batch.request, Encoding::Protobuf, false)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();
    check_batch(&server, &batch, "the same request twice (gRPC, then HTTP)").await;
    let reply = client.flush().await.unwrap();
    assert_eq!(reply.status, 204);
    client.export_ok(&batch.request).await.unwrap();
    check_batch(
        &server,
        &batch,
        "a third copy after a flush (block + head block)",
    )
    .await;
}

/// OTLP/JSON receivers must accept 64-bit integers as JSON numbers as well as strings, and the
/// collector also takes enum names; big nanosecond timestamps must survive exactly (no f64).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_json_number_and_enum_name_variants() {
    fn rewrite(v: &mut serde_json::Value, numbers: bool, enum_names: bool) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    let int64 = matches!(
                        k.as_str(),
                        "startTimeUnixNano" | "endTimeUnixNano" | "timeUnixNano" | "intValue"
                    );
                    if numbers
                        && int64
                        && let Some(s) = x.as_str()
                    {
                        *x = serde_json::from_str(s).unwrap();
                    }
                }
                if enum_names {
                    if let Some(k) = o.get("kind").and_then(serde_json::Value::as_i64) {
                        let kind = tracecore_proto::otlp::SpanKind::try_from(k as i32).unwrap();
                        o.insert("kind".into(), kind.proto_name().into());
                    }
                    if o.contains_key("message")
                        && let Some(c) = o.get("code").and_then(serde_json::Value::as_i64)
                    {
                        let code = tracecore_proto::otlp::StatusCode::try_from(c as i32).unwrap();
                        o.insert("code".into(), code.proto_name().into());
                    }
                }
                o.values_mut().for_each(|x| rewrite(x, numbers, enum_names));
            }
            serde_json::Value::Array(a) => {
                a.iter_mut().for_each(|x| rewrite(x, numbers, enum_names))
            }
            _ => {}
        }
    }
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let mut generator = TraceGenerator::new(808);
    for (numbers, enum_names) in [(true, false), (false, true), (true, true)] {
        let batch = TraceBatch::generate(&mut generator, 2);
        let mut json = tracecore_tests::otlp_json::request_to_otlp_json(&batch.request);
        rewrite(&mut json, numbers, enum_names);
        let body = serde_json::to_vec(&json).unwrap();
        let reply = client
            .otlp_http_post(body, "application/json", None)
            .await
            .unwrap();
        assert_eq!(
            reply.status,
            200,
            "int64 as numbers {numbers}, enum names {enum_names}: {}",
            reply.text()
        );
        check_batch(
            &server,
            &batch,
            &format!("OTLP/JSON, int64 as numbers {numbers}, enum names {enum_names}"),
        )
        .await;
    }
}
