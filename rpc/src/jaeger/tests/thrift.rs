//! Jaeger Thrift: `POST /api/traces` bodies and agent datagrams, full mapping.

use tracecore_proto::otlp::{
    Event, ExportTraceServiceRequest, Link, Resource, ResourceSpans, ScopeSpans, Span, SpanKind,
    Status, StatusCode,
};

use super::fixtures::*;
use crate::jaeger::thrift_gen::jaeger::{
    Batch, Log, Process, Span as JSpan, SpanRef, SpanRefType, Tag, TagType,
};
use crate::jaeger::thrift_gen::zipkincore;
use crate::jaeger::{AgentProtocol, JaegerError, decode_agent_datagram, decode_thrift_http_body};

const START_US: i64 = 1_700_000_000_000_000;
const START_NS: u64 = 1_700_000_000_000_000_000;
const TRACE_HIGH: i64 = 0x0102_0304_0506_0708;
const TRACE_LOW: i64 = 0x1112_1314_1516_1718;

/// A batch exercising every mapping rule; [`sample_expected`] is its OTLP form.
pub(crate) fn sample_batch() -> Batch {
    let process = Process::new(
        "frontend".to_owned(),
        vec![
            tag_str("hostname", "h1"),
            tag_str("jaeger.version", "Go-2.30.0"),
            tag_str("ip", "10.0.0.1"),
            tag_long("pid", 42),
            tag_bool("debug", true),
            tag_double("load", 0.5),
            tag_binary("blob", &[1, 2]),
        ],
    );
    let server = JSpan::new(
        TRACE_LOW,
        TRACE_HIGH,
        0xA1,
        0,
        "GET /".to_owned(),
        None,
        1,
        START_US,
        1_500,
        vec![
            tag_str("span.kind", "server"),
            tag_long("http.status_code", 200),
            tag_bool("error", true),
            tag_str("otel.status_description", "boom"),
            tag_str("k", "v"),
            Tag::new(
                "weird".to_owned(),
                TagType(9),
                "x".to_owned(),
                None,
                None,
                None,
                None,
            ),
        ],
        vec![
            Log::new(
                START_US + 100,
                vec![tag_str("event", "cache miss"), tag_long("key", 7)],
            ),
            Log::new(START_US + 200, vec![]),
        ],
    );
    let follows = JSpan::new(
        0x42,
        0,
        0xB1,
        0,
        "call".to_owned(),
        vec![
            SpanRef::new(SpanRefType::FOLLOWS_FROM, 0x42, 0, 0x99),
            SpanRef::new(SpanRefType::CHILD_OF, 8, 7, 0x77),
        ],
        0,
        START_US + 1_000,
        10,
        vec![
            tag_str("span.kind", "client"),
            tag_str("otel.status_code", "ERROR"),
            tag_str("otel.status_description", "bad"),
        ],
        None,
    );
    let child = JSpan::new(
        TRACE_LOW,
        TRACE_HIGH,
        0xC1,
        0xA1,
        "query".to_owned(),
        vec![SpanRef::new(
            SpanRefType::CHILD_OF,
            TRACE_LOW,
            TRACE_HIGH,
            0xA1,
        )],
        3,
        START_US + 10,
        20,
        vec![
            tag_str("span.kind", "client"),
            tag_long("http.status_code", 404),
            tag_str("http.status_message", "Not Found"),
        ],
        None,
    );
    let blank = JSpan::new(0, 0, 0, 0, String::new(), None, 0, 0, 0, None, None);
    Batch::new(process, vec![server, follows, child, blank], 7, None)
}

