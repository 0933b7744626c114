//! Zipkin v2 spans → OTLP, as the Collector's `zipkinv2.ToTranslator` does it.
//!
//! * Spans are ordered (stably) by local service name, then by the `otel.library.name` tag; a
//!   new `ResourceSpans` starts when the service changes and a new `ScopeSpans` when the library
//!   changes. A span without a local service name gets a resource without attributes.
//! * Resource: `service.name` = `localEndpoint.serviceName` (or the key named by the
//!   `otlp.service.name.source` tag), plus the first span's tags whose keys are resource
//!   semantic conventions ([`RESOURCE_TAG_KEYS`]); those keys never become span attributes.
//! * Scope from `otel.library.name` / `otel.library.version`.
//! * Span: `kind` (or a `span.kind=internal` tag), `otel.status_code` (`STATUS_CODE_*`, `Ok`,
//!   `Error` names) with `otel.status_description`, any `error` tag → status `ERROR` (only
//!   `error=true` is removed from the attributes); `w3c.tracestate` → trace
//!   state; `otlp.link.N` tags → links; other tags → string attributes; endpoints →
//!   `net.host.ip`/`net.host.port`/`peer.service`/`net.peer.ip`/`net.peer.port`; annotations
//!   → events (`name|{json attributes}|dropped count` is unpacked); a parent equal to the span's
//!   own ID is dropped. `shared` and `debug` have no OTLP equivalent and are ignored.
//!
//! Leniency: where the Collector fails the whole request on a malformed OTel-encoded annotation
//! or link tag, this keeps the annotation text as the event name, or the tag as an attribute.

use std::borrow::Cow;

use serde_json::{Map, Value as Json};
use tracecore_proto::otlp::{
    Event, InstrumentationScope, Link, Resource, ResourceSpans, ScopeSpans, Span, SpanKind, Status,
    StatusCode, any_value::Value,
};

use super::model::{V2Annotation, V2Endpoint, V2Kind, V2Span};
use super::otlp_wire::{AttributeValue, ResourceOut, ScopeOut, encode_request, put_span};
use super::v2_tags::{ENDPOINT_KEYS, MAX_LINK_TAGS, SpanTags, TagRole};
use crate::jaeger::attributes::AttributeMap;
use crate::jaeger::conventions::{
    ATTR_SERVICE_NAME, NO_SERVICE_NAME, micros_to_nanos, span_id, trace_id,
};

/// Tags that belong to the resource, never to the span: the resource attribute names of
/// semantic conventions 1.6.1 plus the Collector's OpenCensus resource keys.
pub(crate) const RESOURCE_TAG_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.platform",
    "aws.ecs.container.arn",
    "aws.ecs.cluster.arn",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.eks.cluster.arn",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
    "container.name",
    "container.id",
    "container.runtime",
    "container.image.name",
    "container.image.tag",
    "deployment.environment",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "faas.name",
    "faas.id",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "host.id",
    "host.name",
    "host.type",
    "host.arch",
    "host.image.name",
    "host.image.id",
    "host.image.version",
    "k8s.cluster.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.namespace.name",
    "k8s.pod.uid",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.replicaset.uid",
    "k8s.replicaset.name",
    "k8s.deployment.uid",
    "k8s.deployment.name",
    "k8s.statefulset.uid",
    "k8s.statefulset.name",
    "k8s.daemonset.uid",
    "k8s.daemonset.name",
    "k8s.job.uid",
    "k8s.job.name",
    "k8s.cronjob.uid",
    "k8s.cronjob.name",
    "os.type",
    "os.description",
    "os.name",
    "os.version",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "process.command",
    "process.command_line",
    "process.command_args",
    "process.owner",
    "process.runtime.name",
    "process.runtime.version",
    "process.runtime.description",
    "service.name",
    "service.namespace",
    "service.instance.id",
    "service.version",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "webengine.name",
    "webengine.version",
    "webengine.description",
    "opencensus.starttime",
    "opencensus.exporterversion",
    "opencensus.resourcetype",
];

