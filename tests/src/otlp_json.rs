//! The two JSON dialects of OTLP traces.
//!
//! * Writing **OTLP/JSON** (what OTLP/HTTP JSON clients send): lowerCamel field names, trace and
//!   span IDs as **hex**, 64-bit integers as decimal strings, enums as integers.
//! * Reading **Tempo's proto3 JSON** (what `/api/traces` answers, TEMPO-SPEC §1.1): IDs and bytes
//!   as **standard base64**, 64-bit integers as strings, enums by **name**, defaults omitted. The
//!   reader is strict: a hex ID, an int64 as a JSON number, an enum as a number or an unknown field
//!   is an error naming the path, so a test catches the server drifting from Tempo's encoding.

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, ExportTraceServiceRequest, InstrumentationScope, KeyValue,
    KeyValueList, Link, Resource, ResourceSpans, ScopeSpans, Span, SpanKind, Status, StatusCode,
    any_value::Value as Av,
};

// ---------------------------------------------------------------- writing OTLP/JSON (hex IDs)

/// `ExportTraceServiceRequest` as OTLP/JSON.
pub fn request_to_otlp_json(request: &ExportTraceServiceRequest) -> Value {
    json!({ "resourceSpans": request.resource_spans.iter().map(resource_spans_json).collect::<Vec<_>>() })
}

fn resource_spans_json(rs: &ResourceSpans) -> Value {
    let mut o = Map::new();
    if let Some(r) = &rs.resource {
        o.insert(
            "resource".into(),
            json!({"attributes": attrs_json(&r.attributes), "droppedAttributesCount": r.dropped_attributes_count}),
        );
    }
    o.insert(
        "scopeSpans".into(),
        rs.scope_spans.iter().map(scope_spans_json).collect(),
    );
    if !rs.schema_url.is_empty() {
        o.insert("schemaUrl".into(), rs.schema_url.clone().into());
    }
    Value::Object(o)
}

fn scope_spans_json(ss: &ScopeSpans) -> Value {
    let mut o = Map::new();
    if let Some(s) = &ss.scope {
        o.insert(
            "scope".into(),
            json!({"name": s.name, "version": s.version, "attributes": attrs_json(&s.attributes),
                   "droppedAttributesCount": s.dropped_attributes_count}),
        );
    }
    o.insert("spans".into(), ss.spans.iter().map(span_json).collect());
    if !ss.schema_url.is_empty() {
        o.insert("schemaUrl".into(), ss.schema_url.clone().into());
    }
    Value::Object(o)
}

fn span_json(s: &Span) -> Value {
    let mut o = Map::new();
    o.insert("traceId".into(), hex::encode(&s.trace_id).into());
    o.insert("spanId".into(), hex::encode(&s.span_id).into());
    if !s.trace_state.is_empty() {
        o.insert("traceState".into(), s.trace_state.clone().into());
    }
    if !s.parent_span_id.is_empty() {
        o.insert("parentSpanId".into(), hex::encode(&s.parent_span_id).into());
    }
    if s.flags != 0 {
        o.insert("flags".into(), s.flags.into());
    }
    o.insert("name".into(), s.name.clone().into());
    o.insert("kind".into(), s.kind.into());
    o.insert(
        "startTimeUnixNano".into(),
        s.start_time_unix_nano.to_string().into(),
    );
    o.insert(
        "endTimeUnixNano".into(),
        s.end_time_unix_nano.to_string().into(),
    );
    o.insert("attributes".into(), attrs_json(&s.attributes));
    o.insert(
        "droppedAttributesCount".into(),
        s.dropped_attributes_count.into(),
    );
    o.insert(
        "events".into(),
        s.events
            .iter()
            .map(|e| {
                json!({"timeUnixNano": e.time_unix_nano.to_string(), "name": e.name,
                       "attributes": attrs_json(&e.attributes),
                       "droppedAttributesCount": e.dropped_attributes_count})
            })
            .collect(),
    );
    o.insert("droppedEventsCount".into(), s.dropped_events_count.into());
    o.insert(
        "links".into(),
        s.links
            .iter()
            .map(|l| {
                json!({"traceId": hex::encode(&l.trace_id), "spanId": hex::encode(&l.span_id),
                       "traceState": l.trace_state, "attributes": attrs_json(&l.attributes),
                       "droppedAttributesCount": l.dropped_attributes_count, "flags": l.flags})
            })
            .collect(),
    );
    o.insert("droppedLinksCount".into(), s.dropped_links_count.into());
    if let Some(st) = &s.status {
        o.insert(
            "status".into(),
            json!({"message": st.message, "code": st.code}),
        );
    }
    Value::Object(o)
}

