//! `SearchResponse` as Tempo renders it (TEMPO-SPEC §4.1–4.5): jsonpb conventions (64-bit
//! integers as strings, zero values and empty lists omitted), trace IDs in hex without
//! leading zeros, span IDs as 16 hex digits, attributes as typed OTLP `AnyValue`s.

use tracecore_engine::scan::{RowValue, SpanHit, SpansetHit, TraceHit};
use tracecore_traceql::format_duration;

use crate::query::search::SearchMetrics;
use crate::tempo_json::{write_f64, write_i64, write_str, write_u64};

/// Shown for traces whose root span has not been seen (TEMPO-SPEC §4.2).
pub const ROOT_NOT_RECEIVED: &str = "<root span not yet received>";

pub fn search_response_json(traces: &[TraceHit], metrics: &SearchMetrics) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + traces.len() * 512);
    out.push(b'{');
    if !traces.is_empty() {
        out.extend_from_slice(b"\"traces\":[");
        for (i, t) in traces.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_trace(&mut out, t);
        }
        out.extend_from_slice(b"],");
    }
    out.extend_from_slice(b"\"metrics\":");
    write_metrics(&mut out, metrics);
    out.push(b'}');
    out
}

/// Hex without leading zeros ("0" for an all-zero ID).
pub fn trace_id_hex(id: &[u8; 16]) -> String {
    let full = hex::encode(id);
    let trimmed = full.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn write_trace(out: &mut Vec<u8>, t: &TraceHit) {
    out.extend_from_slice(b"{\"traceID\":");
    write_str(out, &trace_id_hex(&t.trace_id));
    out.extend_from_slice(b",\"rootServiceName\":");
    let root = if t.root_service_name.is_empty() {
        ROOT_NOT_RECEIVED
    } else {
        &t.root_service_name
    };
    write_str(out, root);
    if !t.root_span_name.is_empty() {
        out.extend_from_slice(b",\"rootTraceName\":");
        write_str(out, &t.root_span_name);
    }
    out.extend_from_slice(b",\"startTimeUnixNano\":\"");
    write_u64(out, t.start_unix_nano);
    out.push(b'"');
    let ms = t.duration_nanos / 1_000_000;
    if ms > 0 {
        out.extend_from_slice(b",\"durationMs\":");
        write_u64(out, ms.min(u64::from(u32::MAX)));
    }
    if let Some(first) = t.spansets.first() {
        out.extend_from_slice(b",\"spanSet\":");
        write_spanset(out, first);
        out.extend_from_slice(b",\"spanSets\":[");
        for (i, s) in t.spansets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_spanset(out, s);
        }
        out.push(b']');
    }
    if !t.service_stats.is_empty() {
        out.extend_from_slice(b",\"serviceStats\":{");
        for (i, (service, stats)) in t.service_stats.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, service);
            out.push(b':');
            out.push(b'{');
            let mut first = true;
            for (name, v) in [
                ("spanCount", stats.span_count),
                ("errorCount", stats.error_count),
            ] {
                if v > 0 {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_str(out, name);
                    out.push(b':');
                    write_u64(out, u64::from(v));
                }
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
    out.push(b'}');
}

fn write_spanset(out: &mut Vec<u8>, s: &SpansetHit) {
    out.push(b'{');
    let mut sep = false;
    if !s.spans.is_empty() {
        out.extend_from_slice(b"\"spans\":[");
        for (i, span) in s.spans.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_span(out, span);
        }
        out.push(b']');
        sep = true;
    }
    if s.matched > 0 {
        if sep {
            out.push(b',');
        }
        out.extend_from_slice(b"\"matched\":");
        write_u64(out, u64::from(s.matched));
        sep = true;
    }
    if !s.attributes.is_empty() {
        if sep {
            out.push(b',');
        }
        out.extend_from_slice(b"\"attributes\":[");
        for (i, (key, value)) in s.attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_attribute(out, key, value.as_ref());
        }
        out.push(b']');
    }
    out.push(b'}');
}

fn write_span(out: &mut Vec<u8>, s: &SpanHit) {
    out.extend_from_slice(b"{\"spanID\":");
    write_str(out, &hex::encode(s.span_id));
    if let Some(name) = &s.name
        && !name.is_empty()
    {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    out.extend_from_slice(b",\"startTimeUnixNano\":\"");
    write_u64(out, s.start_unix_nano);
    out.extend_from_slice(b"\",\"durationNanos\":\"");
    write_u64(out, s.duration_nanos);
    out.push(b'"');
    if !s.attributes.is_empty() {
        out.extend_from_slice(b",\"attributes\":[");
        for (i, (key, value)) in s.attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_attribute(out, key, Some(value));
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// TraceQL's names of OTLP status codes and span kinds.
pub fn status_name(code: i32) -> &'static str {
    match code {
        1 => "ok",
        2 => "error",
        _ => "unset",
    }
}

pub fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

fn write_attribute(out: &mut Vec<u8>, key: &str, value: Option<&RowValue>) {
    out.extend_from_slice(b"{\"key\":");
    write_str(out, key);
    out.extend_from_slice(b",\"value\":{");
    match value {
        None => {
            out.extend_from_slice(b"\"stringValue\":");
            write_str(out, "nil");
        }
        Some(RowValue::Str(s)) => {
            out.extend_from_slice(b"\"stringValue\":");
            write_str(out, s);
        }
        Some(RowValue::Int(i)) => {
            out.extend_from_slice(b"\"intValue\":\"");
            write_i64(out, *i);
            out.push(b'"');
        }
        Some(RowValue::Float(f)) => {
            out.extend_from_slice(b"\"doubleValue\":");
            write_f64(out, *f);
        }
        Some(RowValue::Bool(b)) => {
            out.extend_from_slice(b"\"boolValue\":");
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        Some(RowValue::Duration(d)) => {
            out.extend_from_slice(b"\"stringValue\":");
            write_str(out, &format_duration(*d));
        }
        Some(RowValue::Status(c)) => {
            out.extend_from_slice(b"\"stringValue\":");
            write_str(out, status_name(*c));
        }
        Some(RowValue::Kind(k)) => {
            out.extend_from_slice(b"\"stringValue\":");
            write_str(out, kind_name(*k));
        }
        Some(RowValue::Bytes(b)) => {
            out.extend_from_slice(b"\"stringValue\":");
            write_str(out, &hex::encode(b));
        }
    }
    out.extend_from_slice(b"}}");
}

fn write_metrics(out: &mut Vec<u8>, m: &SearchMetrics) {
    out.push(b'{');
    let mut first = true;
    let mut field = |out: &mut Vec<u8>, name: &str, v: u64, quoted: bool| {
        if v == 0 {
            return;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, name);
        out.push(b':');
        if quoted {
            out.push(b'"');
        }
        write_u64(out, v);
        if quoted {
            out.push(b'"');
        }
    };
    field(out, "inspectedTraces", m.inspected_traces, false);
    field(out, "inspectedBytes", m.inspected_bytes, true);
    field(out, "totalBlocks", m.total_blocks, false);
    field(out, "completedJobs", m.completed_jobs, false);
    field(out, "totalJobs", m.total_jobs, false);
    field(out, "totalBlockBytes", m.total_block_bytes, true);
    field(out, "inspectedSpans", m.inspected_spans, true);
    out.push(b'}');
}
