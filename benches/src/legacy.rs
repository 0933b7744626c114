//! Jaeger and Zipkin encodings of generated OTLP requests, for `loadgen`'s non-OTLP modes:
//! Jaeger Thrift binary (`POST /api/traces`), Jaeger agent `emitBatch` datagrams in Thrift
//! compact (UDP), and Zipkin v2 JSON (`POST /api/v2/spans`).
//!
//! The mapping is the one the OpenTelemetry Collector's Jaeger and Zipkin exporters use, so the
//! server does the same conversion work a real fleet would cause: Jaeger — one `Batch` per
//! resource, process = `service.name` + the other resource attributes as typed tags, span
//! attributes as typed tags (arrays and kvlists as JSON text), kind as `span.kind`, status as
//! `error` / `otel.status_code` / `otel.status_description`, events as logs with an `event`
//! field, links as `FOLLOWS_FROM` references; Zipkin — `localEndpoint.serviceName`, resource
//! and span attributes as string tags, `kind`, status tags, events as annotations.
//!
//! The Thrift writers are hand-written (the generated structs live in the server crate, which
//! this crate does not depend on); the tests decode their output with the server's decoders.
//!
//! Unlike the OTLP pool, which patches pre-encoded bytes, a [`LegacyRequest`] is re-encoded on
//! every send (compact varints change length when an ID changes): each send XORs the low half
//! of every trace ID with a per-send mask and shifts every timestamp, so no trace ID repeats.
//! Encoding costs the load generator roughly a microsecond per span, not the server.
//!
//! Batching: a Jaeger client or Zipkin reporter runs inside one process and flushes the spans
//! of that process only, up to a batch size (jaeger-client-go's HTTP sender and zipkin-go's HTTP
//! reporter both default to 100 spans; the UDP agent path is bounded by the datagram size
//! instead). [`process_batches`] reproduces that: it generates traces, buffers each process's
//! (resource's) spans across traces, and emits a process's buffer as one request once it holds
//! [`DEFAULT_BATCH_SPANS`] spans, so every body loadgen sends carries one process and about
//! that many spans, instead of the dozen or so a single trace leaves per process.

use std::collections::HashMap;
use std::fmt::Write as _;

use prost::Message as _;
use tracecore_proto::otlp::{
    AnyValue, ExportTraceServiceRequest, KeyValue, ResourceSpans, Span, SpanKind, StatusCode,
    any_value::Value,
};

/// Largest agent datagram (the Jaeger clients' default `max_packet_size`).
pub const MAX_DATAGRAM: usize = 65_000;

/// Spans a simulated Jaeger client or Zipkin reporter flushes per batch (the clients' default).
pub const DEFAULT_BATCH_SPANS: usize = 100;

/// `count` requests, each the batch one process (resource) flushes: that process's spans from
/// as many generated traces as it takes to reach `batch_spans` (a batch ends at a trace
/// boundary, so it may exceed `batch_spans` by the spans one trace left in that process).
pub fn process_batches(
    generator: &mut crate::tracegen::TraceGenerator,
    count: usize,
    batch_spans: usize,
) -> Vec<ExportTraceServiceRequest> {
    let batch_spans = batch_spans.max(1);
    // Resource (encoded) → (the resource's spans so far, their count).
    let mut pending: HashMap<Vec<u8>, (ResourceSpans, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let (_, resources) = generator.next_trace();
        for rs in resources {
            let key = rs
                .resource
                .as_ref()
                .map(|r| r.encode_to_vec())
                .unwrap_or_default();
            let spans = spans_of(&rs).count();
            let entry = pending.entry(key).or_insert_with(|| {
                (
                    ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    },
                    0,
                )
            });
            entry.0.scope_spans.extend(rs.scope_spans);
            entry.1 += spans;
            if entry.1 >= batch_spans && out.len() < count {
                let template = ResourceSpans {
                    resource: entry.0.resource.clone(),
                    scope_spans: Vec::new(),
                    schema_url: entry.0.schema_url.clone(),
                };
                let full = std::mem::replace(&mut entry.0, template);
                entry.1 = 0;
                out.push(ExportTraceServiceRequest {
                    resource_spans: vec![full],
                });
            }
        }
    }
    out
}