/// The local service name that groups a span into a resource.
fn service_of<'s>(span: &'s V2Span<'_>) -> &'s str {
    span.local_endpoint
        .as_ref()
        .map(|e| e.service_name.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(NO_SERVICE_NAME)
}

/// (service, library) of a span not yet converted.
fn group_key<'s>(item: &'s Option<(V2Span<'_>, SpanTags<'_>)>) -> (&'s str, &'s str) {
    item.as_ref().map_or(("", ""), |(span, tags)| {
        (
            service_of(span),
            tags.value(tags.library_name).unwrap_or(""),
        )
    })
}

// PERFORMANCE-CRITICAL: per request. Each span's tags are sorted out once (`SpanTags`) and
// written as attributes straight from the body's text (`otlp_wire`); spans are ordered through
// an index vector (a batch from one reporter is already in order, which the stable sort finds
// in one pass) and the current service and library are copied once per group, not per span.
/// Converts decoded v2 spans into an encoded `ExportTraceServiceRequest`.
pub(crate) fn v2_spans_to_protobuf(spans: Vec<V2Span<'_>>) -> Vec<u8> {
    let mut items: Vec<Option<(V2Span<'_>, SpanTags<'_>)>> = spans
        .into_iter()
        .map(|mut span| {
            let tags = SpanTags::new(std::mem::take(&mut span.tags));
            Some((span, tags))
        })
        .collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| group_key(&items[a]).cmp(&group_key(&items[b])));

    let mut resources: Vec<ResourceOut> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for i in order {
        let Some((span, mut tags)) = items.get_mut(i).and_then(Option::take) else {
            continue;
        };
        let service = service_of(&span);
        let library = tags.value(tags.library_name).unwrap_or("");
        let new_resource = current.as_ref().is_none_or(|(s, _)| s != service);
        let new_scope = new_resource || current.as_ref().is_none_or(|(_, l)| l != library);
        if new_scope {
            current = Some((service.to_owned(), library.to_owned()));
        }
        let Some((service, library)) = current.as_ref() else {
            continue;
        };
        if new_resource {
            resources.push(ResourceOut {
                resource: ResourceSpans {
                    resource: Some(resource_from_tags(service, &mut tags)),
                    ..ResourceSpans::default()
                },
                scopes: Vec::new(),
            });
        }
        let Some(resource) = resources.last_mut() else {
            continue;
        };
        if new_scope {
            resource.scopes.push(ScopeOut {
                scope: ScopeSpans {
                    scope: scope_from_tags(library, &mut tags),
                    ..ScopeSpans::default()
                },
                spans: Vec::new(),
            });
        }
        if let Some(scope) = resource.scopes.last_mut() {
            let (out, attributes) = span_to_otlp(span, tags);
            put_span(&mut scope.spans, &out, &attributes);
        }
    }
    encode_request(&resources)
}

fn resource_from_tags(service: &str, tags: &mut SpanTags<'_>) -> Resource {
    let mut attributes = AttributeMap::default();
    if service != NO_SERVICE_NAME {
        let key = match tags.value(tags.service_name_source) {
            Some(source) if !source.is_empty() => source,
            _ => ATTR_SERVICE_NAME,
        };
        attributes.put_str(key, service);
        for (k, value) in tags.take_resource_tags() {
            if let Some(key) = RESOURCE_TAG_KEYS.get(k) {
                attributes.put((*key).to_owned(), Value::StringValue(value.into_owned()));
            }
        }
    }
    Resource {
        attributes: attributes.into_vec(),
        dropped_attributes_count: 0,
    }
}

fn scope_from_tags(library: &str, tags: &mut SpanTags<'_>) -> Option<InstrumentationScope> {
    if library.is_empty() {
        return None;
    }
    let (name, version) = (tags.library_name, tags.library_version);
    let mut take = |position| {
        tags.consume(position)
            .map(Cow::into_owned)
            .unwrap_or_default()
    };
    Some(InstrumentationScope {
        name: take(name),
        version: take(version),
        ..InstrumentationScope::default()
    })
}

