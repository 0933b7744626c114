//! The ingestion rate limit (TEMPO-SPEC §2.2, §6.2, §6.9): over it a request is refused whole
//! with 429 / RESOURCE_EXHAUSTED, a retry hint and Tempo's message, nothing of it is stored and
//! its spans are counted; per-tenant overrides change the limit when their file is reloaded.

use std::time::Duration;

use prost::Message;
use tonic::Code;
use tracecore_proto::google_rpc::{RETRY_INFO_TYPE_URL, RetryInfo, Status as RpcStatus};
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

use crate::limits_support::{eventually, export_http, metric, overrides_section, spans_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_limit_is_429_with_retry_after_and_counted() {
    let mut generator = TraceGenerator::new(4_001);
    let first = TraceBatch::generate(&mut generator, 4);
    let second = TraceBatch::generate(&mut generator, 4);
    let third = TraceBatch::generate(&mut generator, 4);
    let huge = TraceBatch::generate(&mut generator, 40);
    let len = |b: &TraceBatch| b.request.encoded_len() as u64;
    // The bucket starts full: the first request fits, the second finds half of it. At 100 B/s
    // refilling the missing bytes takes far longer than the test.
    let burst = len(&first) + len(&second) / 2;
    assert!(len(&huge) > burst && len(&third) > len(&second) / 2);
    let server = Server::start(ServerOptions {
        shards: 1,
        extra_config: overrides_section(
            &format!(
                "    ingestion:\n      rate_limit_bytes: 100\n      burst_size_bytes: {burst}\n"
            ),
            None,
        ),
        ..ServerOptions::default()
    })
    .await
    .unwrap();

    let ok = export_http(&server, None, &first.request).await;
    assert_eq!(ok.status, 200, "{ok:?}");

    let limited = export_http(&server, None, &second.request).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert!(limited.retry_after.is_some(), "no Retry-After: {limited:?}");
    assert_eq!(
        limited.message,
        format!(
            "RATE_LIMITED: ingestion rate limit (local: 100 bytes/s, global: 100 bytes/s, burst: {burst} bytes) exceeded while adding {} bytes for user single-tenant. consider increasing the limit or reducing ingestion rate.",
            len(&second)
        )
    );

    let status = server
        .client()
        .otlp_grpc_export(&third.request, false)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("RATE_LIMITED: ingestion rate limit")
    );
    let details = RpcStatus::decode(status.details()).unwrap();
    let retry = details
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE_URL)
        .expect("RetryInfo in the status details");
    let delay = RetryInfo::decode(retry.value.as_slice())
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(delay.seconds > 0, "{delay:?}");

    let too_big = export_http(&server, None, &huge.request).await;
    assert_eq!(too_big.status, 429, "{too_big:?}");
    assert!(
        too_big.message.starts_with(&format!(
            "RATE_LIMITED: batch size ({} bytes) exceeds ingestion limit",
            len(&huge)
        )),
        "{too_big:?}"
    );

    let refused = spans_of(&second.request) + spans_of(&third.request) + spans_of(&huge.request);
    assert_eq!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"rate_limited\",tenant=\"single-tenant\"}"
        )
        .await,
        refused as f64
    );
    assert_eq!(
        metric(
            &server,
            "tempo_distributor_spans_received_total{tenant=\"single-tenant\"}"
        )
        .await,
        spans_of(&first.request) as f64
    );
    let client = server.client();
    for (id, _) in &first.traces {
        assert!(client.trace_v1(id).await.unwrap().is_some());
    }
    for (id, _) in second.traces.iter().chain(&third.traces) {
        assert!(
            client.trace_v1(id).await.unwrap().is_none(),
            "a refused trace was stored"
        );
    }
    assert_eq!(
        metric(
            &server,
            "tempo_limits_defaults{limit_name=\"ingestion_rate_limit_bytes\"}"
        )
        .await,
        100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tenant_overrides_change_the_limit_when_the_file_is_reloaded() {
    let mut generator = TraceGenerator::new(4_002);
    let first = TraceBatch::generate(&mut generator, 4);
    let second = TraceBatch::generate(&mut generator, 4);
    let len = |b: &TraceBatch| b.request.encoded_len() as u64;
    let burst = len(&first) + len(&second) / 2;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("overrides.yaml");
    std::fs::write(
        &file,
        format!(
            "overrides:\n  small:\n    ingestion:\n      rate_limit_bytes: 100\n      burst_size_bytes: {burst}\n"
        ),
    )
    .unwrap();
    let server = Server::start(ServerOptions {
        multitenancy: true,
        shards: 1,
        extra_config: overrides_section(
            "    ingestion:\n      max_traces_per_user: 777\n",
            Some(&file),
        ),
        ..ServerOptions::default()
    })
    .await
    .unwrap();

    // `small` has its own limit; `other` gets the defaults.
    assert_eq!(
        export_http(&server, Some("small"), &first.request)
            .await
            .status,
        200
    );
    let limited = export_http(&server, Some("small"), &second.request).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert!(limited.message.contains("for user small."), "{limited:?}");
    assert_eq!(
        export_http(&server, Some("other"), &first.request)
            .await
            .status,
        200
    );
    assert_eq!(
        export_http(&server, Some("other"), &second.request)
            .await
            .status,
        200
    );

    // The status page and the gauges show the entry, resolved without inheritance.
    let api = server.client();
    let status = api
        .get("/status/overrides", Some("application/json"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["defaults"]["ingestion"]["max_traces_per_user"], 777);
    assert_eq!(
        status["overrides"]["small"]["ingestion"]["rate_limit_bytes"],
        100
    );
    assert_eq!(
        status["overrides"]["small"]["ingestion"]["max_traces_per_user"],
        0
    );
    let small = api.get("/status/overrides/small", None).await.unwrap();
    assert!(small.text().contains("source: tenant"), "{}", small.text());
    assert_eq!(
        metric(
            &server,
            "tempo_limits_overrides{limit_name=\"ingestion_rate_limit_bytes\",user=\"small\"}"
        )
        .await,
        100.0
    );

    // A bad file is refused and counted; the last good overrides stay.
    std::fs::write(&file, "overrides:\n  small: [\n").unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            metric(&server, "tracecore_overrides_reload_failures_total").await >= 1.0
        })
        .await,
        "a bad overrides file was not reported"
    );
    assert_eq!(
        metric(&server, "tempo_runtime_config_last_reload_successful").await,
        0.0
    );
    assert_eq!(
        export_http(&server, Some("small"), &second.request)
            .await
            .status,
        429
    );

    // Raise `small`'s limit and put everyone else under a tight wildcard.
    std::fs::write(
        &file,
        format!(
            "overrides:\n  small:\n    ingestion:\n      rate_limit_bytes: 100000000\n      burst_size_bytes: 100000000\n  \"*\":\n    ingestion:\n      rate_limit_bytes: 100\n      burst_size_bytes: {burst}\n"
        ),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let page = api.get("/status/overrides/other", None).await.unwrap();
            page.text().contains("source: wildcard")
        })
        .await,
        "the new overrides file was not loaded"
    );
    // Tokens held carry over a limit change; at the new rate they are back within moments.
    assert!(
        eventually(Duration::from_secs(30), || async {
            export_http(&server, Some("small"), &second.request)
                .await
                .status
                == 200
        })
        .await,
        "small is still limited after its limit was raised"
    );
    assert_eq!(
        export_http(&server, Some("fresh"), &first.request)
            .await
            .status,
        200
    );
    let limited = export_http(&server, Some("fresh"), &second.request).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(
        metric(&server, "tempo_runtime_config_last_reload_successful").await,
        1.0
    );
}
