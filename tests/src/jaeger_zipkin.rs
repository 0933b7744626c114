//! Jaeger and Zipkin clients for the end-to-end tests: generated OTLP traces encoded the way the
//! OpenTelemetry Collector's Jaeger and Zipkin exporters encode them, and the projection used to
//! compare what comes back.
//!
//! Encoders (OTLP → wire):
//! * Jaeger Thrift (`Batch`, one per resource): process = `service.name` + the other resource
//!   attributes as typed tags; span attributes as typed tags (arrays and kvlists as their JSON
//!   text); kind as the `span.kind` tag; status as `error=true` / `otel.status_code` /
//!   `otel.status_description`; events as logs with an `event` field; the parent in
//!   `parentSpanId`; links as `FOLLOWS_FROM` references. The same content goes into the Jaeger
//!   protobuf model for gRPC.
//! * Zipkin v2 JSON: `localEndpoint.serviceName` = `service.name` (the other resource
//!   attributes are not sent), attributes as string tags, kind (`span.kind=internal` tag for
//!   internal spans), status tags, events as annotations. Links are not sent.
//!
//! [`CoreSpan`] is what every protocol must agree on: IDs, parent, name, kind, times at
//! microsecond precision, status, service name, span attributes, events (time and name) and
//! links (IDs). The documented mapping differences are applied by [`project`]'s [`Fidelity`].

use std::collections::BTreeMap;

use thrift::OrderedFloat;
use thrift::protocol::{
    TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TMessageIdentifier,
    TMessageType, TOutputProtocol, TSerializable, TStructIdentifier, TType,
};
use tracecore_proto::otlp::{
    AnyValue, ResourceSpans, Span, SpanKind, StatusCode, any_value::Value,
};
use tracecore_rpc::jaeger::model_proto;
use tracecore_rpc::jaeger::thrift_gen::jaeger::{
    Batch, Log, Process, Span as JSpan, SpanRef, SpanRefType, Tag, TagType,
};

// ---- attribute values ----

/// An attribute value as text: the Collector's `AsString()` (arrays and kvlists as JSON).
pub fn value_text(value: &AnyValue) -> String {
    match &value.value {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(Value::ArrayValue(_)) | Some(Value::KvlistValue(_)) => json(value).to_string(),
    }
}

fn json(value: &AnyValue) -> serde_json::Value {
    match &value.value {
        None => serde_json::Value::Null,
        Some(Value::StringValue(s)) => s.clone().into(),
        Some(Value::BoolValue(b)) => (*b).into(),
        Some(Value::IntValue(i)) => (*i).into(),
        Some(Value::DoubleValue(d)) => (*d).into(),
        Some(Value::BytesValue(_)) => value_text(value).into(),
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

/// A comparable attribute value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attr {
    Str(String),
    Bool(bool),
    Int(i64),
    /// Bit pattern.
    Double(u64),
    Bytes(Vec<u8>),
}

/// Typed where Jaeger keeps the type, text for arrays and kvlists.
fn typed(value: &AnyValue) -> Attr {
    match &value.value {
        Some(Value::BoolValue(b)) => Attr::Bool(*b),
        Some(Value::IntValue(i)) => Attr::Int(*i),
        Some(Value::DoubleValue(d)) => Attr::Double(d.to_bits()),
        Some(Value::BytesValue(b)) => Attr::Bytes(b.clone()),
        _ => Attr::Str(value_text(value)),
    }
}

// ---- Jaeger ----

fn tag(key: &str, value: &AnyValue) -> Tag {
    let mut t = Tag::new(
        key.to_owned(),
        TagType::STRING,
        None,
        None,
        None,
        None,
        None,
    );
    match typed(value) {
        Attr::Str(s) => t.v_str = Some(s),
        Attr::Bool(b) => {
            t.v_type = TagType::BOOL;
            t.v_bool = Some(b);
        }
        Attr::Int(i) => {
            t.v_type = TagType::LONG;
            t.v_long = Some(i);
        }
        Attr::Double(bits) => {
            t.v_type = TagType::DOUBLE;
            t.v_double = Some(OrderedFloat(f64::from_bits(bits)));
        }
        Attr::Bytes(b) => {
            t.v_type = TagType::BINARY;
            t.v_binary = Some(b);
        }
    }
    t
}

fn str_tag(key: &str, value: &str) -> Tag {
    Tag::new(
        key.to_owned(),
        TagType::STRING,
        value.to_owned(),
        None,
        None,
        None,
        None,
    )
}

fn id_halves(id: &[u8]) -> (i64, i64) {
    let mut bytes = [0u8; 16];
    let start = 16usize.saturating_sub(id.len());
    bytes[start..].copy_from_slice(&id[..id.len().min(16)]);
    let high = i64::from_be_bytes(bytes[..8].try_into().unwrap_or_default());
    let low = i64::from_be_bytes(bytes[8..].try_into().unwrap_or_default());
    (high, low)
}

fn span_id_i64(id: &[u8]) -> i64 {
    if id.len() != 8 {
        return 0;
    }
    i64::from_be_bytes(id.try_into().unwrap_or_default())
}

fn kind_tag(kind: i32) -> Option<&'static str> {
    match SpanKind::try_from(kind).ok()? {
        SpanKind::Client => Some("client"),
        SpanKind::Server => Some("server"),
        SpanKind::Producer => Some("producer"),
        SpanKind::Consumer => Some("consumer"),
        SpanKind::Internal => Some("internal"),
        SpanKind::Unspecified => None,
    }
}

