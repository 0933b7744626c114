//! Parquet block encoding (the cut path) and the bloom probe (the by-ID path), on loadgen data.
//!
//! `block_encode/*` throughput is in spans. The `otlp_*` benches start where a cut starts: one
//! `TracesData` encoding per trace (the head block's `LiveTrace.otlp`), produced outside the timing.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;
use tracecore_benches::tracegen::TraceGenerator;
use tracecore_engine::block::{BlockBloom, BlockEncoder, BlockEncoderOptions};
use tracecore_proto::otlp::{ResourceSpans, TracesData};

const TRACES: usize = 2_000;
/// Traces of the `block_size` bench (~400k spans: four full row groups).
const SIZE_TRACES: usize = 20_000;

type Trace = ([u8; 16], Vec<ResourceSpans>);

fn loadgen_traces(count: usize) -> Vec<Trace> {
    let mut generator = TraceGenerator::new(7);
    let mut traces: Vec<Trace> = (0..count).map(|_| generator.next_trace()).collect();
    traces.sort_by_key(|(id, _)| *id);
    traces
}

fn span_count(traces: &[Trace]) -> usize {
    traces
        .iter()
        .flat_map(|(_, rs)| rs.iter())
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len())
        .sum()
}

fn encoder(traces: usize) -> BlockEncoder {
    BlockEncoder::new("single-tenant", traces, BlockEncoderOptions::default()).expect("encoder")
}

fn report(name: &str, spans: usize, otlp_bytes: usize, block_bytes: usize) {
    if block_bytes == 0 {
        return; // filtered out
    }
    eprintln!(
        "{name}: {spans} spans ({:.0} B/span OTLP) -> {block_bytes} bytes ({:.1} bytes/span)",
        otlp_bytes as f64 / spans.max(1) as f64,
        block_bytes as f64 / spans.max(1) as f64
    );
}

/// A realistically sized block (small blocks pay more for dictionaries): time and bytes/span.
fn bench_block_size(c: &mut Criterion) {
    let traces = loadgen_traces(SIZE_TRACES);
    let spans = span_count(&traces);
    let otlp = encode_otlp(&traces);
    let mut group = c.benchmark_group("block_size");
    group.sample_size(10);
    group.throughput(Throughput::Elements(spans as u64));
    let mut size = 0;
    group.bench_function("otlp_zero_copy_20000_traces", |b| {
        b.iter(|| {
            let mut encoder = encoder(otlp.len());
            for (id, bytes) in &otlp {
                encoder.push_trace_otlp(id, bytes).expect("push");
            }
            size = encoder.finish().expect("finish").data.len();
            size
        })
    });
    group.finish();
    report(
        "block_size",
        spans,
        otlp.iter().map(|(_, b)| b.len()).sum(),
        size,
    );
    if std::env::var_os("BLOCK_COLUMNS").is_some() {
        let mut encoder = encoder(otlp.len());
        for (id, bytes) in &otlp {
            encoder.push_trace_otlp(id, bytes).expect("push");
        }
        report_columns(&encoder.finish().expect("finish").data, spans);
    }
}

/// Per-leaf compressed and uncompressed bytes/span (`BLOCK_COLUMNS=1`): where zstd pays.
fn report_columns(data: &bytes::Bytes, spans: usize) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(data.clone()).expect("parquet");
    let metadata = reader.metadata();
    let schema = metadata.file_metadata().schema_descr();
    for leaf in 0..schema.num_columns() {
        let (mut compressed, mut uncompressed) = (0i64, 0i64);
        for rg in metadata.row_groups() {
            compressed += rg.column(leaf).compressed_size();
            uncompressed += rg.column(leaf).uncompressed_size();
        }
        eprintln!(
            "  {:45} {:6.2} B/span compressed, {:6.2} uncompressed",
            schema.column(leaf).path().string(),
            compressed as f64 / spans as f64,
            uncompressed as f64 / spans as f64
        );
    }
}

/// What the head block holds per trace: one `TracesData` encoding.
fn encode_otlp(traces: &[Trace]) -> Vec<([u8; 16], Vec<u8>)> {
    traces
        .iter()
        .map(|(id, rs)| {
            let data = TracesData {
                resource_spans: rs.clone(),
            };
            (*id, data.encode_to_vec())
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let traces = loadgen_traces(TRACES);
    let spans = span_count(&traces);
    let otlp = encode_otlp(&traces);
    let otlp_bytes: usize = otlp.iter().map(|(_, b)| b.len()).sum();

    let mut group = c.benchmark_group("block_encode");
    group.sample_size(10);
    group.throughput(Throughput::Elements(spans as u64));
    let mut size = 0;
    group.bench_function("parquet_zstd_2000_traces", |b| {
        b.iter(|| {
            let mut encoder = encoder(traces.len());
            for (id, rs) in &traces {
                encoder.push_trace(id, rs).expect("push");
            }
            size = encoder.finish().expect("finish").data.len();
            size
        })
    });
    report("structs", spans, otlp_bytes, size);

    // The cut path before `push_trace_otlp`: prost-decode each trace, then encode the structs.
    group.bench_function("otlp_prost_decode_2000_traces", |b| {
        b.iter(|| {
            let mut encoder = encoder(otlp.len());
            for (id, bytes) in &otlp {
                let data = TracesData::decode(bytes.as_slice()).expect("decode");
                encoder.push_trace(id, &data.resource_spans).expect("push");
            }
            size = encoder.finish().expect("finish").data.len();
            size
        })
    });
    report("otlp_prost_decode", spans, otlp_bytes, size);

    // The cut path: walk the bytes in place.
    group.bench_function("otlp_zero_copy_2000_traces", |b| {
        b.iter(|| {
            let mut encoder = encoder(otlp.len());
            for (id, bytes) in &otlp {
                encoder.push_trace_otlp(id, bytes).expect("push");
            }
            size = encoder.finish().expect("finish").data.len();
            size
        })
    });
    report("otlp_zero_copy", spans, otlp_bytes, size);
    group.finish();
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

criterion_group!(benches, bench_encode, bench_block_size, bench_bloom);
criterion_main!(benches);
