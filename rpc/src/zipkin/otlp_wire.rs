//! Writing the OTLP request a Zipkin body becomes straight to protobuf: span attributes from
//! text borrowed from the body (no `String` per tag, no `KeyValue` structs), and the request's
//! `ResourceSpans` / `ScopeSpans` envelopes around spans already encoded. The prost-encoded
//! parts (span fields, resources, scopes) and the raw parts are concatenated, which protobuf
//! defines as merging them: repeated fields keep their order, so the attributes come after the
//! span's other fields exactly in the order they are written.

use std::borrow::Cow;

use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};
use tracecore_proto::otlp::{ResourceSpans, ScopeSpans, Span};

/// `ExportTraceServiceRequest.resource_spans` (1), length-delimited.
const REQUEST_RESOURCE_SPANS: u8 = 0x0a;
/// `ResourceSpans.scope_spans` (2).
const RESOURCE_SPANS_SCOPE_SPANS: u8 = 0x12;
/// `ScopeSpans.spans` (2).
const SCOPE_SPANS_SPANS: u8 = 0x12;
/// `Span.attributes` (9).
const SPAN_ATTRIBUTES: u8 = 0x4a;
/// `KeyValue.key` (1) and `KeyValue.value` (2).
const KEY_VALUE_KEY: u8 = 0x0a;
const KEY_VALUE_VALUE: u8 = 0x12;
/// `AnyValue.string_value` (1, length-delimited) and `AnyValue.int_value` (3, varint).
const ANY_VALUE_STRING: u8 = 0x0a;
const ANY_VALUE_INT: u8 = 0x18;

/// The value of a span attribute the Zipkin mapping produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AttributeValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
}

fn delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn any_value_len(value: &AttributeValue<'_>) -> usize {
    match value {
        AttributeValue::Str(s) => delimited_len(s.len()),
        AttributeValue::Int(i) => 1 + encoded_len_varint(*i as u64),
    }
}

fn key_value_len(key: &str, value: &AttributeValue<'_>) -> usize {
    delimited_len(key.len()) + delimited_len(any_value_len(value))
}

fn put_delimited(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn put_attribute(out: &mut Vec<u8>, key: &str, value: &AttributeValue<'_>) {
    out.push(SPAN_ATTRIBUTES);
    encode_varint(key_value_len(key, value) as u64, out);
    put_delimited(out, KEY_VALUE_KEY, key.as_bytes());
    out.push(KEY_VALUE_VALUE);
    encode_varint(any_value_len(value) as u64, out);
    match value {
        AttributeValue::Str(s) => put_delimited(out, ANY_VALUE_STRING, s.as_bytes()),
        AttributeValue::Int(i) => {
            out.push(ANY_VALUE_INT);
            encode_varint(*i as u64, out);
        }
    }
}

/// Encodes into `out` a `ScopeSpans.spans` entry: `span` (whose own `attributes` are not
/// written here, so leave them empty) followed by `attributes`.
// PERFORMANCE-CRITICAL: once per span; the attributes are written without allocating.
pub(crate) fn put_span(
    out: &mut Vec<u8>,
    span: &Span,
    attributes: &[(Cow<'_, str>, AttributeValue<'_>)],
) {
    let attributes_len: usize = attributes
        .iter()
        .map(|(k, v)| delimited_len(key_value_len(k, v)))
        .sum();
    out.push(SCOPE_SPANS_SPANS);
    encode_varint((span.encoded_len() + attributes_len) as u64, out);
    span.encode_raw(out);
    for (key, value) in attributes {
        put_attribute(out, key, value);
    }
}

/// One `ScopeSpans` being built: the scope (its `spans` empty) and its spans as encoded by
/// [`put_span`].
#[derive(Debug, Default)]
pub(crate) struct ScopeOut {
    pub scope: ScopeSpans,
    pub spans: Vec<u8>,
}

impl ScopeOut {
    fn body_len(&self) -> usize {
        self.scope.encoded_len() + self.spans.len()
    }
}

/// One `ResourceSpans` being built: the resource (its `scope_spans` empty) and its scopes.
#[derive(Debug, Default)]
pub(crate) struct ResourceOut {
    pub resource: ResourceSpans,
    pub scopes: Vec<ScopeOut>,
}

impl ResourceOut {
    fn body_len(&self) -> usize {
        self.resource.encoded_len()
            + self
                .scopes
                .iter()
                .map(|s| delimited_len(s.body_len()))
                .sum::<usize>()
    }
}

/// The encoded `ExportTraceServiceRequest` of `resources`.
pub(crate) fn encode_request(resources: &[ResourceOut]) -> Vec<u8> {
    let total: usize = resources.iter().map(|r| delimited_len(r.body_len())).sum();
    let mut out = Vec::with_capacity(total);
    for resource in resources {
        out.push(REQUEST_RESOURCE_SPANS);
        encode_varint(resource.body_len() as u64, &mut out);
        resource.resource.encode_raw(&mut out);
        for scope in &resource.scopes {
            out.push(RESOURCE_SPANS_SCOPE_SPANS);
            encode_varint(scope.body_len() as u64, &mut out);
            scope.scope.encode_raw(&mut out);
            out.extend_from_slice(&scope.spans);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use tracecore_proto::otlp::{
        AnyValue, ExportTraceServiceRequest, InstrumentationScope, KeyValue, Resource,
        any_value::Value,
    };

    use super::*;

    #[test]
    fn raw_parts_decode_as_the_messages_they_stand_for() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "n".into(),
            ..Span::default()
        };
        let attributes = [
            (Cow::Borrowed("a"), AttributeValue::Str(Cow::Borrowed("x"))),
            (Cow::Borrowed("n"), AttributeValue::Int(-3)),
            (Cow::Borrowed("e"), AttributeValue::Str(Cow::Borrowed(""))),
            (Cow::Borrowed("z"), AttributeValue::Int(0)),
        ];
        let mut scope = ScopeOut {
            scope: ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    ..InstrumentationScope::default()
                }),
                ..ScopeSpans::default()
            },
            spans: Vec::new(),
        };
        put_span(&mut scope.spans, &span, &attributes);
        put_span(&mut scope.spans, &span, &[]);
        let resource = ResourceOut {
            resource: ResourceSpans {
                resource: Some(Resource::default()),
                ..ResourceSpans::default()
            },
            scopes: vec![scope, ScopeOut::default()],
        };
        let bytes = encode_request(&[resource, ResourceOut::default()]);
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("valid");

        let kv = |key: &str, value: Value| KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
        };
        let mut with_attributes = span.clone();
        with_attributes.attributes = vec![
            kv("a", Value::StringValue("x".into())),
            kv("n", Value::IntValue(-3)),
            kv("e", Value::StringValue(String::new())),
            kv("z", Value::IntValue(0)),
        ];
        let expected = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "lib".into(),
                                ..InstrumentationScope::default()
                            }),
                            spans: vec![with_attributes, span],
                            ..ScopeSpans::default()
                        },
                        ScopeSpans::default(),
                    ],
                    ..ResourceSpans::default()
                },
                ResourceSpans::default(),
            ],
        };
        assert_eq!(decoded, expected);
        assert_eq!(bytes.len(), expected.encoded_len());
    }
}
