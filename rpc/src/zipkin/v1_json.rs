//! Zipkin v1 JSON (`POST /api/v1/spans`, `application/json`): an array of v1 spans with
//! `annotations` and `binaryAnnotations`.
//!
//! IDs as the Collector requires them: a trace ID of exactly 16 or 32 hex digits and span and
//! parent IDs of exactly 16, none of them zero. Binary annotation values may be strings, numbers
//! or booleans (kept as text; the Collector only accepts strings).

use serde::Deserialize;
use tracecore_proto::otlp::any_value::Value;

use super::ZipkinError;
use super::json_tags::ScalarText;
use super::model::{
    V1Annotation, V1BinaryAnnotation, V1Endpoint, V1Span, parse_hex_trace_id, parse_hex_u64,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: Option<String>,
    name: Option<String>,
    parent_id: Option<String>,
    id: Option<String>,
    timestamp: Option<i64>,
    duration: Option<i64>,
    annotations: Option<Vec<Option<JsonAnnotation>>>,
    binary_annotations: Option<Vec<Option<JsonBinaryAnnotation>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    port: Option<i32>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: Option<i64>,
    value: Option<String>,
    endpoint: Option<JsonEndpoint>,
}

#[derive(Deserialize)]
struct JsonBinaryAnnotation {
    key: Option<String>,
    value: Option<ScalarText>,
    endpoint: Option<JsonEndpoint>,
}

/// Parses the body into v1 spans.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<V1Span>, ZipkinError> {
    let spans: Vec<JsonSpan> =
        serde_json::from_slice(body).map_err(|e| ZipkinError::Json(e.to_string()))?;
    spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| convert(i, s))
        .collect()
}

fn convert(i: usize, span: JsonSpan) -> Result<V1Span, ZipkinError> {
    let field = |name: &str| format!("[{i}].{name}");
    let trace_text = span.trace_id.unwrap_or_default();
    let trace_id = (matches!(trace_text.len(), 16 | 32))
        .then(|| parse_hex_trace_id(&trace_text))
        .flatten()
        .ok_or_else(|| {
            ZipkinError::invalid(field("traceId"), &trace_text, "16 or 32 hex digits")
        })?;
    if trace_id == (0, 0) {
        return Err(ZipkinError::invalid(
            field("traceId"),
            &trace_text,
            "a non-zero id",
        ));
    }
    let id = span_id(&span.id.unwrap_or_default(), || field("id"))?;
    let parent_id = match span.parent_id.filter(|p| !p.is_empty()) {
        None => 0,
        Some(p) => span_id(&p, || field("parentId"))?,
    };
    Ok(V1Span {
        trace_id,
        id,
        parent_id,
        name: span.name.unwrap_or_default(),
        timestamp: span.timestamp.filter(|&t| t != 0),
        duration: span.duration,
        annotations: span
            .annotations
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .map(|a| V1Annotation {
                timestamp: a.timestamp.unwrap_or_default(),
                value: a.value.unwrap_or_default(),
                endpoint: a.endpoint.map(endpoint),
            })
            .collect(),
        binary_annotations: span
            .binary_annotations
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .map(|b| V1BinaryAnnotation {
                key: b.key.unwrap_or_default(),
                value: Value::StringValue(b.value.unwrap_or_default().0),
                endpoint: b.endpoint.map(endpoint),
            })
            .collect(),
    })
}

/// Exactly 16 hex digits, not all zero.
fn span_id(text: &str, path: impl Fn() -> String) -> Result<u64, ZipkinError> {
    let id = (text.len() == 16)
        .then(|| parse_hex_u64(text))
        .flatten()
        .ok_or_else(|| ZipkinError::invalid(path(), text, "16 hex digits"))?;
    if id == 0 {
        return Err(ZipkinError::invalid(path(), text, "a non-zero id"));
    }
    Ok(id)
}

fn endpoint(e: JsonEndpoint) -> V1Endpoint {
    V1Endpoint {
        service_name: e.service_name.unwrap_or_default(),
        ipv4: e.ipv4.unwrap_or_default(),
        ipv6: e.ipv6.unwrap_or_default(),
        port: e.port.unwrap_or_default(),
    }
}