pub(crate) fn sample_expected() -> ExportTraceServiceRequest {
    let trace = tid(TRACE_HIGH as u64, TRACE_LOW as u64);
    let server = Span {
        trace_id: trace.clone(),
        span_id: sid(0xA1),
        flags: 1,
        name: "GET /".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: START_NS,
        end_time_unix_nano: START_NS + 1_500_000,
        attributes: vec![
            kv_int("http.status_code", 200),
            kv_str("k", "v"),
            kv_str("weird", "<Unknown Jaeger TagType \"<UNSET>\">"),
        ],
        events: vec![
            Event {
                time_unix_nano: START_NS + 100_000,
                name: "cache miss".into(),
                attributes: vec![kv_int("key", 7)],
                dropped_attributes_count: 0,
            },
            Event {
                time_unix_nano: START_NS + 200_000,
                ..Event::default()
            },
        ],
        status: Some(Status {
            message: "boom".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    let follows = Span {
        trace_id: tid(0, 0x42),
        span_id: sid(0xB1),
        parent_span_id: sid(0x99),
        name: "call".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: START_NS + 1_000_000,
        end_time_unix_nano: START_NS + 1_010_000,
        links: vec![
            Link {
                trace_id: tid(0, 0x42),
                span_id: sid(0x99),
                attributes: vec![kv_str("opentracing.ref_type", "follows_from")],
                ..Link::default()
            },
            Link {
                trace_id: tid(7, 8),
                span_id: sid(0x77),
                attributes: vec![kv_str("opentracing.ref_type", "child_of")],
                ..Link::default()
            },
        ],
        status: Some(Status {
            message: "bad".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    let child = Span {
        trace_id: trace,
        span_id: sid(0xC1),
        parent_span_id: sid(0xA1),
        flags: 1,
        name: "query".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: START_NS + 10_000,
        end_time_unix_nano: START_NS + 30_000,
        attributes: vec![
            kv_int("http.status_code", 404),
            kv_str("http.status_message", "Not Found"),
        ],
        status: Some(Status {
            message: "Not Found".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv_str("service.name", "frontend"),
                    kv_str("ip", "10.0.0.1"),
                    kv_int("pid", 42),
                    kv_bool("debug", true),
                    kv_double("load", 0.5),
                    kv_bytes("blob", &[1, 2]),
                    kv_str("host.name", "h1"),
                    kv_str("opencensus.exporterversion", "Jaeger-Go-2.30.0"),
                ],
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: vec![server, follows, child],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn http_body_maps_every_field() {
    let body = encode_binary(&sample_batch());
    assert_eq!(decode_thrift_http_body(&body), Ok(sample_expected()));
}

#[test]
fn agent_emit_batch_decodes_in_both_protocols() {
    for protocol in [AgentProtocol::Compact, AgentProtocol::Binary] {
        let datagram = agent_emit_batch(sample_batch(), protocol);
        assert_eq!(
            decode_agent_datagram(&datagram, protocol),
            Ok(sample_expected()),
            "{protocol:?}"
        );
    }
}

#[test]
fn agent_datagram_in_the_other_protocol_is_an_error() {
    let compact = agent_emit_batch(sample_batch(), AgentProtocol::Compact);
    assert!(decode_agent_datagram(&compact, AgentProtocol::Binary).is_err());
    let binary = agent_emit_batch(sample_batch(), AgentProtocol::Binary);
    assert!(decode_agent_datagram(&binary, AgentProtocol::Compact).is_err());
}

#[test]
fn agent_emit_zipkin_batch_uses_the_zipkin_v1_mapping() {
    let host = zipkincore::Endpoint::new(0x0A00_0001, 8080_i16, "zsvc".to_owned(), None);
    let span = zipkincore::Span {
        trace_id: Some(0x42),
        name: Some("get".into()),
        id: Some(0x7),
        parent_id: None,
        annotations: Some(vec![
            zipkincore::Annotation::new(START_US, "sr".to_owned(), host.clone()),
            zipkincore::Annotation::new(START_US + 5, "ss".to_owned(), host),
        ]),
        binary_annotations: None,
        debug: None,
        timestamp: None,
        duration: None,
        trace_id_high: None,
    };
    for protocol in [AgentProtocol::Compact, AgentProtocol::Binary] {
        let datagram = agent_emit_zipkin_batch(vec![span.clone()], protocol);
        let request = decode_agent_datagram(&datagram, protocol).expect("decodes");
        let rs = &request.resource_spans[0];
        let resource = rs.resource.as_ref().expect("resource");
        assert_eq!(
            resource.attributes,
            vec![
                kv_str("service.name", "zsvc"),
                kv_str("ipv4", "10.0.0.1"),
                kv_str("port", "8080"),
            ]
        );
        let s = &rs.scope_spans[0].spans[0];
        assert_eq!(s.trace_id, tid(0, 0x42));
        assert_eq!(s.kind, SpanKind::Server as i32);
        assert_eq!(s.start_time_unix_nano, START_NS);
        assert_eq!(s.end_time_unix_nano, START_NS + 5_000);
    }
}

#[test]
fn agent_envelope_errors_name_the_problem() {
    use thrift::protocol::{
        TBinaryOutputProtocol, TMessageIdentifier, TMessageType, TOutputProtocol, TStructIdentifier,
    };
    let message = |name: &str, kind: TMessageType, args: bool| {
        let mut buf = Vec::new();
        {
            let mut p = TBinaryOutputProtocol::new(&mut buf, true);
            p.write_message_begin(&TMessageIdentifier::new(name, kind, 1))
                .expect("write");
            if args {
                p.write_struct_begin(&TStructIdentifier::new("args"))
                    .expect("write");
                p.write_field_stop().expect("write");
                p.write_struct_end().expect("write");
            }
            p.write_message_end().expect("write");
            p.flush().expect("flush");
        }
        buf
    };
    let decode = |bytes: Vec<u8>| decode_agent_datagram(&bytes, AgentProtocol::Binary);
    assert_eq!(
        decode(message("emitSomething", TMessageType::OneWay, true)),
        Err(JaegerError::UnknownMethod("emitSomething".into()))
    );
    assert_eq!(
        decode(message("emitBatch", TMessageType::OneWay, true)),
        Err(JaegerError::MissingArgument {
            method: "emitBatch"
        })
    );
    assert!(matches!(
        decode(message("emitBatch", TMessageType::Reply, true)),
        Err(JaegerError::NotACall(_))
    ));
    let truncated = decode(message("emitBatch", TMessageType::OneWay, false));
    assert_eq!(
        truncated.map_err(|e| e.to_string()),
        Err("invalid jaeger thrift agent message: unexpected end of input".to_owned())
    );
}

#[test]
fn missing_required_fields_are_named() {
    // A batch whose only field is the process: `spans` is required.
    let mut body = encode_binary(&Process::new("svc".to_owned(), None));
    // Wrap the process struct as field 1 of a Batch: type struct (12), id 1, struct, stop.
    let mut batch = vec![12, 0, 1];
    batch.append(&mut body);
    batch.push(0);
    let error = decode_thrift_http_body(&batch).expect_err("spans missing");
    assert_eq!(
        error.to_string(),
        "invalid jaeger thrift batch: missing required field Batch.spans"
    );
}

#[test]
fn sixty_four_bit_ids_are_widened_and_times_saturate() {
    let span = JSpan::new(-1, 0, -2, 0, "x".into(), None, 0, -5, i64::MAX, None, None);
    let batch = Batch::new(Process::new(String::new(), None), vec![span], None, None);
    let request = decode_thrift_http_body(&encode_binary(&batch)).expect("decodes");
    let rs = &request.resource_spans[0];
    assert_eq!(rs.resource.as_ref().map(|r| r.attributes.len()), Some(0));
    let s = &rs.scope_spans[0].spans[0];
    assert_eq!(s.trace_id, tid(0, u64::MAX));
    assert_eq!(s.span_id, sid(u64::MAX - 1));
    assert_eq!(s.start_time_unix_nano, 0);
    assert_eq!(s.end_time_unix_nano, u64::MAX);
}