/// The span without its attributes, and its attributes.
fn span_to_otlp<'a>(
    mut span: V2Span<'a>,
    mut tags: SpanTags<'a>,
) -> (Span, Vec<(Cow<'a, str>, AttributeValue<'a>)>) {
    let mut out = Span {
        trace_id: trace_id(span.trace_id.0, span.trace_id.1),
        span_id: span_id(span.id),
        name: std::mem::take(&mut span.name),
        ..Span::default()
    };
    if let Some(state) = tags.consume(tags.trace_state) {
        out.trace_state = state.into_owned();
    }
    if let Some(parent) = span.parent_id.filter(|&p| p != span.id && p != 0) {
        out.parent_span_id = span_id(parent);
    }
    out.kind = match span.kind {
        V2Kind::Client => SpanKind::Client,
        V2Kind::Server => SpanKind::Server,
        V2Kind::Producer => SpanKind::Producer,
        V2Kind::Consumer => SpanKind::Consumer,
        V2Kind::Unspecified => match tags.consume(tags.span_kind).as_deref() {
            Some("internal") => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    } as i32;
    out.status = status_from_tags(&mut tags);
    out.links = links_from_tags(&mut tags);
    let attributes = attributes(
        tags,
        span.local_endpoint.take(),
        span.remote_endpoint.take(),
    );

    out.start_time_unix_nano = micros_to_nanos(span.timestamp);
    out.end_time_unix_nano = out
        .start_time_unix_nano
        .saturating_add(micros_to_nanos(span.duration));
    out.events = std::mem::take(&mut span.annotations)
        .into_iter()
        .map(annotation_to_event)
        .collect();
    (out, attributes)
}

fn status_from_tags(tags: &mut SpanTags<'_>) -> Option<Status> {
    let mut status = None;
    if let Some(code) = tags.consume(tags.status_code) {
        // The Collector's `statusCodeValue`: the proto enum names and the names its own Zipkin
        // exporter once wrote; anything else (the OpenTelemetry SDKs' `OK`/`ERROR`) is unset.
        let code = match code.as_ref() {
            "STATUS_CODE_OK" | "Ok" => StatusCode::Ok,
            "STATUS_CODE_ERROR" | "Error" => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        let message = tags
            .consume(tags.status_description)
            .map(Cow::into_owned)
            .unwrap_or_default();
        status = Some(Status {
            message,
            code: code as i32,
        });
    }
    // Any `error` tag fails the span, as in the Collector: the OpenTelemetry SDKs' Zipkin
    // exporters send the status description as its value. Only `error=true` is consumed; other
    // values stay as an attribute.
    if let Some(value) = tags.value(tags.error) {
        if value == "true" {
            tags.consume(tags.error);
        }
        status.get_or_insert_with(Status::default).code = StatusCode::Error as i32;
    }
    status
}

/// The span attributes: the remaining tags in order, then the endpoints' attributes, each set
/// in place when a tag of the same key exists (`pcommon.Map.Put*`).
fn attributes<'a>(
    tags: SpanTags<'a>,
    local: Option<V2Endpoint>,
    remote: Option<V2Endpoint>,
) -> Vec<(Cow<'a, str>, AttributeValue<'a>)> {
    let mut out: Vec<(Cow<'a, str>, AttributeValue<'a>)> = Vec::with_capacity(tags.tags.len() + 3);
    let mut endpoint_at = [None::<usize>; ENDPOINT_KEYS.len()];
    for (key, value, role) in tags.into_attributes() {
        if let TagRole::Endpoint(k) = role
            && let Some(slot) = endpoint_at.get_mut(usize::from(k))
        {
            *slot = Some(out.len());
        }
        out.push((key, AttributeValue::Str(value)));
    }
    let mut put = |k: usize, value: AttributeValue<'a>| {
        let Some(slot) = endpoint_at.get_mut(k) else {
            return;
        };
        match slot.and_then(|i| out.get_mut(i)) {
            Some(entry) => entry.1 = value,
            None => {
                *slot = Some(out.len());
                out.push((Cow::Borrowed(ENDPOINT_KEYS[k]), value));
            }
        }
    };
    if let Some(local) = local {
        for ip in [local.ipv4, local.ipv6].into_iter().flatten() {
            put(0, AttributeValue::Str(Cow::Owned(ip)));
        }
        if local.port > 0 {
            put(1, AttributeValue::Int(local.port));
        }
    }
    if let Some(remote) = remote {
        if !remote.service_name.is_empty() {
            put(2, AttributeValue::Str(Cow::Owned(remote.service_name)));
        }
        for ip in [remote.ipv4, remote.ipv6].into_iter().flatten() {
            put(3, AttributeValue::Str(Cow::Owned(ip)));
        }
        if remote.port > 0 {
            put(4, AttributeValue::Int(remote.port));
        }
    }
    out
}

