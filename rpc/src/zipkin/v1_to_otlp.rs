//! Zipkin v1 spans → OTLP, as the Collector's `zipkinv1` translator does it.
//!
//! * Annotations: the first of `cs`/`cr` (client), `ss`/`sr` (server), `ms` (producer), `mr`
//!   (consumer) sets the kind, and the first such annotation with a named endpoint is the span's
//!   endpoint; the earliest and latest annotation times are start and end; every other non-empty
//!   annotation is an event.
//! * Binary annotations → attributes (`lc` is renamed `component`); status comes from
//!   `census.status_code` (0 → OK, else ERROR), then `otel.status_code` (an integer, kept as
//!   sent), then a present `error` tag (ERROR), then `http.status_code` (outside 100..399 →
//!   ERROR); the census/otel/error tags are dropped, the HTTP ones kept.
//! * Without an annotation endpoint the service is `unknown-service`, unless a binary
//!   annotation's endpoint names one or `lc` gives a local component.
//! * The span's own `timestamp`/`duration`, when present, override the annotation times; a span
//!   with no start time at all is stamped "now" and marked
//!   `otel.zipkin.absentField.startTime=true` (the Collector does this for JSON only; here for
//!   Thrift too, so a span never lands at 1970).
//! * Spans are grouped into one `ResourceSpans` per distinct endpoint (first-seen order), whose
//!   resource holds `service.name` and, when known, `ipv4`, `ipv6`, `port` (as text).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tracecore_proto::otlp::{
    Event, ExportTraceServiceRequest, Resource, ResourceSpans, ScopeSpans, Span, SpanKind, Status,
    StatusCode, any_value::Value,
};

use super::model::{V1Annotation, V1BinaryAnnotation, V1Endpoint, V1Span};
use crate::jaeger::attributes::{AttributeMap, str_or_empty};
use crate::jaeger::conventions::{
    ATTR_SERVICE_NAME, TAG_ERROR, TAG_HTTP_STATUS_CODE, TAG_HTTP_STATUS_MESSAGE,
    TAG_OTEL_STATUS_CODE, TAG_OTEL_STATUS_DESCRIPTION, micros_to_nanos, span_id, trace_id,
};

/// The service of a span no endpoint names.
pub(crate) const UNKNOWN_SERVICE: &str = "unknown-service";
/// Marks a span whose start time was missing and set to the receive time.
pub(crate) const ATTR_START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
const LOCAL_COMPONENT: &str = "lc";

/// Converts decoded v1 spans.
pub(crate) fn v1_spans_to_otlp(spans: Vec<V1Span>) -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut request = ExportTraceServiceRequest::default();
    let mut by_endpoint: HashMap<V1Endpoint, usize> = HashMap::new();
    for span in spans {
        let (endpoint, span) = span_to_otlp(span, now);
        let at = *by_endpoint.entry(endpoint).or_insert_with_key(|endpoint| {
            request.resource_spans.push(ResourceSpans {
                resource: Some(resource(endpoint)),
                scope_spans: vec![ScopeSpans::default()],
                schema_url: String::new(),
            });
            request.resource_spans.len() - 1
        });
        if let Some(scope) = request
            .resource_spans
            .get_mut(at)
            .and_then(|r| r.scope_spans.first_mut())
        {
            scope.spans.push(span);
        }
    }
    request
}

fn resource(endpoint: &V1Endpoint) -> Resource {
    let mut attributes = AttributeMap::with_capacity(4);
    attributes.put_str(ATTR_SERVICE_NAME, endpoint.service_name.as_str());
    if !endpoint.ipv4.is_empty() {
        attributes.put_str("ipv4", endpoint.ipv4.as_str());
    }
    if !endpoint.ipv6.is_empty() {
        attributes.put_str("ipv6", endpoint.ipv6.as_str());
    }
    if endpoint.port != 0 {
        attributes.put_str("port", endpoint.port.to_string());
    }
    Resource {
        attributes: attributes.into_vec(),
        dropped_attributes_count: 0,
    }
}

fn span_to_otlp(span: V1Span, now: u64) -> (V1Endpoint, Span) {
    let mut out = Span {
        trace_id: trace_id(span.trace_id.0, span.trace_id.1),
        span_id: span_id(span.id),
        parent_span_id: if span.parent_id == 0 {
            Vec::new()
        } else {
            span_id(span.parent_id)
        },
        name: span.name,
        ..Span::default()
    };
    let mut endpoint = apply_annotations(span.annotations, &mut out);
    let mut attributes = AttributeMap::with_capacity(span.binary_annotations.len());
    let fallback_service =
        apply_binary_annotations(span.binary_annotations, &mut attributes, &mut out);
    if endpoint.service_name == UNKNOWN_SERVICE && !fallback_service.is_empty() {
        endpoint.service_name = fallback_service;
    }
    if let Some(timestamp) = span.timestamp {
        out.start_time_unix_nano = micros_to_nanos(timestamp);
        out.end_time_unix_nano =
            micros_to_nanos(timestamp.saturating_add(span.duration.unwrap_or_default()));
    }
    if out.start_time_unix_nano == 0 {
        out.start_time_unix_nano = now;
        out.end_time_unix_nano = now;
        attributes.put(ATTR_START_TIME_ABSENT.to_owned(), Value::BoolValue(true));
    }
    out.attributes = attributes.into_vec();
    (endpoint, out)
}

