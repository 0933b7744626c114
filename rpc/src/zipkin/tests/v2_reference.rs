//! The Zipkin v2 → OTLP mapping written the straightforward way — every special tag looked up
//! in a `pcommon.Map`-like [`AttributeMap`] — as the reference the one-pass converter
//! (`v2_tags` + `v2_to_otlp`) must agree with on random spans: random mixes of special tags,
//! repeated keys, resource conventions, links, endpoints that collide with tags, and grouping
//! by service and library.

use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::{
    ExportTraceServiceRequest, InstrumentationScope, Link, Resource, ResourceSpans, ScopeSpans,
    Span, SpanKind, Status, StatusCode, any_value::Value,
};

use crate::jaeger::attributes::{AttributeMap, str_or_empty};
use crate::jaeger::conventions::{
    ATTR_SERVICE_NAME, NO_SERVICE_NAME, TAG_ERROR, TAG_OTEL_STATUS_CODE,
    TAG_OTEL_STATUS_DESCRIPTION, TAG_SPAN_KIND, TAG_W3C_TRACESTATE, micros_to_nanos, span_id,
    trace_id,
};
use crate::zipkin::model::{V2Annotation, V2Endpoint, V2Kind, V2Span};
use crate::zipkin::v2_tags::{
    MAX_LINK_TAGS, TAG_LIBRARY_NAME, TAG_LIBRARY_VERSION, TAG_SERVICE_NAME_SOURCE,
};
use crate::zipkin::v2_to_otlp::{
    RESOURCE_TAG_KEYS, annotation_to_event, parse_link, v2_spans_to_protobuf,
};

fn is_non_span_tag(key: &str) -> bool {
    RESOURCE_TAG_KEYS.contains(&key)
        || key == TAG_SERVICE_NAME_SOURCE
        || key == TAG_LIBRARY_NAME
        || key == TAG_LIBRARY_VERSION
}

fn service_of<'s>(span: &'s V2Span<'_>) -> &'s str {
    span.local_endpoint
        .as_ref()
        .map(|e| e.service_name.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(NO_SERVICE_NAME)
}

fn reference(spans: Vec<V2Span<'_>>) -> ExportTraceServiceRequest {
    let mut items: Vec<(V2Span, AttributeMap)> = spans
        .into_iter()
        .map(|mut span| {
            let mut tags = AttributeMap::default();
            for (k, v) in std::mem::take(&mut span.tags) {
                tags.put(k.into_owned(), Value::StringValue(v.into_owned()));
            }
            (span, tags)
        })
        .collect();
    let library = |tags: &AttributeMap| -> String {
        tags.get(TAG_LIBRARY_NAME)
            .map(str_or_empty)
            .unwrap_or("")
            .to_owned()
    };
    // A stable sort by (service, library), as the Collector groups.
    items.sort_by_key(|(span, tags)| (service_of(span).to_owned(), library(tags)));
    let mut request = ExportTraceServiceRequest::default();
    let mut current: Option<(String, String)> = None;
    for (span, mut tags) in items {
        let service = service_of(&span).to_owned();
        let lib = library(&tags);
        let new_resource = current.as_ref().is_none_or(|(s, _)| *s != service);
        let new_scope = new_resource || current.as_ref().is_none_or(|(_, l)| *l != lib);
        if new_resource {
            let mut attributes = AttributeMap::default();
            if service != NO_SERVICE_NAME {
                let source = tags
                    .remove(TAG_SERVICE_NAME_SOURCE)
                    .map(|v| str_or_empty(&v).to_owned())
                    .unwrap_or_default();
                let key = if source.is_empty() {
                    ATTR_SERVICE_NAME
                } else {
                    &source
                };
                attributes.put_str(key, service.as_str());
                for key in RESOURCE_TAG_KEYS {
                    if let Some(value) = tags.remove(key) {
                        attributes.put((*key).to_owned(), value);
                    }
                }
            }
            request.resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes: attributes.into_vec(),
                    dropped_attributes_count: 0,
                }),
                ..ResourceSpans::default()
            });
        }
        let resource_spans = request.resource_spans.last_mut().expect("pushed above");
        if new_scope {
            let scope = (!lib.is_empty()).then(|| {
                let mut take = |key| {
                    tags.remove(key)
                        .map(|v| str_or_empty(&v).to_owned())
                        .unwrap_or_default()
                };
                InstrumentationScope {
                    name: take(TAG_LIBRARY_NAME),
                    version: take(TAG_LIBRARY_VERSION),
                    ..InstrumentationScope::default()
                }
            });
            resource_spans.scope_spans.push(ScopeSpans {
                scope,
                ..ScopeSpans::default()
            });
        }
        current = Some((service, lib));
        let scope_spans = resource_spans.scope_spans.last_mut().expect("pushed above");
        scope_spans.spans.push(span_to_otlp(span, tags));
    }
    request
}

