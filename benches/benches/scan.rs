//! TraceQL search scans (`tracecore_engine::scan`) over one block of loadgen traces.
//!
//! Each query class runs twice: `parquet/*` decodes the plan's columns from the block's
//! Parquet bytes (in memory, as from the page cache) and evaluates them, re-cutting batches on
//! trace boundaries as `rpc`'s block scan does; `decoded/*` evaluates batches decoded once
//! beforehand. Throughput is in spans of the block, on one core.

use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;
use tracecore_benches::tracegen::TraceGenerator;
use tracecore_engine::block::{BlockEncoder, BlockEncoderOptions};
use tracecore_engine::scan::{ScanOptions, SearchPlan, SpanBatch, search_batch};

/// ~300k spans (loadgen traces average ~20 spans).
const TRACES: usize = 15_000;
/// Rows per decoded Arrow batch (as in `rpc/src/query/search/block_scan.rs`).
const BATCH_ROWS: usize = 16 * 1024;

const QUERIES: &[(&str, &str)] = &[
    ("service_eq", "{ resource.service.name = \"frontend\" }"),
    ("service_absent", "{ resource.service.name = \"x\" }"),
    ("status_code_ge", "{ span.http.status_code >= 500 }"),
    ("duration_range", "{ duration > 100ms && duration < 200ms }"),
    ("name_regex", "{ name =~ \".*cart.*\" }"),
    ("route_eq", "{ span.http.route = \"/api/cart\" }"),
    ("url_regex", "{ span.http.url =~ \".*no-such-path.*\" }"),
    ("generic_attr_eq", "{ span.db.sql.table = \"orders\" }"),
    ("count_gt", "{ } | count() > 5"),
];

const OPTIONS: ScanOptions = ScanOptions {
    spans_per_spanset: 3,
    range_unix_nano: None,
};

/// The block's Parquet bytes and its span count.
fn loadgen_block() -> (Bytes, u64) {
    let mut generator = TraceGenerator::with_start_time(11, 1_714_557_603_000_000_000);
    let mut traces: Vec<_> = (0..TRACES).map(|_| generator.next_trace()).collect();
    traces.sort_by_key(|(id, _)| *id);
    let mut encoder = BlockEncoder::new(
        "single-tenant",
        traces.len(),
        BlockEncoderOptions::default(),
    )
    .expect("encoder");
    for (id, rs) in &traces {
        encoder.push_trace(id, rs).expect("push");
    }
    let spans = encoder.total_spans();
    (encoder.finish().expect("finish").data, spans)
}

/// The first row of the batch's last trace.
fn last_trace_start(batch: &RecordBatch) -> usize {
    let ids = batch
        .column_by_name("trace_id")
        .expect("trace_id projected")
        .as_fixed_size_binary();
    let n = ids.len();
    if n == 0 {
        return 0;
    }
    let mut row = n - 1;
    while row > 0 && ids.value(row - 1) == ids.value(n - 1) {
        row -= 1;
    }
    row
}

/// Decodes the plan's columns into batches of whole traces and hands each to `each`.
fn decode(data: &Bytes, plan: &SearchPlan, mut each: impl FnMut(SpanBatch)) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data.clone()).expect("reader");
    let layout = tracecore_engine::block::layout::BlockLayout::of(builder.metadata());
    let columns = plan.block_columns(&layout);
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .expect("build");
    let mut pending: Option<RecordBatch> = None;
    for batch in reader {
        let batch = batch.expect("batch");
        let batch = match pending.take() {
            Some(p) => concat_batches(&batch.schema(), [&p, &batch]).expect("concat"),
            None => batch,
        };
        let cut = last_trace_start(&batch);
        if cut > 0 {
            each(SpanBatch::new(batch.slice(0, cut)).expect("span batch"));
        }
        pending = Some(batch.slice(cut, batch.num_rows() - cut));
    }
    if let Some(rest) = pending.filter(|b| b.num_rows() > 0) {
        each(SpanBatch::new(rest).expect("span batch"));
    }
}

/// The block's Parquet metadata with its page index, loaded once as the server's block
/// catalog caches it.
fn block_metadata(data: &Bytes) -> ArrowReaderMetadata {
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    ArrowReaderMetadata::load(data, options).expect("metadata")
}

/// The prefilter of a block scan: the filter conditions evaluated on their own columns (what
/// a row group costs when nothing in it matches), the block's metadata cached as the server
/// caches it. Row groups whose conditions the dictionary pages decide read only those; the
/// rest decode the conditions' columns. Returns the row groups and batches matching.
fn prefilter(data: &Bytes, metadata: &ArrowReaderMetadata, plan: &SearchPlan) -> Option<usize> {
    let layout = tracecore_engine::block::layout::BlockLayout::of(metadata.metadata());
    let mask = plan.prefilter_mask(&layout, metadata.parquet_schema())?;
    let probe = plan.dictionary_probe(&layout, metadata.parquet_schema(), metadata.schema());
    let mut matched = 0;
    let mut undecided = Vec::new();
    for (i, row_group) in metadata.metadata().row_groups().iter().enumerate() {
        let Some((probe, ranges)) = probe
            .as_ref()
            .and_then(|p| Some((p, p.page_ranges(row_group)?)))
        else {
            undecided.push(i);
            continue;
        };
        let pages: Vec<Bytes> = ranges
            .iter()
            .map(|r| data.slice(r.start as usize..r.end as usize))
            .collect();
        matched += usize::from(probe.matches(plan, row_group, &pages).expect("probe"));
    }
    if undecided.is_empty() {
        return Some(matched);
    }
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(data.clone(), metadata.clone())
        .with_projection(mask)
        .with_row_groups(undecided)
        .with_batch_size(BATCH_ROWS)
        .build()
        .expect("build");
    Some(
        matched
            + reader
                .filter(|b| plan.prefilter_matches(b.as_ref().expect("batch").clone()))
                .count(),
    )
}

fn scan(plan: &SearchPlan, batch: &SpanBatch) -> usize {
    search_batch(plan, batch, &OPTIONS)
        .expect("search")
        .hits
        .len()
}

fn bench_scan(c: &mut Criterion) {
    let (data, spans) = loadgen_block();
    eprintln!("scan: block of {spans} spans, {} bytes", data.len());
    let metadata = block_metadata(&data);
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(spans));
    for (label, q) in QUERIES {
        let query = tracecore_traceql::parse_and_validate(q).expect("query");
        let plan = SearchPlan::new(&query).expect("plan");
        let mut decoded = Vec::new();
        decode(&data, &plan, |b| decoded.push(b));
        let hits: usize = decoded.iter().map(|b| scan(&plan, b)).sum();
        eprintln!("scan/{label}: {q} -> {hits} traces");
        group.bench_function(format!("parquet/{label}"), |b| {
            b.iter(|| {
                let mut hits = 0;
                decode(&data, &plan, |batch| hits += scan(&plan, &batch));
                hits
            })
        });
        if prefilter(&data, &metadata, &plan).is_some() {
            group.bench_function(format!("prefilter/{label}"), |b| {
                b.iter(|| prefilter(&data, &metadata, &plan))
            });
        }
        group.bench_function(format!("decoded/{label}"), |b| {
            b.iter(|| {
                decoded
                    .iter()
                    .map(|batch| scan(&plan, batch))
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
