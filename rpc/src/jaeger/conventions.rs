//! The parts of the Jaeger → OTLP mapping shared by the Thrift and protobuf models, following
//! the OpenTelemetry Collector's `pkg/translator/jaeger`: span kind and status from tags,
//! resource tag renames, parent inference from references, links, logs → events, and time and
//! ID conversions.

use tracecore_proto::otlp::{Event, Link, Span, SpanKind, Status, StatusCode, any_value::Value};

use super::attributes::{AttributeMap, str_or_empty};

/// OpenTracing span-kind tag.
pub(crate) const TAG_SPAN_KIND: &str = "span.kind";
/// OpenTracing error tag (`true` when the span failed).
pub(crate) const TAG_ERROR: &str = "error";
/// OpenTelemetry status code tag set by OTel SDK exporters (`OK`, `ERROR`).
pub(crate) const TAG_OTEL_STATUS_CODE: &str = "otel.status_code";
/// OpenTelemetry status description tag.
pub(crate) const TAG_OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
/// HTTP status code attribute (semantic conventions before 1.21).
pub(crate) const TAG_HTTP_STATUS_CODE: &str = "http.status_code";
/// HTTP status message tag.
pub(crate) const TAG_HTTP_STATUS_MESSAGE: &str = "http.status_message";
/// W3C trace state carried as a tag.
pub(crate) const TAG_W3C_TRACESTATE: &str = "w3c.tracestate";
/// A Jaeger log field that holds the OTel event name.
pub(crate) const LOG_FIELD_EVENT: &str = "event";
/// Link attribute naming the OpenTracing reference type.
pub(crate) const ATTR_REF_TYPE: &str = "opentracing.ref_type";
/// Resource attribute for the service.
pub(crate) const ATTR_SERVICE_NAME: &str = "service.name";
/// The Collector's placeholder for "no service name" on the way out to Jaeger.
pub(crate) const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
/// OTLP span flag: sampled (W3C trace-flags bit 0).
pub(crate) const SPAN_FLAG_SAMPLED: u32 = 0x1;

/// Jaeger's `SpanRefType` values.
pub(crate) const REF_CHILD_OF: i32 = 0;
pub(crate) const REF_FOLLOWS_FROM: i32 = 1;

/// Epoch microseconds (Jaeger Thrift, Zipkin) to nanoseconds: negative → 0, overflow → `u64::MAX`.
pub(crate) fn micros_to_nanos(micros: i64) -> u64 {
    u64::try_from(micros).unwrap_or(0).saturating_mul(1_000)
}

/// A 128-bit trace ID from its two big-endian halves.
pub(crate) fn trace_id(high: u64, low: u64) -> Vec<u8> {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&high.to_be_bytes());
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// A 64-bit span ID, big-endian.
pub(crate) fn span_id(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// A span reference in either model, IDs as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reference {
    pub trace_high: u64,
    pub trace_low: u64,
    pub span_id: u64,
    /// Raw `SpanRefType`: [`REF_CHILD_OF`], [`REF_FOLLOWS_FROM`] or anything a client sent.
    pub ref_type: i32,
}

/// Jaeger's parent inference (`model.Span.ParentSpanID`): the explicit parent when non-zero,
/// else the first `CHILD_OF` reference within the same trace, else the first `FOLLOWS_FROM` one,
/// else 0 (root).
pub(crate) fn parent_span_id(explicit: u64, trace: (u64, u64), refs: &[Reference]) -> u64 {
    if explicit != 0 {
        return explicit;
    }
    let mut follows_from = None;
    for r in refs.iter().filter(|r| (r.trace_high, r.trace_low) == trace) {
        if r.ref_type == REF_CHILD_OF {
            return r.span_id;
        }
        if follows_from.is_none() && r.ref_type == REF_FOLLOWS_FROM {
            follows_from = Some(r.span_id);
        }
    }
    follows_from.unwrap_or(0)
}

/// Every reference except the `CHILD_OF` one pointing at `parent` becomes a link carrying an
/// `opentracing.ref_type` attribute (`child_of` or `follows_from`).
pub(crate) fn links(refs: &[Reference], parent: u64) -> Vec<Link> {
    refs.iter()
        .filter(|r| !(r.span_id == parent && r.ref_type == REF_CHILD_OF))
        .map(|r| {
            let mut attributes = AttributeMap::with_capacity(1);
            let ref_type = if r.ref_type == REF_CHILD_OF {
                "child_of"
            } else {
                "follows_from"
            };
            attributes.put_str(ATTR_REF_TYPE, ref_type);
            Link {
                trace_id: trace_id(r.trace_high, r.trace_low),
                span_id: span_id(r.span_id),
                attributes: attributes.into_vec(),
                ..Link::default()
            }
        })
        .collect()
}

/// A Jaeger log as an OTLP event: the `event` field, when present, becomes the name.
pub(crate) fn event(time_unix_nano: u64, mut fields: AttributeMap) -> Event {
    let name = match fields.remove(LOG_FIELD_EVENT) {
        Some(Value::StringValue(s)) => s,
        Some(_) | None => String::new(),
    };
    Event {
        time_unix_nano,
        name,
        attributes: fields.into_vec(),
        dropped_attributes_count: 0,
    }
}

