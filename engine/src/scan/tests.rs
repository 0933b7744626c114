//! Scan tests over a fixed dataset, evaluated both on in-memory batches (what the head block
//! scans) and on the same traces written to Parquet and read back with the plan's projection
//! (what a committed block scans): the two must agree for every query.

use arrow::compute::concat_batches;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tracecore_proto::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, ScopeSpans,
    Span, Status, any_value::Value,
};

use super::*;
use crate::block::{BlockEncoder, BlockEncoderOptions};

const T0: u64 = 1_714_557_603_000_000_000;
const MS: u64 = 1_000_000;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn array(values: Vec<Value>) -> Value {
    Value::ArrayValue(tracecore_proto::otlp::ArrayValue {
        values: values
            .into_iter()
            .map(|v| AnyValue { value: Some(v) })
            .collect(),
    })
}

fn trace_id(n: u8) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[15] = n;
    id[0] = 0xab;
    id
}

fn span_id(trace: u8, n: u8) -> Vec<u8> {
    vec![trace, n, 0, 0, 0, 0, 0, 1]
}

struct SpanSpec {
    n: u8,
    parent: Option<u8>,
    name: &'static str,
    kind: i32,
    start_ms: u64,
    duration_ms: u64,
    attributes: Vec<KeyValue>,
    status: Option<i32>,
    events: Vec<Event>,
    links: Vec<Link>,
}

fn span(
    n: u8,
    parent: Option<u8>,
    name: &'static str,
    kind: i32,
    start_ms: u64,
    duration_ms: u64,
) -> SpanSpec {
    SpanSpec {
        n,
        parent,
        name,
        kind,
        start_ms,
        duration_ms,
        attributes: Vec::new(),
        status: None,
        events: Vec::new(),
        links: Vec::new(),
    }
}

fn resource_spans(
    trace: u8,
    service: &str,
    resource_extra: Vec<KeyValue>,
    spans: Vec<SpanSpec>,
) -> ResourceSpans {
    let mut attributes = vec![kv("service.name", s(service))];
    attributes.extend(resource_extra);
    ResourceSpans {
        resource: Some(Resource {
            attributes,
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: format!("{service}-lib"),
                version: "1.2.3".into(),
                ..InstrumentationScope::default()
            }),
            spans: spans
                .into_iter()
                .map(|sp| Span {
                    trace_id: trace_id(trace).to_vec(),
                    span_id: span_id(trace, sp.n),
                    parent_span_id: sp.parent.map(|p| span_id(trace, p)).unwrap_or_default(),
                    name: sp.name.into(),
                    kind: sp.kind,
                    start_time_unix_nano: T0 + sp.start_ms * MS,
                    end_time_unix_nano: T0 + (sp.start_ms + sp.duration_ms) * MS,
                    attributes: sp.attributes,
                    status: sp.status.map(|code| Status {
                        code,
                        message: if code == 2 {
                            "boom".into()
                        } else {
                            String::new()
                        },
                    }),
                    events: sp.events,
                    links: sp.links,
                    ..Span::default()
                })
                .collect(),
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }
}