/// A wire format `loadgen` can send besides OTLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyFormat {
    /// Thrift-binary `Batch`, one per resource, each its own `POST /api/traces` body.
    JaegerThriftHttp,
    /// `Agent.emitBatch` in Thrift compact, one datagram per resource (split below
    /// [`MAX_DATAGRAM`]).
    JaegerAgentCompact,
    /// One Zipkin v2 JSON array per request.
    ZipkinJson,
}

/// One generated request, re-encoded per send.
#[derive(Clone, Debug)]
pub struct LegacyRequest {
    request: ExportTraceServiceRequest,
    spans: usize,
    base_time_ns: u64,
}

impl LegacyRequest {
    pub fn new(request: ExportTraceServiceRequest) -> Self {
        let spans = all_spans(&request.resource_spans).count();
        let base_time_ns = all_spans(&request.resource_spans)
            .map(|s| s.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        LegacyRequest {
            request,
            spans,
            base_time_ns,
        }
    }

    pub fn spans(&self) -> usize {
        self.spans
    }

    /// The bodies (HTTP) or datagrams (UDP) carrying this request, with trace IDs made distinct
    /// by `unique` and timestamps moved so the request starts at `start_ns`.
    pub fn render(&self, format: LegacyFormat, unique: u64, start_ns: u64) -> Vec<Vec<u8>> {
        let patch = Patch {
            mask: splitmix64(unique),
            shift: start_ns.wrapping_sub(self.base_time_ns),
        };
        let resources = &self.request.resource_spans;
        match format {
            LegacyFormat::JaegerThriftHttp => resources
                .iter()
                .map(|rs| {
                    let spans: Vec<&Span> = spans_of(rs).collect();
                    let mut w = Binary::default();
                    write_batch(&mut w, rs, &spans, patch);
                    w.out
                })
                .collect(),
            LegacyFormat::JaegerAgentCompact => {
                let mut datagrams = Vec::new();
                for rs in resources {
                    let spans: Vec<&Span> = spans_of(rs).collect();
                    agent_datagrams(rs, &spans, patch, &mut datagrams);
                }
                datagrams
            }
            LegacyFormat::ZipkinJson => vec![zipkin_json(resources, patch)],
        }
    }
}

#[derive(Clone, Copy)]
struct Patch {
    mask: u64,
    shift: u64,
}

impl Patch {
    fn micros(self, ns: u64) -> i64 {
        i64::try_from(ns.wrapping_add(self.shift) / 1_000).unwrap_or(i64::MAX)
    }

