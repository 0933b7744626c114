//! Head block memory per tenant (issue 4, scope 5): a tenant over its share of a shard's head
//! block (`engine.max_head_bytes_per_tenant`) gets retryable 429s with `Retry-After` (and
//! RESOURCE_EXHAUSTED over gRPC), counted as `head_memory_exceeded`, while another tenant keeps
//! getting 200s; everything acknowledged reads back whole and nothing refused was stored.

use tonic::Code;
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator, TraceManifest};

use crate::limits_support::{export_http, metric, spans_of};

fn request_len(batch: &TraceBatch) -> u64 {
    prost::Message::encoded_len(&batch.request) as u64
}

/// Spans of the trace stored for `tenant` (0 when absent).
async fn stored_spans(server: &Server, tenant: &str, m: &TraceManifest) -> usize {
    server
        .client_for(tenant)
        .trace_v1(&m.trace_id)
        .await
        .unwrap()
        .map_or(0, |rs| {
            rs.iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_head_share_gets_429s_and_others_do_not() {
    let mut generator = TraceGenerator::new(5_200);
    let noisy_batches: Vec<TraceBatch> = (0..80)
        .map(|_| TraceBatch::generate(&mut generator, 2))
        .collect();
    let quiet_batches: Vec<TraceBatch> = (0..4)
        .map(|_| TraceBatch::generate(&mut generator, 2))
        .collect();
    let quiet_bytes: u64 = quiet_batches.iter().map(request_len).sum();
    let noisy_bytes: u64 = noisy_batches.iter().map(request_len).sum();
    // Each tenant's share of each shard's head: twice all the quiet tenant sends (fragments
    // repeat their resource, so head bytes can exceed request bytes), a few times less than
    // what the noisy tenant sends to each of the two shards.
    let share = 2 * quiet_bytes;
    assert!(
        noisy_bytes > 4 * 2 * share,
        "the noisy tenant must overflow"
    );
    let server = Server::start(ServerOptions {
        multitenancy: true,
        engine: vec![
            ("max_head_bytes_per_tenant".to_owned(), share.to_string()),
            // Set but not reached: the shard budget is for uploads falling behind.
            ("max_memory_bytes".to_owned(), (64u64 << 20).to_string()),
        ],
        ..ServerOptions::default()
    })
    .await
    .unwrap();

    let (mut noisy_acked, mut noisy_refused) = (Vec::new(), Vec::new());
    let (mut noisy_accepted_spans, mut noisy_refused_spans) = (0u64, 0u64);
    let mut quiet_acked = Vec::new();
    let mut quiet = quiet_batches.iter();
    for (i, batch) in noisy_batches.iter().enumerate() {
        let answer = export_http(&server, Some("noisy"), &batch.request).await;
        match answer.status {
            200 => {
                assert_eq!(answer.rejected_spans, 0, "{answer:?}");
                noisy_accepted_spans += spans_of(&batch.request);
                noisy_acked.extend(batch.manifests());
            }
            429 => {
                assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
                assert!(
                    answer.message.contains("engine.max_head_bytes_per_tenant")
                        && answer.message.contains("tenant noisy"),
                    "{answer:?}"
                );
                noisy_refused_spans += spans_of(&batch.request);
                noisy_refused.extend(batch.manifests());
            }
            _ => panic!("noisy: unexpected answer {answer:?}"),
        }
        // The quiet tenant sends now and then, while the noisy one is refused.
        if i % 20 == 19
            && let Some(batch) = quiet.next()
        {
            let answer = export_http(&server, Some("quiet"), &batch.request).await;
            assert_eq!(
                (answer.status, answer.rejected_spans),
                (200, 0),
                "quiet tenant refused: {answer:?}"
            );
            quiet_acked.extend(batch.manifests());
        }
    }
    assert_eq!(quiet.next().map(|_| ()), None, "every quiet batch was sent");
    eprintln!(
        "head share {share} B: noisy {} traces acknowledged, {} refused",
        noisy_acked.len(),
        noisy_refused.len()
    );
    assert!(!noisy_acked.is_empty(), "the noisy tenant got nothing in");
    assert!(
        !noisy_refused.is_empty(),
        "the noisy tenant was never refused"
    );

    // gRPC says RESOURCE_EXHAUSTED for the same refusal.
    let extra = TraceBatch::generate(&mut generator, 2);
    let status = server
        .client_for("noisy")
        .otlp_grpc_export(&extra.request, false)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    noisy_refused_spans += spans_of(&extra.request);
    noisy_refused.extend(extra.manifests());

    let discarded = |tenant: &str| {
        format!(
            "tempo_discarded_spans_total{{reason=\"head_memory_exceeded\",tenant=\"{tenant}\"}}"
        )
    };
    assert_eq!(
        metric(&server, &discarded("noisy")).await,
        noisy_refused_spans as f64,
        "discarded spans must match the spans of the refused requests"
    );
    assert_eq!(metric(&server, &discarded("quiet")).await, 0.0);
    assert_eq!(
        metric(
            &server,
            "tempo_distributor_spans_received_total{tenant=\"noisy\"}"
        )
        .await,
        noisy_accepted_spans as f64
    );

    // Everything acknowledged reads back whole; nothing of a refused request was stored.
    for (tenant, m) in noisy_acked
        .iter()
        .map(|m| ("noisy", m))
        .chain(quiet_acked.iter().map(|m| ("quiet", m)))
    {
        assert_eq!(
            stored_spans(&server, tenant, m).await,
            m.span_count(),
            "{tenant} trace {:?}",
            m.trace_id
        );
    }
    for m in &noisy_refused {
        assert_eq!(
            stored_spans(&server, "noisy", m).await,
            0,
            "{:?}",
            m.trace_id
        );
    }
}
