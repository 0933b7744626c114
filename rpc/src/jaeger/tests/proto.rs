//! Jaeger gRPC (`PostSpansRequest`): full mapping, process regrouping, scopes, ID lengths.

use prost::Message;
use tracecore_proto::otlp::{
    Event, ExportTraceServiceRequest, InstrumentationScope, Resource, ResourceSpans, ScopeSpans,
    Span, SpanKind, Status, StatusCode,
};

use super::fixtures::*;
use crate::jaeger::model_proto::{
    Batch, Duration, KeyValue, Log, PostSpansRequest, Process, Span as PSpan, SpanRef, SpanRefType,
    Timestamp, ValueType,
};
use crate::jaeger::{JaegerError, decode_post_spans_request};

const SECONDS: i64 = 1_700_000_000;
const START_NS: u64 = 1_700_000_000_000_000_005;

fn tag(key: &str, v_type: i32) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        v_type,
        ..KeyValue::default()
    }
}

fn tag_s(key: &str, value: &str) -> KeyValue {
    KeyValue {
        v_str: value.to_owned(),
        ..tag(key, ValueType::String as i32)
    }
}

fn process(service: &str, tags: Vec<KeyValue>) -> Process {
    Process {
        service_name: service.to_owned(),
        tags,
    }
}

pub(crate) fn request() -> PostSpansRequest {
    let trace = tid(5, 6);
    let first = PSpan {
        trace_id: trace.clone(),
        span_id: sid(0x11),
        operation_name: "op1".into(),
        references: vec![SpanRef {
            trace_id: trace.clone(),
            span_id: sid(0x10),
            ref_type: SpanRefType::ChildOf as i32,
        }],
        flags: 1,
        start_time: Some(Timestamp {
            seconds: SECONDS,
            nanos: 5,
        }),
        duration: Some(Duration {
            seconds: 1,
            nanos: 500,
        }),
        tags: vec![
            tag_s("otel.scope.name", "lib"),
            tag_s("otel.scope.version", "1.0"),
            tag_s("w3c.tracestate", "a=b"),
            tag_s("span.kind", "server"),
            KeyValue {
                v_int64: 3,
                ..tag("n", ValueType::Int64 as i32)
            },
            KeyValue {
                v_float64: 2.5,
                ..tag("f", ValueType::Float64 as i32)
            },
            KeyValue {
                v_bool: true,
                ..tag("b", ValueType::Bool as i32)
            },
            KeyValue {
                v_binary: vec![9],
                ..tag("bin", ValueType::Binary as i32)
            },
            tag("odd", 9),
        ],
        logs: vec![Log {
            timestamp: Some(Timestamp {
                seconds: SECONDS,
                nanos: 6,
            }),
            fields: vec![tag_s("event", "e1"), tag_s("x", "y")],
        }],
        ..PSpan::default()
    };
    let other_process = PSpan {
        trace_id: trace.clone(),
        span_id: sid(0x12),
        operation_name: "op2".into(),
        tags: vec![
            tag_s("otel.library.name", "old"),
            tag_s("otel.library.version", "0.9"),
        ],
        process: Some(process("svc-b", vec![])),
        ..PSpan::default()
    };
    let same_process = PSpan {
        trace_id: trace,
        span_id: sid(0x13),
        operation_name: "op3".into(),
        tags: vec![KeyValue {
            v_bool: true,
            ..tag("error", ValueType::Bool as i32)
        }],
        process: Some(process("svc-a", vec![tag_s("hostname", "h")])),
        ..PSpan::default()
    };
    PostSpansRequest {
        batch: Some(Batch {
            spans: vec![first, other_process, PSpan::default(), same_process],
            process: Some(process("svc-a", vec![tag_s("hostname", "h")])),
        }),
    }
}

