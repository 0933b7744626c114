//! The cost of per-tenant limits on the write path: the ingestion token bucket (once per
//! request) and the shard's per-trace limiter (once per trace fragment), against admission
//! with the limits off.

use std::time::Instant;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tracecore_engine::TraceFragment;
use tracecore_engine::trace_limits::{TraceLimiter, TraceLimits};
use tracecore_rpc::limits::{IngestionRateLimiter, TenantLimits};

/// Fragments per simulated request (one per trace, as the skim emits them).
const FRAGMENTS: usize = 50;
/// Distinct traces the requests cycle through (all live, all known after warm-up).
const TRACES: usize = 10_000;

fn fragments(round: usize) -> Vec<TraceFragment> {
    (0..FRAGMENTS)
        .map(|i| {
            let n = ((round * FRAGMENTS + i) % TRACES) as u64;
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
            trace_id[8..].copy_from_slice(&n.to_le_bytes());
            TraceFragment {
                trace_id,
                span_count: 4,
                start_unix_nano: 1,
                end_unix_nano: 2,
                otlp: Bytes::from_static(&[0u8; 64]),
            }
        })
        .collect()
}

fn bench_limits(c: &mut Criterion) {
    let requests: Vec<Vec<TraceFragment>> = (0..TRACES / FRAGMENTS).map(fragments).collect();
    let high = TraceLimits {
        max_live_traces: 1 << 30,
        max_bytes_per_trace: 1 << 40,
    };
    let mut group = c.benchmark_group("ingest_limits");
    group.throughput(Throughput::Elements(FRAGMENTS as u64));
    for (name, limits) in [
        ("trace_limiter_50_fragments", high),
        ("limits_off_50_fragments", TraceLimits::OFF),
    ] {
        let now = Instant::now();
        let mut limiter = TraceLimiter::new(std::time::Duration::from_secs(3600), now);
        for r in &requests {
            limiter.admit("tenant", &mut r.clone(), limits, now);
            limiter.commit();
        }
        let mut round = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    round += 1;
                    requests[round % requests.len()].clone()
                },
                |mut batch| {
                    let refused = limiter.admit("tenant", &mut batch, limits, now);
                    limiter.commit();
                    (batch.len(), refused.total())
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("ingest_limits");
    group.throughput(Throughput::Elements(1));
    let rate = IngestionRateLimiter::default();
    let limits = TenantLimits {
        rate_limit_bytes: u64::MAX / 4,
        burst_size_bytes: u64::MAX / 4,
        ..TenantLimits::default()
    };
    group.bench_function("rate_limit_per_request", |b| {
        b.iter(|| {
            rate.admit("tenant", 100_000, &limits, Instant::now())
                .is_ok()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_limits);
criterion_main!(benches);
