//! Per-trace limits (TEMPO-SPEC §6.4): `ingestion.max_traces_per_user` and
//! `global.max_bytes_per_trace`. Refused spans are never stored and are reported in OTLP
//! `partial_success.rejected_spans` (better than Tempo, which acknowledges and drops them);
//! the rest of the request is stored; every refused span is counted.

use tracecore_proto::otlp::ExportTraceServiceRequest;
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator, split_spans};

use crate::limits_support::{export_http, metric, overrides_section, spans_of};

async fn stored_spans(server: &Server, tenant: &str, id: &[u8; 16]) -> u64 {
    server
        .client_for(tenant)
        .trace_v1(id)
        .await
        .unwrap()
        .map_or(0, |rs| {
            rs.iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len() as u64)
                .sum()
        })
}

async fn limited_server(file_text: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("overrides.yaml");
    std::fs::write(&file, file_text).unwrap();
    let server = Server::start(ServerOptions {
        multitenancy: true,
        // One shard: the live-trace limit is not split, so the counts below are exact.
        shards: 1,
        // Traces stay live for the whole test.
        trace_idle_period: "10m".to_owned(),
        extra_config: overrides_section("    ingestion:\n      rate_limit_bytes: 0\n", Some(&file)),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    (server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_traces_over_max_traces_per_user_are_a_partial_success() {
    let (server, _dir) =
        limited_server("overrides:\n  few:\n    ingestion:\n      max_traces_per_user: 3\n").await;
    let mut generator = TraceGenerator::new(4_200);
    let batch = TraceBatch::generate(&mut generator, 5);
    let answer = export_http(&server, Some("few"), &batch.request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.partial_message.contains("LIVE_TRACES_EXCEEDED"),
        "{answer:?}"
    );

    let mut stored_traces = 0;
    let mut missing = 0;
    for m in batch.manifests() {
        let stored = stored_spans(&server, "few", &m.trace_id).await;
        let sent = m.span_count() as u64;
        assert!(
            stored == 0 || stored == sent,
            "a trace was stored in part: {stored} of {sent}"
        );
        if stored == sent {
            stored_traces += 1;
        } else {
            missing += sent;
        }
    }
    assert_eq!(stored_traces, 3);
    assert_eq!(answer.rejected_spans as u64, missing);
    assert_eq!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"live_traces_exceeded\",tenant=\"few\"}"
        )
        .await,
        missing as f64
    );

    // A live trace keeps growing; another new trace is refused; other tenants are unaffected.
    let mut live = None;
    for m in batch.manifests() {
        if stored_spans(&server, "few", &m.trace_id).await > 0 {
            live = Some(m.trace_id);
        }
    }
    let live = live.unwrap();
    let more = ExportTraceServiceRequest {
        resource_spans: generator.next_trace_with_id(live),
    };
    let answer = export_http(&server, Some("few"), &more).await;
    assert_eq!(
        (answer.status, answer.rejected_spans),
        (200, 0),
        "{answer:?}"
    );
    let new = TraceBatch::generate(&mut generator, 1);
    let answer = export_http(&server, Some("few"), &new.request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.rejected_spans as u64, spans_of(&new.request));
    let answer = export_http(&server, Some("unlimited"), &batch.request).await;
    assert_eq!(
        (answer.status, answer.rejected_spans),
        (200, 0),
        "{answer:?}"
    );
    assert_eq!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"live_traces_exceeded\",tenant=\"few\"}"
        )
        .await,
        (missing + spans_of(&new.request)) as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_that_would_make_a_trace_exceed_max_bytes_per_trace_are_a_partial_success() {
    let mut generator = TraceGenerator::new(4_300);
    let (id, resource_spans) = generator.next_trace();
    let parts: Vec<ExportTraceServiceRequest> = split_spans(&resource_spans, 3)
        .into_iter()
        .map(|resource_spans| ExportTraceServiceRequest { resource_spans })
        .collect();
    let len = |r: &ExportTraceServiceRequest| prost::Message::encoded_len(r) as u64;
    // Room for the first two parts and half the third (stored bytes are the spans' OTLP bytes,
    // within a few bytes of the request's).
    let max_bytes = len(&parts[0]) + len(&parts[1]) + len(&parts[2]) / 2;
    let (server, _dir) = limited_server(&format!(
        "overrides:\n  small:\n    global:\n      max_bytes_per_trace: {max_bytes}\n"
    ))
    .await;

    for part in &parts[..2] {
        let answer = export_http(&server, Some("small"), part).await;
        assert_eq!(
            (answer.status, answer.rejected_spans),
            (200, 0),
            "{answer:?}"
        );
    }
    let answer = export_http(&server, Some("small"), &parts[2]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.rejected_spans as u64,
        spans_of(&parts[2]),
        "{answer:?}"
    );
    assert!(
        answer.partial_message.contains("TRACE_TOO_LARGE"),
        "{answer:?}"
    );
    assert_eq!(
        stored_spans(&server, "small", &id).await,
        spans_of(&parts[0]) + spans_of(&parts[1])
    );
    assert_eq!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"trace_too_large\",tenant=\"small\"}"
        )
        .await,
        spans_of(&parts[2]) as f64
    );

    // The limit is per block window: after a cut the trace may grow again.
    server
        .client()
        .flush()
        .await
        .unwrap()
        .expect_status(204)
        .unwrap();
    let answer = export_http(&server, Some("small"), &parts[2]).await;
    assert_eq!(
        (answer.status, answer.rejected_spans),
        (200, 0),
        "{answer:?}"
    );
    assert_eq!(
        stored_spans(&server, "small", &id).await,
        spans_of(&parts[0]) + spans_of(&parts[1]) + spans_of(&parts[2])
    );
}
