//! Round-trip tests of the whole block: encoder → Parquet bytes → by-ID reader.

use bytes::Bytes;
use futures::executor::block_on;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, InstrumentationScope, KeyValue, KeyValueList, Link, Resource,
    ResourceSpans, ScopeSpans, Span, Status, any_value::Value,
};

mod dedicated;
mod otlp;
mod realistic;

use super::schema::{COLUMN_NAMES, encode_resource, encode_scope};
use super::*;

const BASE_TIME: u64 = 1_714_557_603_000_000_000;

fn string(rng: &mut StdRng, prefix: &str, choices: u32) -> String {
    format!("{prefix}-{}", rng.random_range(0..choices))
}

fn kv(key: &str, value: Option<Value>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.map(|v| AnyValue { value: Some(v) }),
    }
}

/// An `AnyValue` of a random kind; `depth` bounds nesting.
fn any_value(rng: &mut StdRng, depth: u32) -> Option<Value> {
    let kinds = if depth == 0 { 5 } else { 7 };
    Some(match rng.random_range(0..kinds) {
        0 => Value::StringValue(string(rng, "v", 50)),
        1 => Value::IntValue(rng.random_range(-1_000_000..1_000_000)),
        2 => Value::DoubleValue(rng.random::<f64>() * 1e6 - 5e5),
        3 => Value::BoolValue(rng.random()),
        4 => Value::BytesValue((0..rng.random_range(0..12)).map(|_| rng.random()).collect()),
        5 => Value::ArrayValue(ArrayValue {
            values: (0..rng.random_range(0..4))
                .map(|_| AnyValue {
                    value: any_value(rng, depth - 1),
                })
                .collect(),
        }),
        _ => Value::KvlistValue(KeyValueList {
            values: attributes(rng, depth - 1, 3),
        }),
    })
}

fn attributes(rng: &mut StdRng, depth: u32, max: usize) -> Vec<KeyValue> {
    (0..rng.random_range(0..=max))
        .map(|_| {
            let key = string(rng, "attr", 8);
            match rng.random_range(0..20) {
                // A KeyValue without value, and one whose AnyValue has no value set.
                0 => KeyValue { key, value: None },
                1 => KeyValue {
                    key,
                    value: Some(AnyValue { value: None }),
                },
                _ => KeyValue {
                    key,
                    value: Some(AnyValue {
                        value: any_value(rng, depth),
                    }),
                },
            }
        })
        .collect()
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random()).collect()
}

fn resource_pool() -> Vec<(Option<Resource>, String)> {
    let service = |name: &str| {
        Some(Resource {
            attributes: vec![
                kv("service.name", Some(Value::StringValue(name.into()))),
                kv(
                    "host.name",
                    Some(Value::StringValue(format!("{name}-host"))),
                ),
            ],
            dropped_attributes_count: 0,
        })
    };
    vec![
        (service("frontend"), String::new()),
        (
            service("cart"),
            "https://opentelemetry.io/schemas/1.21.0".into(),
        ),
        (
            Some(Resource {
                attributes: vec![kv("service.name", Some(Value::IntValue(7)))],
                dropped_attributes_count: 3,
            }),
            String::new(),
        ),
        (None, "schema-only".into()),
    ]
}

fn scope_pool() -> Vec<(Option<InstrumentationScope>, String)> {
    vec![
        (
            Some(InstrumentationScope {
                name: "io.opentelemetry.http".into(),
                version: "1.2.3".into(),
                attributes: vec![kv("scope.attr", Some(Value::BoolValue(true)))],
                dropped_attributes_count: 1,
            }),
            "https://scope.schema".into(),
        ),
        (
            Some(InstrumentationScope {
                name: "db".into(),
                ..Default::default()
            }),
            String::new(),
        ),
        (None, String::new()),
    ]
}

