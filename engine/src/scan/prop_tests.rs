//! Property tests: on random traces and random queries, the vectorized scan over in-memory
//! batches (the head block's path), the same scan over the traces written to Parquet and read
//! back with the plan's projection (a committed block's path), and a row-at-a-time reference
//! evaluator ([`reference`]) must return the same traces, span sets and spans.
//!
//! Seeded (`rand` with fixed seeds), so a failure reproduces; the failing seed, query and
//! dataset are printed. `SCAN_PROP_CASES=n` runs more datasets.

mod data;
mod query;
mod reference;

use arrow::compute::concat_batches;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::block::layout::BlockLayout;
use crate::block::schema::col;
use crate::block::{BlockEncoder, BlockEncoderOptions};
use data::GenTrace;
use reference::RefSet;

/// Datasets per run (each with [`QUERIES_PER_DATASET`] queries).
const DATASETS: u64 = 120;
const QUERIES_PER_DATASET: usize = 25;

const OPTIONS: ScanOptions = ScanOptions {
    spans_per_spanset: usize::MAX,
    range_unix_nano: None,
};

fn head_batches(traces: &[GenTrace]) -> Vec<SpanBatch> {
    let mut enc = BlockEncoder::in_memory("t", traces.len());
    for t in traces {
        enc.push_trace(&t.id, &t.resource_spans).expect("push");
    }
    enc.finish_batches()
        .expect("batches")
        .into_iter()
        .map(|b| SpanBatch::new(b).expect("batch"))
        .collect()
}

/// The Parquet bytes of the traces and the block's tag index; small row groups and batches
/// so traces straddle them.
fn block_bytes(traces: &[GenTrace], seed: u64) -> (Bytes, crate::block::BlockTagIndex) {
    let options = BlockEncoderOptions {
        row_group_spans: 7 + (seed % 13) as usize,
        batch_spans: 5 + (seed % 7) as usize,
        ..BlockEncoderOptions::default()
    };
    let mut enc = BlockEncoder::new("t", traces.len(), options).expect("encoder");
    for t in traces {
        enc.push_trace(&t.id, &t.resource_spans).expect("push");
    }
    let block = enc.finish().expect("finish");
    let index = crate::block::BlockTagIndex::from_json(&block.tag_index).expect("tag index");
    (block.data, index)
}

/// Reads the block with the plan's projection into one batch (whole traces).
fn block_batches(data: &Bytes, plan: &SearchPlan) -> Vec<SpanBatch> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data.clone()).expect("reader");
    let columns = plan.block_columns(&BlockLayout::of(builder.metadata()));
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
    let reader = builder.with_projection(mask).build().expect("build");
    let batches: Vec<_> = reader.map(|b| b.expect("batch")).collect();
    let one = concat_batches(&batches[0].schema(), &batches).expect("concat");
    vec![SpanBatch::new(one).expect("batch")]
}

/// Checks that the dictionary probe decides each row group it can decide as the decoded
/// prefilter does; returns how many it decided.
fn probe_agrees(block: &Bytes, plan: &SearchPlan, what: &str) -> usize {
    let metadata = ArrowReaderMetadata::load(block, ArrowReaderOptions::new()).expect("metadata");
    let layout = BlockLayout::of(metadata.metadata());
    let schema = metadata.parquet_schema();
    let (Some(mask), Some(probe)) = (
        plan.prefilter_mask(&layout, schema),
        plan.dictionary_probe(&layout, schema, metadata.schema()),
    ) else {
        return 0;
    };
    let mut decided = 0;
    for (i, row_group) in metadata.metadata().row_groups().iter().enumerate() {
        let Some(ranges) = probe.page_ranges(row_group) else {
            continue;
        };
        let pages: Vec<Bytes> = ranges
            .iter()
            .map(|r| block.slice(r.start as usize..r.end as usize))
            .collect();
        let probed = probe.matches(plan, row_group, &pages).expect("probe");
        if decided == 0 {
            // Damaged pages are an error or a decision, never a panic.
            for page in 0..pages.len() {
                let len = pages[page].len();
                for cut in [0, 1, len / 2, len.saturating_sub(1)] {
                    let mut damaged = pages.clone();
                    damaged[page] = pages[page].slice(..cut);
                    let _ = probe.matches(plan, row_group, &damaged);
                }
                let mut flipped = pages[page].to_vec();
                if let Some(b) = flipped.last_mut() {
                    *b ^= 0xff;
                }
                let mut damaged = pages.clone();
                damaged[page] = Bytes::from(flipped);
                let _ = probe.matches(plan, row_group, &damaged);
            }
        }
        let decoded =
            ParquetRecordBatchReaderBuilder::new_with_metadata(block.clone(), metadata.clone())
                .with_projection(mask.clone())
                .with_row_groups(vec![i])
                .build()
                .expect("build")
                .map(|b| b.expect("batch"))
                .any(|b| plan.prefilter_matches(b));
        assert_eq!(
            probed, decoded,
            "{what}: row group {i}: dictionary probe says {probed}, decoded prefilter {decoded}"
        );
        decided += 1;
    }
    decided
}