/// Three traces: a shop checkout (frontend → db + checkout with an error), a billing trace
/// (slow, float and bool attributes, a link), and a trace whose root is missing.
fn dataset() -> Vec<([u8; 16], Vec<ResourceSpans>)> {
    let mut root = span(1, None, "GET /cart", 2, 0, 120);
    root.attributes = vec![
        kv("http.status_code", Value::IntValue(200)),
        kv("http.method", s("GET")),
    ];
    let mut db = span(2, Some(1), "db.query", 3, 10, 50);
    db.attributes = vec![kv("db.system", s("postgres"))];
    let mut checkout = span(3, Some(1), "checkout", 2, 70, 40);
    checkout.attributes = vec![kv("http.status_code", Value::IntValue(500))];
    checkout.status = Some(2);
    checkout.events = vec![Event {
        time_unix_nano: T0 + 80 * MS,
        name: "exception".into(),
        attributes: vec![kv("exception.type", s("Boom"))],
        ..Event::default()
    }];
    let mut deep = span(4, Some(3), "charge-call", 3, 75, 20);
    deep.attributes = vec![kv("peer.service", s("billing"))];
    let shop = vec![
        resource_spans(
            1,
            "frontend",
            vec![kv("k8s.namespace.name", s("shop"))],
            vec![root, db],
        ),
        resource_spans(
            1,
            "checkout",
            vec![kv("k8s.namespace.name", s("shop"))],
            vec![checkout, deep],
        ),
    ];

    let mut charge = span(1, None, "charge", 2, 0, 2_000);
    charge.attributes = vec![
        kv("amount", Value::DoubleValue(12.5)),
        kv("retry", Value::BoolValue(true)),
        kv(
            "tags",
            array(vec![s("blue"), s("green"), Value::IntValue(7)]),
        ),
    ];
    charge.status = Some(1);
    let mut card = span(2, Some(1), "charge-card", 3, 100, 1_500);
    card.links = vec![Link {
        trace_id: trace_id(1).to_vec(),
        span_id: span_id(1, 3),
        attributes: vec![kv("link.kind", s("caused-by"))],
        ..Link::default()
    }];
    card.attributes = vec![
        kv("amount", Value::IntValue(12)),
        kv("tags", array(vec![s("red")])),
    ];
    let billing = vec![resource_spans(2, "billing", vec![], vec![charge, card])];

    let orphan = span(5, Some(9), "late-child", 1, 5, 1);
    let orphaned = vec![resource_spans(3, "frontend", vec![], vec![orphan])];

    vec![
        (trace_id(1), shop),
        (trace_id(2), billing),
        (trace_id(3), orphaned),
    ]
}

fn head_batches() -> Vec<SpanBatch> {
    let mut enc = BlockEncoder::in_memory("t", 3);
    for (id, rs) in dataset() {
        enc.push_trace(&id, &rs).expect("push");
    }
    enc.finish_batches()
        .expect("batches")
        .into_iter()
        .map(|b| SpanBatch::new(b).expect("batch"))
        .collect()
}

fn block_batches(plan: &SearchPlan) -> Vec<SpanBatch> {
    let mut enc = BlockEncoder::new("t", 3, BlockEncoderOptions::default()).expect("encoder");
    for (id, rs) in dataset() {
        enc.push_trace(&id, &rs).expect("push");
    }
    let block = enc.finish().expect("finish");
    let builder = ParquetRecordBatchReaderBuilder::try_new(block.data).expect("reader");
    let mask = ProjectionMask::roots(builder.parquet_schema(), plan.columns().iter().copied());
    let reader = builder.with_projection(mask).build().expect("build");
    let batches: Vec<_> = reader.map(|b| b.expect("batch")).collect();
    let schema = batches[0].schema();
    let one = concat_batches(&schema, &batches).expect("concat");
    vec![SpanBatch::new(one).expect("batch")]
}

const OPTIONS: ScanOptions = ScanOptions {
    spans_per_spanset: 3,
    range_unix_nano: None,
};

fn run(batches: &[SpanBatch], plan: &SearchPlan) -> Vec<TraceHit> {
    batches
        .iter()
        .flat_map(|b| search_batch(plan, b, &OPTIONS).expect("search").hits)
        .collect()
}

/// Runs `q` on head and block batches, checks they agree, returns the hits.
fn search(q: &str) -> Vec<TraceHit> {
    let query = tracecore_traceql::parse_and_validate(q).expect("query parses");
    let plan = SearchPlan::new(&query).expect("plan");
    let head = run(&head_batches(), &plan);
    let block = run(&block_batches(&plan), &plan);
    assert_eq!(head, block, "head and block disagree for {q}");
    head
}

/// (trace number, span numbers per span set) of each hit.
type Summary = Vec<(u8, Vec<Vec<u8>>)>;

