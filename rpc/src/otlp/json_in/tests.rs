//! Tests for OTLP/JSON parsing: the OTLP specification's example shape, the accepted
//! alternatives, and clear errors for bad input.

use tracecore_proto::otlp::{AnyValue, ExportTraceServiceRequest, KeyValue, any_value};

use super::*;

fn parse(json: &str) -> Result<ExportTraceServiceRequest, JsonError> {
    parse_export_request_json(json.as_bytes(), 32)
}

/// One span object inside the usual envelope.
fn with_span(span: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
}

fn only_span(req: &ExportTraceServiceRequest) -> &Span {
    &req.resource_spans[0].scope_spans[0].spans[0]
}

fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

const SPEC_EXAMPLE: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "kind": 2,
        "attributes": [
          {"key": "my.span.attr", "value": {"stringValue": "some value"}},
          {"key": "n", "value": {"intValue": "-42"}},
          {"key": "f", "value": {"doubleValue": 1.5}},
          {"key": "b", "value": {"boolValue": true}},
          {"key": "raw", "value": {"bytesValue": "AQID"}},
          {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": 7}]}}},
          {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}},
          {"key": "empty", "value": {}}
        ],
        "events": [{"timeUnixNano": "1544712660500000000", "name": "ev", "attributes": []}],
        "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175", "flags": 1}],
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
        "someFutureField": {"ignored": [1, 2, 3]}
      }]
    }],
    "schemaUrl": "https://opentelemetry.io/schemas/1.21.0"
  }]
}"#;

#[test]
fn spec_example_shape_parses() {
    let req = parse(SPEC_EXAMPLE).expect("valid example");
    let rs = &req.resource_spans[0];
    assert_eq!(rs.schema_url, "https://opentelemetry.io/schemas/1.21.0");
    let resource = rs.resource.as_ref().expect("resource");
    assert_eq!(
        resource.attributes,
        vec![attr(
            "service.name",
            any_value::Value::StringValue("my.service".into())
        )]
    );
    let scope = rs.scope_spans[0].scope.as_ref().expect("scope");
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("my.library", "1.0.0")
    );
    let span = only_span(&req);
    assert_eq!(
        hex::encode(&span.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(hex::encode(&span.span_id), "eee19b7ec3c1b174");
    assert_eq!(hex::encode(&span.parent_span_id), "eee19b7ec3c1b173");
    assert_eq!(span.name, "I'm a server span");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    let values: Vec<Option<any_value::Value>> = span
        .attributes
        .iter()
        .map(|kv| kv.value.as_ref().and_then(|v| v.value.clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            Some(any_value::Value::StringValue("some value".into())),
            Some(any_value::Value::IntValue(-42)),
            Some(any_value::Value::DoubleValue(1.5)),
            Some(any_value::Value::BoolValue(true)),
            Some(any_value::Value::BytesValue(vec![1, 2, 3])),
            Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(any_value::Value::StringValue("x".into()))
                    },
                    AnyValue {
                        value: Some(any_value::Value::IntValue(7))
                    },
                ]
            })),
            Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![attr("k", any_value::Value::BoolValue(false))]
            })),
            None,
        ]
    );
    assert_eq!(span.events[0].time_unix_nano, 1_544_712_660_500_000_000);
    assert_eq!(span.links[0].flags, 1);
    assert_eq!(hex::encode(&span.links[0].span_id), "eee19b7ec3c1b175");
    assert_eq!(
        span.status,
        Some(Status {
            message: "boom".into(),
            code: StatusCode::Error as i32
        })
    );
}

#[test]
fn snake_case_names_numbers_and_enum_names_are_accepted() {
    let req = parse(&with_span(
        r#"{"trace_id":"00000000000000000000000000000001","span_id":"0000000000000002",
            "parent_span_id":"","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":1700000000000000000,
            "end_time_unix_nano":"1700000000000000001","dropped_attributes_count":"3",
            "attributes":[{"key":"d","value":{"double_value":"Infinity"}},
                          {"key":"n","value":{"int_value":9007199254740993}},
                          {"key":"u","value":{"bytes_value":"-_w"}}],
            "status":{"code":1}}"#,
    ))
    .expect("valid");
    let span = only_span(&req);
    assert_eq!(
        span.trace_id,
        [0u8; 15].iter().copied().chain([1]).collect::<Vec<_>>()
    );
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(span.dropped_attributes_count, 3);
    let v = |i: usize| {
        span.attributes[i]
            .value
            .as_ref()
            .and_then(|v| v.value.clone())
    };
    assert_eq!(v(0), Some(any_value::Value::DoubleValue(f64::INFINITY)));
    assert_eq!(
        v(1),
        Some(any_value::Value::IntValue(9_007_199_254_740_993))
    );
    assert_eq!(v(2), Some(any_value::Value::BytesValue(vec![0xfb, 0xfc])));
    assert_eq!(
        span.status.as_ref().map(|s| s.code),
        Some(StatusCode::Ok as i32)
    );
}

