//! Zipkin v1 Thrift: a body of `list<zipkincore.Span>` in TBinaryProtocol (`POST
//! /api/v1/spans`, `application/x-thrift`), and the spans of a Jaeger agent's
//! `emitZipkinBatch`.
//!
//! Binary annotation values are typed by `annotation_type` (big-endian numbers, `BOOL` is true
//! only for the single byte 1, `BYTES` become base64 text); a value too short for its type, or
//! an unknown type, becomes a `<…>` string as in the Collector. Integers are read as signed,
//! as the Thrift IDL declares them (the Collector reads `I16`/`I32` unsigned).

use base64::Engine as _;
use tracecore_proto::otlp::any_value::Value;

use super::ZipkinError;
use super::model::{V1Annotation, V1BinaryAnnotation, V1Endpoint, V1Span, format_packed_ip};
use crate::jaeger::thrift_gen::zipkincore::{self, AnnotationType};
use crate::jaeger::thrift_wire;

/// Reads a v1 Thrift body.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<V1Span>, ZipkinError> {
    let spans = thrift_wire::with_binary(body, thrift_wire::read_zipkin_span_list)
        .map_err(|e| ZipkinError::Thrift(crate::jaeger::describe_thrift_error(&e)))?;
    Ok(convert(spans))
}

/// Converts generated Thrift spans; infallible (IDs are integers, absent ones zero).
pub(crate) fn convert(spans: Vec<zipkincore::Span>) -> Vec<V1Span> {
    spans.into_iter().map(convert_span).collect()
}

fn convert_span(span: zipkincore::Span) -> V1Span {
    V1Span {
        trace_id: (
            span.trace_id_high.unwrap_or_default() as u64,
            span.trace_id.unwrap_or_default() as u64,
        ),
        id: span.id.unwrap_or_default() as u64,
        parent_id: span.parent_id.unwrap_or_default() as u64,
        name: span.name.unwrap_or_default(),
        timestamp: span.timestamp,
        duration: span.duration,
        annotations: span
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|a| V1Annotation {
                timestamp: a.timestamp.unwrap_or_default(),
                value: a.value.unwrap_or_default(),
                endpoint: a.host.map(endpoint),
            })
            .collect(),
        binary_annotations: span
            .binary_annotations
            .unwrap_or_default()
            .into_iter()
            .map(|b| {
                let bytes = b.value.unwrap_or_default();
                V1BinaryAnnotation {
                    key: b.key.unwrap_or_default(),
                    value: typed_value(b.annotation_type, &bytes),
                    endpoint: b.host.map(endpoint),
                }
            })
            .collect(),
    }
}

fn typed_value(annotation_type: Option<AnnotationType>, bytes: &[u8]) -> Value {
    let short = || Value::StringValue("<not enough bytes representing the number>".to_owned());
    match annotation_type.unwrap_or(AnnotationType::BOOL) {
        AnnotationType::BOOL => Value::BoolValue(bytes == [1]),
        AnnotationType::BYTES => {
            Value::StringValue(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        AnnotationType::DOUBLE => match bytes.first_chunk::<8>() {
            Some(b) => Value::DoubleValue(f64::from_be_bytes(*b)),
            None => short(),
        },
        AnnotationType::I16 => match bytes.first_chunk::<2>() {
            Some(b) => Value::IntValue(i64::from(i16::from_be_bytes(*b))),
            None => short(),
        },
        AnnotationType::I32 => match bytes.first_chunk::<4>() {
            Some(b) => Value::IntValue(i64::from(i32::from_be_bytes(*b))),
            None => short(),
        },
        AnnotationType::I64 => match bytes.first_chunk::<8>() {
            Some(b) => Value::IntValue(i64::from_be_bytes(*b)),
            None => short(),
        },
        AnnotationType::STRING => Value::StringValue(String::from_utf8_lossy(bytes).into_owned()),
        AnnotationType(other) => Value::StringValue(format!(
            "<unknown zipkin v1 binary annotation type ({other})>"
        )),
    }
}

fn endpoint(e: zipkincore::Endpoint) -> V1Endpoint {
    let ipv4 = match e.ipv4.unwrap_or_default() {
        0 => String::new(),
        packed => std::net::Ipv4Addr::from(packed as u32).to_string(),
    };
    // Go prints a packed IP of another length as "?" and hex; an empty string is clearer.
    let ipv6 = format_packed_ip(&e.ipv6.unwrap_or_default())
        .ok()
        .flatten()
        .unwrap_or_default();
    V1Endpoint {
        service_name: e.service_name.unwrap_or_default(),
        ipv4,
        ipv6,
        port: i32::from(e.port.unwrap_or_default() as u16),
    }
}
