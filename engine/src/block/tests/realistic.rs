//! Storage cost on traces shaped like real microservice traffic (not the adversarial mix of the
//! round-trip tests): a handful of services, HTTP/DB attributes, ms-scale timings, rare events.

use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, ScopeSpans,
    Span, Status, TracesData, any_value::Value,
};

use super::super::*;
use super::{BASE_TIME, normalize, read};

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::StringValue(v.into())
}

const SERVICES: [&str; 8] = [
    "frontend", "cart", "checkout", "payment", "shipping", "email", "currency", "ad",
];
const ROUTES: [&str; 6] = [
    "/api/cart",
    "/api/products/{id}",
    "/api/checkout",
    "/api/currency/convert",
    "/api/ads",
    "/health",
];
const STATEMENTS: [&str; 4] = [
    "SELECT * FROM carts WHERE user_id = ?",
    "UPDATE carts SET items = ? WHERE id = ?",
    "SELECT price FROM products WHERE id = ?",
    "INSERT INTO orders (id, user_id, total) VALUES (?, ?, ?)",
];

fn resource(service: usize, host: usize) -> ResourceSpans {
    let name = SERVICES[service];
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", s(name)),
                kv("service.version", s("1.4.2")),
                kv("service.namespace", s("shop")),
                kv("host.name", s(format!("{name}-7d9f8c-{host}"))),
                kv("k8s.pod.name", s(format!("{name}-7d9f8c6b4-x{host}z"))),
                kv("k8s.namespace.name", s("production")),
                kv("k8s.cluster.name", s("eu-west-1")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.language", s("go")),
                kv("telemetry.sdk.version", s("1.24.0")),
            ],
            dropped_attributes_count: 0,
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: format!("go.opentelemetry.io/contrib/{name}"),
                version: "0.49.0".into(),
                ..Default::default()
            }),
            spans: Vec::new(),
            schema_url: String::new(),
        }],
        schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
    }
}

