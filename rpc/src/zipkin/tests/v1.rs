//! Zipkin v1 JSON and Thrift: full mapping.

use thrift::protocol::{
    TBinaryOutputProtocol, TListIdentifier, TOutputProtocol, TSerializable, TType,
};
use tracecore_proto::otlp::{
    Event, ExportTraceServiceRequest, Resource, ResourceSpans, ScopeSpans, Span, SpanKind, Status,
    StatusCode,
};

use crate::jaeger::tests::fixtures::*;
use crate::jaeger::thrift_gen::zipkincore::{
    self, Annotation, AnnotationType, BinaryAnnotation, Endpoint,
};
use crate::zipkin::{ZipkinError, decode_v1_json, decode_v1_thrift};

const T0_US: i64 = 1_700_000_000_000_000;
const T0: u64 = 1_700_000_000_000_000_000;

pub(crate) const V1_JSON: &str = r#"[
 {"traceId":"48485a3953bb6124","name":"get","id":"0000000000000007","parentId":"0000000000000006",
  "timestamp":1700000000000000,"duration":100,
  "annotations":[
    {"timestamp":1699999999999990,"value":"sr","endpoint":{"serviceName":"svc","ipv4":"10.0.0.2","port":80}},
    {"timestamp":1700000000000050,"value":"custom event","endpoint":{"serviceName":"svc","ipv4":"10.0.0.2","port":80}},
    {"timestamp":1700000000000200,"value":"ss","endpoint":{"serviceName":"svc","ipv4":"10.0.0.2","port":80}},
    {"timestamp":5,"value":""},
    null],
  "binaryAnnotations":[
    {"key":"http.status_code","value":"500"},
    {"key":"lc","value":"mycomp"},
    {"key":"error","value":"oops"},
    {"key":"census.status_description","value":"census msg"},
    {"key":"ca","value":true,"endpoint":{"serviceName":"client"}},
    {"key":"num","value":12}]},
 {"traceId":"463ac35c9f6413ad48485a3953bb6124","name":"nots","id":"0000000000000008",
  "binaryAnnotations":[{"key":"lc","value":"comp2"}]},
 {"traceId":"48485a3953bb6124","name":"cs","id":"0000000000000009",
  "annotations":[
    {"timestamp":1700000000000010,"value":"cs","endpoint":{"serviceName":""}},
    {"timestamp":1700000000000020,"value":"sr","endpoint":{"serviceName":"svc","ipv4":"10.0.0.2","port":80}}],
  "binaryAnnotations":[{"key":"http.status_code","value":404},{"key":"http.status_message","value":"nf"}]}
]"#;

