//! Jaeger Thrift and Zipkin v2 JSON receive → OTLP: decoding one realistic process batch (the
//! 100 spans a Jaeger client or Zipkin reporter flushes, see `legacy::process_batches`),
//! converting it with the Collector's mapping and encoding the OTLP protobuf the write path
//! takes — everything the receivers do before `Ingester::push`. Throughput is per span, to
//! compare with `otlp_ingest` (the OTLP path's skim). Runs on mimalloc, the server's allocator.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;
use tracecore_benches::legacy::{
    DEFAULT_BATCH_SPANS, LegacyFormat, LegacyRequest, process_batches,
};
use tracecore_benches::tracegen::TraceGenerator;
use tracecore_rpc::jaeger::{AgentProtocol, decode_agent_datagram, decode_thrift_http_body};
use tracecore_rpc::zipkin::{ZipkinEncoding, decode_to_protobuf};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_legacy_decode(c: &mut Criterion) {
    let mut generator = TraceGenerator::new(42);
    let batches: Vec<LegacyRequest> = process_batches(&mut generator, 16, DEFAULT_BATCH_SPANS)
        .into_iter()
        .map(LegacyRequest::new)
        .collect();
    let spans: usize = batches.iter().map(LegacyRequest::spans).sum();
    let bodies = |format| -> Vec<Vec<u8>> {
        batches
            .iter()
            .flat_map(|b| b.render(format, 1, 1_700_000_000_000_000_000))
            .collect()
    };
    let thrift = bodies(LegacyFormat::JaegerThriftHttp);
    let compact = bodies(LegacyFormat::JaegerAgentCompact);
    let zipkin = bodies(LegacyFormat::ZipkinJson);
    for (name, b) in [
        ("jaeger thrift", &thrift),
        ("compact", &compact),
        ("zipkin", &zipkin),
    ] {
        let bytes: usize = b.iter().map(Vec::len).sum();
        eprintln!(
            "legacy_decode: {name}: {spans} spans in {} bodies, {} bytes/span",
            b.len(),
            bytes / spans.max(1)
        );
    }

    let mut group = c.benchmark_group("legacy_decode");
    group.throughput(Throughput::Elements(spans as u64));
    group.bench_function("jaeger_thrift_http_to_otlp_bytes", |b| {
        b.iter(|| {
            thrift
                .iter()
                .map(|body| {
                    let request = decode_thrift_http_body(body).expect("valid batch");
                    request.encode_to_vec().len()
                })
                .sum::<usize>()
        })
    });
    group.bench_function("jaeger_agent_compact_to_otlp_bytes", |b| {
        b.iter(|| {
            compact
                .iter()
                .map(|d| {
                    let request =
                        decode_agent_datagram(d, AgentProtocol::Compact).expect("valid datagram");
                    request.encode_to_vec().len()
                })
                .sum::<usize>()
        })
    });
    group.bench_function("zipkin_v2_json_to_otlp_bytes", |b| {
        b.iter(|| {
            zipkin
                .iter()
                .map(|body| {
                    decode_to_protobuf(body, ZipkinEncoding::V2Json)
                        .expect("valid spans")
                        .len()
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_legacy_decode);
criterion_main!(benches);
