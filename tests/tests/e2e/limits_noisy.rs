//! A noisy tenant (issue 4, scope 7): a tenant sending at about ten times its ingestion limit
//! gets 429s whose spans add up exactly to its `tempo_discarded_spans_total`, while another
//! tenant sending at a normal rate at the same time gets none.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

use crate::limits_support::{export_http, metric, overrides_section, spans_of};

#[derive(Default, Debug)]
struct Tally {
    requests: u64,
    bytes: u64,
    accepted_spans: u64,
    throttled_requests: u64,
    throttled_spans: u64,
    /// Answers other than 200 without rejected spans or a RATE_LIMITED 429.
    unexpected: Vec<String>,
}

/// Sends `batches` as `tenant`, one every `pace`, and tallies the answers.
async fn send(
    server: Arc<Server>,
    tenant: &'static str,
    batches: Vec<TraceBatch>,
    pace: Duration,
    tally: Arc<Mutex<Tally>>,
) {
    let mut ticker = tokio::time::interval(pace);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for batch in batches {
        ticker.tick().await;
        let answer = export_http(&server, Some(tenant), &batch.request).await;
        let spans = spans_of(&batch.request);
        let mut t = tally.lock().unwrap();
        t.requests += 1;
        t.bytes += request_len(&batch);
        match answer.status {
            200 if answer.rejected_spans == 0 => t.accepted_spans += spans,
            429 if answer
                .message
                .starts_with("RATE_LIMITED: ingestion rate limit") =>
            {
                assert!(answer.retry_after.is_some(), "429 without Retry-After");
                t.throttled_requests += 1;
                t.throttled_spans += spans;
            }
            _ => t.unexpected.push(format!("{tenant}: {answer:?}")),
        }
    }
}

fn request_len(batch: &TraceBatch) -> u64 {
    prost::Message::encoded_len(&batch.request) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_tenant_is_throttled_and_a_calm_one_is_not() {
    let mut generator = TraceGenerator::new(4_100);
    let noisy_batches: Vec<Vec<TraceBatch>> = (0..2)
        .map(|_| {
            (0..60)
                .map(|_| TraceBatch::generate(&mut generator, 2))
                .collect()
        })
        .collect();
    let calm_batches: Vec<TraceBatch> = (0..30)
        .map(|_| TraceBatch::generate(&mut generator, 2))
        .collect();
    let noisy_bytes: Vec<u64> = noisy_batches.iter().flatten().map(request_len).collect();
    let largest = noisy_bytes.iter().copied().max().unwrap();
    let average = noisy_bytes.iter().sum::<u64>() / noisy_bytes.len() as u64;
    // The noisy tenant's limit (bytes per second, and its burst): a few requests' worth, so
    // every single request fits the burst.
    let noisy_limit = 4 * largest;
    // Two senders, each one batch per `pace`: together about ten times the noisy limit.
    let pace = Duration::from_micros(2 * average * 1_000_000 / (10 * noisy_limit));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("overrides.yaml");
    std::fs::write(
        &file,
        format!(
            "overrides:\n  noisy:\n    ingestion:\n      rate_limit_bytes: {noisy_limit}\n      burst_size_bytes: {noisy_limit}\n"
        ),
    )
    .unwrap();
    let server = Arc::new(
        Server::start(ServerOptions {
            multitenancy: true,
            extra_config: overrides_section(
                "    ingestion:\n      rate_limit_bytes: 15000000\n",
                Some(&file),
            ),
            ..ServerOptions::default()
        })
        .await
        .unwrap(),
    );

    let noisy = Arc::new(Mutex::new(Tally::default()));
    let calm = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for batches in noisy_batches {
        tasks.spawn(send(server.clone(), "noisy", batches, pace, noisy.clone()));
    }
    tasks.spawn(send(
        server.clone(),
        "calm",
        calm_batches,
        pace * 2,
        calm.clone(),
    ));
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let noisy = std::mem::take(&mut *noisy.lock().unwrap());
    let calm = std::mem::take(&mut *calm.lock().unwrap());
    eprintln!(
        "noisy tenant: {:.0} B/s offered against a limit of {noisy_limit} B/s ({:.1}x), {} of {} requests throttled; calm tenant: {} requests",
        noisy.bytes as f64 / elapsed,
        noisy.bytes as f64 / elapsed / noisy_limit as f64,
        noisy.throttled_requests,
        noisy.requests,
        calm.requests
    );

    assert!(
        noisy.unexpected.is_empty() && calm.unexpected.is_empty(),
        "{:?} {:?}",
        noisy.unexpected,
        calm.unexpected
    );
    // The bucket starts full, so the first request gets in; admitting every request would take
    // about thirty seconds of refill, so throttling must occur unless each request took about
    // ten times its pace to answer.
    assert!(noisy.accepted_spans > 0, "the noisy tenant got nothing in");
    assert!(
        noisy.throttled_requests > 0,
        "the noisy tenant was never throttled"
    );
    assert_eq!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"rate_limited\",tenant=\"noisy\"}"
        )
        .await,
        noisy.throttled_spans as f64,
        "discarded spans must match the spans of the 429 answers"
    );
    assert_eq!(
        metric(
            &server,
            "tempo_distributor_spans_received_total{tenant=\"noisy\"}"
        )
        .await,
        noisy.accepted_spans as f64
    );

    assert_eq!(calm.throttled_requests, 0, "the calm tenant was throttled");
    assert_eq!(
        metric(
            &server,
            "tempo_discarded_spans_total{reason=\"rate_limited\",tenant=\"calm\"}"
        )
        .await,
        0.0
    );
    assert_eq!(
        metric(
            &server,
            "tempo_distributor_spans_received_total{tenant=\"calm\"}"
        )
        .await,
        calm.accepted_spans as f64
    );
}
