//! OTLP skim + split: validating a realistic ExportTraceServiceRequest and splitting it into
//! per-trace fragments per shard, versus decoding it fully with prost (the cost we avoid).

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use tracecore_benches::tracegen::TraceGenerator;
use tracecore_engine::routing::shard_for;
use tracecore_proto::otlp::ExportTraceServiceRequest;
use tracecore_rpc::otlp::skim::{SkimLimits, skim_export_request};

fn bench_skim(c: &mut Criterion) {
    let mut generator = TraceGenerator::new(42);
    let (request, manifests) = generator.request(50);
    let spans: usize = manifests.iter().map(|m| m.span_count()).sum();
    let body = Bytes::from(request.encode_to_vec());
    let limits = SkimLimits::default();
    let mut group = c.benchmark_group("otlp_ingest");
    group.throughput(Throughput::Elements(spans as u64));
    group.bench_function("skim_and_split_4_shards", |b| {
        b.iter(|| {
            let skimmed =
                skim_export_request(&body, &limits, 4, |id| shard_for("single-tenant", id, 4))
                    .expect("valid request");
            skimmed.span_count
        })
    });
    group.bench_function("prost_full_decode", |b| {
        b.iter(|| {
            ExportTraceServiceRequest::decode(body.clone())
                .expect("valid request")
                .resource_spans
                .len()
        })
    });
    group.finish();
    eprintln!(
        "otlp_ingest: {spans} spans, {} bytes ({} bytes/span)",
        body.len(),
        body.len() / spans.max(1)
    );
}

criterion_group!(benches, bench_skim);
criterion_main!(benches);
