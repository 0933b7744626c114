//! Zipkin v2 JSON and protobuf: full mapping, and the two formats agreeing.

use prost::Message;
use tracecore_proto::otlp::{
    Event, ExportTraceServiceRequest, InstrumentationScope, Link, Resource, ResourceSpans,
    ScopeSpans, Span, SpanKind, Status, StatusCode,
};

use crate::jaeger::tests::fixtures::*;
use crate::zipkin::v2_proto::{Annotation, Endpoint, Kind, ListOfSpans, Span as PSpan, TagEntry};
use crate::zipkin::{ZipkinEncoding, ZipkinError, decode, decode_v2_json, decode_v2_proto};

const T0: u64 = 1_700_000_000_000_000_000;

pub(crate) const V2_JSON: &str = r#"[
 {"traceId":"463ac35c9f6413ad48485a3953bb6124","id":"a2fb4a1d1a96d312","parentId":"0020000000000001",
  "name":"get /api","kind":"SERVER","timestamp":1700000000000000,"duration":1500,
  "localEndpoint":{"serviceName":"frontend","ipv4":"10.0.0.1","port":8080},
  "remoteEndpoint":{"serviceName":"browser","ipv6":"::ffff:1.2.3.4","port":-1},
  "annotations":[
    {"timestamp":1700000000000100,"value":"wr"},
    {"timestamp":1700000000000200,"value":"exception|{\"message\":\"boom\",\"code\":7,\"ratio\":0.5,\"ok\":true,\"skip\":null}|2"},
    {"timestamp":1,"value":"a|b"},
    {"timestamp":2,"value":"x|not json|1"}],
  "tags":{"http.method":"GET","otel.status_code":"STATUS_CODE_ERROR","otel.status_description":"bad",
    "host.name":"h1","otel.library.name":"lib","otel.library.version":"2.0","w3c.tracestate":"k=v",
    "otlp.link.0":"0102030405060708090a0b0c0d0e0f10|1112131415161718|s=1|{\"la\":\"x\"}|0",
    "otlp.link.1":"zz|1112131415161718|s=1|{}|0",
    "n":42},
  "shared":true,"debug":true,"unknownField":[1,2]},
 {"traceId":"48485a3953bb6124","id":"0000000000000001","name":"child","timestamp":1700000000000500,"duration":10,
  "localEndpoint":{"serviceName":"backend"},"tags":{"span.kind":"internal","error":"true"}},
 {"traceId":"48485a3953bb6124","id":"0000000000000002","parentId":"0000000000000002","name":"self-parent",
  "localEndpoint":{"serviceName":"frontend"}},
 {"traceId":"48485a3953bb6124","id":"3","name":"anon","kind":"WEIRD","parentId":null,"tags":null}
]"#;