fn span_to_otlp(span: V2Span<'_>, mut tags: AttributeMap) -> Span {
    let mut out = Span {
        trace_id: trace_id(span.trace_id.0, span.trace_id.1),
        span_id: span_id(span.id),
        name: span.name,
        ..Span::default()
    };
    if let Some(state) = tags.remove(TAG_W3C_TRACESTATE) {
        out.trace_state = str_or_empty(&state).to_owned();
    }
    if let Some(parent) = span.parent_id.filter(|&p| p != span.id && p != 0) {
        out.parent_span_id = span_id(parent);
    }
    out.kind = match span.kind {
        V2Kind::Client => SpanKind::Client,
        V2Kind::Server => SpanKind::Server,
        V2Kind::Producer => SpanKind::Producer,
        V2Kind::Consumer => SpanKind::Consumer,
        V2Kind::Unspecified => match tags.remove(TAG_SPAN_KIND) {
            Some(Value::StringValue(k)) if k == "internal" => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    } as i32;
    if let Some(code) = tags.remove(TAG_OTEL_STATUS_CODE) {
        let code = match str_or_empty(&code) {
            "STATUS_CODE_OK" | "Ok" => StatusCode::Ok,
            "STATUS_CODE_ERROR" | "Error" => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        let message = tags
            .remove(TAG_OTEL_STATUS_DESCRIPTION)
            .map(|v| str_or_empty(&v).to_owned())
            .unwrap_or_default();
        out.status = Some(Status {
            message,
            code: code as i32,
        });
    }
    if let Some(value) = tags.get(TAG_ERROR) {
        if str_or_empty(value) == "true" {
            tags.remove(TAG_ERROR);
        }
        out.status.get_or_insert_with(Status::default).code = StatusCode::Error as i32;
    }
    out.links = links(&mut tags);

    let mut attributes = AttributeMap::default();
    for kv in tags.into_vec() {
        if !is_non_span_tag(&kv.key)
            && let Some(value) = kv.value.and_then(|v| v.value)
        {
            attributes.put(kv.key, value);
        }
    }
    if let Some(local) = &span.local_endpoint {
        for ip in [&local.ipv4, &local.ipv6].into_iter().flatten() {
            attributes.put_str("net.host.ip", ip.as_str());
        }
        if local.port > 0 {
            attributes.put("net.host.port".to_owned(), Value::IntValue(local.port));
        }
    }
    if let Some(remote) = &span.remote_endpoint {
        if !remote.service_name.is_empty() {
            attributes.put_str("peer.service", remote.service_name.as_str());
        }
        for ip in [&remote.ipv4, &remote.ipv6].into_iter().flatten() {
            attributes.put_str("net.peer.ip", ip.as_str());
        }
        if remote.port > 0 {
            attributes.put("net.peer.port".to_owned(), Value::IntValue(remote.port));
        }
    }
    out.attributes = attributes.into_vec();
    out.start_time_unix_nano = micros_to_nanos(span.timestamp);
    out.end_time_unix_nano = out
        .start_time_unix_nano
        .saturating_add(micros_to_nanos(span.duration));
    out.events = span
        .annotations
        .into_iter()
        .map(annotation_to_event)
        .collect();
    out
}

fn links(tags: &mut AttributeMap) -> Vec<Link> {
    let mut links = Vec::new();
    for i in 0..MAX_LINK_TAGS {
        let key = format!("otlp.link.{i}");
        let Some(value) = tags.get(&key).map(|v| str_or_empty(v).to_owned()) else {
            break;
        };
        let parts: Vec<&str> = value.split('|').collect();
        if parts.len() < 5 {
            tags.remove(&key);
            continue;
        }
        if let Some(link) = parse_link(&parts) {
            tags.remove(&key);
            links.push(link);
        }
    }
    links
}

// ---- random spans ----

const PLAIN_KEYS: [&str; 8] = [
    "http.method",
    "http.url",
    "db.statement",
    "component",
    "otlp.link.01",
    "otlp.link.x",
    "otlp.link.+1",
    "otlp.link.128",
];

fn random_key(rng: &mut StdRng) -> String {
    match rng.random_range(0..20) {
        0..=5 => PLAIN_KEYS[rng.random_range(0..PLAIN_KEYS.len())].to_owned(),
        6 => RESOURCE_TAG_KEYS[rng.random_range(0..RESOURCE_TAG_KEYS.len())].to_owned(),
        7 => TAG_SERVICE_NAME_SOURCE.to_owned(),
        8 => TAG_LIBRARY_NAME.to_owned(),
        9 => TAG_LIBRARY_VERSION.to_owned(),
        10 => TAG_W3C_TRACESTATE.to_owned(),
        11 => TAG_SPAN_KIND.to_owned(),
        12 => TAG_OTEL_STATUS_CODE.to_owned(),
        13 => TAG_OTEL_STATUS_DESCRIPTION.to_owned(),
        14 => TAG_ERROR.to_owned(),
        15 | 16 => format!("otlp.link.{}", rng.random_range(0..4)),
        17 => [
            "net.host.ip",
            "net.host.port",
            "peer.service",
            "net.peer.ip",
            "net.peer.port",
        ][rng.random_range(0..5)]
        .to_owned(),
        _ => format!("k{}", rng.random_range(0..8)),
    }
}

fn random_value(rng: &mut StdRng, key: &str) -> String {
    let choices: &[&str] = match key {
        TAG_SPAN_KIND => &["internal", "server", ""],
        TAG_OTEL_STATUS_CODE => &["STATUS_CODE_OK", "Error", "OK", "ERROR", ""],
        TAG_ERROR => &["true", "false", "boom"],
        TAG_LIBRARY_NAME => &["lib-a", "lib-b", ""],
        TAG_SERVICE_NAME_SOURCE => &["app.name", ""],
        k if k.starts_with("otlp.link.") => &[
            "0102030405060708090a0b0c0d0e0f10|1112131415161718|s=1|{\"a\":1}|0",
            "zz|1112131415161718|s=1|{}|0",
            "short|form",
            "0102030405060708090a0b0c0d0e0f10|1112131415161718||{}|2",
        ],
        _ => &["a", "b", "", "value with | pipe"],
    };
    choices[rng.random_range(0..choices.len())].to_owned()
}

fn random_endpoint(rng: &mut StdRng) -> Option<V2Endpoint> {
    rng.random_bool(0.7).then(|| V2Endpoint {
        service_name: ["", "frontend", "backend"][rng.random_range(0..3)].to_owned(),
        ipv4: rng.random_bool(0.5).then(|| "10.0.0.1".to_owned()),
        ipv6: rng.random_bool(0.3).then(|| "2001:db8::1".to_owned()),
        port: [0, -1, 8080][rng.random_range(0..3)],
    })
}

fn random_span(rng: &mut StdRng, i: u64) -> V2Span<'static> {
    let tags = (0..rng.random_range(0..24))
        .map(|_| {
            let key = random_key(rng);
            let value = random_value(rng, &key);
            (key.into(), value.into())
        })
        .collect();
    V2Span {
        trace_id: (0, 1 + rng.random_range(0..3)),
        id: i + 1,
        parent_id: rng.random_bool(0.5).then(|| rng.random_range(0..4)),
        kind: [
            V2Kind::Unspecified,
            V2Kind::Client,
            V2Kind::Server,
            V2Kind::Producer,
            V2Kind::Consumer,
        ][rng.random_range(0..5)],
        name: format!("span {i}"),
        timestamp: rng.random_range(-5..1_700_000_000_000_000),
        duration: rng.random_range(-5..10_000),
        local_endpoint: random_endpoint(rng),
        remote_endpoint: random_endpoint(rng),
        annotations: (0..rng.random_range(0..3))
            .map(|j| V2Annotation {
                timestamp: j,
                value: ["wr", "ev|{\"x\":1}|0", "a|b"][rng.random_range(0..3)].to_owned(),
            })
            .collect(),
        tags,
    }
}

#[test]
fn one_pass_converter_agrees_with_the_reference_mapping() {
    let mut rng = StdRng::seed_from_u64(0x21f1);
    let mut tags_seen = 0;
    for round in 0..3_000 {
        let spans: Vec<V2Span> = (0..rng.random_range(1..8))
            .map(|i| random_span(&mut rng, i))
            .collect();
        tags_seen += spans.iter().map(|s| s.tags.len()).sum::<usize>();
        let expected = reference(spans.clone());
        let actual =
            ExportTraceServiceRequest::decode(v2_spans_to_protobuf(spans.clone()).as_slice())
                .expect("the converter's protobuf decodes");
        assert_eq!(
            actual, expected,
            "round {round}: the converters disagree on {spans:#?}"
        );
    }
    assert!(tags_seen > 50_000, "too few tags exercised: {tags_seen}");
}