/// The `span.kind` tag's OTLP kind; unknown values are `UNSPECIFIED`.
fn span_kind(tag: &str) -> SpanKind {
    match tag {
        "client" => SpanKind::Client,
        "server" => SpanKind::Server,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    }
}

/// Moves `span.kind` into `span.kind` and the status tags into `span.status`, removing the tags
/// the Collector removes (kind first: the HTTP status fallback depends on it).
pub(crate) fn apply_kind_and_status(attributes: &mut AttributeMap, span: &mut Span) {
    if let Some(kind) = attributes.remove(TAG_SPAN_KIND) {
        span.kind = span_kind(str_or_empty(&kind)) as i32;
    }
    apply_status(attributes, span);
}

/// The Collector's `setInternalSpanStatus`: a boolean `error=true` wins (message from
/// `otel.status_description`, else `http.status_message`); otherwise `otel.status_code`
/// (`OK`/`ERROR`, any case) with `otel.status_description`; otherwise an `http.status_code`
/// outside 100..399 (4xx only for clients) sets `ERROR`. `otel.status_code` is always removed.
fn apply_status(attributes: &mut AttributeMap, span: &mut Span) {
    let mut code = StatusCode::Unset;
    let mut message = String::new();
    let mut exists = false;

    if matches!(attributes.get(TAG_ERROR), Some(Value::BoolValue(true))) {
        attributes.remove(TAG_ERROR);
        code = StatusCode::Error;
        exists = true;
        if let Some(description) = take_status_description(attributes) {
            message = description;
        } else if let Some(m) = attributes.get(TAG_HTTP_STATUS_MESSAGE) {
            message = str_or_empty(m).to_owned();
        }
    }

    if let Some(otel_code) = attributes.get(TAG_OTEL_STATUS_CODE) {
        if !exists {
            exists = true;
            let otel_code = str_or_empty(otel_code);
            if otel_code.eq_ignore_ascii_case("ok") {
                code = StatusCode::Ok;
            } else if otel_code.eq_ignore_ascii_case("error") {
                code = StatusCode::Error;
            }
            if let Some(description) = take_status_description(attributes) {
                message = description;
            }
        }
        attributes.remove(TAG_OTEL_STATUS_CODE);
    } else if !exists && let Some(http_code) = attributes.get(TAG_HTTP_STATUS_CODE) {
        let http_code = match http_code {
            Value::IntValue(i) => Some(*i),
            Value::StringValue(s) => s.parse::<i64>().ok(),
            _ => None,
        };
        if let Some(http_code) = http_code {
            let from_http = status_from_http(http_code, span.kind);
            if from_http != StatusCode::Unset {
                exists = true;
                code = from_http;
            }
            if let Some(m) = attributes.get(TAG_HTTP_STATUS_MESSAGE) {
                message = str_or_empty(m).to_owned();
            }
        }
    }

    if exists {
        span.status = Some(Status {
            message,
            code: code as i32,
        });
    }
}

fn take_status_description(attributes: &mut AttributeMap) -> Option<String> {
    attributes
        .remove(TAG_OTEL_STATUS_DESCRIPTION)
        .map(|v| str_or_empty(&v).to_owned())
}

/// HTTP status → span status: 4xx is unset for servers and an error for clients; otherwise
/// anything outside 100..399 is an error (the Collector's bound, 399 included).
pub(crate) fn status_from_http(http_code: i64, kind: i32) -> StatusCode {
    if (400..500).contains(&http_code) {
        if kind == SpanKind::Client as i32 {
            return StatusCode::Error;
        }
        if kind == SpanKind::Server as i32 {
            return StatusCode::Unset;
        }
    }
    if (100..399).contains(&http_code) {
        StatusCode::Unset
    } else {
        StatusCode::Error
    }
}