fn attrs_json(attrs: &[KeyValue]) -> Value {
    attrs
        .iter()
        .map(|kv| json!({"key": kv.key, "value": kv.value.as_ref().map_or(json!({}), any_value_json)}))
        .collect()
}

fn any_value_json(v: &AnyValue) -> Value {
    match &v.value {
        None => json!({}),
        Some(Av::StringValue(s)) => json!({ "stringValue": s }),
        Some(Av::BoolValue(b)) => json!({ "boolValue": b }),
        Some(Av::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(Av::DoubleValue(d)) => json!({ "doubleValue": d }),
        Some(Av::ArrayValue(a)) => {
            json!({"arrayValue": {"values": a.values.iter().map(any_value_json).collect::<Vec<_>>()}})
        }
        Some(Av::KvlistValue(l)) => json!({"kvlistValue": {"values": attrs_json(&l.values)}}),
        Some(Av::BytesValue(b)) => json!({ "bytesValue": STANDARD.encode(b) }),
    }
}

// ---------------------------------------------------------------- reading Tempo's proto3 JSON

/// Decodes Tempo's JSON trace: `{"batches": [...]}` (v1) or a `Trace` with `resourceSpans` (v2).
/// `key` names the list; an absent key means an empty trace.
pub fn decode_tempo_trace(value: &Value, key: &str) -> anyhow::Result<Vec<ResourceSpans>> {
    let obj = object(value, "trace")?;
    allow_keys(obj, "trace", &[key])?;
    match obj.get(key) {
        None => Ok(Vec::new()),
        Some(list) => array(list, key)?
            .iter()
            .enumerate()
            .map(|(i, rs)| decode_resource_spans(rs, &format!("{key}[{i}]")))
            .collect(),
    }
}

fn decode_resource_spans(v: &Value, path: &str) -> anyhow::Result<ResourceSpans> {
    let o = object(v, path)?;
    allow_keys(o, path, &["resource", "scopeSpans", "schemaUrl"])?;
    let resource = match o.get("resource") {
        None => None,
        Some(r) => {
            let p = format!("{path}.resource");
            let ro = object(r, &p)?;
            allow_keys(ro, &p, &["attributes", "droppedAttributesCount"])?;
            Some(Resource {
                attributes: attrs(ro, &p)?,
                dropped_attributes_count: u32_field(ro, "droppedAttributesCount", &p)?,
            })
        }
    };
    let scope_spans = list(o, "scopeSpans", path)?
        .iter()
        .enumerate()
        .map(|(i, ss)| decode_scope_spans(ss, &format!("{path}.scopeSpans[{i}]")))
        .collect::<anyhow::Result<_>>()?;
    Ok(ResourceSpans {
        resource,
        scope_spans,
        schema_url: string_field(o, "schemaUrl", path)?,
    })
}

fn decode_scope_spans(v: &Value, path: &str) -> anyhow::Result<ScopeSpans> {
    let o = object(v, path)?;
    allow_keys(o, path, &["scope", "spans", "schemaUrl"])?;
    let scope = match o.get("scope") {
        None => None,
        Some(s) => {
            let p = format!("{path}.scope");
            let so = object(s, &p)?;
            allow_keys(
                so,
                &p,
                &["name", "version", "attributes", "droppedAttributesCount"],
            )?;
            Some(InstrumentationScope {
                name: string_field(so, "name", &p)?,
                version: string_field(so, "version", &p)?,
                attributes: attrs(so, &p)?,
                dropped_attributes_count: u32_field(so, "droppedAttributesCount", &p)?,
            })
        }
    };
    let spans = list(o, "spans", path)?
        .iter()
        .enumerate()
        .map(|(i, s)| decode_span(s, &format!("{path}.spans[{i}]")))
        .collect::<anyhow::Result<_>>()?;
    Ok(ScopeSpans {
        scope,
        spans,
        schema_url: string_field(o, "schemaUrl", path)?,
    })
}

fn decode_span(v: &Value, path: &str) -> anyhow::Result<Span> {
    let o = object(v, path)?;
    allow_keys(
        o,
        path,
        &[
            "traceId",
            "spanId",
            "traceState",
            "parentSpanId",
            "flags",
            "name",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "attributes",
            "droppedAttributesCount",
            "events",
            "droppedEventsCount",
            "links",
            "droppedLinksCount",
            "status",
        ],
    )?;
    let kind = match o.get("kind") {
        None => 0,
        // proto3 JSON prints a value outside the enum as its number.
        Some(k) if k.as_i64().is_some_and(|n| !(0..=5).contains(&n)) => {
            i32::try_from(k.as_i64().unwrap_or_default())
                .with_context(|| format!("{path}.kind {k} is not an int32"))?
        }
        Some(k) => {
            let name = k
                .as_str()
                .with_context(|| format!("{path}.kind must be an enum name, got {k}"))?;
            (0..=5)
                .filter_map(|i| SpanKind::try_from(i).ok())
                .find(|sk| sk.proto_name() == name)
                .with_context(|| format!("{path}.kind: unknown span kind {name:?}"))?
                as i32
        }
    };
    let events = list(o, "events", path)?
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = format!("{path}.events[{i}]");
            let eo = object(e, &p)?;
            allow_keys(
                eo,
                &p,
                &[
                    "timeUnixNano",
                    "name",
                    "attributes",
                    "droppedAttributesCount",
                ],
            )?;
            Ok(Event {
                time_unix_nano: u64_field(eo, "timeUnixNano", &p)?,
                name: string_field(eo, "name", &p)?,
                attributes: attrs(eo, &p)?,
                dropped_attributes_count: u32_field(eo, "droppedAttributesCount", &p)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let links = list(o, "links", path)?
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = format!("{path}.links[{i}]");
            let lo = object(l, &p)?;
            allow_keys(
                lo,
                &p,
                &[
                    "traceId",
                    "spanId",
                    "traceState",
                    "attributes",
                    "droppedAttributesCount",
                    "flags",
                ],
            )?;
            Ok(Link {
                trace_id: bytes_field(lo, "traceId", &p)?,
                span_id: bytes_field(lo, "spanId", &p)?,
                trace_state: string_field(lo, "traceState", &p)?,
                attributes: attrs(lo, &p)?,
                dropped_attributes_count: u32_field(lo, "droppedAttributesCount", &p)?,
                flags: u32_field(lo, "flags", &p)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let status = match o.get("status") {
        None => None,
        Some(s) => {
            let p = format!("{path}.status");
            let so = object(s, &p)?;
            allow_keys(so, &p, &["message", "code"])?;
            let code = match so.get("code") {
                None => 0,
                Some(c) if c.as_i64().is_some_and(|n| !(0..=2).contains(&n)) => {
                    i32::try_from(c.as_i64().unwrap_or_default())
                        .with_context(|| format!("{p}.code {c} is not an int32"))?
                }
                Some(c) => {
                    let name = c
                        .as_str()
                        .with_context(|| format!("{p}.code must be an enum name, got {c}"))?;
                    (0..=2)
                        .filter_map(|i| StatusCode::try_from(i).ok())
                        .find(|sc| sc.proto_name() == name)
                        .with_context(|| format!("{p}.code: unknown status code {name:?}"))?
                        as i32
                }
            };
            Some(Status {
                message: string_field(so, "message", &p)?,
                code,
            })
        }
    };
    Ok(Span {
        trace_id: bytes_field(o, "traceId", path)?,
        span_id: bytes_field(o, "spanId", path)?,
        trace_state: string_field(o, "traceState", path)?,
        parent_span_id: bytes_field(o, "parentSpanId", path)?,
        flags: u32_field(o, "flags", path)?,
        name: string_field(o, "name", path)?,
        kind,
        start_time_unix_nano: u64_field(o, "startTimeUnixNano", path)?,
        end_time_unix_nano: u64_field(o, "endTimeUnixNano", path)?,
        attributes: attrs(o, path)?,
        dropped_attributes_count: u32_field(o, "droppedAttributesCount", path)?,
        events,
        dropped_events_count: u32_field(o, "droppedEventsCount", path)?,
        links,
        dropped_links_count: u32_field(o, "droppedLinksCount", path)?,
        status,
    })
}

fn attrs(o: &Map<String, Value>, path: &str) -> anyhow::Result<Vec<KeyValue>> {
    list(o, "attributes", path)?
        .iter()
        .enumerate()
        .map(|(i, kv)| decode_key_value(kv, &format!("{path}.attributes[{i}]")))
        .collect()
}

fn decode_key_value(v: &Value, path: &str) -> anyhow::Result<KeyValue> {
    let o = object(v, path)?;
    allow_keys(o, path, &["key", "value"])?;
    let value = match o.get("value") {
        None => None,
        Some(v) => Some(decode_any_value(v, &format!("{path}.value"))?),
    };
    Ok(KeyValue {
        key: string_field(o, "key", path)?,
        value,
    })
}

fn decode_any_value(v: &Value, path: &str) -> anyhow::Result<AnyValue> {
    let o = object(v, path)?;
    if o.len() > 1 {
        bail!("{path}: AnyValue has more than one field: {v}");
    }
    let Some((k, x)) = o.iter().next() else {
        return Ok(AnyValue { value: None });
    };
    let p = format!("{path}.{k}");
    let value = match k.as_str() {
        "stringValue" => Av::StringValue(
            x.as_str()
                .with_context(|| format!("{p} must be a string"))?
                .to_owned(),
        ),
        "boolValue" => Av::BoolValue(x.as_bool().with_context(|| format!("{p} must be a bool"))?),
        "intValue" => Av::IntValue(int64_string(x, &p)?),
        "doubleValue" => Av::DoubleValue(double(x, &p)?),
        "bytesValue" => Av::BytesValue(base64(x, &p)?),
        "arrayValue" => {
            let ao = object(x, &p)?;
            allow_keys(ao, &p, &["values"])?;
            Av::ArrayValue(ArrayValue {
                values: list(ao, "values", &p)?
                    .iter()
                    .enumerate()
                    .map(|(i, e)| decode_any_value(e, &format!("{p}.values[{i}]")))
                    .collect::<anyhow::Result<_>>()?,
            })
        }
        "kvlistValue" => {
            let ko = object(x, &p)?;
            allow_keys(ko, &p, &["values"])?;
            Av::KvlistValue(KeyValueList {
                values: list(ko, "values", &p)?
                    .iter()
                    .enumerate()
                    .map(|(i, e)| decode_key_value(e, &format!("{p}.values[{i}]")))
                    .collect::<anyhow::Result<_>>()?,
            })
        }
        other => bail!("{path}: unknown AnyValue field {other:?}"),
    };
    Ok(AnyValue { value: Some(value) })
}

fn object<'a>(v: &'a Value, path: &str) -> anyhow::Result<&'a Map<String, Value>> {
    v.as_object()
        .with_context(|| format!("{path} must be an object, got {:.200}", v.to_string()))
}

fn array<'a>(v: &'a Value, path: &str) -> anyhow::Result<&'a Vec<Value>> {
    v.as_array()
        .with_context(|| format!("{path} must be an array, got {:.200}", v.to_string()))
}

fn allow_keys(o: &Map<String, Value>, path: &str, allowed: &[&str]) -> anyhow::Result<()> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => bail!("{path}: unexpected field {k:?} (allowed: {allowed:?})"),
        None => Ok(()),
    }
}

