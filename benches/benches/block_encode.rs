//! Parquet block encoding (the cut path) and the bloom probe (the by-ID path), on loadgen data.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracecore_benches::tracegen::TraceGenerator;
use tracecore_engine::block::{BlockBloom, BlockEncoder, BlockEncoderOptions};

fn bench_encode(c: &mut Criterion) {
    let mut generator = TraceGenerator::new(7);
    let mut traces: Vec<_> = (0..2_000).map(|_| generator.next_trace()).collect();
    traces.sort_by_key(|(id, _)| *id);
    let spans: usize = traces
        .iter()
        .flat_map(|(_, rs)| rs.iter())
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len())
        .sum();
    let mut group = c.benchmark_group("block_encode");
    group.sample_size(10);
    group.throughput(Throughput::Elements(spans as u64));
    let mut last_size = 0;
    group.bench_function("parquet_zstd_2000_traces", |b| {
        b.iter(|| {
            let mut encoder = BlockEncoder::new(
                "single-tenant",
                traces.len(),
                BlockEncoderOptions::default(),
            )
            .expect("encoder");
            for (id, rs) in &traces {
                encoder.push_trace(id, rs).expect("push");
            }
            let block = encoder.finish().expect("finish");
            last_size = block.data.len();
            last_size
        })
    });
    group.finish();
    eprintln!(
        "block_encode: {spans} spans -> {last_size} bytes ({:.1} bytes/span)",
        last_size as f64 / spans.max(1) as f64
    );
}

fn bench_bloom(c: &mut Criterion) {
    let ids: Vec<[u8; 16]> = (0u64..10_000)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            id[8..].copy_from_slice(
                &(i ^ 0xdead_beef)
                    .wrapping_mul(0xff51_afd7_ed55_8ccd)
                    .to_le_bytes(),
            );
            id
        })
        .collect();
    // 1,000 blocks of 10,000 traces each: what a by-ID lookup probes.
    let blooms: Vec<BlockBloom> = (0..1_000)
        .map(|_| BlockBloom::build(ids.iter(), ids.len(), 0.01))
        .collect();
    let probe = [0x42u8; 16];
    let mut group = c.benchmark_group("bloom_probe");
    group.throughput(Throughput::Elements(blooms.len() as u64));
    group.bench_function("1000_blocks_absent_id", |b| {
        b.iter(|| blooms.iter().filter(|bl| bl.may_contain(&probe)).count())
    });
    group.finish();
}

criterion_group!(benches, bench_encode, bench_bloom);
criterion_main!(benches);
