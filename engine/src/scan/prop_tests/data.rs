//! Random traces for the scan property tests: a few traces of a few spans each, drawn from
//! small pools so that queries match often. Covers several resources per trace (with and
//! without `service.name`, and a non-string one), every span kind, spans with and without a
//! status, attributes whose type differs from span to span under the same key, keys without
//! a value and with array values (present but not comparable), parent/child trees with extra
//! roots and orphans, and events.

use rand::Rng;
use rand::rngs::StdRng;
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, InstrumentationScope, KeyValue, Resource, ResourceSpans,
    ScopeSpans, Span, Status, any_value::Value,
};

pub(super) const T0: u64 = 1_714_557_603_000_000_000;
const MS: u64 = 1_000_000;

pub(super) const NAMES: &[&str] = &[
    "GET /cart",
    "POST /cart/checkout",
    "db.query",
    "charge",
    "cart-lock",
    "",
    "line\nbreak",
];
pub(super) const SERVICES: &[&str] = &["frontend", "cart", "checkout", "billing", ""];
pub(super) const STRINGS: &[&str] = &[
    "200",
    "500",
    "/cart",
    "/api/cart",
    "postgres",
    "eu",
    "",
    "true",
    "frontend",
];
pub(super) const INTS: &[i64] = &[0, 200, 404, 500, -1, 12, 1_000_000_000];
pub(super) const FLOATS: &[f64] = &[12.0, 12.5, -0.5, 500.0, 1e9, 0.0];
/// Attribute keys shared by spans and resources (so scopes and unscoped lookups differ).
pub(super) const KEYS: &[&str] = &[
    "http.status_code",
    "http.route",
    "http.url",
    "amount",
    "retry",
    "region",
    "service.name",
];
pub(super) const EVENT_NAMES: &[&str] = &["exception", "retry", ""];
const STATUS_MESSAGES: &[&str] = &["", "boom", "timeout"];
const DURATIONS_NS: &[u64] = &[
    0,
    1,
    1_000,
    999_999,
    MS,
    5 * MS,
    50 * MS,
    100 * MS,
    150 * MS,
    200 * MS,
    1_000 * MS,
    2_500 * MS,
];

/// One generated trace: its ID and the OTLP the encoder receives.
pub(super) struct GenTrace {
    pub id: [u8; 16],
    pub resource_spans: Vec<ResourceSpans>,
}

fn pick<'a, T>(rng: &mut StdRng, pool: &'a [T]) -> &'a T {
    &pool[rng.random_range(0..pool.len())]
}

fn kv(key: &str, value: Option<Value>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.map(|v| AnyValue { value: Some(v) }),
    }
}

/// A value of a random type; now and then an array.
fn random_value(rng: &mut StdRng) -> Option<Value> {
    Some(match rng.random_range(0..20) {
        0..=5 => Value::StringValue((*pick(rng, STRINGS)).into()),
        6..=10 => Value::IntValue(*pick(rng, INTS)),
        11..=14 => Value::DoubleValue(*pick(rng, FLOATS)),
        15..=17 => Value::BoolValue(rng.random_bool(0.5)),
        18 => Value::ArrayValue(ArrayValue {
            // Elements of mixed types, now and then a nested array (compares with nothing).
            values: (0..rng.random_range(0..4))
                .map(|_| AnyValue {
                    value: match rng.random_range(0..6) {
                        0 => Some(Value::IntValue(*pick(rng, INTS))),
                        1 => Some(Value::DoubleValue(*pick(rng, FLOATS))),
                        2 => Some(Value::ArrayValue(ArrayValue::default())),
                        _ => Some(Value::StringValue((*pick(rng, STRINGS)).into())),
                    },
                })
                .collect(),
        }),
        _ => return None,
    })
}

/// Up to `max` attributes with distinct keys.
fn random_attributes(rng: &mut StdRng, max: usize) -> Vec<KeyValue> {
    let n = rng.random_range(0..=max);
    let mut out: Vec<KeyValue> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = *pick(rng, KEYS);
        if out.iter().all(|kv| kv.key != key) {
            out.push(kv(key, random_value(rng)));
        }
    }
    out
}

fn random_resource(rng: &mut StdRng) -> Resource {
    let mut attributes = match rng.random_range(0..10) {
        0 => Vec::new(),
        1 => vec![kv("service.name", Some(Value::IntValue(7)))],
        _ => vec![kv(
            "service.name",
            Some(Value::StringValue((*pick(rng, SERVICES)).into())),
        )],
    };
    for extra in random_attributes(rng, 2) {
        if attributes.iter().all(|kv| kv.key != extra.key) {
            attributes.push(extra);
        }
    }
    Resource {
        attributes,
        ..Resource::default()
    }
}

