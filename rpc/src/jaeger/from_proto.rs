//! Jaeger protobuf (`jaeger.api_v2`) batches → OTLP, as the Collector's `ProtoToTraces` does
//! it.
//!
//! Spans may carry their own `process`, which overrides the batch's: spans are regrouped by
//! process (equal processes share one `ResourceSpans`, in order of first appearance) and, within
//! a resource, by instrumentation scope taken from the `otel.scope.name` / `otel.scope.version`
//! tags (or the older `otel.library.name` / `otel.library.version`), which are removed.
//! `w3c.tracestate` becomes the span's trace state.

use std::collections::HashMap;

use prost::Message;
use tracecore_proto::otlp::{
    ExportTraceServiceRequest, InstrumentationScope, Resource, ResourceSpans, ScopeSpans, Span,
    any_value::Value,
};

use super::JaegerError;
use super::attributes::{AttributeMap, str_or_empty};
use super::conventions::{
    ATTR_SERVICE_NAME, NO_SERVICE_NAME, Reference, SPAN_FLAG_SAMPLED, TAG_W3C_TRACESTATE,
    apply_kind_and_status, event, links, parent_span_id, span_id, trace_id, translate_process_tags,
};
use super::model_proto::{self, Batch, KeyValue, Process, ValueType};

/// Scope tag names, current then legacy; a version is read only under the same naming.
const SCOPE_TAGS: [(&str, &str); 2] = [
    ("otel.scope.name", "otel.scope.version"),
    ("otel.library.name", "otel.library.version"),
];

/// Converts protobuf batches. Fails only on IDs of the wrong length (trace IDs must be 16 bytes,
/// span IDs 8, either may be absent).
pub fn proto_batches_to_otlp(
    batches: Vec<Batch>,
) -> Result<ExportTraceServiceRequest, JaegerError> {
    let mut request = ExportTraceServiceRequest::default();
    for (process, spans) in regroup(batches) {
        if spans.is_empty() {
            continue;
        }
        let mut scopes: Vec<ScopeSpans> = Vec::new();
        let mut scope_index: HashMap<(String, String), usize> = HashMap::new();
        for (i, span) in spans {
            if is_blank(&span) {
                continue;
            }
            let (scope, span) = span_to_otlp(span, i)?;
            let at = *scope_index
                .entry(scope)
                .or_insert_with_key(|(name, version)| {
                    scopes.push(ScopeSpans {
                        scope: (!name.is_empty() || !version.is_empty()).then(|| {
                            InstrumentationScope {
                                name: name.clone(),
                                version: version.clone(),
                                ..InstrumentationScope::default()
                            }
                        }),
                        spans: Vec::new(),
                        schema_url: String::new(),
                    });
                    scopes.len() - 1
                });
            if let Some(scope) = scopes.get_mut(at) {
                scope.spans.push(span);
            }
        }
        if scopes.is_empty() {
            continue;
        }
        request.resource_spans.push(ResourceSpans {
            resource: Some(process_to_resource(process)),
            scope_spans: scopes,
            schema_url: String::new(),
        });
    }
    Ok(request)
}

/// A process and the spans that belong to it.
type ProcessGroup = (Option<Process>, Vec<(usize, model_proto::Span)>);

/// Splits batches into (process, spans) groups: a span without a process belongs to its batch's
/// process; equal processes (byte-equal encodings) share a group; groups keep first-seen order.
/// Each span comes with its index in its batch, for error messages.
fn regroup(batches: Vec<Batch>) -> Vec<ProcessGroup> {
    let mut groups: Vec<ProcessGroup> = Vec::new();
    let mut index: HashMap<Option<Vec<u8>>, usize> = HashMap::new();
    let mut group_of = |process: Option<Process>, groups: &mut Vec<ProcessGroup>| {
        let key = process.as_ref().map(Message::encode_to_vec);
        *index.entry(key).or_insert_with(|| {
            groups.push((process, Vec::new()));
            groups.len() - 1
        })
    };
    for batch in batches {
        let batch_group = group_of(batch.process, &mut groups);
        for (i, mut span) in batch.spans.into_iter().enumerate() {
            let at = match span.process.take() {
                None => batch_group,
                Some(process) => group_of(Some(process), &mut groups),
            };
            if let Some((_, spans)) = groups.get_mut(at) {
                spans.push((i, span));
            }
        }
    }
    groups
}

fn process_to_resource(process: Option<Process>) -> Resource {
    let mut attributes = AttributeMap::default();
    if let Some(process) = process
        && process.service_name != NO_SERVICE_NAME
        && !(process.service_name.is_empty() && process.tags.is_empty())
    {
        attributes = AttributeMap::with_capacity(process.tags.len() + 1);
        if !process.service_name.is_empty() {
            attributes.put_str(ATTR_SERVICE_NAME, process.service_name);
        }
        put_tags(&mut attributes, process.tags);
        translate_process_tags(&mut attributes);
    }
    Resource {
        attributes: attributes.into_vec(),
        dropped_attributes_count: 0,
    }
}

fn is_blank(span: &model_proto::Span) -> bool {
    *span == model_proto::Span::default()
}