/// The tags a Jaeger span carries for `span` (attributes, kind, status).
fn jaeger_span_tags(span: &Span) -> Vec<Tag> {
    let mut tags: Vec<Tag> = span
        .attributes
        .iter()
        .filter_map(|kv| kv.value.as_ref().map(|v| tag(&kv.key, v)))
        .collect();
    if let Some(kind) = kind_tag(span.kind) {
        tags.push(str_tag("span.kind", kind));
    }
    if let Some(status) = &span.status {
        match StatusCode::try_from(status.code) {
            Ok(StatusCode::Error) => {
                tags.push(Tag::new(
                    "error".to_owned(),
                    TagType::BOOL,
                    None,
                    None,
                    true,
                    None,
                    None,
                ));
                tags.push(str_tag("otel.status_code", "ERROR"));
            }
            Ok(StatusCode::Ok) => tags.push(str_tag("otel.status_code", "OK")),
            _ => {}
        }
        if !status.message.is_empty() {
            tags.push(str_tag("otel.status_description", &status.message));
        }
    }
    tags
}

fn micros(ns: u64) -> i64 {
    i64::try_from(ns / 1_000).unwrap_or(i64::MAX)
}

fn duration_micros(span: &Span) -> i64 {
    micros(
        span.end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano),
    )
}

fn process_parts(rs: &ResourceSpans) -> (String, Vec<(String, AnyValue)>) {
    let mut service = String::new();
    let mut others = Vec::new();
    for kv in rs.resource.iter().flat_map(|r| &r.attributes) {
        let Some(v) = &kv.value else { continue };
        if kv.key == "service.name" {
            service = value_text(v);
        } else {
            others.push((kv.key.clone(), v.clone()));
        }
    }
    (service, others)
}

fn spans_of(rs: &ResourceSpans) -> impl Iterator<Item = &Span> {
    rs.scope_spans.iter().flat_map(|ss| &ss.spans)
}

/// One Jaeger Thrift `Batch` per resource.
pub fn jaeger_thrift_batches(resource_spans: &[ResourceSpans]) -> Vec<Batch> {
    resource_spans
        .iter()
        .map(|rs| {
            let (service, others) = process_parts(rs);
            let process = Process::new(
                service,
                others.iter().map(|(k, v)| tag(k, v)).collect::<Vec<_>>(),
            );
            let spans = spans_of(rs)
                .map(|s| {
                    let (high, low) = id_halves(&s.trace_id);
                    let refs: Vec<SpanRef> = s
                        .links
                        .iter()
                        .map(|l| {
                            let (lh, ll) = id_halves(&l.trace_id);
                            SpanRef::new(SpanRefType::FOLLOWS_FROM, ll, lh, span_id_i64(&l.span_id))
                        })
                        .collect();
                    let logs: Vec<Log> = s
                        .events
                        .iter()
                        .map(|e| {
                            let mut fields = vec![str_tag("event", &e.name)];
                            fields.extend(
                                e.attributes
                                    .iter()
                                    .filter_map(|kv| kv.value.as_ref().map(|v| tag(&kv.key, v))),
                            );
                            Log::new(micros(e.time_unix_nano), fields)
                        })
                        .collect();
                    JSpan::new(
                        low,
                        high,
                        span_id_i64(&s.span_id),
                        span_id_i64(&s.parent_span_id),
                        s.name.clone(),
                        (!refs.is_empty()).then_some(refs),
                        1,
                        micros(s.start_time_unix_nano),
                        duration_micros(s),
                        Some(jaeger_span_tags(s)),
                        (!logs.is_empty()).then_some(logs),
                    )
                })
                .collect();
            Batch::new(process, spans, None, None)
        })
        .collect()
}