fn summary(q: &str) -> Summary {
    search(q)
        .iter()
        .map(|h| {
            (
                h.trace_id[15],
                h.spansets
                    .iter()
                    .map(|s| s.spans.iter().map(|sp| sp.span_id[1]).collect())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn intrinsic_and_attribute_filters() {
    let cases: &[(&str, Summary)] = &[
        (
            "{ resource.service.name = \"frontend\" }",
            vec![(1, vec![vec![1, 2]]), (3, vec![vec![5]])],
        ),
        ("{ span.http.status_code >= 500 }", vec![(1, vec![vec![3]])]),
        ("{ status = error }", vec![(1, vec![vec![3]])]),
        ("{ duration > 1s }", vec![(2, vec![vec![1, 2]])]),
        ("{ .db.system = \"postgres\" }", vec![(1, vec![vec![2]])]),
        (
            "{ .k8s.namespace.name = \"shop\" && kind = client }",
            vec![(1, vec![vec![2, 4]])],
        ),
        ("{ name =~ \"GET.*\" }", vec![(1, vec![vec![1]])]),
        ("{ name =~ \"GET\" }", vec![]),
        (
            "{ name !~ \"charge.*\" && resource.service.name = \"billing\" }",
            vec![],
        ),
        ("{ span.amount > 12.2 }", vec![(2, vec![vec![1]])]),
        ("{ span.amount >= 12 }", vec![(2, vec![vec![1, 2]])]),
        ("{ span.retry = true }", vec![(2, vec![vec![1]])]),
        // Arrays: any element satisfies; `!=` / `!~` when no element equals / matches.
        ("{ span.tags = \"green\" }", vec![(2, vec![vec![1]])]),
        ("{ span.tags = 7 }", vec![(2, vec![vec![1]])]),
        ("{ span.tags > 5 }", vec![(2, vec![vec![1]])]),
        ("{ span.tags != \"red\" }", vec![(2, vec![vec![1]])]),
        ("{ span.tags =~ \"r.*\" }", vec![(2, vec![vec![2]])]),
        ("{ span.tags !~ \"gr.*\" }", vec![(2, vec![vec![2]])]),
        ("{ .tags = \"red\" }", vec![(2, vec![vec![2]])]),
        ("{ span.tags != nil }", vec![(2, vec![vec![1, 2]])]),
        ("{ span.http.status_code = \"200\" }", vec![]),
        ("{ .missing != \"x\" }", vec![]),
        (
            "{ .missing = nil && trace:rootService = \"billing\" }",
            vec![(2, vec![vec![1, 2]])],
        ),
        ("{ span.db.system != nil }", vec![(1, vec![vec![2]])]),
        ("{ event:name = \"exception\" }", vec![(1, vec![vec![3]])]),
        (
            "{ event.exception.type = \"Boom\" }",
            vec![(1, vec![vec![3]])],
        ),
        (
            "{ link.link.kind = \"caused-by\" }",
            vec![(2, vec![vec![2]])],
        ),
        (
            "{ instrumentation:name = \"checkout-lib\" }",
            vec![(1, vec![vec![3, 4]])],
        ),
        (
            "{ span:id = \"0102000000000001\" }",
            vec![(1, vec![vec![2]])],
        ),
        ("{ trace:duration > 1s }", vec![(2, vec![vec![1, 2]])]),
        (
            "{ rootName = \"GET /cart\" && duration < 30ms }",
            vec![(1, vec![vec![4]])],
        ),
        (
            "{ kind = server && statusMessage = \"boom\" }",
            vec![(1, vec![vec![3]])],
        ),
        (
            "{ duration * 2 > 200ms }",
            vec![(1, vec![vec![1]]), (2, vec![vec![1, 2]])],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(&summary(q), want, "{q}");
    }
}

#[test]
fn spanset_operators_and_structure() {
    let cases: &[(&str, Summary)] = &[
        (
            "{ resource.service.name = \"frontend\" } && { resource.service.name = \"checkout\" }",
            vec![(1, vec![vec![1, 2, 3]])],
        ),
        (
            "{ status = error } || { span.retry = true }",
            vec![(1, vec![vec![3]]), (2, vec![vec![1]])],
        ),
        (
            "{ kind = server } > { kind = client }",
            vec![(1, vec![vec![2, 4]]), (2, vec![vec![2]])],
        ),
        (
            "{ name = \"GET /cart\" } >> { kind = client }",
            vec![(1, vec![vec![2, 4]])],
        ),
        (
            "{ name = \"GET /cart\" } > { kind = client }",
            vec![(1, vec![vec![2]])],
        ),
        (
            "{ kind = client } < { }",
            vec![(1, vec![vec![1, 3]]), (2, vec![vec![1]])],
        ),
        (
            "{ name = \"charge-call\" } << { }",
            vec![(1, vec![vec![1, 3]])],
        ),
        ("{ name = \"db.query\" } ~ { }", vec![(1, vec![vec![3]])]),
        (
            "{ name = \"GET /cart\" } !> { kind = client }",
            vec![(1, vec![vec![4]]), (2, vec![vec![2]])],
        ),
        (
            "{ name = \"GET /cart\" } &> { name = \"db.query\" }",
            vec![(1, vec![vec![1, 2]])],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(&summary(q), want, "{q}");
    }
}

#[test]
fn pipelines_aggregates_and_grouping() {
    assert_eq!(summary("{ } | count() > 2"), vec![(1, vec![vec![1, 2, 3]])]);
    assert_eq!(
        summary("{ } | avg(duration) > 1s"),
        vec![(2, vec![vec![1, 2]])]
    );
    assert_eq!(
        summary("{ resource.service.name = \"frontend\" } | { kind = client }"),
        vec![(1, vec![vec![2]])]
    );
    let grouped = search("{ trace:rootService = \"frontend\" } | by(resource.service.name)");
    assert_eq!(grouped.len(), 1);
    let labels: Vec<_> = grouped[0]
        .spansets
        .iter()
        .map(|s| s.attributes.clone())
        .collect();
    assert_eq!(
        labels,
        vec![
            vec![(
                "by(resource.service.name)".to_owned(),
                Some(RowValue::Str("frontend".into()))
            )],
            vec![(
                "by(resource.service.name)".to_owned(),
                Some(RowValue::Str("checkout".into()))
            )],
        ]
    );
    let coalesced =
        summary("{ trace:rootService = \"frontend\" } | by(resource.service.name) | coalesce()");
    assert_eq!(coalesced, vec![(1, vec![vec![1, 2, 3]])]);
    let counted = search("{ } | count() > 1");
    let attrs = &counted[0].spansets[0].attributes;
    assert_eq!(attrs, &vec![("count()".to_owned(), Some(RowValue::Int(4)))]);
    assert_eq!(counted[0].spansets[0].matched, 4);
    assert_eq!(counted[0].spansets[0].spans.len(), 3, "truncated to spss");
    let err = SearchPlan::new(
        &tracecore_traceql::parse_and_validate("{ } | by(name) | { } > { }").expect("parses"),
    )
    .and_then(|plan| {
        for b in head_batches() {
            search_batch(&plan, &b, &OPTIONS)?;
        }
        Ok(())
    });
    assert!(
        err.is_ok(),
        "a single spanset per stage input is fine: {err:?}"
    );
}

#[test]
fn results_carry_trace_metadata_and_fetched_attributes() {
    let hits = search("{ span.http.status_code >= 500 } | select(span.db.system, name)");
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.root_service_name, "frontend");
    assert_eq!(h.root_span_name, "GET /cart");
    assert_eq!(h.start_unix_nano, T0);
    assert_eq!(h.duration_nanos, 120 * MS);
    assert_eq!(
        h.service_stats["frontend"],
        ServiceStats {
            span_count: 2,
            error_count: 0
        }
    );
    assert_eq!(
        h.service_stats["checkout"],
        ServiceStats {
            span_count: 2,
            error_count: 1
        }
    );
    let span = &h.spansets[0].spans[0];
    assert_eq!(span.name.as_deref(), Some("checkout"));
    assert_eq!(span.start_unix_nano, T0 + 70 * MS);
    assert_eq!(span.duration_nanos, 40 * MS);
    assert_eq!(
        span.attributes,
        vec![("http.status_code".to_owned(), RowValue::Int(500))]
    );

    let orphan = search("{ name = \"late-child\" }");
    assert_eq!(orphan[0].root_service_name, "", "root span not in the data");
}

#[test]
fn time_range_limits_traces() {
    let query = tracecore_traceql::parse_and_validate("{ }").expect("parses");
    let plan = SearchPlan::new(&query).expect("plan");
    let options = ScanOptions {
        spans_per_spanset: 3,
        range_unix_nano: Some((T0 + 500 * MS, T0 + 600 * MS)),
    };
    let hits: Vec<u8> = head_batches()
        .iter()
        .flat_map(|b| search_batch(&plan, b, &options).expect("search").hits)
        .map(|h| h.trace_id[15])
        .collect();
    assert_eq!(hits, vec![2]);
}

#[test]
fn hostile_regex_and_metrics_queries_are_refused() {
    let metrics = tracecore_traceql::parse_and_validate("{ } | rate()").expect("parses");
    assert!(
        SearchPlan::new(&metrics)
            .expect_err("metrics")
            .is_client_error()
    );
    let huge = format!("{{ name =~ \"{}\" }}", "(a{1000}){1000}");
    if let Ok(q) = tracecore_traceql::parse_and_validate(&huge) {
        assert!(
            SearchPlan::new(&q)
                .expect_err("regex too big")
                .is_client_error()
        );
    }
}
