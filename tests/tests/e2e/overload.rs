//! Overload degrades, it does not crash (RELIABILITY.md promise 5): with tiny shard queues and
//! many concurrent clients, every answer is OK or a retryable 429 / RESOURCE_EXHAUSTED, and
//! everything acknowledged is readable.

use std::sync::{Arc, Mutex};

use prost::Message;
use tokio::task::JoinSet;
use tonic::Code;
use tracecore_proto::otlp::ExportTraceServiceResponse;
use tracecore_tests::{
    Client, Encoding, Server, ServerOptions, TraceBatch, TraceGenerator, TraceManifest,
};

/// What one export got back.
enum Answer {
    Ok,
    /// 200 / OK with `partial_success.rejected_spans > 0`.
    Partial(i64, String),
    Throttled,
    Other(String),
}

async fn export(client: &Client, batch: &TraceBatch, grpc: bool, gzip: bool) -> Answer {
    let response = if grpc {
        match client.otlp_grpc_export(&batch.request, gzip).await {
            Ok(r) => r,
            Err(s) if s.code() == Code::ResourceExhausted => return Answer::Throttled,
            Err(s) => return Answer::Other(format!("gRPC {:?}: {}", s.code(), s.message())),
        }
    } else {
        match client
            .otlp_http_export(&batch.request, Encoding::Protobuf, gzip)
            .await
        {
            Ok(r) if r.status == 200 => match ExportTraceServiceResponse::decode(r.body.clone()) {
                Ok(response) => response,
                Err(e) => return Answer::Other(format!("HTTP 200 with a bad body: {e}")),
            },
            Ok(r) if r.status == 429 => return Answer::Throttled,
            Ok(r) => return Answer::Other(format!("HTTP {}: {}", r.status, r.text())),
            Err(e) => return Answer::Other(format!("{e:#}")),
        }
    };
    match response.partial_success {
        Some(p) if p.rejected_spans != 0 => Answer::Partial(p.rejected_spans, p.error_message),
        _ => Answer::Ok,
    }
}

/// Spans of the trace that came back (0 when absent).
async fn stored_spans(client: &Client, m: &TraceManifest) -> usize {
    client.trace_v1(&m.trace_id).await.unwrap().map_or(0, |rs| {
        rs.iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    })
}

#[derive(Default)]
struct Outcomes {
    acked: Vec<TraceManifest>,
    /// Requests answered with partial success: (rejected spans, message, the request's traces).
    partial: Vec<(i64, String, Vec<TraceManifest>)>,
    throttled: usize,
    other: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_queues_answer_429_not_errors() {
    let server = Server::start(ServerOptions {
        engine: vec![("mailbox_capacity".to_owned(), "1".to_owned())],
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let mut tasks = JoinSet::new();
    for sender in 0..16u64 {
        let client = server.client();
        let outcomes = outcomes.clone();
        tasks.spawn(async move {
            let mut generator = TraceGenerator::new(10_000 + sender);
            for i in 0..12 {
                let batch = TraceBatch::generate(&mut generator, 4);
                let answer = export(&client, &batch, sender % 2 == 0, i % 2 == 0).await;
                let mut o = outcomes.lock().unwrap();
                match answer {
                    Answer::Ok => o.acked.extend(batch.manifests()),
                    Answer::Partial(n, message) => o.partial.push((n, message, batch.manifests())),
                    Answer::Throttled => o.throttled += 1,
                    Answer::Other(message) => o.other.push(message),
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let o = std::mem::take(&mut *outcomes.lock().unwrap());
    eprintln!(
        "overload: {} traces acknowledged, {} requests throttled, {} partial successes",
        o.acked.len(),
        o.throttled,
        o.partial.len()
    );
    assert!(
        o.other.is_empty(),
        "answers other than OK / 429:\n{}",
        o.other.join("\n")
    );
    assert!(!o.acked.is_empty(), "nothing was acknowledged");

    // Everything acknowledged is complete.
    let client = server.client();
    let mut damaged = Vec::new();
    for m in &o.acked {
        let stored = stored_spans(&client, m).await;
        if stored != m.span_count() {
            damaged.push(format!(
                "{}: {stored} of {} spans",
                hex::encode(m.trace_id),
                m.span_count()
            ));
        }
    }
    assert!(
        damaged.is_empty(),
        "{} of {} acknowledged traces damaged under overload:\n{}",
        damaged.len(),
        o.acked.len(),
        damaged.join("\n")
    );

    // A partial success must count exactly what was dropped: each trace is stored whole or not
    // at all, and the missing spans add up to `rejected_spans`.
    let mut miscounted = Vec::new();
    for (rejected, message, manifests) in &o.partial {
        let mut missing = 0;
        for m in manifests {
            let stored = stored_spans(&client, m).await;
            if stored != 0 && stored != m.span_count() {
                miscounted.push(format!(
                    "{}: {stored} of {} spans stored after a partial success",
                    hex::encode(m.trace_id),
                    m.span_count()
                ));
            }
            missing += m.span_count() - stored.min(m.span_count());
        }
        if missing as i64 != *rejected {
            miscounted.push(format!(
                "rejected_spans {rejected} ({message}) but {missing} spans missing"
            ));
        }
    }
    assert!(miscounted.is_empty(), "{}", miscounted.join("\n"));

    // Full shard queues are transient: the contract answers 429 / RESOURCE_EXHAUSTED, which
    // clients retry. OTLP clients must NOT retry a partial success, so using it for a full queue
    // turns back-pressure into silent data loss at the collector.
    assert!(
        o.partial.is_empty(),
        "{} requests got 200/OK with partial_success for a transient overload (first: {} spans, {:?}); \
         expected 429 / RESOURCE_EXHAUSTED so the client retries",
        o.partial.len(),
        o.partial[0].0,
        o.partial[0].1
    );
}