    /// (high, low) with the low half masked.
    fn trace_id(self, id: &[u8]) -> (u64, u64) {
        let (high, low) = halves(id);
        (high, low ^ self.mask)
    }
}

fn all_spans(resources: &[ResourceSpans]) -> impl Iterator<Item = &Span> {
    resources.iter().flat_map(spans_of)
}

fn spans_of(rs: &ResourceSpans) -> impl Iterator<Item = &Span> {
    rs.scope_spans.iter().flat_map(|ss| &ss.spans)
}

fn halves(id: &[u8]) -> (u64, u64) {
    let mut bytes = [0u8; 16];
    let n = id.len().min(16);
    bytes[16 - n..].copy_from_slice(&id[..n]);
    let (high, low) = bytes.split_at(8);
    (
        u64::from_be_bytes(high.try_into().unwrap_or_default()),
        u64::from_be_bytes(low.try_into().unwrap_or_default()),
    )
}

fn span_id(id: &[u8]) -> u64 {
    halves(id).1
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---- attribute values ----

fn json(value: &AnyValue) -> serde_json::Value {
    match &value.value {
        None => serde_json::Value::Null,
        Some(Value::StringValue(s)) => s.clone().into(),
        Some(Value::BoolValue(b)) => (*b).into(),
        Some(Value::IntValue(i)) => (*i).into(),
        Some(Value::DoubleValue(d)) => (*d).into(),
        Some(Value::BytesValue(b)) => hex::encode(b).into(),
        Some(Value::ArrayValue(a)) => a.values.iter().map(json).collect(),
        Some(Value::KvlistValue(l)) => l
            .values
            .iter()
            .map(|kv| {
                let v = kv.value.as_ref().map_or(serde_json::Value::Null, json);
                (kv.key.clone(), v)
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// The Collector's `AsString()`: scalars as text, arrays and kvlists as JSON.
fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        _ => json(value).to_string(),
    }
}

fn kind_name(kind: i32) -> Option<&'static str> {
    match SpanKind::try_from(kind).ok()? {
        SpanKind::Client => Some("client"),
        SpanKind::Server => Some("server"),
        SpanKind::Producer => Some("producer"),
        SpanKind::Consumer => Some("consumer"),
        SpanKind::Internal => Some("internal"),
        SpanKind::Unspecified => None,
    }
}

fn service_name(rs: &ResourceSpans) -> String {
    resource_attributes(rs)
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .map(text)
        .unwrap_or_default()
}

fn resource_attributes(rs: &ResourceSpans) -> impl Iterator<Item = &KeyValue> {
    rs.resource.iter().flat_map(|r| &r.attributes)
}

// ---- Thrift ----

/// Binary-protocol type codes; the compact writer translates them.
const T_BOOL: u8 = 2;
const T_DOUBLE: u8 = 4;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_LIST: u8 = 15;

trait ThriftOut {
    fn field(&mut self, ttype: u8, id: i16);
    fn bool_field(&mut self, id: i16, value: bool);
    fn struct_begin(&mut self);
    /// Writes the stop field and ends the struct.
    fn struct_end(&mut self);
    fn i32(&mut self, v: i32);
    fn i64(&mut self, v: i64);
    fn double(&mut self, v: f64);
    fn bytes(&mut self, v: &[u8]);
    fn list(&mut self, elem: u8, len: usize);
}

/// `TBinaryProtocol`, strict.
#[derive(Default)]
struct Binary {
    out: Vec<u8>,
}

impl ThriftOut for Binary {
    fn field(&mut self, ttype: u8, id: i16) {
        self.out.push(ttype);
        self.out.extend_from_slice(&id.to_be_bytes());
    }
    fn bool_field(&mut self, id: i16, value: bool) {
        self.field(T_BOOL, id);
        self.out.push(u8::from(value));
    }
    fn struct_begin(&mut self) {}
    fn struct_end(&mut self) {
        self.out.push(0);
    }
    fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn double(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.i32(i32::try_from(v.len()).unwrap_or(i32::MAX));
        self.out.extend_from_slice(v);
    }
    fn list(&mut self, elem: u8, len: usize) {
        self.out.push(elem);
        self.i32(i32::try_from(len).unwrap_or(i32::MAX));
    }
}

/// `TCompactProtocol`: field-ID deltas, zigzag varints, little-endian doubles.
#[derive(Default)]
struct Compact {
    out: Vec<u8>,
    last_field: i16,
    stack: Vec<i16>,
}

impl Compact {
    fn ctype(ttype: u8) -> u8 {
        match ttype {
            T_DOUBLE => 7,
            T_I32 => 5,
            T_I64 => 6,
            T_STRING => 8,
            T_STRUCT => 12,
            T_LIST => 9,
            _ => 1,
        }
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn header(&mut self, ctype: u8, id: i16) {
        let delta = id.wrapping_sub(self.last_field);
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | ctype);
        } else {
            self.out.push(ctype);
            self.varint(zigzag(i64::from(id)));
        }
        self.last_field = id;
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

impl ThriftOut for Compact {
    fn field(&mut self, ttype: u8, id: i16) {
        self.header(Self::ctype(ttype), id);
    }
    fn bool_field(&mut self, id: i16, value: bool) {
        self.header(if value { 1 } else { 2 }, id);
    }
    fn struct_begin(&mut self) {
        self.stack.push(self.last_field);
        self.last_field = 0;
    }
    fn struct_end(&mut self) {
        self.out.push(0);
        self.last_field = self.stack.pop().unwrap_or(0);
    }
    fn i32(&mut self, v: i32) {
        self.varint(zigzag(i64::from(v)));
    }
    fn i64(&mut self, v: i64) {
        self.varint(zigzag(v));
    }
    fn double(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.varint(v.len() as u64);
        self.out.extend_from_slice(v);
    }
    fn list(&mut self, elem: u8, len: usize) {
        let ctype = Self::ctype(elem);
        if len < 15 {
            self.out.push(((len as u8) << 4) | ctype);
        } else {
            self.out.push(0xf0 | ctype);
            self.varint(len as u64);
        }
    }
}

/// Jaeger `TagType`.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;

fn str_tag(w: &mut dyn ThriftOut, key: &str, value: &str) {
    w.struct_begin();
    w.field(T_STRING, 1);
    w.bytes(key.as_bytes());
    w.field(T_I32, 2);
    w.i32(TAG_STRING);
    w.field(T_STRING, 3);
    w.bytes(value.as_bytes());
    w.struct_end();
}

fn tag(w: &mut dyn ThriftOut, key: &str, value: &AnyValue) {
    w.struct_begin();
    w.field(T_STRING, 1);
    w.bytes(key.as_bytes());
    match &value.value {
        Some(Value::BoolValue(b)) => {
            w.field(T_I32, 2);
            w.i32(TAG_BOOL);
            w.bool_field(5, *b);
        }
        Some(Value::IntValue(i)) => {
            w.field(T_I32, 2);
            w.i32(TAG_LONG);
            w.field(T_I64, 6);
            w.i64(*i);
        }
        Some(Value::DoubleValue(d)) => {
            w.field(T_I32, 2);
            w.i32(TAG_DOUBLE);
            w.field(T_DOUBLE, 4);
            w.double(*d);
        }
        _ => {
            w.field(T_I32, 2);
            w.i32(TAG_STRING);
            w.field(T_STRING, 3);
            w.bytes(text(value).as_bytes());
        }
    }
    w.struct_end();
}

fn tags(w: &mut dyn ThriftOut, field: i16, attributes: &[KeyValue], extra: &[(&str, &str)]) {
    let n = attributes.iter().filter(|kv| kv.value.is_some()).count() + extra.len();
    w.field(T_LIST, field);
    w.list(T_STRUCT, n);
    for kv in attributes {
        if let Some(v) = &kv.value {
            tag(w, &kv.key, v);
        }
    }
    for (k, v) in extra {
        str_tag(w, k, v);
    }
}

fn write_span(w: &mut dyn ThriftOut, span: &Span, patch: Patch) {
    let (high, low) = patch.trace_id(&span.trace_id);
    w.struct_begin();
    w.field(T_I64, 1);
    w.i64(low as i64);
    w.field(T_I64, 2);
    w.i64(high as i64);
    w.field(T_I64, 3);
    w.i64(span_id(&span.span_id) as i64);
    w.field(T_I64, 4);
    w.i64(span_id(&span.parent_span_id) as i64);
    w.field(T_STRING, 5);
    w.bytes(span.name.as_bytes());
    if !span.links.is_empty() {
        w.field(T_LIST, 6);
        w.list(T_STRUCT, span.links.len());
        for link in &span.links {
            // Links within the generated request point into the same (re-masked) trace.
            let (lh, ll) = if link.trace_id == span.trace_id {
                (high, low)
            } else {
                halves(&link.trace_id)
            };
            w.struct_begin();
            w.field(T_I32, 1);
            w.i32(1); // FOLLOWS_FROM
            w.field(T_I64, 2);
            w.i64(ll as i64);
            w.field(T_I64, 3);
            w.i64(lh as i64);
            w.field(T_I64, 4);
            w.i64(span_id(&link.span_id) as i64);
            w.struct_end();
        }
    }
    w.field(T_I32, 7);
    w.i32(1);
    w.field(T_I64, 8);
    w.i64(patch.micros(span.start_time_unix_nano));
    w.field(T_I64, 9);
    w.i64(
        i64::try_from(
            span.end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano)
                / 1_000,
        )
        .unwrap_or(0),
    );
    let mut extra: Vec<(&str, &str)> = Vec::with_capacity(4);
    if let Some(kind) = kind_name(span.kind) {
        extra.push(("span.kind", kind));
    }
    let status = span.status.as_ref();
    match status.and_then(|s| StatusCode::try_from(s.code).ok()) {
        Some(StatusCode::Error) => extra.push(("otel.status_code", "ERROR")),
        Some(StatusCode::Ok) => extra.push(("otel.status_code", "OK")),
        _ => {}
    }
    if let Some(s) = status.filter(|s| !s.message.is_empty()) {
        extra.push(("otel.status_description", &s.message));
    }
    let error = status.is_some_and(|s| s.code == StatusCode::Error as i32);
    let n = span
        .attributes
        .iter()
        .filter(|kv| kv.value.is_some())
        .count()
        + extra.len()
        + usize::from(error);
    w.field(T_LIST, 10);
    w.list(T_STRUCT, n);
    for kv in &span.attributes {
        if let Some(v) = &kv.value {
            tag(w, &kv.key, v);
        }
    }
    for (k, v) in &extra {
        str_tag(w, k, v);
    }
    if error {
        w.struct_begin();
        w.field(T_STRING, 1);
        w.bytes(b"error");
        w.field(T_I32, 2);
        w.i32(TAG_BOOL);
        w.bool_field(5, true);
        w.struct_end();
    }
    if !span.events.is_empty() {
        w.field(T_LIST, 11);
        w.list(T_STRUCT, span.events.len());
        for event in &span.events {
            w.struct_begin();
            w.field(T_I64, 1);
            w.i64(patch.micros(event.time_unix_nano));
            tags(w, 2, &event.attributes, &[("event", &event.name)]);
            w.struct_end();
        }
    }
    w.struct_end();
}

fn write_batch(w: &mut dyn ThriftOut, rs: &ResourceSpans, spans: &[&Span], patch: Patch) {
    w.struct_begin();
    // process
    w.field(T_STRUCT, 1);
    w.struct_begin();
    w.field(T_STRING, 1);
    w.bytes(service_name(rs).as_bytes());
    let others: Vec<KeyValue> = resource_attributes(rs)
        .filter(|kv| kv.key != "service.name")
        .cloned()
        .collect();
    tags(w, 2, &others, &[]);
    w.struct_end();
    w.field(T_LIST, 2);
    w.list(T_STRUCT, spans.len());
    for span in spans {
        write_span(w, span, patch);
    }
    w.struct_end();
}

/// `Agent.emitBatch` oneway messages for `spans` of one resource, halving until each fits.
fn agent_datagrams(rs: &ResourceSpans, spans: &[&Span], patch: Patch, out: &mut Vec<Vec<u8>>) {
    let mut w = Compact::default();
    w.out.extend_from_slice(&[0x82, 0x81]); // protocol id; version 1, type ONEWAY (4 << 5)
    w.varint(0); // sequence id
    w.bytes(b"emitBatch");
    w.struct_begin(); // emitBatch_args
    w.field(T_STRUCT, 1);
    write_batch(&mut w, rs, spans, patch);
    w.struct_end();
    if w.out.len() <= MAX_DATAGRAM || spans.len() <= 1 {
        out.push(w.out);
    } else {
        let (a, b) = spans.split_at(spans.len() / 2);
        agent_datagrams(rs, a, patch, out);
        agent_datagrams(rs, b, patch, out);
    }
}

// ---- Zipkin v2 JSON ----

fn json_str(out: &mut String, s: &str) {
    // Writing a &str as JSON cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn zipkin_json(resources: &[ResourceSpans], patch: Patch) -> Vec<u8> {
    let mut out = String::with_capacity(512 * 32);
    out.push('[');
    let mut first = true;
    for rs in resources {
        let service = service_name(rs);
        let resource_tags: Vec<(String, String)> = resource_attributes(rs)
            .filter(|kv| kv.key != "service.name")
            .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.clone(), text(v))))
            .collect();
        for span in spans_of(rs) {
            if !first {
                out.push(',');
            }
            first = false;
            let (high, low) = patch.trace_id(&span.trace_id);
            let _ = write!(
                out,
                "{{\"traceId\":\"{high:016x}{low:016x}\",\"id\":\"{:016x}\"",
                span_id(&span.span_id)
            );
            if !span.parent_span_id.is_empty() {
                let _ = write!(
                    out,
                    ",\"parentId\":\"{:016x}\"",
                    span_id(&span.parent_span_id)
                );
            }
            out.push_str(",\"name\":");
            json_str(&mut out, &span.name);
            let kind = match SpanKind::try_from(span.kind) {
                Ok(SpanKind::Client) => Some("CLIENT"),
                Ok(SpanKind::Server) => Some("SERVER"),
                Ok(SpanKind::Producer) => Some("PRODUCER"),
                Ok(SpanKind::Consumer) => Some("CONSUMER"),
                _ => None,
            };
            if let Some(kind) = kind {
                let _ = write!(out, ",\"kind\":\"{kind}\"");
            }
            let _ = write!(
                out,
                ",\"timestamp\":{},\"duration\":{}",
                patch.micros(span.start_time_unix_nano),
                span.end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano)
                    / 1_000
            );
            out.push_str(",\"localEndpoint\":{\"serviceName\":");
            json_str(&mut out, &service);
            out.push('}');
            if !span.events.is_empty() {
                out.push_str(",\"annotations\":[");
                for (i, event) in span.events.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(
                        out,
                        "{{\"timestamp\":{},\"value\":",
                        patch.micros(event.time_unix_nano)
                    );
                    json_str(&mut out, &event.name);
                    out.push('}');
                }
                out.push(']');
            }
            out.push_str(",\"tags\":{");
            let mut first_tag = true;
            let mut put = |out: &mut String, k: &str, v: &str| {
                if !first_tag {
                    out.push(',');
                }
                first_tag = false;
                json_str(out, k);
                out.push(':');
                json_str(out, v);
            };
            for kv in &span.attributes {
                if let Some(v) = &kv.value {
                    put(&mut out, &kv.key, &text(v));
                }
            }
            for (k, v) in &resource_tags {
                put(&mut out, k, v);
            }
            if span.kind == SpanKind::Internal as i32 {
                put(&mut out, "span.kind", "internal");
            }
            if let Some(status) = &span.status {
                match StatusCode::try_from(status.code) {
                    Ok(StatusCode::Error) => {
                        put(&mut out, "otel.status_code", "STATUS_CODE_ERROR");
                        put(&mut out, "error", "true");
                    }
                    Ok(StatusCode::Ok) => put(&mut out, "otel.status_code", "STATUS_CODE_OK"),
                    _ => {}
                }
                if !status.message.is_empty() {
                    put(&mut out, "otel.status_description", &status.message);
                }
            }
            out.push_str("}}");
        }
    }
    out.push(']');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use tracecore_rpc::jaeger::{AgentProtocol, decode_agent_datagram, decode_thrift_http_body};
    use tracecore_rpc::zipkin::decode_v2_json;

    use super::*;
    use crate::tracegen::TraceGenerator;

    /// (trace ID, span ID, parent, name, kind) of every span, sorted.
    type Ids = Vec<(Vec<u8>, Vec<u8>, Vec<u8>, String, i32)>;

    fn ids(r: &ExportTraceServiceRequest) -> Ids {
        let mut v: Vec<_> = all_spans(&r.resource_spans)
            .map(|s| {
                (
                    s.trace_id.clone(),
                    s.span_id.clone(),
                    s.parent_span_id.clone(),
                    s.name.clone(),
                    s.kind,
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn process_batches_hold_one_process_and_about_the_batch_size() {
        let mut generator = TraceGenerator::new(7);
        let batches = process_batches(&mut generator, 20, 100);
        assert_eq!(batches.len(), 20);
        for batch in &batches {
            assert_eq!(batch.resource_spans.len(), 1, "one process per batch");
            let spans = all_spans(&batch.resource_spans).count();
            assert!((100..200).contains(&spans), "{spans} spans in a batch");
        }
    }

    fn merge(parts: Vec<ExportTraceServiceRequest>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: parts.into_iter().flat_map(|p| p.resource_spans).collect(),
        }
    }

    /// Every format decodes with the server's own decoders into the generated spans: same span
    /// IDs, parents, names and kinds, the trace IDs masked alike, times shifted.
    #[test]
    fn every_format_decodes_to_the_generated_spans() {
        let mut generator = TraceGenerator::with_start_time(9, 1_700_000_000_000_000_000);
        let (request, _) = generator.request(6);
        let legacy = LegacyRequest::new(request.clone());
        assert_eq!(legacy.spans(), all_spans(&request.resource_spans).count());
        let start = 1_800_000_000_000_000_000;
        let shift = start - legacy.base_time_ns;
        let mut expected = request.clone();
        let mask = splitmix64(7);
        for rs in &mut expected.resource_spans {
            for ss in &mut rs.scope_spans {
                for s in &mut ss.spans {
                    let (h, l) = halves(&s.trace_id);
                    s.trace_id = [h.to_be_bytes(), (l ^ mask).to_be_bytes()].concat();
                }
            }
        }
        let want = ids(&expected);

        let http = legacy.render(LegacyFormat::JaegerThriftHttp, 7, start);
        assert_eq!(http.len(), request.resource_spans.len());
        let decoded = merge(
            http.iter()
                .map(|b| decode_thrift_http_body(b).unwrap())
                .collect(),
        );
        assert_eq!(ids(&decoded), want, "jaeger thrift binary");
        let first_orig = all_spans(&request.resource_spans).next().unwrap();
        let first = all_spans(&decoded.resource_spans)
            .find(|s| s.span_id == first_orig.span_id)
            .unwrap();
        assert_eq!(
            first.start_time_unix_nano,
            (first_orig.start_time_unix_nano + shift) / 1_000 * 1_000
        );
        assert!(!first.attributes.is_empty());

        let udp = legacy.render(LegacyFormat::JaegerAgentCompact, 7, start);
        assert!(udp.iter().all(|d| d.len() <= MAX_DATAGRAM));
        let decoded = merge(
            udp.iter()
                .map(|d| decode_agent_datagram(d, AgentProtocol::Compact).unwrap())
                .collect(),
        );
        assert_eq!(ids(&decoded), want, "jaeger agent compact");

        let zipkin = legacy.render(LegacyFormat::ZipkinJson, 7, start);
        let decoded = decode_v2_json(&zipkin[0]).unwrap();
        // (Internal spans carry a `span.kind=internal` tag, which the server maps back.)
        assert_eq!(ids(&decoded), want, "zipkin v2 json");

        // Another send: other trace IDs, same span IDs.
        let again =
            decode_thrift_http_body(&legacy.render(LegacyFormat::JaegerThriftHttp, 8, start)[0])
                .unwrap();
        let a = all_spans(&again.resource_spans).next().unwrap();
        let b = all_spans(&decoded.resource_spans)
            .find(|s| s.span_id == a.span_id)
            .unwrap();
        assert_ne!(a.trace_id, b.trace_id);
    }

    #[test]
    fn big_resources_split_into_datagrams_that_fit() {
        let mut generator = TraceGenerator::with_start_time(3, 1_700_000_000_000_000_000);
        let (request, _) = generator.request(200);
        let legacy = LegacyRequest::new(request);
        let udp = legacy.render(
            LegacyFormat::JaegerAgentCompact,
            1,
            1_800_000_000_000_000_000,
        );
        assert!(udp.iter().all(|d| d.len() <= MAX_DATAGRAM));
        let spans: usize = udp
            .iter()
            .map(|d| {
                let r = decode_agent_datagram(d, AgentProtocol::Compact).unwrap();
                all_spans(&r.resource_spans).count()
            })
            .sum();
        assert_eq!(spans, legacy.spans());
    }
}
