//! Search results as `tempopb.SearchResponse` messages (the gRPC streaming form), split into
//! packets of at most `max_grpc_streaming_packet_size` (1 MiB), each repeating the metrics.

use prost::Message as _;
use tracecore_engine::scan::{RowValue, SpanHit, SpansetHit, TraceHit};
use tracecore_proto::otlp::{AnyValue, KeyValue, any_value::Value};
use tracecore_proto::tempo::{
    SearchMetrics, SearchResponse, ServiceStats, Span, SpanSet, TraceSearchMetadata,
};
use tracecore_traceql::format_duration;

use super::search_json::{ROOT_NOT_RECEIVED, kind_name, status_name, trace_id_hex};
use crate::query::search::SearchMetrics as Metrics;

/// Tempo's `max_grpc_streaming_packet_size`.
pub const MAX_PACKET_BYTES: usize = 1 << 20;

fn any(value: Option<&RowValue>) -> AnyValue {
    let v = match value {
        None => Value::StringValue("nil".into()),
        Some(RowValue::Str(s)) => Value::StringValue(s.clone()),
        Some(RowValue::Int(i)) => Value::IntValue(*i),
        Some(RowValue::Float(f)) => Value::DoubleValue(*f),
        Some(RowValue::Bool(b)) => Value::BoolValue(*b),
        Some(RowValue::Duration(d)) => Value::StringValue(format_duration(*d)),
        Some(RowValue::Status(s)) => Value::StringValue(status_name(*s).into()),
        Some(RowValue::Kind(k)) => Value::StringValue(kind_name(*k).into()),
        Some(RowValue::Bytes(b)) => Value::StringValue(hex::encode(b)),
    };
    AnyValue { value: Some(v) }
}

fn kv(key: &str, value: Option<&RowValue>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any(value)),
    }
}

fn span(s: &SpanHit) -> Span {
    Span {
        span_id: hex::encode(s.span_id),
        name: s.name.clone().unwrap_or_default(),
        start_time_unix_nano: s.start_unix_nano,
        duration_nanos: s.duration_nanos,
        attributes: s.attributes.iter().map(|(k, v)| kv(k, Some(v))).collect(),
    }
}

fn span_set(s: &SpansetHit) -> SpanSet {
    SpanSet {
        spans: s.spans.iter().map(span).collect(),
        matched: s.matched,
        attributes: s
            .attributes
            .iter()
            .map(|(k, v)| kv(k, v.as_ref()))
            .collect(),
    }
}

pub fn trace_metadata(t: &TraceHit) -> TraceSearchMetadata {
    let span_sets: Vec<SpanSet> = t.spansets.iter().map(span_set).collect();
    TraceSearchMetadata {
        trace_id: trace_id_hex(&t.trace_id),
        root_service_name: if t.root_service_name.is_empty() {
            ROOT_NOT_RECEIVED.to_owned()
        } else {
            t.root_service_name.clone()
        },
        root_trace_name: t.root_span_name.clone(),
        start_time_unix_nano: t.start_unix_nano,
        duration_ms: u32::try_from(t.duration_nanos / 1_000_000).unwrap_or(u32::MAX),
        span_set: span_sets.first().cloned(),
        span_sets,
        service_stats: t
            .service_stats
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    ServiceStats {
                        span_count: v.span_count,
                        error_count: v.error_count,
                    },
                )
            })
            .collect(),
    }
}

pub fn metrics(m: &Metrics) -> SearchMetrics {
    let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    SearchMetrics {
        inspected_traces: small(m.inspected_traces),
        inspected_bytes: m.inspected_bytes,
        total_blocks: small(m.total_blocks),
        completed_jobs: small(m.completed_jobs),
        total_jobs: small(m.total_jobs),
        total_block_bytes: m.total_block_bytes,
        inspected_spans: m.inspected_spans,
    }
}

/// The result as one or more messages of at most [`MAX_PACKET_BYTES`] (a single trace larger
/// than that travels alone); always at least one message, so the metrics arrive.
pub fn packets(traces: &[TraceHit], m: &Metrics) -> Vec<SearchResponse> {
    let metrics = metrics(m);
    let mut out = Vec::new();
    let mut current = SearchResponse {
        traces: Vec::new(),
        metrics: Some(metrics.clone()),
    };
    let mut size = current.encoded_len();
    for t in traces {
        let meta = trace_metadata(t);
        let len = meta.encoded_len() + 8;
        if !current.traces.is_empty() && size + len > MAX_PACKET_BYTES {
            out.push(std::mem::replace(
                &mut current,
                SearchResponse {
                    traces: Vec::new(),
                    metrics: Some(metrics.clone()),
                },
            ));
            size = current.encoded_len();
        }
        size += len;
        current.traces.push(meta);
    }
    out.push(current);
    out
}
