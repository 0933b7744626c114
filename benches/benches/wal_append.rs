//! WAL append + group commit: records of a realistic size, one fdatasync per batch, on the
//! glommio runtime the shards use (DMA writes) — the cost the ingest path pays per request.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tracecore_engine::shard::runtime::GlommioRuntime;
use tracecore_engine::shard::wal_writer::WalWriter;
use tracecore_engine::wal::encode_record;
use tracecore_engine::{EngineMetrics, TraceFragment, WalSync};

fn fragments(count: usize, bytes_each: usize) -> Vec<TraceFragment> {
    (0..count)
        .map(|i| TraceFragment {
            trace_id: [(i % 251) as u8; 16],
            span_count: 20,
            start_unix_nano: 1_700_000_000_000_000_000,
            end_unix_nano: 1_700_000_001_000_000_000,
            otlp: Bytes::from(vec![(i % 7) as u8; bytes_each]),
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let frags = fragments(10, 8_000);
    let mut group = c.benchmark_group("wal_record_encode");
    group.throughput(Throughput::Bytes(80_000));
    group.bench_function("10_traces_80KB", |b| {
        let mut out = Vec::with_capacity(100_000);
        b.iter(|| {
            out.clear();
            encode_record(&mut out, "single-tenant", &frags, usize::MAX);
            out.len()
        })
    });
    group.finish();
}

fn bench_group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_group_commit");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for requests_per_commit in [1usize, 8, 64] {
        // Each request: 10 traces of ~8 KB (20 spans of ~400 B), as loadgen sends.
        let frags = fragments(10, 8_000);
        let bytes = (requests_per_commit * 80_000) as u64;
        group.throughput(Throughput::Bytes(bytes));
        group.bench_with_input(
            BenchmarkId::from_parameter(requests_per_commit),
            &requests_per_commit,
            |b, &n| {
                b.iter_custom(|iters| {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let path = dir.path().to_path_buf();
                    let frags = frags.clone();
                    let executor = glommio::LocalExecutorBuilder::default()
                        .make()
                        .expect("glommio executor (needs memlock >= 512 KiB and io_uring)");
                    executor.run(async move {
                        let rt = GlommioRuntime::new();
                        let mut wal = WalWriter::open(
                            rt,
                            &path,
                            0,
                            WalSync::Always,
                            EngineMetrics::unregistered(),
                        )
                        .await
                        .expect("open wal");
                        let mut buf = Vec::with_capacity(n * 90_000);
                        let started = Instant::now();
                        for _ in 0..iters {
                            buf.clear();
                            for _ in 0..n {
                                encode_record(&mut buf, "single-tenant", &frags, usize::MAX);
                            }
                            wal.append_durably(&buf).await.expect("append");
                        }
                        started.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_encode, bench_group_commit);
criterion_main!(benches);