/// A span with every field exercised, including the irregular cases.
fn span(rng: &mut StdRng, trace_id: &[u8; 16], earlier: &[Vec<u8>]) -> Span {
    let start = match rng.random_range(0..100) {
        0 => 0,
        _ => BASE_TIME + rng.random_range(0..10_000_000_000u64),
    };
    let end = match rng.random_range(0..100) {
        0..=2 => start.saturating_sub(rng.random_range(1..1_000_000)),
        3 => u64::MAX,
        _ => start + rng.random_range(0..2_000_000_000u64),
    };
    let span_id = match rng.random_range(0..100) {
        0 => Vec::new(),
        1 => random_bytes(rng, 4),
        2 if !earlier.is_empty() => earlier[rng.random_range(0..earlier.len())].clone(),
        _ => random_bytes(rng, 8),
    };
    let parent_span_id = match rng.random_range(0..100) {
        0..=44 if !earlier.is_empty() => earlier[rng.random_range(0..earlier.len())].clone(),
        45..=59 => random_bytes(rng, 8),
        60 => random_bytes(rng, 3),
        61 => span_id.clone(),
        _ => Vec::new(),
    };
    let span_trace_id = match rng.random_range(0..100) {
        0 => Vec::new(),
        1 => random_bytes(rng, 16),
        _ => trace_id.to_vec(),
    };
    Span {
        trace_id: span_trace_id,
        span_id,
        trace_state: if rng.random_bool(0.2) {
            "vendor=abc,x=1".into()
        } else {
            String::new()
        },
        parent_span_id,
        flags: if rng.random_bool(0.5) {
            rng.random()
        } else {
            0x101
        },
        name: string(rng, "op", 20),
        kind: match rng.random_range(0..20) {
            0 => 42,
            1 => -3,
            _ => rng.random_range(0..=5),
        },
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attributes(rng, 2, 6),
        dropped_attributes_count: rng.random_range(0..3),
        events: (0..rng.random_range(0..3))
            .map(|_| Event {
                time_unix_nano: match rng.random_range(0..10) {
                    0 => 0,
                    1 => start.wrapping_sub(rng.random_range(0..1_000_000)),
                    _ => start.wrapping_add(rng.random_range(0..3_000_000_000)),
                },
                name: string(rng, "event", 5),
                attributes: attributes(rng, 1, 3),
                dropped_attributes_count: rng.random_range(0..2),
            })
            .collect(),
        dropped_events_count: rng.random_range(0..2),
        links: (0..rng.random_range(0..3))
            .map(|_| Link {
                trace_id: if rng.random_bool(0.9) {
                    random_bytes(rng, 16)
                } else {
                    let len = rng.random_range(0..20);
                    random_bytes(rng, len)
                },
                span_id: if rng.random_bool(0.9) {
                    random_bytes(rng, 8)
                } else {
                    let len = rng.random_range(0..10);
                    random_bytes(rng, len)
                },
                trace_state: if rng.random_bool(0.3) {
                    "k=v".into()
                } else {
                    String::new()
                },
                attributes: attributes(rng, 1, 2),
                dropped_attributes_count: rng.random_range(0..2),
                flags: rng.random_range(0..3),
            })
            .collect(),
        dropped_links_count: rng.random_range(0..2),
        status: match rng.random_range(0..4) {
            0 => None,
            1 => Some(Status::default()),
            _ => Some(Status {
                message: string(rng, "status", 3),
                code: rng.random_range(0..=2),
            }),
        },
    }
}

