//! Jaeger Thrift `Batch` → OTLP, as the Collector's `ThriftToTraces` does it.
//!
//! One `ResourceSpans` per batch: the process becomes the resource (`service.name` plus the
//! process tags, `hostname` and `jaeger.version` renamed), all spans go into one `ScopeSpans`
//! with an empty scope (the Thrift path, unlike the protobuf one, does not lift
//! `otel.scope.name` tags into the scope, nor `w3c.tracestate` into the trace state).

use tracecore_proto::otlp::{
    ExportTraceServiceRequest, Resource, ResourceSpans, ScopeSpans, Span, any_value::Value,
};

use super::attributes::AttributeMap;
use super::conventions::{
    ATTR_SERVICE_NAME, Reference, SPAN_FLAG_SAMPLED, apply_kind_and_status, event, links,
    micros_to_nanos, parent_span_id, span_id, trace_id, translate_process_tags,
};
use super::thrift_gen::jaeger::{Batch, Process, Tag, TagType};

/// Converts one Thrift batch. Infallible: every value the generated reader accepts maps to
/// something; ID validity is checked later by the OTLP skim.
pub fn thrift_batch_to_otlp(batch: Batch) -> ExportTraceServiceRequest {
    let mut request = ExportTraceServiceRequest::default();
    let spans: Vec<Span> = batch
        .spans
        .into_iter()
        .filter(|s| !is_blank(s))
        .map(span_to_otlp)
        .collect();
    if spans.is_empty() {
        return request;
    }
    request.resource_spans.push(ResourceSpans {
        resource: Some(process_to_resource(batch.process)),
        scope_spans: vec![ScopeSpans {
            scope: None,
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    });
    request
}

fn process_to_resource(process: Process) -> Resource {
    let tags = process.tags.unwrap_or_default();
    let mut attributes = AttributeMap::with_capacity(tags.len() + 1);
    if !process.service_name.is_empty() {
        attributes.put_str(ATTR_SERVICE_NAME, process.service_name);
    }
    put_tags(&mut attributes, tags);
    translate_process_tags(&mut attributes);
    Resource {
        attributes: attributes.into_vec(),
        dropped_attributes_count: 0,
    }
}

/// Whether the span is all defaults (the Collector skips those).
fn is_blank(span: &super::thrift_gen::jaeger::Span) -> bool {
    span.trace_id_low == 0
        && span.trace_id_high == 0
        && span.span_id == 0
        && span.parent_span_id == 0
        && span.operation_name.is_empty()
        && span.references.is_none()
        && span.flags == 0
        && span.start_time == 0
        && span.duration == 0
        && span.tags.is_none()
        && span.logs.is_none()
}

fn span_to_otlp(span: super::thrift_gen::jaeger::Span) -> Span {
    let trace = (span.trace_id_high as u64, span.trace_id_low as u64);
    let refs: Vec<Reference> = span
        .references
        .unwrap_or_default()
        .into_iter()
        .map(|r| Reference {
            trace_high: r.trace_id_high as u64,
            trace_low: r.trace_id_low as u64,
            span_id: r.span_id as u64,
            ref_type: r.ref_type.0,
        })
        .collect();
    let parent = parent_span_id(span.parent_span_id as u64, trace, &refs);

    let tags = span.tags.unwrap_or_default();
    let mut attributes = AttributeMap::with_capacity(tags.len());
    put_tags(&mut attributes, tags);

    let mut out = Span {
        trace_id: trace_id(trace.0, trace.1),
        span_id: span_id(span.span_id as u64),
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
        start_time_unix_nano: micros_to_nanos(span.start_time),
        end_time_unix_nano: micros_to_nanos(span.start_time.saturating_add(span.duration)),
        ..Span::default()
    };
    apply_kind_and_status(&mut attributes, &mut out);
    out.attributes = attributes.into_vec();
    out.events = span
        .logs
        .unwrap_or_default()
        .into_iter()
        .map(|log| {
            let mut fields = AttributeMap::with_capacity(log.fields.len());
            put_tags(&mut fields, log.fields);
            event(micros_to_nanos(log.timestamp), fields)
        })
        .collect();
    out.links = links(&refs, parent);
    out
}

fn put_tags(attributes: &mut AttributeMap, tags: Vec<Tag>) {
    for tag in tags {
        let value = match tag.v_type {
            TagType::STRING => Value::StringValue(tag.v_str.unwrap_or_default()),
            TagType::DOUBLE => Value::DoubleValue(tag.v_double.map_or(0.0, |d| d.0)),
            TagType::BOOL => Value::BoolValue(tag.v_bool.unwrap_or_default()),
            TagType::LONG => Value::IntValue(tag.v_long.unwrap_or_default()),
            TagType::BINARY => Value::BytesValue(tag.v_binary.unwrap_or_default()),
            // Go's Thrift enums print unknown values as "<UNSET>".
            _ => Value::StringValue("<Unknown Jaeger TagType \"<UNSET>\">".to_owned()),
        };
        attributes.put(tag.key, value);
    }
}