/// A `POST /api/traces` body: the batch in Thrift binary, no envelope.
pub fn thrift_binary_body(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut protocol = TBinaryOutputProtocol::new(&mut out, true);
        // Writing into a Vec cannot fail.
        let _ = batch.write_to_out_protocol(&mut protocol);
        let _ = protocol.flush();
    }
    out
}

/// One agent datagram: a `Oneway` `emitBatch` message in the compact or binary protocol.
pub fn agent_datagram(batch: &Batch, compact: bool) -> Vec<u8> {
    fn write(p: &mut dyn TOutputProtocol, batch: &Batch) -> thrift::Result<()> {
        p.write_message_begin(&TMessageIdentifier::new(
            "emitBatch",
            TMessageType::OneWay,
            1,
        ))?;
        p.write_struct_begin(&TStructIdentifier::new("Agent_emitBatch_args"))?;
        p.write_field_begin(&TFieldIdentifier::new("batch", TType::Struct, 1))?;
        batch.write_to_out_protocol(p)?;
        p.write_field_end()?;
        p.write_field_stop()?;
        p.write_struct_end()?;
        p.write_message_end()?;
        p.flush()
    }
    let mut out = Vec::new();
    if compact {
        let mut p = TCompactOutputProtocol::new(&mut out);
        let _ = write(&mut p, batch);
    } else {
        let mut p = TBinaryOutputProtocol::new(&mut out, true);
        let _ = write(&mut p, batch);
    }
    out
}

fn proto_kv(tag: &Tag) -> model_proto::KeyValue {
    let mut kv = model_proto::KeyValue {
        key: tag.key.clone(),
        ..Default::default()
    };
    match tag.v_type {
        TagType::BOOL => {
            kv.v_type = model_proto::ValueType::Bool as i32;
            kv.v_bool = tag.v_bool.unwrap_or_default();
        }
        TagType::LONG => {
            kv.v_type = model_proto::ValueType::Int64 as i32;
            kv.v_int64 = tag.v_long.unwrap_or_default();
        }
        TagType::DOUBLE => {
            kv.v_type = model_proto::ValueType::Float64 as i32;
            kv.v_float64 = tag.v_double.map_or(0.0, |d| d.0);
        }
        TagType::BINARY => {
            kv.v_type = model_proto::ValueType::Binary as i32;
            kv.v_binary = tag.v_binary.clone().unwrap_or_default();
        }
        _ => kv.v_str = tag.v_str.clone().unwrap_or_default(),
    }
    kv
}

fn timestamp(micros: i64) -> model_proto::Timestamp {
    model_proto::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    }
}