/// One trace: 1–3 `ResourceSpans` (resources may repeat), 1–2 scopes each, unsorted spans.
fn trace(rng: &mut StdRng, trace_id: &[u8; 16]) -> Vec<ResourceSpans> {
    let resources = resource_pool();
    let scopes = scope_pool();
    let mut earlier: Vec<Vec<u8>> = Vec::new();
    (0..rng.random_range(1..=3))
        .map(|_| {
            let (resource, schema_url) = resources[rng.random_range(0..resources.len())].clone();
            ResourceSpans {
                resource,
                schema_url,
                scope_spans: (0..rng.random_range(1..=2))
                    .map(|_| {
                        let (scope, schema_url) = scopes[rng.random_range(0..scopes.len())].clone();
                        ScopeSpans {
                            scope,
                            schema_url,
                            spans: (0..rng.random_range(1..=12))
                                .map(|_| {
                                    let s = span(rng, trace_id, &earlier);
                                    earlier.push(s.span_id.clone());
                                    s
                                })
                                .collect(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

fn traces(seed: u64, count: usize) -> Vec<([u8; 16], Vec<ResourceSpans>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids: Vec<[u8; 16]> = (0..count).map(|_| rng.random()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| (id, trace(&mut rng, &id)))
        .collect()
}

fn encode(traces: &[([u8; 16], Vec<ResourceSpans>)], opts: BlockEncoderOptions) -> EncodedBlock {
    let mut encoder = BlockEncoder::new("tenant-a", traces.len(), opts).expect("encoder");
    for (id, rs) in traces {
        encoder.push_trace(id, rs).expect("push");
    }
    encoder.finish().expect("finish")
}

/// (resource key, scope key, encoded span) for every span, sorted: equal iff same spans
/// under the same resources and scopes, regardless of grouping and order.
fn normalize(resource_spans: &[ResourceSpans]) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for rs in resource_spans {
        let mut resource = Vec::new();
        encode_resource(rs.resource.as_ref(), &rs.schema_url, &mut resource);
        for ss in &rs.scope_spans {
            let mut scope = Vec::new();
            encode_scope(ss.scope.as_ref(), &ss.schema_url, &mut scope);
            for span in &ss.spans {
                out.push((resource.clone(), scope.clone(), span.encode_to_vec()));
            }
        }
    }
    out.sort();
    out
}

fn span_count(resource_spans: &[ResourceSpans]) -> usize {
    resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

fn read(block: &EncodedBlock, id: &[u8; 16]) -> Option<TraceRead> {
    let mut reader = BytesFileReader::new(block.data.clone());
    let metadata = block_on(load_block_metadata(&mut reader)).expect("metadata");
    block_on(read_trace(reader, &metadata, id)).expect("read")
}

/// Output grouping: each resource once, each scope once per resource, spans in row order.
fn assert_grouped(resource_spans: &[ResourceSpans]) {
    let mut resources = Vec::new();
    for rs in resource_spans {
        let mut key = Vec::new();
        encode_resource(rs.resource.as_ref(), &rs.schema_url, &mut key);
        assert!(!resources.contains(&key), "resource repeated in output");
        resources.push(key);
        let mut scopes = Vec::new();
        for ss in &rs.scope_spans {
            let mut key = Vec::new();
            encode_scope(ss.scope.as_ref(), &ss.schema_url, &mut key);
            assert!(!scopes.contains(&key), "scope repeated in output");
            scopes.push(key);
            let order: Vec<_> = ss
                .spans
                .iter()
                .map(|s| (s.start_time_unix_nano, s.span_id.clone()))
                .collect();
            assert!(order.is_sorted(), "spans not in (start, id) order");
        }
    }
}

#[test]
fn round_trip_is_exact_across_row_groups() {
    let input = traces(1, 300);
    let total_spans: usize = input.iter().map(|(_, rs)| span_count(rs)).sum();
    let block = encode(
        &input,
        BlockEncoderOptions {
            row_group_spans: 50,
            batch_spans: 37,
            ..Default::default()
        },
    );
    assert_eq!(block.meta.total_spans, total_spans as u64);
    assert_eq!(block.meta.total_objects, input.len() as u64);
    assert_eq!(
        block.meta.total_records as usize,
        total_spans.div_ceil(50),
        "row groups"
    );
    let mut straddling = 0;
    let mut first_row = 0;
    for (id, rs) in &input {
        let rows = span_count(rs);
        straddling += usize::from(first_row / 50 != (first_row + rows - 1) / 50);
        first_row += rows;
        let read = read(&block, id).unwrap_or_else(|| panic!("trace {} missing", hex::encode(id)));
        assert_eq!(
            normalize(&read.resource_spans),
            normalize(rs),
            "trace {}",
            hex::encode(id)
        );
        assert_grouped(&read.resource_spans);
        assert!(read.inspected_bytes > 0);
    }
    assert!(
        straddling > 20,
        "only {straddling} traces straddle row groups"
    );
}

#[test]
fn in_trace_parents_use_row_references() {
    // Root, child of root, grandchild, plus a span whose parent is in another block.
    let trace_id = [7u8; 16];
    let mk = |id: u8, parent: Option<u8>, start: u64| Span {
        trace_id: trace_id.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("s{id}"),
        start_time_unix_nano: BASE_TIME + start,
        end_time_unix_nano: BASE_TIME + start + 10,
        ..Default::default()
    };
    let spans = vec![
        mk(3, Some(2), 30),
        mk(1, None, 0),
        mk(2, Some(1), 10),
        mk(4, Some(9), 5),
    ];
    let input = vec![ResourceSpans {
        resource: resource_pool()[0].0.clone(),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        schema_url: String::new(),
    }];
    let block = encode(&[(trace_id, input.clone())], BlockEncoderOptions::default());

    let mut reader = BytesFileReader::new(block.data.clone());
    let metadata = block_on(load_block_metadata(&mut reader)).expect("metadata");
    let mut batches =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(block.data.clone())
            .expect("reader")
            .build()
            .expect("reader");
    let batch = batches.next().expect("a batch").expect("batch");
    let parent_index = batch
        .column_by_name(COLUMN_NAMES[schema::col::PARENT_INDEX])
        .expect("parent_index");
    let parent_index = parent_index
        .as_any()
        .downcast_ref::<arrow::array::Int32Array>()
        .expect("int32");
    // Rows by start: s1 (root), s4 (missing parent), s2 (→ row 0), s3 (→ row 2).
    assert_eq!(parent_index.values().to_vec(), vec![-1, -1, 0, 2]);
    let parent_ids = batch
        .column_by_name(COLUMN_NAMES[schema::col::PARENT_SPAN_ID])
        .expect("parent_span_id");
    assert_eq!(
        parent_ids.null_count(),
        3,
        "only the unresolved parent is stored"
    );

    let read = block_on(read_trace(reader, &metadata, &trace_id))
        .expect("read")
        .expect("found");
    assert_eq!(normalize(&read.resource_spans), normalize(&input));
}

#[test]
fn absent_ids_are_not_found() {
    let input = traces(2, 200);
    let block = encode(
        &input,
        BlockEncoderOptions {
            row_group_spans: 64,
            ..Default::default()
        },
    );
    let present: Vec<[u8; 16]> = input.iter().map(|(id, _)| *id).collect();
    let mut rng = StdRng::seed_from_u64(99);
    for _ in 0..50 {
        let id: [u8; 16] = rng.random();
        if !present.contains(&id) {
            assert!(read(&block, &id).is_none());
        }
    }
    // IDs inside a row group's min/max range but absent: neighbours of present IDs.
    for id in present.iter().take(50) {
        let mut neighbour = *id;
        neighbour[15] ^= 1;
        if !present.contains(&neighbour) {
            assert!(read(&block, &neighbour).is_none());
        }
    }
    assert!(read(&block, &[0; 16]).is_none());
    assert!(read(&block, &[0xff; 16]).is_none());
}

#[test]
fn page_index_limits_what_a_lookup_reads() {
    // One big row group (several 8192-row pages): a lookup must read only about one page per column.
    let input = traces(3, 2500);
    let block = encode(&input, BlockEncoderOptions::default());
    assert_eq!(block.meta.total_records, 1);
    assert!(
        block.meta.total_spans > 3 * 8192,
        "{}",
        block.meta.total_spans
    );
    let mut worst = 0;
    for (id, rs) in input.iter().step_by(97) {
        let read = read(&block, id).expect("found");
        assert_eq!(normalize(&read.resource_spans), normalize(rs));
        worst = worst.max(read.inspected_bytes);
    }
    assert!(
        worst * 2 < block.data.len() as u64,
        "a lookup read {worst} of {} bytes",
        block.data.len()
    );
}

#[test]
fn meta_describes_the_block() {
    let input = traces(4, 40);
    let block = encode(&input, BlockEncoderOptions::default());
    let meta = &block.meta;
    assert_eq!(
        (meta.format.as_str(), meta.version.as_str()),
        ("tc2", "tc2")
    );
    assert_eq!(meta.tenant_id, "tenant-a");
    assert!(uuid::Uuid::parse_str(&meta.block_id).is_ok());
    assert_eq!(meta.size, block.data.len() as u64);
    let footer = &block.data[block.data.len() - 8..];
    assert_eq!(&footer[4..], b"PAR1");
    assert_eq!(
        meta.footer_size,
        u32::from_le_bytes(footer[..4].try_into().expect("4"))
    );
    assert_eq!(meta.min_trace_id, hex::encode(input[0].0));
    assert_eq!(meta.max_trace_id, hex::encode(input[input.len() - 1].0));
    let spans = || {
        input
            .iter()
            .flat_map(|(_, rs)| rs)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
    };
    let min_start = spans()
        .map(|s| s.start_time_unix_nano)
        .min()
        .expect("spans");
    let max_end = spans().map(|s| s.end_time_unix_nano).max().expect("spans");
    assert_eq!(meta.start_time_unix_nano, min_start);
    assert_eq!(meta.end_time_unix_nano, max_end);
    assert_eq!(
        (
            meta.bloom_shards,
            meta.replication_factor,
            meta.compaction_level
        ),
        (1, 1, 0)
    );
    let bloom = BlockBloom::from_bytes(&block.bloom).expect("bloom");
    assert!(input.iter().all(|(id, _)| bloom.may_contain(id)));
}

#[test]
fn encoder_rejects_bad_input() {
    let opts = BlockEncoderOptions::default;
    let mut encoder = BlockEncoder::new("t", 2, opts()).expect("encoder");
    let rs = trace(&mut StdRng::seed_from_u64(5), &[5; 16]);
    encoder.push_trace(&[5; 16], &rs).expect("first");
    let err = encoder.push_trace(&[4; 16], &rs).expect_err("descending");
    assert_eq!(err.kind(), BlockErrorKind::InvalidArgument);
    assert!(err.to_string().contains(&hex::encode([4u8; 16])), "{err}");
    assert!(encoder.push_trace(&[5; 16], &rs).is_err(), "duplicate");

    let empty = BlockEncoder::new("t", 0, opts()).expect("encoder");
    assert!(matches!(empty.finish(), Err(BlockError::EmptyBlock { .. })));
    for bad in [
        BlockEncoderOptions {
            row_group_spans: 0,
            ..opts()
        },
        BlockEncoderOptions {
            batch_spans: 0,
            ..opts()
        },
        BlockEncoderOptions {
            zstd_level: 99,
            ..opts()
        },
        BlockEncoderOptions {
            bloom_false_positive: 1.0,
            ..opts()
        },
        BlockEncoderOptions {
            bloom_false_positive: f64::NAN,
            ..opts()
        },
    ] {
        let err = BlockEncoder::new("t", 0, bad)
            .err()
            .expect("invalid option");
        assert_eq!(err.kind(), BlockErrorKind::InvalidArgument);
    }
}

#[test]
fn foreign_and_garbage_files_are_rejected() {
    let garbage = BytesFileReader::new(Bytes::from_static(b"PAR1 this is not parquet PAR1"));
    let mut reader = garbage;
    assert!(block_on(load_block_metadata(&mut reader)).is_err());

    // A valid Parquet file that is not a tc1 block.
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("x", arrow::datatypes::DataType::Int32, false),
    ]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![std::sync::Arc::new(arrow::array::Int32Array::from(vec![
            1, 2,
        ]))],
    )
    .expect("batch");
    let mut buf = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut buf, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    let mut reader = BytesFileReader::new(Bytes::from(buf));
    let err = block_on(load_block_metadata(&mut reader)).expect_err("not tc1");
    assert!(matches!(err, BlockError::UnsupportedFormat(_)), "{err}");
}

#[test]
fn schema_leaves_match_column_constants() {
    let block = encode(&traces(6, 3), BlockEncoderOptions::default());
    let mut reader = BytesFileReader::new(block.data.clone());
    let metadata = block_on(load_block_metadata(&mut reader)).expect("metadata");
    let descr = metadata.metadata().file_metadata().schema_descr();
    for (index, name) in COLUMN_NAMES
        .iter()
        .enumerate()
        .take(schema::col::ATTRIBUTES)
    {
        assert_eq!(descr.column(index).path().string(), *name, "leaf {index}");
    }
    let sorting = metadata
        .metadata()
        .row_group(0)
        .sorting_columns()
        .expect("sorting columns");
    assert_eq!(sorting[0].column_idx as usize, schema::col::TRACE_ID);
    assert_eq!(
        sorting[1].column_idx as usize,
        schema::col::START_OFFSET_NANO
    );
}

#[test]
fn service_name_kind_is_read_from_resource_bytes() {
    let cases: Vec<(Vec<KeyValue>, Option<bool>)> = vec![
        (vec![], None),
        (vec![kv("host", Some(Value::StringValue("a".into())))], None),
        (
            vec![kv("service.name", Some(Value::StringValue("cart".into())))],
            Some(true),
        ),
        (
            vec![kv("service.name", Some(Value::IntValue(7)))],
            Some(false),
        ),
        (vec![kv("service.name", None)], Some(false)),
        (
            vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue { value: None }),
            }],
            Some(false),
        ),
        // The first attribute with the key counts.
        (
            vec![
                kv("service.name", Some(Value::BoolValue(true))),
                kv("service.name", Some(Value::StringValue("x".into()))),
            ],
            Some(false),
        ),
        (
            vec![
                kv("a", Some(Value::IntValue(1))),
                kv("service.name", Some(Value::StringValue(String::new()))),
            ],
            Some(true),
        ),
    ];
    for (attributes, want) in cases {
        let mut encoded = Vec::new();
        let resource = Resource {
            attributes: attributes.clone(),
            ..Resource::default()
        };
        encode_resource(Some(&resource), "https://schema", &mut encoded);
        assert_eq!(
            schema::resource_service_name(&encoded).expect("walk"),
            want,
            "{attributes:?}"
        );
    }
    assert_eq!(schema::resource_service_name(&[]).expect("empty"), None);
    assert!(schema::resource_service_name(&[0x0a, 0x05, 0x0a]).is_err());
}

#[test]
fn service_names_are_exact_only_when_every_resource_names_its_service() {
    let named = |name: &str| {
        Some(Resource {
            attributes: vec![kv("service.name", Some(Value::StringValue(name.into())))],
            dropped_attributes_count: 0,
        })
    };
    let cases: Vec<(Vec<Option<Resource>>, bool)> = vec![
        (vec![named("cart"), named("frontend")], true),
        (vec![named("cart"), named("")], false),
        (vec![named("cart"), None], false),
        (vec![named("cart"), Some(Resource::default())], false),
        (
            vec![
                named("cart"),
                Some(Resource {
                    attributes: vec![
                        kv("service.name", Some(Value::IntValue(7))),
                        kv("service.name", Some(Value::StringValue("x".into()))),
                    ],
                    dropped_attributes_count: 0,
                }),
            ],
            false,
        ),
    ];
    for (resources, want) in cases {
        let mut rng = StdRng::seed_from_u64(9);
        let input: Vec<([u8; 16], Vec<ResourceSpans>)> = resources
            .iter()
            .enumerate()
            .map(|(i, resource)| {
                let id = [i as u8 + 1; 16];
                let spans = vec![span(&mut rng, &id, &[])];
                let rs = ResourceSpans {
                    resource: resource.clone(),
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                };
                (id, vec![rs])
            })
            .collect();
        let block = encode(&input, BlockEncoderOptions::default());
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            block.data.clone(),
        )
        .expect("reader");
        let layout = super::layout::BlockLayout::of(reader.metadata());
        assert_eq!(layout.exact_service_names, want, "{resources:?}");
        assert_eq!(layout.spilled, Some(0));
    }
}