#[test]
fn json_maps_every_field() {
    let request = decode_v1_json(V1_JSON.as_bytes()).expect("decodes");
    let svc_resource = Some(Resource {
        attributes: vec![
            kv_str("service.name", "svc"),
            kv_str("ipv4", "10.0.0.2"),
            kv_str("port", "80"),
        ],
        dropped_attributes_count: 0,
    });
    let get = Span {
        trace_id: tid(0, 0x4848_5a39_53bb_6124),
        span_id: sid(7),
        parent_span_id: sid(6),
        name: "get".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 100_000,
        attributes: vec![
            kv_str("http.status_code", "500"),
            kv_str("component", "mycomp"),
            kv_str("ca", "true"),
            kv_str("num", "12"),
        ],
        events: vec![Event {
            time_unix_nano: T0 + 50_000,
            name: "custom event".into(),
            ..Event::default()
        }],
        status: Some(Status {
            message: "census msg".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    let client = Span {
        trace_id: tid(0, 0x4848_5a39_53bb_6124),
        span_id: sid(9),
        name: "cs".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: T0 + 10_000,
        end_time_unix_nano: T0 + 20_000,
        attributes: vec![
            kv_str("http.status_code", "404"),
            kv_str("http.status_message", "nf"),
        ],
        status: Some(Status {
            message: "nf".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    assert_eq!(request.resource_spans.len(), 2);
    assert_eq!(
        request.resource_spans[0],
        ResourceSpans {
            resource: svc_resource,
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: vec![get, client],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    );

    // No annotations and no timestamp: the local component names the service and the span is
    // stamped with the receive time.
    let nots = &request.resource_spans[1];
    assert_eq!(
        nots.resource.as_ref().map(|r| r.attributes.clone()),
        Some(vec![kv_str("service.name", "comp2")])
    );
    let span = &nots.scope_spans[0].spans[0];
    assert_eq!(
        span.trace_id,
        tid(0x463a_c35c_9f64_13ad, 0x4848_5a39_53bb_6124)
    );
    assert!(span.start_time_unix_nano > T0);
    assert_eq!(span.start_time_unix_nano, span.end_time_unix_nano);
    assert_eq!(
        span.attributes,
        vec![
            kv_str("component", "comp2"),
            kv_bool("otel.zipkin.absentField.startTime", true),
        ]
    );
}

#[test]
fn json_ids_must_have_exact_lengths() {
    let err = |body: &str| decode_v1_json(body.as_bytes()).expect_err(body);
    assert_eq!(
        err(r#"[{"traceId":"1","id":"0000000000000001"}]"#),
        ZipkinError::Invalid {
            field: "[0].traceId".into(),
            value: "1".into(),
            expected: "16 or 32 hex digits"
        }
    );
    assert_eq!(
        err(r#"[{"traceId":"0000000000000001","id":"1"}]"#).to_string(),
        r#"invalid zipkin span: [0].id "1" is not 16 hex digits"#
    );
    assert_eq!(
        err(r#"[{"traceId":"0000000000000000","id":"0000000000000001"}]"#).to_string(),
        r#"invalid zipkin span: [0].traceId "0000000000000000" is not a non-zero id"#
    );
    assert!(matches!(
        err(
            r#"[{"traceId":"0000000000000001","id":"0000000000000001","parentId":"0000000000000000"}]"#
        ),
        ZipkinError::Invalid { .. }
    ));
}

fn binary(
    key: &str,
    value: &[u8],
    kind: AnnotationType,
    host: Option<Endpoint>,
) -> BinaryAnnotation {
    BinaryAnnotation::new(key.to_owned(), value.to_vec(), kind, host)
}

/// A `list<Span>` body in binary protocol.
pub(crate) fn encode_span_list(spans: &[zipkincore::Span]) -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let mut p = TBinaryOutputProtocol::new(&mut buf, true);
        p.write_list_begin(&TListIdentifier::new(TType::Struct, spans.len() as i32))
            .expect("write");
        for span in spans {
            span.write_to_out_protocol(&mut p).expect("write");
        }
        p.write_list_end().expect("write");
        p.flush().expect("flush");
    }
    buf
}

pub(crate) fn thrift_span() -> zipkincore::Span {
    let host = Endpoint::new(
        0x0A00_0002,
        -1_i16,
        "svc".to_owned(),
        std::net::Ipv6Addr::LOCALHOST.octets().to_vec(),
    );
    zipkincore::Span {
        trace_id: Some(0x4848_5a39_53bb_6124),
        name: Some("get".into()),
        id: Some(7),
        parent_id: Some(6),
        annotations: Some(vec![
            Annotation::new(T0_US, "cs".to_owned(), host.clone()),
            Annotation::new(T0_US + 1, "note".to_owned(), None),
            Annotation::new(T0_US + 9, "cr".to_owned(), host),
        ]),
        binary_annotations: Some(vec![
            binary("b", &[1], AnnotationType::BOOL, None),
            binary("b0", &[1, 0], AnnotationType::BOOL, None),
            binary("bytes", &[0xff, 0], AnnotationType::BYTES, None),
            binary("i16", &(-2_i16).to_be_bytes(), AnnotationType::I16, None),
            binary("i32", &70_000_i32.to_be_bytes(), AnnotationType::I32, None),
            binary("i64", &(-5_i64).to_be_bytes(), AnnotationType::I64, None),
            binary("d", &1.25_f64.to_be_bytes(), AnnotationType::DOUBLE, None),
            binary("short", &[1], AnnotationType::I64, None),
            binary("s", b"text", AnnotationType::STRING, None),
            binary("odd", b"", AnnotationType(42), None),
            binary("otel.status_code", b"1", AnnotationType::STRING, None),
            binary(
                "otel.status_description",
                b"fine",
                AnnotationType::STRING,
                None,
            ),
        ]),
        debug: Some(true),
        timestamp: None,
        duration: None,
        trace_id_high: Some(0x0102),
    }
}

#[test]
fn thrift_maps_every_field() {
    let request = decode_v1_thrift(&encode_span_list(&[thrift_span()])).expect("decodes");
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv_str("service.name", "svc"),
                    kv_str("ipv4", "10.0.0.2"),
                    kv_str("ipv6", "::1"),
                    kv_str("port", "65535"),
                ],
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: vec![Span {
                    trace_id: tid(0x0102, 0x4848_5a39_53bb_6124),
                    span_id: sid(7),
                    parent_span_id: sid(6),
                    name: "get".into(),
                    kind: SpanKind::Client as i32,
                    start_time_unix_nano: T0,
                    end_time_unix_nano: T0 + 9_000,
                    attributes: vec![
                        kv_bool("b", true),
                        kv_bool("b0", false),
                        kv_str("bytes", "/wA="),
                        kv_int("i16", -2),
                        kv_int("i32", 70_000),
                        kv_int("i64", -5),
                        kv_double("d", 1.25),
                        kv_str("short", "<not enough bytes representing the number>"),
                        kv_str("s", "text"),
                        kv_str("odd", "<unknown zipkin v1 binary annotation type (42)>"),
                    ],
                    events: vec![Event {
                        time_unix_nano: T0 + 1_000,
                        name: "note".into(),
                        ..Event::default()
                    }],
                    status: Some(Status {
                        message: "fine".into(),
                        code: StatusCode::Ok as i32,
                    }),
                    ..Span::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    assert_eq!(request, expected);
}

#[test]
fn thrift_body_must_be_a_list_of_structs() {
    let mut body = encode_span_list(&[]);
    body[0] = 11; // list<string>
    let error = decode_v1_thrift(&body).expect_err("not structs");
    assert!(
        error
            .to_string()
            .starts_with("invalid zipkin thrift: expected a list of span structs"),
        "{error}"
    );
}