fn list<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> anyhow::Result<&'a [Value]> {
    match o.get(key) {
        None => Ok(&[]),
        Some(v) => Ok(array(v, &format!("{path}.{key}"))?.as_slice()),
    }
}

fn string_field(o: &Map<String, Value>, key: &str, path: &str) -> anyhow::Result<String> {
    match o.get(key) {
        None => Ok(String::new()),
        Some(v) => Ok(v
            .as_str()
            .with_context(|| format!("{path}.{key} must be a string, got {v}"))?
            .to_owned()),
    }
}

fn u32_field(o: &Map<String, Value>, key: &str, path: &str) -> anyhow::Result<u32> {
    match o.get(key) {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .with_context(|| format!("{path}.{key} must be a uint32 JSON number, got {v}")),
    }
}

/// proto3 JSON 64-bit integers are strings; Tempo always emits them as strings.
fn u64_field(o: &Map<String, Value>, key: &str, path: &str) -> anyhow::Result<u64> {
    match o.get(key) {
        None => Ok(0),
        Some(Value::String(s)) => s
            .parse()
            .with_context(|| format!("{path}.{key}: {s:?} is not a uint64")),
        Some(v) => {
            bail!("{path}.{key} must be a JSON string (proto3 JSON 64-bit integer), got {v}")
        }
    }
}