fn v2_expected() -> ExportTraceServiceRequest {
    let frontend = Span {
        trace_id: tid(0x463a_c35c_9f64_13ad, 0x4848_5a39_53bb_6124),
        span_id: sid(0xa2fb_4a1d_1a96_d312),
        trace_state: "k=v".into(),
        parent_span_id: sid(0x0020_0000_0000_0001),
        name: "get /api".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1_500_000,
        attributes: vec![
            kv_str("http.method", "GET"),
            kv_str("otlp.link.1", "zz|1112131415161718|s=1|{}|0"),
            kv_str("n", "42"),
            kv_str("net.host.ip", "10.0.0.1"),
            kv_int("net.host.port", 8080),
            kv_str("peer.service", "browser"),
            kv_str("net.peer.ip", "1.2.3.4"),
        ],
        events: vec![
            Event {
                time_unix_nano: T0 + 100_000,
                name: "wr".into(),
                ..Event::default()
            },
            Event {
                time_unix_nano: T0 + 200_000,
                name: "exception".into(),
                attributes: vec![
                    kv_int("code", 7),
                    kv_str("message", "boom"),
                    kv_bool("ok", true),
                    kv_double("ratio", 0.5),
                ],
                dropped_attributes_count: 2,
            },
            Event {
                time_unix_nano: 1_000,
                name: "a".into(),
                ..Event::default()
            },
            Event {
                time_unix_nano: 2_000,
                name: "x|not json|1".into(),
                ..Event::default()
            },
        ],
        links: vec![Link {
            trace_id: (1..=16).collect(),
            span_id: (0x11..=0x18).collect(),
            trace_state: "s=1".into(),
            attributes: vec![kv_str("la", "x")],
            dropped_attributes_count: 0,
            flags: 0,
        }],
        status: Some(Status {
            message: "bad".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    let short_trace = tid(0, 0x4848_5a39_53bb_6124);
    let child = Span {
        trace_id: short_trace.clone(),
        span_id: sid(1),
        name: "child".into(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: T0 + 500_000,
        end_time_unix_nano: T0 + 510_000,
        status: Some(Status {
            message: String::new(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    let self_parent = Span {
        trace_id: short_trace.clone(),
        span_id: sid(2),
        name: "self-parent".into(),
        ..Span::default()
    };
    let anon = Span {
        trace_id: short_trace,
        span_id: sid(3),
        name: "anon".into(),
        ..Span::default()
    };
    let resource = |attributes| {
        Some(Resource {
            attributes,
            dropped_attributes_count: 0,
        })
    };
    let scope = |scope, spans| ScopeSpans {
        scope,
        spans,
        schema_url: String::new(),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource(vec![]),
                scope_spans: vec![scope(None, vec![anon])],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: resource(vec![kv_str("service.name", "backend")]),
                scope_spans: vec![scope(None, vec![child])],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: resource(vec![kv_str("service.name", "frontend")]),
                scope_spans: vec![
                    scope(None, vec![self_parent]),
                    scope(
                        Some(InstrumentationScope {
                            name: "lib".into(),
                            version: "2.0".into(),
                            ..InstrumentationScope::default()
                        }),
                        vec![frontend],
                    ),
                ],
                schema_url: String::new(),
            },
        ],
    }
}

#[test]
fn json_maps_every_field() {
    assert_eq!(decode_v2_json(V2_JSON.as_bytes()), Ok(v2_expected()));
}

#[test]
fn resource_tags_of_the_first_span_of_a_service_move_to_the_resource() {
    let body = r#"[{"traceId":"1","id":"1","localEndpoint":{"serviceName":"s"},
        "tags":{"k8s.pod.name":"p","x":"y","otlp.service.name.source":"app.name"}}]"#;
    let request = decode_v2_json(body.as_bytes()).expect("decodes");
    let rs = &request.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().map(|r| r.attributes.clone()),
        Some(vec![kv_str("app.name", "s"), kv_str("k8s.pod.name", "p")])
    );
    assert_eq!(
        rs.scope_spans[0].spans[0].attributes,
        vec![kv_str("x", "y")]
    );
}

/// The OpenTelemetry SDKs' Zipkin exporters write `otel.status_code=OK|ERROR` (names the
/// Collector does not know: unset) and, for errors, `error=<description>`: any `error` tag fails
/// the span, and only `error=true` is consumed. `Ok`/`Error` are the Collector's legacy names.
#[test]
fn status_follows_the_collector_for_sdk_zipkin_exporters() {
    let status_and_attributes = |tags: &str| {
        let body = format!(
            r#"[{{"traceId":"1","id":"1","localEndpoint":{{"serviceName":"s"}},"tags":{tags}}}]"#
        );
        let request = decode_v2_json(body.as_bytes()).expect("decodes");
        let span = request.resource_spans[0].scope_spans[0].spans[0].clone();
        (span.status.map(|s| (s.code, s.message)), span.attributes)
    };
    let error = StatusCode::Error as i32;
    assert_eq!(
        status_and_attributes(r#"{"otel.status_code":"ERROR","error":"template missing"}"#),
        (
            Some((error, String::new())),
            vec![kv_str("error", "template missing")]
        )
    );
    assert_eq!(
        status_and_attributes(r#"{"otel.status_code":"OK"}"#),
        (Some((StatusCode::Unset as i32, String::new())), vec![])
    );
    assert_eq!(
        status_and_attributes(r#"{"otel.status_code":"Ok"}"#),
        (Some((StatusCode::Ok as i32, String::new())), vec![])
    );
    assert_eq!(
        status_and_attributes(
            r#"{"otel.status_code":"Error","otel.status_description":"bad","error":"true"}"#
        ),
        (Some((error, "bad".to_owned())), vec![])
    );
    assert_eq!(
        status_and_attributes(r#"{"error":""}"#),
        (Some((error, String::new())), vec![kv_str("error", "")])
    );
}

fn endpoint(service: &str, ipv4: &[u8], ipv6: &[u8], port: i32) -> Option<Endpoint> {
    Some(Endpoint {
        service_name: service.into(),
        ipv4: ipv4.to_vec(),
        ipv6: ipv6.to_vec(),
        port,
    })
}

fn tags(pairs: &[(&str, &str)]) -> Vec<TagEntry> {
    pairs
        .iter()
        .map(|(k, v)| TagEntry {
            key: (*k).into(),
            value: (*v).into(),
        })
        .collect()
}

/// The first three spans of [`V2_JSON`] (whose JSON tags are all strings but `n`).
pub(crate) fn v2_proto() -> ListOfSpans {
    let mapped = std::net::Ipv4Addr::new(1, 2, 3, 4)
        .to_ipv6_mapped()
        .octets();
    ListOfSpans {
        spans: vec![
            PSpan {
                trace_id: tid(0x463a_c35c_9f64_13ad, 0x4848_5a39_53bb_6124),
                parent_id: sid(0x0020_0000_0000_0001),
                id: sid(0xa2fb_4a1d_1a96_d312),
                kind: Kind::Server as i32,
                name: "get /api".into(),
                timestamp: 1_700_000_000_000_000,
                duration: 1_500,
                local_endpoint: endpoint("frontend", &[10, 0, 0, 1], &[], 8080),
                remote_endpoint: endpoint("browser", &[], &mapped, 0),
                annotations: vec![
                    Annotation {
                        timestamp: 1_700_000_000_000_100,
                        value: "wr".into(),
                    },
                    Annotation {
                        timestamp: 1_700_000_000_000_200,
                        value: r#"exception|{"message":"boom","code":7,"ratio":0.5,"ok":true,"skip":null}|2"#.into(),
                    },
                    Annotation {
                        timestamp: 1,
                        value: "a|b".into(),
                    },
                    Annotation {
                        timestamp: 2,
                        value: "x|not json|1".into(),
                    },
                ],
                tags: tags(&[
                    ("http.method", "GET"),
                    ("otel.status_code", "STATUS_CODE_ERROR"),
                    ("otel.status_description", "bad"),
                    ("host.name", "h1"),
                    ("otel.library.name", "lib"),
                    ("otel.library.version", "2.0"),
                    ("w3c.tracestate", "k=v"),
                    (
                        "otlp.link.0",
                        r#"0102030405060708090a0b0c0d0e0f10|1112131415161718|s=1|{"la":"x"}|0"#,
                    ),
                    ("otlp.link.1", "zz|1112131415161718|s=1|{}|0"),
                    ("n", "42"),
                ]),
                debug: true,
                shared: true,
            },
            PSpan {
                trace_id: sid(0x4848_5a39_53bb_6124),
                id: sid(1),
                name: "child".into(),
                timestamp: 1_700_000_000_000_500,
                duration: 10,
                local_endpoint: endpoint("backend", &[], &[], 0),
                tags: tags(&[("span.kind", "internal"), ("error", "true")]),
                ..PSpan::default()
            },
            PSpan {
                trace_id: tid(0, 0x4848_5a39_53bb_6124),
                id: sid(2),
                parent_id: sid(2),
                name: "self-parent".into(),
                local_endpoint: endpoint("frontend", &[], &[], 0),
                ..PSpan::default()
            },
        ],
    }
}

#[test]
fn protobuf_maps_like_json() {
    let mut expected = v2_expected();
    expected.resource_spans.remove(0); // the JSON-only span without a service
    assert_eq!(decode_v2_proto(&v2_proto().encode_to_vec()), Ok(expected));
}

#[test]
fn protobuf_id_and_ip_lengths_are_checked() {
    let with = |f: fn(&mut PSpan)| {
        let mut list = v2_proto();
        list.spans.truncate(1);
        f(&mut list.spans[0]);
        decode_v2_proto(&list.encode_to_vec())
    };
    assert_eq!(
        with(|s| s.trace_id = vec![1; 12]),
        Err(ZipkinError::Length {
            field: "spans[0].trace_id".into(),
            expected: "8 or 16",
            got: 12
        })
    );
    assert!(matches!(
        with(|s| s.id.clear()),
        Err(ZipkinError::Length { .. })
    ));
    assert!(matches!(
        with(|s| s.parent_id = vec![1]),
        Err(ZipkinError::Length { .. })
    ));
    let error = with(|s| s.local_endpoint = endpoint("x", &[1, 2, 3], &[], 0)).expect_err("ip");
    assert_eq!(
        error.to_string(),
        "invalid zipkin span: spans[0].local_endpoint.ipv4 must be 4 bytes, got 3"
    );
}

#[test]
fn json_errors_name_the_field() {
    let err = |body: &str| decode_v2_json(body.as_bytes()).expect_err(body).to_string();
    assert_eq!(
        err(r#"[{"id":"1"}]"#),
        "invalid zipkin span: [0].traceId is required"
    );
    assert_eq!(
        err(r#"[{"traceId":"1","id":"1"},{"traceId":"xyz","id":"1"}]"#),
        r#"invalid zipkin span: [1].traceId "xyz" is not 1 to 32 hex digits"#
    );
    assert_eq!(
        err(r#"[{"traceId":"1","id":"0"}]"#),
        r#"invalid zipkin span: [0].id "0" is not a non-zero id"#
    );
    assert_eq!(
        err(r#"[{"traceId":"1","id":"1","parentId":"12345678901234567"}]"#),
        r#"invalid zipkin span: [0].parentId "12345678901234567" is not 1 to 16 hex digits"#
    );
    assert_eq!(
        err(r#"[{"traceId":"1","id":"1","localEndpoint":{"ipv4":"1.2.3"}}]"#),
        r#"invalid zipkin span: [0].localEndpoint.ipv4 "1.2.3" is not an ip address"#
    );
    assert!(
        err(r#"[{"traceId":"1","id":"1","timestamp":1.5}]"#).starts_with("invalid zipkin json: ")
    );
    assert!(err(r#"{"traceId":"1"}"#).starts_with("invalid zipkin json: "));
    assert!(
        err(r#"[{"traceId":"1","id":"1","tags":{"a":{"b":1}}}]"#)
            .starts_with("invalid zipkin json: ")
    );
}

#[test]
fn empty_list_is_an_empty_request() {
    assert_eq!(
        decode_v2_json(b"[]"),
        Ok(ExportTraceServiceRequest::default())
    );
    assert_eq!(
        decode_v2_proto(b""),
        Ok(ExportTraceServiceRequest::default())
    );
}

#[test]
fn encoding_is_chosen_like_the_collector() {
    use ZipkinEncoding::*;
    let cases = [
        ("/api/v2/spans", Some("application/json"), V2Json),
        ("/api/v2/spans", None, V2Json),
        ("/api/v2/spans", Some("application/x-protobuf"), V2Proto),
        (
            "/api/v2/spans",
            Some("Application/X-Protobuf; charset=x"),
            V2Proto,
        ),
        ("/api/v1/spans", Some("application/json"), V1Json),
        (
            "/zipkin/api/v1/spans",
            Some("application/x-thrift"),
            V1Thrift,
        ),
        ("/anything", Some("application/x-thrift"), V2Json),
    ];
    for (path, content_type, expected) in cases {
        assert_eq!(
            ZipkinEncoding::for_request(path, content_type),
            expected,
            "{path} {content_type:?}"
        );
    }
    assert_eq!(
        decode(V2_JSON.as_bytes(), V2Json),
        decode_v2_json(V2_JSON.as_bytes())
    );
}