/// Kind, start/end and events from the annotations; returns the span's endpoint.
fn apply_annotations(annotations: Vec<V1Annotation>, span: &mut Span) -> V1Endpoint {
    let mut endpoint: Option<V1Endpoint> = None;
    let mut kind_set = false;
    let mut earliest = i64::MAX;
    let mut latest = i64::MIN;
    for annotation in annotations {
        if annotation.value.is_empty() {
            continue;
        }
        let kind = match annotation.value.as_str() {
            "cs" | "cr" => Some(SpanKind::Client),
            "ss" | "sr" => Some(SpanKind::Server),
            "ms" => Some(SpanKind::Producer),
            "mr" => Some(SpanKind::Consumer),
            _ => None,
        };
        if let Some(kind) = kind {
            if endpoint.is_none()
                && let Some(e) = annotation
                    .endpoint
                    .as_ref()
                    .filter(|e| !e.service_name.is_empty())
            {
                endpoint = Some(e.clone());
            }
            if !kind_set {
                span.kind = kind as i32;
                kind_set = true;
            }
        }
        let time = micros_to_nanos(annotation.timestamp);
        if annotation.timestamp < earliest {
            earliest = annotation.timestamp;
            span.start_time_unix_nano = time;
        }
        if annotation.timestamp > latest {
            latest = annotation.timestamp;
            span.end_time_unix_nano = time;
        }
        if kind.is_none() {
            span.events.push(Event {
                time_unix_nano: time,
                name: annotation.value,
                ..Event::default()
            });
        }
    }
    endpoint.unwrap_or_else(|| V1Endpoint {
        service_name: UNKNOWN_SERVICE.to_owned(),
        ..V1Endpoint::default()
    })
}

/// Candidate statuses, by source.
#[derive(Default)]
struct StatusSources {
    census: (Option<i32>, Option<String>),
    otel: (Option<i32>, Option<String>),
    error_tag: Option<i32>,
    http: (Option<i32>, Option<String>),
}

/// Attributes and status from the binary annotations; returns the fallback service name (the
/// last annotation endpoint's service, else the local component).
fn apply_binary_annotations(
    binary_annotations: Vec<V1BinaryAnnotation>,
    attributes: &mut AttributeMap,
    span: &mut Span,
) -> String {
    let mut fallback_service = String::new();
    let mut local_component = String::new();
    let mut sources = StatusSources::default();
    for annotation in binary_annotations {
        if let Some(e) = annotation
            .endpoint
            .as_ref()
            .filter(|e| !e.service_name.is_empty())
        {
            fallback_service.clone_from(&e.service_name);
        }
        let mut key = annotation.key;
        if key == LOCAL_COMPONENT {
            key = "component".to_owned();
            local_component = text_of(&annotation.value);
        }
        let value = annotation.value;
        let keep = match key.as_str() {
            "census.status_code" => {
                if let Some(code) = status_code_number(&value) {
                    let code = if code == 0 {
                        StatusCode::Ok
                    } else {
                        StatusCode::Error
                    };
                    sources.census.0 = Some(code as i32);
                }
                false
            }
            "census.status_description" | "opencensus.status_description" => {
                sources.census.1 = Some(str_or_empty(&value).to_owned());
                false
            }
            TAG_OTEL_STATUS_CODE => {
                if let Some(code) = status_code_number(&value) {
                    sources.otel.0 = Some(code);
                }
                false
            }
            TAG_OTEL_STATUS_DESCRIPTION => {
                sources.otel.1 = Some(str_or_empty(&value).to_owned());
                false
            }
            TAG_ERROR => {
                sources.error_tag = Some(StatusCode::Error as i32);
                false
            }
            TAG_HTTP_STATUS_CODE => {
                if let Some(code) = status_code_number(&value) {
                    let unset = (100..400).contains(&code);
                    let code = if unset {
                        StatusCode::Unset
                    } else {
                        StatusCode::Error
                    };
                    sources.http.0 = Some(code as i32);
                }
                true
            }
            TAG_HTTP_STATUS_MESSAGE => {
                sources.http.1 = Some(str_or_empty(&value).to_owned());
                true
            }
            _ => true,
        };
        if keep {
            attributes.put(key, value);
        }
    }
    span.status = pick_status(sources);
    if fallback_service.is_empty() {
        local_component
    } else {
        fallback_service
    }
}

/// census, then otel, then the `error` tag (with the census or otel message), then HTTP.
fn pick_status(s: StatusSources) -> Option<Status> {
    let (code, message) = if let Some(code) = s.census.0 {
        (code, s.census.1)
    } else if let Some(code) = s.otel.0 {
        (code, s.otel.1)
    } else if let Some(code) = s.error_tag {
        (
            code,
            s.census
                .1
                .filter(|m| !m.is_empty())
                .or(s.otel.1.filter(|m| !m.is_empty())),
        )
    } else if let Some(code) = s.http.0 {
        (code, s.http.1)
    } else {
        return None;
    };
    Some(Status {
        message: message.unwrap_or_default(),
        code,
    })
}

/// An integer or decimal-string attribute within `i32` range.
fn status_code_number(value: &Value) -> Option<i32> {
    let wide = match value {
        Value::IntValue(i) => *i,
        Value::StringValue(s) => s.parse::<i64>().ok()?,
        _ => return None,
    };
    i32::try_from(wide).ok()
}

/// The text of a binary annotation value, for the local component.
fn text_of(value: &Value) -> String {
    match value {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        _ => String::new(),
    }
}
