//! Tempo's JSON rendering of traces (TEMPO-SPEC §1.1 "JSON encoding rules", §1.3).
//!
//! Tempo marshals protobuf with Go's `jsonpb` defaults, and clients compare bytes, so this
//! reproduces it exactly rather than following the OTLP/JSON spec:
//! * lowerCamel field names in .proto declaration order, compact (no whitespace);
//! * `bytes` (trace, span, parent and link IDs, `bytesValue`) as **standard base64**;
//! * 64-bit integers as JSON strings, 32-bit integers and doubles as numbers, doubles formatted
//!   like Go's `encoding/json` (`1e+21`, `1e-7`) and non-finite ones as `"NaN"`, `"Infinity"`,
//!   `"-Infinity"`;
//! * enums by name (unknown values as bare numbers);
//! * zero scalars, empty strings, empty lists and absent messages omitted, but present messages
//!   rendered even when empty (a span's `status` prints as `{}`), and the set member of an
//!   `AnyValue` always rendered (`{"intValue":"0"}`);
//! * strings escaped like Go (`<`, `>`, `&`, U+2028, U+2029 as `\u` escapes).
//!
//! Output is written straight into a `Vec<u8>` without intermediate values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tracecore_proto::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, ScopeSpans,
    Span, SpanKind, Status, StatusCode, TracesData, any_value,
};
use tracecore_proto::tempo::{PartialStatus, TraceByIdMetrics, TraceByIdResponse};

/// `GET /api/traces/<id>` as JSON: `{"batches":[...]}` (the v1 rename of `resourceSpans`).
pub fn trace_v1_json(trace: &TracesData) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimate(trace));
    write_trace(&mut out, trace, "batches");
    out
}

/// `GET /api/v2/traces/<id>` as JSON:
/// `{"trace":{"resourceSpans":[...]},"metrics":{...},"status":"PARTIAL","message":"..."}`.
///
/// `trace` and `metrics` are always present (`{}` when absent or empty), as Tempo's frontend
/// answers a trace it did not find with `{"trace":{},"metrics":{}}`.
pub fn trace_by_id_v2_json(resp: &TraceByIdResponse) -> Vec<u8> {
    let empty_trace = TracesData::default();
    let trace = resp.trace.as_ref().unwrap_or(&empty_trace);
    let mut out = Vec::with_capacity(estimate(trace) + 64);
    let mut o = Obj::open(&mut out);
    o.key("trace");
    write_trace(o.out, trace, "resourceSpans");
    o.key("metrics");
    write_metrics(o.out, resp.metrics.as_ref());
    if resp.status != 0 {
        o.key("status");
        match PartialStatus::try_from(resp.status) {
            Ok(PartialStatus::Partial) => o.out.extend_from_slice(b"\"PARTIAL\""),
            Ok(PartialStatus::Complete) => o.out.extend_from_slice(b"\"COMPLETE\""),
            Err(_) => write_i64(o.out, i64::from(resp.status)),
        }
    }
    o.string("message", &resp.message);
    o.close();
    out
}

/// A rough output size: the protobuf size times two covers base64 and names for typical traces.
fn estimate(trace: &TracesData) -> usize {
    use prost::Message as _;
    trace.encoded_len().saturating_mul(2).max(16)
}

fn write_trace(out: &mut Vec<u8>, trace: &TracesData, list_name: &'static str) {
    let mut o = Obj::open(out);
    o.list(list_name, &trace.resource_spans, write_resource_spans);
    o.close();
}

fn write_metrics(out: &mut Vec<u8>, metrics: Option<&TraceByIdMetrics>) {
    let mut o = Obj::open(out);
    if let Some(m) = metrics {
        o.u64_string("inspectedBytes", m.inspected_bytes);
    }
    o.close();
}

fn write_resource_spans(out: &mut Vec<u8>, rs: &ResourceSpans) {
    let mut o = Obj::open(out);
    if let Some(r) = &rs.resource {
        o.key("resource");
        write_resource(o.out, r);
    }
    o.list("scopeSpans", &rs.scope_spans, write_scope_spans);
    o.string("schemaUrl", &rs.schema_url);
    o.close();
}

fn write_resource(out: &mut Vec<u8>, r: &Resource) {
    let mut o = Obj::open(out);
    o.list("attributes", &r.attributes, write_key_value);
    o.u32("droppedAttributesCount", r.dropped_attributes_count);
    o.close();
}