/// `name|{"attr":…}|dropped` (as the Collector's Zipkin exporter writes events) is unpacked;
/// fewer than three `|`-separated parts keep only the first as the name, as the Collector does.
pub(crate) fn annotation_to_event(annotation: V2Annotation) -> Event {
    let time_unix_nano = micros_to_nanos(annotation.timestamp);
    let parts: Vec<&str> = annotation.value.split('|').collect();
    if let [name, middle @ .., dropped] = parts.as_slice()
        && !middle.is_empty()
        && let Some((attributes, dropped)) = otel_attributes(&middle.join("|"), dropped)
    {
        return Event {
            time_unix_nano,
            name: (*name).to_owned(),
            attributes,
            dropped_attributes_count: dropped,
        };
    }
    let name = if parts.len() < 3 {
        parts.first().copied().unwrap_or_default().to_owned()
    } else {
        annotation.value.clone()
    };
    Event {
        time_unix_nano,
        name,
        ..Event::default()
    }
}

/// The JSON-object attributes and dropped count of an exported event or link.
fn otel_attributes(
    json: &str,
    dropped: &str,
) -> Option<(Vec<tracecore_proto::otlp::KeyValue>, u32)> {
    let dropped = dropped.parse::<u32>().ok()?;
    let object: Map<String, Json> = serde_json::from_str(json).ok()?;
    let mut attributes = AttributeMap::with_capacity(object.len());
    for (key, value) in object {
        let value = match value {
            Json::String(s) => Value::StringValue(s),
            Json::Bool(b) => Value::BoolValue(b),
            Json::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 => Value::IntValue(f as i64),
                Some(f) => Value::DoubleValue(f),
                None => continue,
            },
            Json::Null | Json::Array(_) | Json::Object(_) => continue,
        };
        attributes.put(key, value);
    }
    Some((attributes.into_vec(), dropped))
}

/// `otlp.link.0`, `otlp.link.1`, … up to the first missing index, each
/// `traceid|spanid|tracestate|{json attributes}|dropped`.
fn links_from_tags(tags: &mut SpanTags<'_>) -> Vec<Link> {
    let mut links = Vec::new();
    if tags.links.is_empty() {
        return links;
    }
    for n in 0..MAX_LINK_TAGS {
        let Some(position) = tags.link(n) else {
            break;
        };
        let Some(value) = tags.value(Some(position)) else {
            break;
        };
        let parts: Vec<&str> = value.split('|').collect();
        // Fewer than five parts: not a link, dropped; a link that does not parse stays a tag.
        let link = (parts.len() >= 5).then(|| parse_link(&parts));
        match link {
            None => {
                tags.consume(Some(position));
            }
            Some(Some(link)) => {
                tags.consume(Some(position));
                links.push(link);
            }
            Some(None) => {}
        }
    }
    links
}

pub(crate) fn parse_link(parts: &[&str]) -> Option<Link> {
    let (&[trace, span, state], rest) = parts.split_first_chunk::<3>()?;
    let (dropped, json) = rest.split_last()?;
    let trace_id = hex_id(trace, 16)?;
    let span_id = hex_id(span, 8)?;
    let (attributes, dropped) = otel_attributes(&json.join("|"), dropped)?;
    Some(Link {
        trace_id,
        span_id,
        trace_state: state.to_owned(),
        attributes,
        dropped_attributes_count: dropped,
        flags: 0,
    })
}

/// Hex of exactly `len` bytes, optionally in quotes; empty text is an all-zero ID.
fn hex_id(text: &str, len: usize) -> Option<Vec<u8>> {
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if text.is_empty() {
        return Some(vec![0; len]);
    }
    if text.len() != len * 2 {
        return None;
    }
    hex::decode(text).ok()
}
