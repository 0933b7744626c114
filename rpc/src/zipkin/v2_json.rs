//! Zipkin v2 JSON (`POST /api/v2/spans`, `application/json`): an array of spans.
//!
//! Accepted as Zipkin's own `zipkin-go` model accepts it: IDs are 1–32 (trace) or 1–16 (span)
//! hex digits, times and durations integral microseconds, unknown fields ignored, `null` treated
//! as absent. Stricter: a missing or zero trace ID or span ID is an error here (the Collector
//! passes it on and Tempo then refuses the whole request anyway). More lenient: tag values that
//! are numbers or booleans are kept as their JSON text instead of failing the request.

use std::borrow::Cow;

use serde::Deserialize;

use super::ZipkinError;
use super::json_tags::TagList;
use super::model::{
    V2Annotation, V2Endpoint, V2Kind, V2Span, format_ip, parse_hex_trace_id, parse_hex_u64,
};

// IDs, kind and IPs are only parsed, never kept: they borrow from the body (`Cow` owns only a
// string with escapes), which saves their allocations on every span.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan<'a> {
    #[serde(borrow)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_id: Option<Cow<'a, str>>,
    name: Option<String>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    timestamp: Option<i64>,
    duration: Option<i64>,
    #[serde(borrow)]
    local_endpoint: Option<JsonEndpoint<'a>>,
    #[serde(borrow)]
    remote_endpoint: Option<JsonEndpoint<'a>>,
    annotations: Option<Vec<JsonAnnotation>>,
    #[serde(borrow)]
    tags: Option<TagList<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint<'a> {
    service_name: Option<String>,
    #[serde(borrow)]
    ipv4: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ipv6: Option<Cow<'a, str>>,
    port: Option<i64>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: Option<i64>,
    value: Option<String>,
}

/// Parses the body into v2 spans.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<V2Span<'_>>, ZipkinError> {
    // One UTF-8 check of the whole body is cheaper than serde_json's check of every string; an
    // invalid body goes through `from_slice` so the error names where the bad bytes are.
    let spans: Result<Vec<JsonSpan>, _> = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    let spans = spans.map_err(|e| ZipkinError::Json(e.to_string()))?;
    spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| convert(i, s))
        .collect()
}

fn convert(i: usize, span: JsonSpan<'_>) -> Result<V2Span<'_>, ZipkinError> {
    let field = |name: &str| format!("[{i}].{name}");
    let trace_id = span
        .trace_id
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ZipkinError::missing(field("traceId")))?;
    let trace_id = parse_hex_trace_id(trace_id)
        .ok_or_else(|| ZipkinError::invalid(field("traceId"), trace_id, "1 to 32 hex digits"))?;
    if trace_id == (0, 0) {
        return Err(ZipkinError::invalid(field("traceId"), "0", "a non-zero id"));
    }
    let id = span
        .id
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ZipkinError::missing(field("id")))?;
    let id = parse_hex_u64(id)
        .ok_or_else(|| ZipkinError::invalid(field("id"), id, "1 to 16 hex digits"))?;
    if id == 0 {
        return Err(ZipkinError::invalid(field("id"), "0", "a non-zero id"));
    }
    let parent_id = match span.parent_id.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            parse_hex_u64(p)
                .ok_or_else(|| ZipkinError::invalid(field("parentId"), p, "1 to 16 hex digits"))?,
        ),
    };
    let kind = match span.kind.as_deref() {
        Some("CLIENT") => V2Kind::Client,
        Some("SERVER") => V2Kind::Server,
        Some("PRODUCER") => V2Kind::Producer,
        Some("CONSUMER") => V2Kind::Consumer,
        _ => V2Kind::Unspecified,
    };
    Ok(V2Span {
        trace_id,
        id,
        parent_id,
        kind,
        name: span.name.unwrap_or_default(),
        timestamp: span.timestamp.unwrap_or_default(),
        duration: span.duration.unwrap_or_default(),
        local_endpoint: span
            .local_endpoint
            .map(|e| endpoint(e, || field("localEndpoint")))
            .transpose()?,
        remote_endpoint: span
            .remote_endpoint
            .map(|e| endpoint(e, || field("remoteEndpoint")))
            .transpose()?,
        annotations: span
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|a| V2Annotation {
                timestamp: a.timestamp.unwrap_or_default(),
                value: a.value.unwrap_or_default(),
            })
            .collect(),
        tags: span.tags.map(|t| t.0).unwrap_or_default(),
    })
}

fn endpoint(e: JsonEndpoint<'_>, path: impl Fn() -> String) -> Result<V2Endpoint, ZipkinError> {
    let ip = |text: Option<Cow<'_, str>>, name: &str| -> Result<Option<String>, ZipkinError> {
        match text.filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => match t.parse() {
                Ok(ip) => Ok(Some(format_ip(ip))),
                Err(_) => Err(ZipkinError::invalid(
                    format!("{}.{name}", path()),
                    &t,
                    "an ip address",
                )),
            },
        }
    };
    Ok(V2Endpoint {
        service_name: e.service_name.unwrap_or_default(),
        ipv4: ip(e.ipv4, "ipv4")?,
        ipv6: ip(e.ipv6, "ipv6")?,
        port: e.port.unwrap_or_default(),
    })
}