fn write_scope_spans(out: &mut Vec<u8>, ss: &ScopeSpans) {
    let mut o = Obj::open(out);
    if let Some(s) = &ss.scope {
        o.key("scope");
        write_scope(o.out, s);
    }
    o.list("spans", &ss.spans, write_span);
    o.string("schemaUrl", &ss.schema_url);
    o.close();
}

fn write_scope(out: &mut Vec<u8>, s: &InstrumentationScope) {
    let mut o = Obj::open(out);
    o.string("name", &s.name);
    o.string("version", &s.version);
    o.list("attributes", &s.attributes, write_key_value);
    o.u32("droppedAttributesCount", s.dropped_attributes_count);
    o.close();
}

fn write_span(out: &mut Vec<u8>, s: &Span) {
    let mut o = Obj::open(out);
    o.bytes("traceId", &s.trace_id);
    o.bytes("spanId", &s.span_id);
    o.string("traceState", &s.trace_state);
    o.bytes("parentSpanId", &s.parent_span_id);
    o.u32("flags", s.flags);
    o.string("name", &s.name);
    o.enumeration("kind", s.kind, |k| {
        SpanKind::try_from(k).ok().map(SpanKind::proto_name)
    });
    o.u64_string("startTimeUnixNano", s.start_time_unix_nano);
    o.u64_string("endTimeUnixNano", s.end_time_unix_nano);
    o.list("attributes", &s.attributes, write_key_value);
    o.u32("droppedAttributesCount", s.dropped_attributes_count);
    o.list("events", &s.events, write_event);
    o.u32("droppedEventsCount", s.dropped_events_count);
    o.list("links", &s.links, write_link);
    o.u32("droppedLinksCount", s.dropped_links_count);
    // Tempo's span status is a non-nullable message: it always prints, `{}` when empty.
    o.key("status");
    write_status(o.out, s.status.as_ref().unwrap_or(&Status::default()));
    o.close();
}

fn write_event(out: &mut Vec<u8>, e: &Event) {
    let mut o = Obj::open(out);
    o.u64_string("timeUnixNano", e.time_unix_nano);
    o.string("name", &e.name);
    o.list("attributes", &e.attributes, write_key_value);
    o.u32("droppedAttributesCount", e.dropped_attributes_count);
    o.close();
}

fn write_link(out: &mut Vec<u8>, l: &Link) {
    let mut o = Obj::open(out);
    o.bytes("traceId", &l.trace_id);
    o.bytes("spanId", &l.span_id);
    o.string("traceState", &l.trace_state);
    o.list("attributes", &l.attributes, write_key_value);
    o.u32("droppedAttributesCount", l.dropped_attributes_count);
    o.u32("flags", l.flags);
    o.close();
}

fn write_status(out: &mut Vec<u8>, s: &Status) {
    let mut o = Obj::open(out);
    o.string("message", &s.message);
    o.enumeration("code", s.code, |c| {
        StatusCode::try_from(c).ok().map(StatusCode::proto_name)
    });
    o.close();
}

fn write_key_value(out: &mut Vec<u8>, kv: &KeyValue) {
    let mut o = Obj::open(out);
    o.string("key", &kv.key);
    if let Some(v) = &kv.value {
        o.key("value");
        write_any_value(o.out, v);
    }
    o.close();
}

/// An `AnyValue`: the set oneof member is always written, even when it is a zero value.
fn write_any_value(out: &mut Vec<u8>, v: &AnyValue) {
    let mut o = Obj::open(out);
    match &v.value {
        None => {}
        Some(any_value::Value::StringValue(s)) => {
            o.key("stringValue");
            write_str(o.out, s);
        }
        Some(any_value::Value::BoolValue(b)) => {
            o.key("boolValue");
            o.out
                .extend_from_slice(if *b { b"true" as &[u8] } else { b"false" });
        }
        Some(any_value::Value::IntValue(i)) => {
            o.key("intValue");
            o.out.push(b'"');
            write_i64(o.out, *i);
            o.out.push(b'"');
        }
        Some(any_value::Value::DoubleValue(d)) => {
            o.key("doubleValue");
            write_f64(o.out, *d);
        }
        Some(any_value::Value::ArrayValue(a)) => {
            o.key("arrayValue");
            let mut inner = Obj::open(o.out);
            inner.list("values", &a.values, write_any_value);
            inner.close();
        }
        Some(any_value::Value::KvlistValue(l)) => {
            o.key("kvlistValue");
            let mut inner = Obj::open(o.out);
            inner.list("values", &l.values, write_key_value);
            inner.close();
        }
        Some(any_value::Value::BytesValue(b)) => {
            o.key("bytesValue");
            write_base64(o.out, b);
        }
    }
    o.close();
}