/// Like [`block_batches`], skipping the row groups whose duration statistics the plan rules
/// out (what a block scan does).
fn pruned_block_batches(data: &Bytes, plan: &SearchPlan) -> Vec<SpanBatch> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data.clone()).expect("reader");
    let u64_range = |rg: &parquet::file::metadata::RowGroupMetaData, c: usize| {
        let stats = rg.column(c).statistics()?;
        let read = |b: &[u8]| Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?));
        Some((read(stats.min_bytes_opt()?)?, read(stats.max_bytes_opt()?)?))
    };
    let keep: Vec<usize> = (0..builder.metadata().num_row_groups())
        .filter(|&i| {
            let rg = builder.metadata().row_group(i);
            plan.may_match_ranges(&IntrinsicRanges {
                duration: u64_range(rg, crate::block::schema::col::DURATION_NANO),
                trace_duration: u64_range(rg, crate::block::schema::col::TRACE_DURATION_NANO),
            })
        })
        .collect();
    if keep.is_empty() {
        return Vec::new();
    }
    let columns = plan.block_columns(&BlockLayout::of(builder.metadata()));
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(keep)
        .build()
        .expect("build");
    let batches: Vec<_> = reader.map(|b| b.expect("batch")).collect();
    let one = concat_batches(&batches[0].schema(), &batches).expect("concat");
    vec![SpanBatch::new(one).expect("batch")]
}

fn run(batches: &[SpanBatch], plan: &SearchPlan) -> Result<Vec<TraceHit>, ScanError> {
    let mut hits = Vec::new();
    for b in batches {
        hits.extend(search_batch(plan, b, &OPTIONS)?.hits);
    }
    Ok(hits)
}

/// Per trace: span sets as (attributes, sorted span IDs), sorted.
type Outcome = Vec<([u8; 16], Vec<RefSet>)>;

fn outcome(hits: &[TraceHit]) -> Outcome {
    hits.iter()
        .map(|h| {
            let mut sets: Vec<RefSet> = h
                .spansets
                .iter()
                .map(|s| {
                    assert_eq!(s.matched as usize, s.spans.len(), "spss is unlimited");
                    let mut ids: Vec<[u8; 8]> = s.spans.iter().map(|sp| sp.span_id).collect();
                    ids.sort_unstable();
                    (s.attributes.clone(), ids)
                })
                .collect();
            reference::sort_sets(&mut sets);
            (h.trace_id, sets)
        })
        .collect()
}

fn expected(traces: &[GenTrace], q: &query::GenQuery) -> Outcome {
    traces
        .iter()
        .filter_map(|t| {
            let sets = reference::evaluate(t, q);
            (!sets.is_empty()).then_some((t.id, sets))
        })
        .collect()
}