#[test]
fn nulls_and_empty_documents_are_fine() {
    assert_eq!(
        parse("{}").expect("empty"),
        ExportTraceServiceRequest::default()
    );
    assert_eq!(
        parse(r#"{"resourceSpans":null}"#).expect("null list"),
        ExportTraceServiceRequest::default()
    );
    let req = parse(&with_span(
        r#"{"name":null,"attributes":null,"status":null}"#,
    ))
    .expect("nulls");
    assert_eq!(only_span(&req), &Span::default());
}

fn error_text(json: &str) -> String {
    parse(json).expect_err("invalid").to_string()
}

#[test]
fn bad_ids_name_the_field_and_value() {
    assert_eq!(
        error_text(&with_span(r#"{"traceId":"xyz"}"#)),
        r#"invalid otlp json at $.resourceSpans[0].scopeSpans[0].spans[0].traceId: invalid trace id "xyz": must be 32 hex characters"#
    );
    assert_eq!(
        error_text(&with_span(r#"{"spanId":"0102030405060708090a"}"#)),
        r#"invalid otlp json at $.resourceSpans[0].scopeSpans[0].spans[0].spanId: invalid span id "0102030405060708090a": must be 16 hex characters"#
    );
    // Base64 IDs (as Tempo prints them) are not OTLP/JSON.
    assert!(
        error_text(&with_span(r#"{"traceId":"AAAAAAAAAAASNFZ4kKvN7w=="}"#))
            .contains("invalid trace id")
    );
    assert!(
        error_text(&with_span(r#"{"links":[{"spanId":"zz"}]}"#))
            .contains("spans[0].links[0].spanId: invalid span id \"zz\"")
    );
}

#[test]
fn bad_values_are_clear() {
    let cases = [
        (
            r#"{"kind":"SERVER"}"#,
            "spans[0].kind: unknown SpanKind value \"SERVER\"",
        ),
        (
            r#"{"kind":4294967296}"#,
            "spans[0].kind: unknown SpanKind value 4294967296",
        ),
        (r#"{"name":5}"#, "spans[0].name: expected a string, found 5"),
        (
            r#"{"startTimeUnixNano":"soon"}"#,
            "spans[0].startTimeUnixNano: invalid uint64 \"soon\"",
        ),
        (
            r#"{"startTimeUnixNano":-1}"#,
            "spans[0].startTimeUnixNano: invalid uint64 -1",
        ),
        (
            r#"{"flags":4294967296}"#,
            "spans[0].flags: invalid uint32 4294967296",
        ),
        (
            r#"{"attributes":{}}"#,
            "spans[0].attributes: expected an array, found {}",
        ),
        (
            r#"{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}"#,
            "attributes[0].value.intValue: invalid int64 \"1.5\"",
        ),
        (
            r#"{"attributes":[{"key":"k","value":{"doubleValue":"fast"}}]}"#,
            "attributes[0].value.doubleValue: invalid double \"fast\"",
        ),
        (
            r#"{"attributes":[{"key":"k","value":{"bytesValue":"!!"}}]}"#,
            "attributes[0].value.bytesValue: invalid base64 \"!!\"",
        ),
        (
            r#"{"attributes":[{"key":"k","value":{"stringValue":"a","intValue":1}}]}"#,
            "attributes[0].value: more than one value set: stringValue and intValue",
        ),
        (
            r#"{"status":{"code":"STATUS_CODE_BAD"}}"#,
            "status.code: unknown StatusCode value \"STATUS_CODE_BAD\"",
        ),
    ];
    for (span, expected) in cases {
        let text = error_text(&with_span(span));
        assert!(text.contains(expected), "{span}: {text}");
    }
    assert!(error_text("[1]").contains("at $: expected an object"));
    assert!(error_text("{not json").starts_with("invalid otlp json: "));
}

#[test]
fn nesting_is_bounded() {
    let nested = |depth: usize| {
        let v = format!(
            r#"{}{{"stringValue":"x"}}{}"#,
            r#"{"arrayValue":{"values":["#.repeat(depth - 1),
            "]}}".repeat(depth - 1)
        );
        with_span(&format!(r#"{{"attributes":[{{"key":"k","value":{v}}}]}}"#))
    };
    assert!(parse_export_request_json(nested(4).as_bytes(), 4).is_ok());
    let err = parse_export_request_json(nested(5).as_bytes(), 4).expect_err("too deep");
    assert!(
        err.to_string().contains("nested deeper than 4 levels"),
        "{err}"
    );
    // Far deeper than any limit: serde_json's recursion limit stops it without a stack overflow.
    let err = parse(&nested(10_000)).expect_err("way too deep");
    assert!(matches!(err, JsonError::Syntax(_)), "{err}");
}

#[test]
fn parsed_requests_skim_like_protobuf() {
    use crate::otlp::skim::{SkimLimits, skim_export_request};
    use prost::Message;
    let req = parse(SPEC_EXAMPLE).expect("valid");
    let body = bytes::Bytes::from(req.encode_to_vec());
    let got = skim_export_request(&body, &SkimLimits::default(), 1, |_| 0).expect("skims");
    assert_eq!(got.span_count, 1);
    // An empty span ID passes JSON parsing and is rejected by the skim with Tempo's message.
    let req = parse(&with_span(
        r#"{"traceId":"5B8EFFF798038103D269B633813FC60C"}"#,
    ))
    .expect("parses");
    let body = bytes::Bytes::from(req.encode_to_vec());
    let err = skim_export_request(&body, &SkimLimits::default(), 1, |_| 0).expect_err("no span id");
    assert!(
        err.to_string()
            .starts_with("span ids must be 64 bit and not all zero, received 0 bits")
    );
}