/// The Collector's process-tag renames: `hostname` → `host.name` (unless present) and
/// `jaeger.version` → `opencensus.exporterversion = "Jaeger-<version>"` (unless present).
pub(crate) fn translate_process_tags(attributes: &mut AttributeMap) {
    if attributes.contains("hostname")
        && !attributes.contains("host.name")
        && let Some(hostname) = attributes.remove("hostname")
    {
        attributes.put("host.name".to_owned(), hostname);
    }
    if attributes.contains("jaeger.version")
        && !attributes.contains("opencensus.exporterversion")
        && let Some(version) = attributes.remove("jaeger.version")
    {
        let version = format!("Jaeger-{}", str_or_empty(&version));
        attributes.put_str("opencensus.exporterversion", version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span_with(tags: &[(&str, Value)], kind: SpanKind) -> (Span, Vec<String>) {
        let mut attributes = AttributeMap::default();
        for (k, v) in tags {
            attributes.put((*k).to_owned(), v.clone());
        }
        let mut span = Span {
            kind: kind as i32,
            ..Span::default()
        };
        apply_kind_and_status(&mut attributes, &mut span);
        let keys = attributes.into_vec().into_iter().map(|kv| kv.key).collect();
        (span, keys)
    }

    fn s(v: &str) -> Value {
        Value::StringValue(v.to_owned())
    }

    #[test]
    fn error_tag_wins_over_otel_status_code() {
        let (span, keys) = span_with(
            &[
                ("error", Value::BoolValue(true)),
                ("otel.status_code", s("OK")),
                ("otel.status_description", s("boom")),
                ("span.kind", s("client")),
            ],
            SpanKind::Unspecified,
        );
        assert_eq!(span.kind, SpanKind::Client as i32);
        let status = span.status.expect("status");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "boom");
        assert!(keys.is_empty(), "{keys:?}");
    }

    #[test]
    fn otel_status_code_is_case_insensitive_and_removed() {
        let (span, keys) = span_with(
            &[
                ("otel.status_code", s("ok")),
                ("error", Value::BoolValue(false)),
            ],
            SpanKind::Unspecified,
        );
        assert_eq!(span.status.expect("status").code, StatusCode::Ok as i32);
        assert_eq!(keys, vec!["error".to_owned()]);
    }

    #[test]
    fn unknown_otel_status_code_still_sets_an_unset_status() {
        let (span, keys) = span_with(&[("otel.status_code", s("maybe"))], SpanKind::Unspecified);
        assert_eq!(span.status.expect("status").code, StatusCode::Unset as i32);
        assert!(keys.is_empty());
    }

    #[test]
    fn error_tag_of_another_type_is_kept_as_an_attribute() {
        let (span, keys) = span_with(&[("error", s("true"))], SpanKind::Unspecified);
        assert_eq!(span.status, None);
        assert_eq!(keys, vec!["error".to_owned()]);
    }

    #[test]
    fn http_status_code_fallback_depends_on_kind() {
        let server = span_with(
            &[
                ("span.kind", s("server")),
                ("http.status_code", Value::IntValue(404)),
            ],
            SpanKind::Unspecified,
        );
        assert_eq!(server.0.status, None);
        assert_eq!(server.1, vec!["http.status_code".to_owned()]);
        let client = span_with(
            &[
                ("span.kind", s("client")),
                ("http.status_code", s("404")),
                ("http.status_message", s("Not Found")),
            ],
            SpanKind::Unspecified,
        );
        let status = client.0.status.expect("status");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "Not Found");
        let server_error = span_with(
            &[("http.status_code", Value::IntValue(503))],
            SpanKind::Server,
        );
        assert_eq!(
            server_error.0.status.expect("status").code,
            StatusCode::Error as i32
        );
        let ok = span_with(
            &[("http.status_code", Value::IntValue(200))],
            SpanKind::Server,
        );
        assert_eq!(ok.0.status, None);
    }

    #[test]
    fn unknown_span_kind_is_unspecified_and_removed() {
        let (span, keys) = span_with(&[("span.kind", Value::IntValue(3))], SpanKind::Internal);
        assert_eq!(span.kind, SpanKind::Unspecified as i32);
        assert!(keys.is_empty());
    }

    #[test]
    fn parent_prefers_explicit_then_child_of_then_follows_from_in_the_same_trace() {
        let r = |high, span_id, ref_type| Reference {
            trace_high: high,
            trace_low: 1,
            span_id,
            ref_type,
        };
        let refs = [
            r(9, 5, REF_CHILD_OF),
            r(0, 6, REF_FOLLOWS_FROM),
            r(0, 7, REF_CHILD_OF),
        ];
        assert_eq!(parent_span_id(3, (0, 1), &refs), 3);
        assert_eq!(parent_span_id(0, (0, 1), &refs), 7);
        assert_eq!(parent_span_id(0, (0, 1), &refs[..2]), 6);
        assert_eq!(parent_span_id(0, (0, 1), &refs[..1]), 0);
        let l = links(&refs, 7);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].trace_id, trace_id(9, 1));
        assert_eq!(l[1].span_id, span_id(6));
    }

    #[test]
    fn time_conversion_saturates() {
        assert_eq!(micros_to_nanos(-5), 0);
        assert_eq!(micros_to_nanos(1_500), 1_500_000);
        assert_eq!(micros_to_nanos(i64::MAX), u64::MAX);
    }

    #[test]
    fn process_tags_are_renamed_unless_the_target_exists() {
        let mut a = AttributeMap::default();
        a.put_str("hostname", "h1");
        a.put_str("jaeger.version", "Go-2.30");
        translate_process_tags(&mut a);
        assert_eq!(a.get("host.name"), Some(&s("h1")));
        assert_eq!(
            a.get("opencensus.exporterversion"),
            Some(&s("Jaeger-Go-2.30"))
        );
        assert!(!a.contains("hostname") && !a.contains("jaeger.version"));
        let mut b = AttributeMap::default();
        b.put_str("hostname", "h1");
        b.put_str("host.name", "h2");
        translate_process_tags(&mut b);
        assert!(b.contains("hostname"));
    }
}