fn id_bytes(high: i64, low: i64) -> Vec<u8> {
    let mut id = high.to_be_bytes().to_vec();
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// The same content as [`jaeger_thrift_batches`] in the protobuf model (`PostSpansRequest`
/// per batch), parent as a `CHILD_OF` reference as Jaeger SDKs send it.
pub fn jaeger_post_spans_requests(
    resource_spans: &[ResourceSpans],
) -> Vec<model_proto::PostSpansRequest> {
    jaeger_thrift_batches(resource_spans)
        .into_iter()
        .map(|b| {
            let process = model_proto::Process {
                service_name: b.process.service_name.clone(),
                tags: b.process.tags.iter().flatten().map(proto_kv).collect(),
            };
            let spans = b
                .spans
                .iter()
                .map(|s| {
                    let trace_id = id_bytes(s.trace_id_high, s.trace_id_low);
                    let mut references = Vec::new();
                    if s.parent_span_id != 0 {
                        references.push(model_proto::SpanRef {
                            trace_id: trace_id.clone(),
                            span_id: s.parent_span_id.to_be_bytes().to_vec(),
                            ref_type: model_proto::SpanRefType::ChildOf as i32,
                        });
                    }
                    references.extend(s.references.iter().flatten().map(|r| {
                        model_proto::SpanRef {
                            trace_id: id_bytes(r.trace_id_high, r.trace_id_low),
                            span_id: r.span_id.to_be_bytes().to_vec(),
                            ref_type: model_proto::SpanRefType::FollowsFrom as i32,
                        }
                    }));
                    model_proto::Span {
                        trace_id,
                        span_id: s.span_id.to_be_bytes().to_vec(),
                        operation_name: s.operation_name.clone(),
                        references,
                        flags: 1,
                        start_time: Some(timestamp(s.start_time)),
                        duration: Some(model_proto::Duration {
                            seconds: s.duration / 1_000_000,
                            nanos: i32::try_from((s.duration % 1_000_000) * 1_000).unwrap_or(0),
                        }),
                        tags: s.tags.iter().flatten().map(proto_kv).collect(),
                        logs: s
                            .logs
                            .iter()
                            .flatten()
                            .map(|l| model_proto::Log {
                                timestamp: Some(timestamp(l.timestamp)),
                                fields: l.fields.iter().map(proto_kv).collect(),
                            })
                            .collect(),
                        ..Default::default()
                    }
                })
                .collect();
            model_proto::PostSpansRequest {
                batch: Some(model_proto::Batch {
                    spans,
                    process: Some(process),
                }),
            }
        })
        .collect()
}

// ---- Zipkin ----

/// Zipkin v2 JSON for every span of `resource_spans`.
pub fn zipkin_v2_json(resource_spans: &[ResourceSpans]) -> serde_json::Value {
    let mut out = Vec::new();
    for rs in resource_spans {
        let (service, _) = process_parts(rs);
        for s in spans_of(rs) {
            let mut tags = serde_json::Map::new();
            for kv in &s.attributes {
                if let Some(v) = &kv.value {
                    tags.insert(kv.key.clone(), value_text(v).into());
                }
            }
            let kind = match SpanKind::try_from(s.kind) {
                Ok(SpanKind::Client) => Some("CLIENT"),
                Ok(SpanKind::Server) => Some("SERVER"),
                Ok(SpanKind::Producer) => Some("PRODUCER"),
                Ok(SpanKind::Consumer) => Some("CONSUMER"),
                Ok(SpanKind::Internal) => {
                    tags.insert("span.kind".into(), "internal".into());
                    None
                }
                _ => None,
            };
            if let Some(status) = &s.status {
                match StatusCode::try_from(status.code) {
                    Ok(StatusCode::Error) => {
                        tags.insert("otel.status_code".into(), "STATUS_CODE_ERROR".into());
                        tags.insert("error".into(), "true".into());
                    }
                    Ok(StatusCode::Ok) => {
                        tags.insert("otel.status_code".into(), "STATUS_CODE_OK".into());
                    }
                    _ => {}
                }
                if !status.message.is_empty() {
                    tags.insert(
                        "otel.status_description".into(),
                        status.message.clone().into(),
                    );
                }
            }
            let mut span = serde_json::json!({
                "traceId": hex::encode(trim_trace_id(&s.trace_id)),
                "id": hex::encode(&s.span_id),
                "name": s.name,
                "timestamp": micros(s.start_time_unix_nano),
                "duration": duration_micros(s),
                "localEndpoint": {"serviceName": service},
                "tags": tags,
            });
            if let Some(kind) = kind {
                span["kind"] = kind.into();
            }
            if !s.parent_span_id.is_empty() {
                span["parentId"] = hex::encode(&s.parent_span_id).into();
            }
            if !s.events.is_empty() {
                span["annotations"] = s
                    .events
                    .iter()
                    .map(|e| serde_json::json!({"timestamp": micros(e.time_unix_nano), "value": e.name}))
                    .collect();
            }
            out.push(span);
        }
    }
    serde_json::Value::Array(out)
}

/// A 128-bit ID whose high half is zero is sent as 64 bits, as a 64-bit tracer would.
fn trim_trace_id(id: &[u8]) -> &[u8] {
    if id.len() == 16 && id[..8].iter().all(|&b| b == 0) {
        &id[8..]
    } else {
        id
    }
}

// ---- comparison ----

/// What a span looks like after a protocol round trip, in the parts every protocol keeps.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CoreSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub start_us: u64,
    pub end_us: u64,
    pub status_code: i32,
    pub status_message: String,
    pub service_name: String,
    /// Resource attributes other than `service.name`.
    pub resource: BTreeMap<String, Attr>,
    pub attributes: BTreeMap<String, Attr>,
    /// (time µs, name, attributes)
    pub events: Vec<(u64, String, BTreeMap<String, Attr>)>,
    /// (trace ID, span ID)
    pub links: Vec<(String, String)>,
}

/// How much of the OTLP content a protocol carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fidelity {
    /// Jaeger: typed attributes (arrays and kvlists as JSON text), resource attributes, event
    /// attributes, links; times in microseconds; an unset status is derived from
    /// `http.status_code` (the Collector's rule).
    Jaeger,
    /// Zipkin as the test encodes it: string attributes, only `service.name` of the resource,
    /// events without attributes, no links; times in microseconds.
    Zipkin,
    /// The common ground of OTLP, Jaeger and Zipkin: the Zipkin view with the Jaeger status
    /// rule applied.
    Common,
}