fn int64_string(v: &Value, path: &str) -> anyhow::Result<i64> {
    match v {
        Value::String(s) => s
            .parse()
            .with_context(|| format!("{path}: {s:?} is not an int64")),
        other => bail!("{path} must be a JSON string (proto3 JSON int64), got {other}"),
    }
}

fn double(v: &Value, path: &str) -> anyhow::Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .with_context(|| format!("{path}: {n} is not a double")),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .with_context(|| format!("{path}: {other:?} is not a double")),
        },
        other => bail!("{path} must be a number, got {other}"),
    }
}

fn base64(v: &Value, path: &str) -> anyhow::Result<Vec<u8>> {
    let s = v
        .as_str()
        .with_context(|| format!("{path} must be a base64 string, got {v}"))?;
    STANDARD.decode(s).map_err(|e| {
        anyhow!("{path}: {s:?} is not standard base64 ({e}); Tempo emits IDs and bytes as base64")
    })
}

fn bytes_field(o: &Map<String, Value>, key: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    match o.get(key) {
        None => Ok(Vec::new()),
        Some(v) => base64(v, &format!("{path}.{key}")),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use tracecore_benches::tracegen::TraceGenerator;

    use super::*;

    /// Tempo-style JSON of a request, built independently of the decoder: base64 IDs, enum names.
    fn tempo_style(request: &ExportTraceServiceRequest) -> Value {
        let mut v = request_to_otlp_json(request);
        fn walk(v: &mut Value) {
            match v {
                Value::Object(o) => {
                    for key in ["traceId", "spanId", "parentSpanId"] {
                        if let Some(Value::String(h)) = o.get_mut(key) {
                            *h = STANDARD.encode(hex::decode(&*h).unwrap());
                        }
                    }
                    if let Some(Value::Number(n)) = o.get("kind").cloned() {
                        let k = SpanKind::try_from(n.as_i64().unwrap() as i32).unwrap();
                        o.insert("kind".into(), k.proto_name().into());
                    }
                    if let (Some(Value::Number(n)), true) =
                        (o.get("code").cloned(), o.contains_key("message"))
                    {
                        let c = StatusCode::try_from(n.as_i64().unwrap() as i32).unwrap();
                        o.insert("code".into(), c.proto_name().into());
                    }
                    o.values_mut().for_each(walk);
                }
                Value::Array(a) => a.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        let rs = v["resourceSpans"].take();
        json!({ "batches": rs })
    }

    #[test]
    fn tempo_json_round_trips() {
        let (request, _) = TraceGenerator::new(9).request(5);
        let decoded = decode_tempo_trace(&tempo_style(&request), "batches").unwrap();
        assert_eq!(decoded, request.resource_spans);
        assert_eq!(
            ExportTraceServiceRequest {
                resource_spans: decoded
            }
            .encode_to_vec(),
            request.encode_to_vec()
        );
    }

    #[test]
    fn strict_about_tempo_encoding() {
        let (request, _) = TraceGenerator::new(10).request(1);
        // OTLP/JSON (hex IDs, numeric enums) is not what Tempo returns.
        let otlp = request_to_otlp_json(&request);
        let err =
            decode_tempo_trace(&json!({"batches": otlp["resourceSpans"]}), "batches").unwrap_err();
        assert!(
            format!("{err:#}").contains("kind must be an enum name"),
            "{err:#}"
        );
        let mut tempo = tempo_style(&request);
        tempo["batches"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = json!(1);
        let err = decode_tempo_trace(&tempo, "batches").unwrap_err();
        assert!(
            format!("{err:#}").contains("must be a JSON string"),
            "{err:#}"
        );
        let mut tempo = tempo_style(&request);
        tempo["batches"][0]["instrumentationLibrarySpans"] = json!([]);
        assert!(decode_tempo_trace(&tempo, "batches").is_err());
        assert!(
            decode_tempo_trace(&json!({}), "batches")
                .unwrap()
                .is_empty()
        );
    }
}