fn random_span(rng: &mut StdRng, trace_id: &[u8; 16], span_id: [u8; 8], parent: Vec<u8>) -> Span {
    let start = T0 + rng.random_range(0..50) * MS;
    let duration = if rng.random_bool(0.2) {
        rng.random_range(0..3_000 * MS)
    } else {
        *pick(rng, DURATIONS_NS)
    };
    let status = match rng.random_range(0..5) {
        0 | 1 => None,
        code => Some(Status {
            code: code - 2,
            message: (*pick(rng, STATUS_MESSAGES)).into(),
        }),
    };
    let events = (0..rng.random_range(0..=2))
        .map(|i| Event {
            time_unix_nano: start + i * MS,
            name: (*pick(rng, EVENT_NAMES)).into(),
            attributes: vec![kv("ev.kind", Some(Value::StringValue("x".into())))],
            ..Event::default()
        })
        .collect();
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent,
        name: (*pick(rng, NAMES)).into(),
        kind: rng.random_range(0..=5),
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: random_attributes(rng, 4),
        status,
        events,
        ..Span::default()
    }
}

/// Gives every span attribute with a dedicated key (`block::dedicated`) its column's type, so
/// the block's list holds none of them and searches skip the list.
pub(super) fn type_dedicated_keys(traces: &mut [GenTrace]) {
    use crate::block::dedicated::{DEDICATED, DedicatedKind, slot};
    let spans = traces
        .iter_mut()
        .flat_map(|t| &mut t.resource_spans)
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans);
    for span in spans {
        for kv in &mut span.attributes {
            let Some(s) = slot(kv.key.as_bytes()) else {
                continue;
            };
            let current = kv.value.as_ref().and_then(|v| v.value.clone());
            let typed = match (DEDICATED[s].kind, current) {
                (DedicatedKind::Int, Some(Value::IntValue(i))) => Value::IntValue(i),
                (DedicatedKind::Int, _) => Value::IntValue(500),
                (_, Some(Value::StringValue(v))) => Value::StringValue(v),
                (_, Some(Value::IntValue(i))) => Value::StringValue(i.to_string()),
                (_, _) => Value::StringValue("/cart".into()),
            };
            kv.value = Some(AnyValue { value: Some(typed) });
        }
    }
}

/// Gives every resource a non-empty string `service.name` first, so the block's
/// `service_name` column is exact (`block::layout`) and prefilters leave `resource` out.
pub(super) fn name_every_service(traces: &mut [GenTrace], rng: &mut StdRng) {
    let resources = traces
        .iter_mut()
        .flat_map(|t| &mut t.resource_spans)
        .filter_map(|rs| rs.resource.as_mut());
    for resource in resources {
        resource.attributes.retain(|kv| kv.key != "service.name");
        let name = Value::StringValue((*pick(rng, SERVICES)).into());
        resource
            .attributes
            .insert(0, kv("service.name", Some(name)));
    }
}

/// `count` traces sorted by ID (the encoder's order).
pub(super) fn random_traces(rng: &mut StdRng, count: usize) -> Vec<GenTrace> {
    let mut traces: Vec<GenTrace> = (0..count).map(|t| random_trace(rng, t)).collect();
    traces.sort_by_key(|t| t.id);
    traces
}

fn random_trace(rng: &mut StdRng, index: usize) -> GenTrace {
    let mut id = [0u8; 16];
    rng.fill(&mut id[..]);
    id[15] = index as u8; // distinct IDs
    let n_spans = rng.random_range(1..=10);
    let span_ids: Vec<[u8; 8]> = (0..n_spans)
        .map(|i| {
            let mut sid = [0u8; 8];
            rng.fill(&mut sid[..]);
            sid[0] = index as u8;
            sid[1] = i as u8; // distinct within the trace, never all-zero
            sid[7] |= 1;
            sid
        })
        .collect();
    let resources: Vec<Resource> = (0..rng.random_range(1..=3))
        .map(|_| random_resource(rng))
        .collect();
    let mut resource_spans: Vec<ResourceSpans> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| ResourceSpans {
            resource: Some(r.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: format!("lib-{i}"),
                    ..InstrumentationScope::default()
                }),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        })
        .collect();
    for (i, sid) in span_ids.iter().enumerate() {
        let parent = match (i, rng.random_range(0..20)) {
            (0, _) | (_, 0) => Vec::new(),
            (_, 1) => vec![0xee; 8], // an orphan: its parent is not in the trace
            _ => span_ids[rng.random_range(0..i)].to_vec(),
        };
        let span = random_span(rng, &id, *sid, parent);
        let r = rng.random_range(0..resource_spans.len());
        resource_spans[r].scope_spans[0].spans.push(span);
    }
    resource_spans.retain(|rs| !rs.scope_spans[0].spans.is_empty());
    GenTrace { id, resource_spans }
}