fn dump(traces: &[GenTrace]) -> String {
    traces
        .iter()
        .map(|t| format!("{}: {:#?}", hex::encode(t.id), t.resource_spans))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn vectorized_scan_matches_row_at_a_time_reference() {
    let datasets = std::env::var("SCAN_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DATASETS);
    let (mut checked, mut invalid, mut hits, mut refused) = (0usize, 0usize, 0usize, 0usize);
    let mut pruned = 0usize;
    // Queries whose block read left the attribute list out (dedicated keys only, no spill).
    let mut list_skipped = 0usize;
    let mut prefiltered = 0usize;
    // Row groups whose prefilter the dictionary probe decided.
    let mut probed = 0usize;
    // Prefilters that left `resource` out (exact service names).
    let mut resource_skipped = 0usize;
    // Prefilters that read only some fields of attribute list entries.
    let mut children_narrowed = 0usize;
    let mut invalid_examples = Vec::new();
    for seed in 0..datasets {
        let mut rng = StdRng::seed_from_u64(0x5ca1_ab1e ^ seed);
        let mut traces = data::random_traces(&mut rng, 1 + (seed % 6) as usize);
        if seed % 3 == 0 {
            data::type_dedicated_keys(&mut traces);
        }
        if seed % 4 == 1 {
            data::name_every_service(&mut traces, &mut rng);
        }
        let head = head_batches(&traces);
        let (block, index) = block_bytes(&traces, seed);
        for _ in 0..QUERIES_PER_DATASET {
            let q = query::random_query(&mut rng);
            let text = q.to_string();
            let parsed = match tracecore_traceql::parse_and_validate(&text) {
                Ok(p) => p,
                Err(e) => {
                    invalid += 1;
                    if invalid_examples.len() < 5 {
                        invalid_examples.push(format!("{text}: {e}"));
                    }
                    continue;
                }
            };
            let plan = SearchPlan::new(&parsed).unwrap_or_else(|e| panic!("plan {text}: {e}"));
            let layout = {
                let reader =
                    ParquetRecordBatchReaderBuilder::try_new(block.clone()).expect("reader");
                BlockLayout::of(reader.metadata())
            };
            list_skipped += usize::from(plan.block_columns(&layout).len() < plan.columns().len());
            let inexact = BlockLayout {
                exact_service_names: false,
                ..layout
            };
            let reads_resource = |l: &BlockLayout| {
                plan.prefilter_columns(l)
                    .is_some_and(|c| c.contains(&col::RESOURCE))
            };
            resource_skipped += usize::from(reads_resource(&inexact) && !reads_resource(&layout));
            children_narrowed += usize::from(
                plan.prefilter_narrows_attributes()
                    && plan
                        .prefilter_columns(&layout)
                        .is_some_and(|c| c.contains(&col::ATTRIBUTES)),
            );
            // The prefilter (filter conditions on their own columns) never rules out a block
            // that has a match.
            let prefilter_says_no = {
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(block.clone()).expect("reader");
                plan.prefilter_mask(&layout, builder.parquet_schema())
            }
            .is_some_and(|mask| {
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(block.clone()).expect("reader");
                let reader = builder.with_projection(mask).build().expect("build");
                !reader
                    .map(|b| b.expect("batch"))
                    .any(|b| plan.prefilter_matches(b))
            });
            probed += probe_agrees(&block, &plan, &format!("seed {seed}, {text}"));
            let from_head = run(&head, &plan);
            let from_block = run(&block_batches(&block, &plan), &plan);
            let (from_head, from_block) = match (from_head, from_block) {
                (Ok(h), Ok(b)) => (h, b),
                (h, b) => {
                    // Only a query error is acceptable, and both paths must agree on it.
                    let (h, b) = (h.map(|_| ()), b.map(|_| ()));
                    assert!(
                        matches!((&h, &b), (Err(x), Err(y)) if x.is_client_error() && y.is_client_error()),
                        "seed {seed}, {text}: head {h:?}, block {b:?}"
                    );
                    refused += 1;
                    continue;
                }
            };
            assert_eq!(
                from_head, from_block,
                "seed {seed}: head and block disagree for {text}"
            );
            if prefilter_says_no {
                assert!(
                    from_head.is_empty(),
                    "seed {seed}: the prefilter ruled out a block that matches {text}\ndata:\n{}",
                    dump(&traces)
                );
                prefiltered += 1;
            }
            // Block pruning is sound: a block the tag index rules out has no match.
            if !plan.may_match(&index) {
                assert!(
                    from_head.is_empty(),
                    "seed {seed}: the tag index pruned a block that matches {text}\ndata:\n{}",
                    dump(&traces)
                );
                pruned += 1;
            }
            // Row-group pruning by duration statistics keeps every match.
            if let Ok(pruned) = run(&pruned_block_batches(&block, &plan), &plan) {
                assert_eq!(
                    outcome(&pruned),
                    outcome(&from_head),
                    "seed {seed}: row-group pruning changed the matches of {text}"
                );
            }
            let want = expected(&traces, &q);
            let got = outcome(&from_head);
            if got != want {
                panic!(
                    "seed {seed}: scan and reference disagree for {text}\n\
                     scan:      {got:?}\nreference: {want:?}\ndata:\n{}",
                    dump(&traces)
                );
            }
            checked += 1;
            hits += usize::from(!want.is_empty());
        }
    }
    eprintln!(
        "checked {checked} queries ({hits} with hits, {pruned} pruned by the tag index, \
         {list_skipped} without the attribute list, {prefiltered} ruled out by the prefilter, \
         {probed} row groups decided by dictionary pages, \
         {resource_skipped} prefiltered without resources, \
         {children_narrowed} with some attribute fields only), \
         {invalid} invalid, {refused} refused; \
         invalid e.g. {invalid_examples:#?}"
    );
    assert!(
        list_skipped > 20,
        "only {list_skipped} block reads skipped the list"
    );
    assert!(
        probed > 100,
        "only {probed} row groups were decided by their dictionary pages"
    );
    assert!(
        resource_skipped > 20,
        "only {resource_skipped} prefilters left the resource column out"
    );
    assert!(
        children_narrowed > 20,
        "only {children_narrowed} prefilters read some attribute fields only"
    );
    let total = datasets as usize * QUERIES_PER_DATASET;
    assert!(
        checked * 10 >= total * 8,
        "too few generated queries are valid: {checked} of {total}: {invalid_examples:#?}"
    );
    assert!(pruned > 0, "the tag index never pruned a block");
    assert!(
        hits * 4 >= checked,
        "too few queries match anything: {hits}"
    );
}