fn attr_map(list: &[tracecore_proto::otlp::KeyValue], stringly: bool) -> BTreeMap<String, Attr> {
    list.iter()
        .filter_map(|kv| {
            let v = kv.value.as_ref()?;
            let a = if stringly {
                Attr::Str(value_text(v))
            } else {
                typed(v)
            };
            Some((kv.key.clone(), a))
        })
        .collect()
}

/// The Collector's HTTP status fallback for a span whose status is unset.
fn http_fallback_status(span: &Span) -> Option<i32> {
    let code = span.attributes.iter().find_map(|kv| {
        (kv.key == "http.status_code")
            .then(|| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::IntValue(i)) => Some(*i),
                Some(Value::StringValue(s)) => s.parse().ok(),
                _ => None,
            })
            .flatten()
    })?;
    let client = span.kind == SpanKind::Client as i32;
    let server = span.kind == SpanKind::Server as i32;
    let error = if (400..500).contains(&code) && (client || server) {
        client
    } else {
        !(100..399).contains(&code)
    };
    error.then_some(StatusCode::Error as i32)
}

/// Every span of `resource_spans` as the protocol of `fidelity` would carry it, sorted.
pub fn project(resource_spans: &[ResourceSpans], fidelity: Fidelity) -> Vec<CoreSpan> {
    let stringly = fidelity != Fidelity::Jaeger;
    let mut out = Vec::new();
    for rs in resource_spans {
        let (service_name, others) = process_parts(rs);
        let resource = match fidelity {
            Fidelity::Jaeger => others.iter().map(|(k, v)| (k.clone(), typed(v))).collect(),
            _ => BTreeMap::new(),
        };
        for s in spans_of(rs) {
            let start_us = s.start_time_unix_nano / 1_000;
            let end_us =
                start_us + s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) / 1_000;
            let (mut status_code, status_message) = s
                .status
                .as_ref()
                .map_or((0, String::new()), |st| (st.code, st.message.clone()));
            if status_code == StatusCode::Unset as i32 && fidelity != Fidelity::Zipkin {
                status_code = http_fallback_status(s).unwrap_or(status_code);
            }
            let mut events: Vec<_> = s
                .events
                .iter()
                .map(|e| {
                    let attributes = if fidelity == Fidelity::Jaeger {
                        attr_map(&e.attributes, false)
                    } else {
                        BTreeMap::new()
                    };
                    (e.time_unix_nano / 1_000, e.name.clone(), attributes)
                })
                .collect();
            events.sort();
            let mut links: Vec<_> = if fidelity == Fidelity::Jaeger {
                s.links
                    .iter()
                    .map(|l| (hex::encode(&l.trace_id), hex::encode(&l.span_id)))
                    .collect()
            } else {
                Vec::new()
            };
            links.sort();
            out.push(CoreSpan {
                trace_id: hex::encode(&s.trace_id),
                span_id: hex::encode(&s.span_id),
                parent_span_id: hex::encode(&s.parent_span_id),
                name: s.name.clone(),
                kind: s.kind,
                start_us,
                end_us,
                status_code,
                status_message,
                service_name: service_name.clone(),
                resource: resource.clone(),
                attributes: attr_map(&s.attributes, stringly),
                events,
                links,
            });
        }
    }
    out.sort();
    out
}

/// The first difference between two projections, for a readable failure.
pub fn first_difference(expected: &[CoreSpan], actual: &[CoreSpan]) -> Option<String> {
    if expected.len() != actual.len() {
        return Some(format!(
            "{} spans expected, {} read back",
            expected.len(),
            actual.len()
        ));
    }
    expected
        .iter()
        .zip(actual)
        .find(|(e, a)| e != a)
        .map(|(e, a)| format!("span differs:\nexpected {e:#?}\nactual   {a:#?}"))
}

/// Replaces the trace ID of every span (and of links into the same trace) with `id`.
pub fn with_trace_id(resource_spans: &[ResourceSpans], id: &[u8; 16]) -> Vec<ResourceSpans> {
    let mut out = resource_spans.to_vec();
    for rs in &mut out {
        for ss in &mut rs.scope_spans {
            for s in &mut ss.spans {
                let old = std::mem::replace(&mut s.trace_id, id.to_vec());
                for l in &mut s.links {
                    if l.trace_id == old {
                        l.trace_id = id.to_vec();
                    }
                }
            }
        }
    }
    out
}