/// Writes one JSON object's members, adding commas between them.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    /// Starts a member; `name` is a static ASCII field name that needs no escaping.
    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn string(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.key(name);
            write_str(self.out, value);
        }
    }

    fn bytes(&mut self, name: &str, value: &[u8]) {
        if !value.is_empty() {
            self.key(name);
            write_base64(self.out, value);
        }
    }

    fn u32(&mut self, name: &str, value: u32) {
        if value != 0 {
            self.key(name);
            write_u64(self.out, u64::from(value));
        }
    }

    fn u64_string(&mut self, name: &str, value: u64) {
        if value != 0 {
            self.key(name);
            self.out.push(b'"');
            write_u64(self.out, value);
            self.out.push(b'"');
        }
    }

    /// An enum by name; values without a name print as bare numbers, like jsonpb.
    fn enumeration(
        &mut self,
        name: &str,
        value: i32,
        name_of: impl Fn(i32) -> Option<&'static str>,
    ) {
        if value == 0 {
            return;
        }
        self.key(name);
        match name_of(value) {
            Some(n) => {
                self.out.push(b'"');
                self.out.extend_from_slice(n.as_bytes());
                self.out.push(b'"');
            }
            None => write_i64(self.out, i64::from(value)),
        }
    }

    fn list<T>(&mut self, name: &str, items: &[T], write: fn(&mut Vec<u8>, &T)) {
        if items.is_empty() {
            return;
        }
        self.key(name);
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write(self.out, item);
        }
        self.out.push(b']');
    }
}

pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    // The slice is sized exactly for padded base64, so encoding cannot fail.
    let written = BASE64.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// A double the way Go's `encoding/json` prints it, non-finite values the way jsonpb does.
pub(crate) fn write_f64(out: &mut Vec<u8>, f: f64) {
    use std::io::Write as _;
    if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 {
            b"\"Infinity\"" as &[u8]
        } else {
            b"\"-Infinity\""
        });
    } else {
        let abs = f.abs();
        // Writing to a Vec cannot fail.
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Rust prints `1e21` / `1.5e-7`; Go prints `1e+21` / `1.5e-7`.
            let start = out.len();
            let _ = write!(out, "{f:e}");
            if let Some(e) = out[start..].iter().position(|&b| b == b'e')
                && out.get(start + e + 1) != Some(&b'-')
            {
                out.insert(start + e + 1, b'+');
            }
        } else {
            let _ = write!(out, "{f}");
        }
    }
}