fn span(rng: &mut StdRng, trace_id: &[u8; 16], parent: Option<&Span>, service: usize) -> Span {
    let (start, budget) = match parent {
        Some(p) => {
            let len = p.end_time_unix_nano - p.start_time_unix_nano;
            let offset = rng.random_range(0..=len / 2);
            (p.start_time_unix_nano + offset, (len - offset).max(1_000))
        }
        None => (
            BASE_TIME + rng.random_range(0..300_000_000_000u64),
            rng.random_range(5_000_000..400_000_000u64),
        ),
    };
    let duration = rng.random_range(budget / 4..=budget);
    let kind = if parent.is_none() {
        2
    } else {
        rng.random_range(1..=3)
    };
    let route = ROUTES[rng.random_range(0..ROUTES.len())];
    let (name, attributes) = match kind {
        2 => {
            let status = [200, 200, 200, 200, 200, 201, 404, 500][rng.random_range(0..8)];
            (
                format!("GET {route}"),
                vec![
                    kv("http.method", s(["GET", "POST"][rng.random_range(0..2)])),
                    kv("http.route", s(route)),
                    kv("http.status_code", Value::IntValue(status)),
                    kv(
                        "http.url",
                        s(format!(
                            "https://shop.example.com{}",
                            route.replace("{id}", &rng.random_range(0..5000).to_string())
                        )),
                    ),
                    kv(
                        "net.peer.ip",
                        s(format!(
                            "10.0.{}.{}",
                            rng.random_range(0..8),
                            rng.random_range(0..255)
                        )),
                    ),
                    kv(
                        "http.response_content_length",
                        Value::IntValue(rng.random_range(100..20_000)),
                    ),
                ],
            )
        }
        3 => (
            "db.query".to_owned(),
            vec![
                kv("db.system", s("postgresql")),
                kv(
                    "db.statement",
                    s(STATEMENTS[rng.random_range(0..STATEMENTS.len())]),
                ),
                kv("db.name", s(SERVICES[service])),
            ],
        ),
        _ => (
            format!("{}.process", SERVICES[service]),
            vec![kv("items", Value::IntValue(rng.random_range(0..20)))],
        ),
    };
    let error = rng.random_bool(0.03);
    Span {
        trace_id: trace_id.to_vec(),
        span_id: rng.random::<[u8; 8]>().to_vec(),
        parent_span_id: parent.map(|p| p.span_id.clone()).unwrap_or_default(),
        flags: 0x301,
        name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes,
        events: if error {
            vec![Event {
                time_unix_nano: start + duration / 2,
                name: "exception".into(),
                attributes: vec![
                    kv("exception.type", s("TimeoutError")),
                    kv("exception.message", s("context deadline exceeded")),
                ],
                dropped_attributes_count: 0,
            }]
        } else {
            Vec::new()
        },
        links: if rng.random_bool(0.01) {
            vec![Link {
                trace_id: rng.random::<[u8; 16]>().to_vec(),
                span_id: rng.random::<[u8; 8]>().to_vec(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        status: error.then(|| Status {
            message: "deadline exceeded".into(),
            code: 2,
        }),
        ..Default::default()
    }
}

/// A trace of 1–60 spans over 1–4 services; spans grouped per service resource (as SDKs send).
fn trace(rng: &mut StdRng, trace_id: &[u8; 16]) -> Vec<ResourceSpans> {
    let count = 1 + (rng.random::<f64>().powi(2) * 60.0) as usize;
    let services: Vec<usize> = (0..rng.random_range(1..=4))
        .map(|_| rng.random_range(0..SERVICES.len()))
        .collect();
    let mut spans: Vec<(usize, Span)> = Vec::with_capacity(count);
    for i in 0..count {
        let service = services[rng.random_range(0..services.len())];
        let parent = (i > 0).then(|| &spans[rng.random_range(0..i)].1);
        let new = span(rng, trace_id, parent, service);
        spans.push((service, new));
    }
    let mut out: Vec<(usize, ResourceSpans)> = Vec::new();
    for (service, span) in spans {
        let at = match out.iter().position(|(s, _)| *s == service) {
            Some(at) => at,
            None => {
                out.push((service, resource(service, rng.random_range(0..3))));
                out.len() - 1
            }
        };
        out[at].1.scope_spans[0].spans.push(span);
    }
    out.into_iter().map(|(_, rs)| rs).collect()
}

#[test]
fn bytes_per_span_on_realistic_traces() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut ids: Vec<[u8; 16]> = (0..5000).map(|_| rng.random()).collect();
    ids.sort();
    let input: Vec<([u8; 16], Vec<ResourceSpans>)> =
        ids.iter().map(|id| (*id, trace(&mut rng, id))).collect();
    let started = std::time::Instant::now();
    let block = super::encode(&input, BlockEncoderOptions::default());
    let encode_time = started.elapsed();
    let spans = block.meta.total_spans as f64;

    let otlp = TracesData {
        resource_spans: input.iter().flat_map(|(_, rs)| rs.clone()).collect(),
    }
    .encode_to_vec();
    let otlp_zstd = zstd::encode_all(otlp.as_slice(), 3).expect("zstd");
    let per_span = block.data.len() as f64 / spans;
    eprintln!(
        "realistic: {} traces, {spans} spans, {} row groups; data.parquet {:.1} B/span, \
         OTLP protobuf {:.1} B/span, zstd-3(OTLP) {:.1} B/span, bloom {} B",
        input.len(),
        block.meta.total_records,
        per_span,
        otlp.len() as f64 / spans,
        otlp_zstd.len() as f64 / spans,
        block.bloom.len(),
    );
    report_columns(&block);

    let mut worst = 0;
    let started = std::time::Instant::now();
    let mut lookups = 0;
    for (id, rs) in input.iter().step_by(101) {
        let read = read(&block, id).expect("found");
        assert_eq!(normalize(&read.resource_spans), normalize(rs));
        worst = worst.max(read.inspected_bytes);
        lookups += 1;
    }
    eprintln!(
        "realistic: encode {:.2} µs/span; {lookups} lookups (metadata load + read + compare) \
         {:.2} ms each; worst lookup inspected {worst} bytes",
        encode_time.as_secs_f64() * 1e6 / spans,
        started.elapsed().as_secs_f64() * 1e3 / lookups as f64
    );
    // The columnar layout must beat compressing the OTLP stream as a whole.
    assert!(
        (block.data.len() as f64) < otlp_zstd.len() as f64,
        "parquet {per_span:.1} B/span is not below zstd(OTLP)"
    );
}

/// Prints compressed bytes per span of every leaf column.
fn report_columns(block: &EncodedBlock) {
    let mut reader = BytesFileReader::new(block.data.clone());
    let metadata = futures::executor::block_on(load_block_metadata(&mut reader)).expect("metadata");
    let md = metadata.metadata();
    let spans = block.meta.total_spans as f64;
    let leaves = md.file_metadata().schema_descr().num_columns();
    for leaf in 0..leaves {
        let bytes: i64 = md
            .row_groups()
            .iter()
            .map(|rg| rg.column(leaf).compressed_size())
            .sum();
        eprintln!(
            "  {:40} {:7.2} B/span",
            md.file_metadata()
                .schema_descr()
                .column(leaf)
                .path()
                .string(),
            bytes as f64 / spans
        );
    }
}