/// Converts span `i` of its batch; returns its (scope name, scope version) too.
fn span_to_otlp(
    mut span: model_proto::Span,
    i: usize,
) -> Result<((String, String), Span), JaegerError> {
    let scope = take_scope(&mut span.tags);
    let trace = id128(&span.trace_id, || format!("spans[{i}].trace_id"))?;
    let own_id = id64(&span.span_id, || format!("spans[{i}].span_id"))?;
    let mut refs = Vec::with_capacity(span.references.len());
    for (j, r) in span.references.iter().enumerate() {
        let (trace_high, trace_low) = id128(&r.trace_id, || {
            format!("spans[{i}].references[{j}].trace_id")
        })?;
        refs.push(Reference {
            trace_high,
            trace_low,
            span_id: id64(&r.span_id, || format!("spans[{i}].references[{j}].span_id"))?,
            ref_type: r.ref_type,
        });
    }
    let parent = parent_span_id(0, trace, &refs);

    let start = span.start_time.map_or(0, |t| nanos(t.seconds, t.nanos));
    let duration = span.duration.map_or(0, |d| nanos(d.seconds, d.nanos));
    let mut attributes = AttributeMap::with_capacity(span.tags.len());
    put_tags(&mut attributes, span.tags);

    let mut out = Span {
        trace_id: trace_id(trace.0, trace.1),
        span_id: span_id(own_id),
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            span_id(parent)
        },
        flags: if span.flags & 1 != 0 {
            SPAN_FLAG_SAMPLED
        } else {
            0
        },
        name: span.operation_name,
        start_time_unix_nano: clamp_nanos(start),
        end_time_unix_nano: clamp_nanos(start.saturating_add(duration)),
        ..Span::default()
    };
    apply_kind_and_status(&mut attributes, &mut out);
    if let Some(state) = attributes.remove(TAG_W3C_TRACESTATE) {
        out.trace_state = str_or_empty(&state).to_owned();
    }
    out.attributes = attributes.into_vec();
    out.events = span
        .logs
        .into_iter()
        .map(|log| {
            let time = log.timestamp.map_or(0, |t| nanos(t.seconds, t.nanos));
            let mut fields = AttributeMap::with_capacity(log.fields.len());
            put_tags(&mut fields, log.fields);
            event(clamp_nanos(time), fields)
        })
        .collect();
    out.links = links(&refs, parent);
    Ok((scope, out))
}

/// Removes the scope tags and returns (name, version); empty when the span names no scope.
fn take_scope(tags: &mut Vec<KeyValue>) -> (String, String) {
    for (name_key, version_key) in SCOPE_TAGS {
        if let Some(name) = take_str_tag(tags, name_key) {
            let version = take_str_tag(tags, version_key).unwrap_or_default();
            return (name, version);
        }
    }
    (String::new(), String::new())
}

/// Removes the first tag named `key`; its string value (empty for other types).
fn take_str_tag(tags: &mut Vec<KeyValue>, key: &str) -> Option<String> {
    let i = tags.iter().position(|t| t.key == key)?;
    Some(tags.remove(i).v_str)
}

fn put_tags(attributes: &mut AttributeMap, tags: Vec<KeyValue>) {
    for tag in tags {
        let value = match ValueType::try_from(tag.v_type) {
            Ok(ValueType::String) => Value::StringValue(tag.v_str),
            Ok(ValueType::Bool) => Value::BoolValue(tag.v_bool),
            Ok(ValueType::Int64) => Value::IntValue(tag.v_int64),
            Ok(ValueType::Float64) => Value::DoubleValue(tag.v_float64),
            Ok(ValueType::Binary) => Value::BytesValue(tag.v_binary),
            Err(_) => Value::StringValue(format!("<Unknown Jaeger TagType \"{}\">", tag.v_type)),
        };
        attributes.put(tag.key, value);
    }
}

/// Seconds and nanoseconds (either sign) as signed nanoseconds, saturating.
fn nanos(seconds: i64, nanos: i32) -> i64 {
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(nanos))
}

/// Unix nanoseconds before 1970 become 0.
fn clamp_nanos(nanos: i64) -> u64 {
    u64::try_from(nanos).unwrap_or(0)
}

/// A 16-byte trace ID as (high, low); absent means zero.
fn id128(bytes: &[u8], field: impl FnOnce() -> String) -> Result<(u64, u64), JaegerError> {
    match <[u8; 16]>::try_from(bytes) {
        Ok(id) => {
            let id = u128::from_be_bytes(id);
            Ok(((id >> 64) as u64, id as u64))
        }
        Err(_) if bytes.is_empty() => Ok((0, 0)),
        Err(_) => Err(JaegerError::IdLength {
            field: field(),
            expected: 16,
            got: bytes.len(),
        }),
    }
}

/// An 8-byte span ID; absent means zero.
fn id64(bytes: &[u8], field: impl FnOnce() -> String) -> Result<u64, JaegerError> {
    match <[u8; 8]>::try_from(bytes) {
        Ok(id) => Ok(u64::from_be_bytes(id)),
        Err(_) if bytes.is_empty() => Ok(0),
        Err(_) => Err(JaegerError::IdLength {
            field: field(),
            expected: 8,
            got: bytes.len(),
        }),
    }
}