/// A JSON string escaped like Go's `encoding/json` (HTML-safe).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0x00..=0x1f | b'<' | b'>' | b'&' => Some(b""),
            // U+2028 and U+2029 are e2 80 a8 / e2 80 a9.
            0xe2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                Some(b"")
            }
            _ => None,
        };
        let Some(escape) = escape else { continue };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let (code, len) = if b == 0xe2 {
                (
                    if bytes.get(i + 2) == Some(&0xa8) {
                        0x2028u16
                    } else {
                        0x2029
                    },
                    3,
                )
            } else {
                (u16::from(b), 1)
            };
            out.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[usize::from((code >> shift) & 0xf)]);
            }
            start = i + len;
        } else {
            out.extend_from_slice(escape);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start.min(bytes.len())..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use tracecore_proto::otlp::{ArrayValue, KeyValueList};

    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("json is utf-8")
    }

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
        }
    }

    /// The trace of TEMPO-SPEC §1.3.1's example.
    fn checkout_trace(scope_version: &str, attributes: Vec<KeyValue>) -> TracesData {
        TracesData {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue("checkout".into()),
                    )],
                    dropped_attributes_count: 0,
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "otel-go".into(),
                        version: scope_version.into(),
                        ..InstrumentationScope::default()
                    }),
                    spans: vec![Span {
                        trace_id: hex::decode("00000000000000001234567890abcdef").expect("hex"),
                        span_id: hex::decode("abcdef1234567890").expect("hex"),
                        name: "GET /cart".into(),
                        kind: SpanKind::Server as i32,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_250_000_000,
                        attributes,
                        status: Some(Status::default()),
                        ..Span::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn v1_matches_the_spec_example() {
        let trace = checkout_trace(
            "1.2.0",
            vec![kv("http.status_code", any_value::Value::IntValue(200))],
        );
        let expected = concat!(
            r#"{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"#,
            r#""scopeSpans":[{"scope":{"name":"otel-go","version":"1.2.0"},"#,
            r#""spans":[{"traceId":"AAAAAAAAAAASNFZ4kKvN7w==","spanId":"q83vEjRWeJA=","name":"GET /cart","#,
            r#""kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000","#,
            r#""attributes":[{"key":"http.status_code","value":{"intValue":"200"}}],"status":{}}]}]}]}"#
        );
        assert_eq!(text(trace_v1_json(&trace)), expected);
    }

    #[test]
    fn v2_matches_the_spec_example_and_not_found() {
        let resp = TraceByIdResponse {
            trace: Some(checkout_trace("", Vec::new())),
            metrics: Some(TraceByIdMetrics {
                inspected_bytes: 48_210,
            }),
            status: 0,
            message: String::new(),
        };
        let expected = concat!(
            r#"{"trace":{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"#,
            r#""scopeSpans":[{"scope":{"name":"otel-go"},"spans":[{"traceId":"AAAAAAAAAAASNFZ4kKvN7w==","spanId":"q83vEjRWeJA=","#,
            r#""name":"GET /cart","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000000","#,
            r#""endTimeUnixNano":"1700000000250000000","status":{}}]}]}]},"#,
            r#""metrics":{"inspectedBytes":"48210"}}"#
        );
        assert_eq!(text(trace_by_id_v2_json(&resp)), expected);

        let not_found = TraceByIdResponse {
            trace: None,
            metrics: Some(TraceByIdMetrics::default()),
            status: 0,
            message: String::new(),
        };
        assert_eq!(
            text(trace_by_id_v2_json(&not_found)),
            r#"{"trace":{},"metrics":{}}"#
        );
        let empty = TraceByIdResponse {
            trace: Some(TracesData::default()),
            ..not_found
        };
        assert_eq!(
            text(trace_by_id_v2_json(&empty)),
            r#"{"trace":{},"metrics":{}}"#
        );
    }

    #[test]
    fn v2_partial_status_and_message() {
        let resp = TraceByIdResponse {
            trace: Some(TracesData::default()),
            metrics: Some(TraceByIdMetrics { inspected_bytes: 7 }),
            status: PartialStatus::Partial as i32,
            message: "Trace exceeds maximum size of 5000000 bytes, a partial trace is returned"
                .into(),
        };
        assert_eq!(
            text(trace_by_id_v2_json(&resp)),
            concat!(
                r#"{"trace":{},"metrics":{"inspectedBytes":"7"},"status":"PARTIAL","#,
                r#""message":"Trace exceeds maximum size of 5000000 bytes, a partial trace is returned"}"#
            )
        );
    }

    #[test]
    fn every_span_field_in_declaration_order() {
        let span = Span {
            trace_id: vec![0xff; 16],
            span_id: vec![1; 8],
            trace_state: "k=v".into(),
            parent_span_id: vec![2; 8],
            flags: 257,
            name: "n".into(),
            kind: 9,
            start_time_unix_nano: 1,
            end_time_unix_nano: u64::MAX,
            attributes: vec![KeyValue {
                key: "no-value".into(),
                value: None,
            }],
            dropped_attributes_count: 1,
            events: vec![Event {
                time_unix_nano: 5,
                name: "ev".into(),
                attributes: Vec::new(),
                dropped_attributes_count: 2,
            }],
            dropped_events_count: 3,
            links: vec![Link {
                trace_id: vec![3; 16],
                span_id: vec![4; 8],
                trace_state: "t".into(),
                attributes: vec![kv("a", any_value::Value::BoolValue(false))],
                dropped_attributes_count: 4,
                flags: 1,
            }],
            dropped_links_count: 5,
            status: Some(Status {
                message: "bad".into(),
                code: StatusCode::Error as i32,
            }),
        };
        let trace = TracesData {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![span],
                    schema_url: "s".into(),
                }],
                schema_url: "r".into(),
            }],
        };
        let expected = concat!(
            r#"{"batches":[{"resource":{},"scopeSpans":[{"spans":[{"#,
            r#""traceId":"/////////////////////w==","spanId":"AQEBAQEBAQE=","traceState":"k=v","#,
            r#""parentSpanId":"AgICAgICAgI=","flags":257,"name":"n","kind":9,"#,
            r#""startTimeUnixNano":"1","endTimeUnixNano":"18446744073709551615","#,
            r#""attributes":[{"key":"no-value"}],"droppedAttributesCount":1,"#,
            r#""events":[{"timeUnixNano":"5","name":"ev","droppedAttributesCount":2}],"droppedEventsCount":3,"#,
            r#""links":[{"traceId":"AwMDAwMDAwMDAwMDAwMDAw==","spanId":"BAQEBAQEBAQ=","traceState":"t","#,
            r#""attributes":[{"key":"a","value":{"boolValue":false}}],"droppedAttributesCount":4,"flags":1}],"#,
            r#""droppedLinksCount":5,"status":{"message":"bad","code":"STATUS_CODE_ERROR"}}],"#,
            r#""schemaUrl":"s"}],"schemaUrl":"r"}]}"#
        );
        assert_eq!(text(trace_v1_json(&trace)), expected);
    }

    fn value_json(v: any_value::Value) -> String {
        let mut out = Vec::new();
        write_any_value(&mut out, &AnyValue { value: Some(v) });
        text(out)
    }

    #[test]
    fn any_values_render_like_jsonpb() {
        use any_value::Value as V;
        let cases: Vec<(V, &str)> = vec![
            (V::StringValue(String::new()), r#"{"stringValue":""}"#),
            (V::IntValue(0), r#"{"intValue":"0"}"#),
            (
                V::IntValue(i64::MIN),
                r#"{"intValue":"-9223372036854775808"}"#,
            ),
            (V::BoolValue(true), r#"{"boolValue":true}"#),
            (V::DoubleValue(1.5), r#"{"doubleValue":1.5}"#),
            (V::DoubleValue(0.0), r#"{"doubleValue":0}"#),
            (V::DoubleValue(100.0), r#"{"doubleValue":100}"#),
            (V::DoubleValue(-2.5e-7), r#"{"doubleValue":-2.5e-7}"#),
            (V::DoubleValue(1e21), r#"{"doubleValue":1e+21}"#),
            (V::DoubleValue(1.234e300), r#"{"doubleValue":1.234e+300}"#),
            (
                V::DoubleValue(123456789.125),
                r#"{"doubleValue":123456789.125}"#,
            ),
            (V::DoubleValue(0.000001), r#"{"doubleValue":0.000001}"#),
            (V::DoubleValue(f64::NAN), r#"{"doubleValue":"NaN"}"#),
            (
                V::DoubleValue(f64::INFINITY),
                r#"{"doubleValue":"Infinity"}"#,
            ),
            (
                V::DoubleValue(f64::NEG_INFINITY),
                r#"{"doubleValue":"-Infinity"}"#,
            ),
            (V::BytesValue(vec![0xfb, 0xff]), r#"{"bytesValue":"+/8="}"#),
            (V::BytesValue(Vec::new()), r#"{"bytesValue":""}"#),
            (
                V::ArrayValue(ArrayValue { values: Vec::new() }),
                r#"{"arrayValue":{}}"#,
            ),
            (
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(V::IntValue(1)),
                        },
                        AnyValue { value: None },
                    ],
                }),
                r#"{"arrayValue":{"values":[{"intValue":"1"},{}]}}"#,
            ),
            (
                V::KvlistValue(KeyValueList {
                    values: vec![kv("k", V::StringValue("v".into()))],
                }),
                r#"{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}"#,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(value_json(value), expected);
        }
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let mut out = Vec::new();
        write_str(
            &mut out,
            "a\"b\\c\n\r\t\u{8}\u{c}\u{1}<x>&\u{2028}\u{2029}é😀\u{7f}",
        );
        assert_eq!(
            text(out),
            r#""a\"b\\c\n\r\t\b\f\u0001\u003cx\u003e\u0026\u2028\u2029é😀""#
                .replace("😀\"", "😀\u{7f}\"")
        );
        // The output is valid JSON that decodes back to the input.
        let input = "tab\there \u{2028} <tag> & \u{0} end";
        let mut out = Vec::new();
        write_str(&mut out, input);
        let back: String = serde_json::from_slice(&out).expect("valid json");
        assert_eq!(back, input);
    }

    #[test]
    fn output_is_valid_json() {
        let trace = checkout_trace("1", vec![kv("d", any_value::Value::DoubleValue(f64::NAN))]);
        let parsed: serde_json::Value =
            serde_json::from_slice(&trace_v1_json(&trace)).expect("valid json");
        assert_eq!(
            parsed["batches"][0]["scopeSpans"][0]["spans"][0]["kind"],
            "SPAN_KIND_SERVER"
        );
    }
}