fn expected() -> ExportTraceServiceRequest {
    let trace = tid(5, 6);
    let first = Span {
        trace_id: trace.clone(),
        span_id: sid(0x11),
        parent_span_id: sid(0x10),
        trace_state: "a=b".into(),
        flags: 1,
        name: "op1".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: START_NS,
        end_time_unix_nano: START_NS + 1_000_000_500,
        attributes: vec![
            kv_int("n", 3),
            kv_double("f", 2.5),
            kv_bool("b", true),
            kv_bytes("bin", &[9]),
            kv_str("odd", "<Unknown Jaeger TagType \"9\">"),
        ],
        events: vec![Event {
            time_unix_nano: START_NS + 1,
            name: "e1".into(),
            attributes: vec![kv_str("x", "y")],
            dropped_attributes_count: 0,
        }],
        ..Span::default()
    };
    let second = Span {
        trace_id: trace.clone(),
        span_id: sid(0x12),
        name: "op2".into(),
        ..Span::default()
    };
    let third = Span {
        trace_id: trace,
        span_id: sid(0x13),
        name: "op3".into(),
        status: Some(Status {
            message: String::new(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    let scope = |name: &str, version: &str| {
        Some(InstrumentationScope {
            name: name.into(),
            version: version.into(),
            ..InstrumentationScope::default()
        })
    };
    let resource = |attributes| {
        Some(Resource {
            attributes,
            dropped_attributes_count: 0,
        })
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource(vec![
                    kv_str("service.name", "svc-a"),
                    kv_str("host.name", "h"),
                ]),
                scope_spans: vec![
                    ScopeSpans {
                        scope: scope("lib", "1.0"),
                        spans: vec![first],
                        schema_url: String::new(),
                    },
                    ScopeSpans {
                        scope: None,
                        spans: vec![third],
                        schema_url: String::new(),
                    },
                ],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: resource(vec![kv_str("service.name", "svc-b")]),
                scope_spans: vec![ScopeSpans {
                    scope: scope("old", "0.9"),
                    spans: vec![second],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

#[test]
fn post_spans_maps_every_field_and_regroups_by_process() {
    let body = request().encode_to_vec();
    assert_eq!(decode_post_spans_request(&body), Ok(expected()));
}

#[test]
fn empty_request_is_empty() {
    assert_eq!(
        decode_post_spans_request(&[]),
        Ok(ExportTraceServiceRequest::default())
    );
}

#[test]
fn placeholder_service_name_gives_an_empty_resource() {
    let body = PostSpansRequest {
        batch: Some(Batch {
            spans: vec![PSpan {
                trace_id: tid(0, 1),
                span_id: sid(1),
                ..PSpan::default()
            }],
            process: Some(process("OTLPResourceNoServiceName", vec![tag_s("a", "b")])),
        }),
    }
    .encode_to_vec();
    let request = decode_post_spans_request(&body).expect("decodes");
    assert_eq!(
        request.resource_spans[0]
            .resource
            .as_ref()
            .map(|r| r.attributes.len()),
        Some(0)
    );
}

#[test]
fn wrong_id_lengths_are_named() {
    let bad = |span: PSpan| {
        decode_post_spans_request(
            &PostSpansRequest {
                batch: Some(Batch {
                    spans: vec![PSpan::default(), span],
                    process: None,
                }),
            }
            .encode_to_vec(),
        )
    };
    assert_eq!(
        bad(PSpan {
            trace_id: sid(1),
            span_id: sid(1),
            ..PSpan::default()
        }),
        Err(JaegerError::IdLength {
            field: "spans[1].trace_id".into(),
            expected: 16,
            got: 8
        })
    );
    let error = bad(PSpan {
        trace_id: tid(0, 1),
        span_id: sid(1),
        references: vec![SpanRef {
            trace_id: tid(0, 1),
            span_id: vec![1, 2, 3],
            ref_type: 0,
        }],
        ..PSpan::default()
    })
    .expect_err("short reference span id");
    assert_eq!(
        error.to_string(),
        "invalid jaeger protobuf: spans[1].references[0].span_id must be 8 bytes, got 3"
    );
}

#[test]
fn negative_and_huge_times_saturate() {
    let body = PostSpansRequest {
        batch: Some(Batch {
            spans: vec![PSpan {
                trace_id: tid(0, 1),
                span_id: sid(1),
                start_time: Some(Timestamp {
                    seconds: i64::MIN,
                    nanos: -1,
                }),
                duration: Some(Duration {
                    seconds: i64::MAX,
                    nanos: 999_999_999,
                }),
                ..PSpan::default()
            }],
            process: None,
        }),
    }
    .encode_to_vec();
    let request = decode_post_spans_request(&body).expect("decodes");
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.start_time_unix_nano, 0);
    assert_eq!(span.end_time_unix_nano, 0);
}
