//! Hostile Zipkin inputs: every truncation of a valid body, garbage, absurd declared lengths,
//! deep nesting, invalid UTF-8.

use prost::Message;

use super::v1::{V1_JSON, encode_span_list, thrift_span};
use super::v2::V2_JSON;
use crate::jaeger::tests::alloc_probe::largest_allocation;
use crate::jaeger::tests::fixtures::{noise, sid, tid};
use crate::zipkin::v2_proto::{ListOfSpans, Span as PSpan};
use crate::zipkin::{ZipkinEncoding, ZipkinError, decode};

const ALLOCATION_CEILING: usize = 1 << 20;

const ALL: [ZipkinEncoding; 4] = [
    ZipkinEncoding::V1Json,
    ZipkinEncoding::V1Thrift,
    ZipkinEncoding::V2Json,
    ZipkinEncoding::V2Proto,
];

#[test]
fn every_truncation_of_a_json_or_thrift_body_is_an_error() {
    let thrift = encode_span_list(&[thrift_span(), thrift_span()]);
    let bodies = [
        (V1_JSON.as_bytes(), ZipkinEncoding::V1Json),
        (V2_JSON.as_bytes(), ZipkinEncoding::V2Json),
        (thrift.as_slice(), ZipkinEncoding::V1Thrift),
    ];
    for (body, encoding) in bodies {
        assert!(decode(body, encoding).is_ok(), "{encoding:?}");
        for end in 0..body.len() {
            assert!(
                decode(&body[..end], encoding).is_err(),
                "{encoding:?}: prefix of {end} bytes decoded"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_protobuf_body_is_handled() {
    let body = ListOfSpans {
        spans: vec![PSpan {
            trace_id: tid(1, 2),
            id: sid(3),
            name: "n".into(),
            ..PSpan::default()
        }],
    }
    .encode_to_vec();
    let mut errors = 0;
    for end in 0..body.len() {
        if decode(&body[..end], ZipkinEncoding::V2Proto).is_err() {
            errors += 1;
        }
    }
    assert!(errors > body.len() / 2, "{errors} of {}", body.len());
}

#[test]
fn garbage_never_panics() {
    for seed in 0..3_000u64 {
        let bytes = noise(seed, (seed % 300) as usize);
        for encoding in ALL {
            let _ = decode(&bytes, encoding);
        }
    }
}

#[test]
fn mutated_valid_bodies_never_panic() {
    let thrift = encode_span_list(&[thrift_span()]);
    let bodies = [
        (V1_JSON.as_bytes().to_vec(), ZipkinEncoding::V1Json),
        (V2_JSON.as_bytes().to_vec(), ZipkinEncoding::V2Json),
        (thrift, ZipkinEncoding::V1Thrift),
    ];
    for seed in 0..1_000u64 {
        for (body, encoding) in &bodies {
            let mut mutated = body.clone();
            for pair in noise(seed, 6).chunks(2) {
                let at = usize::from(pair[0]) * mutated.len() / 256;
                mutated[at] ^= pair[1] | 1;
            }
            let (_, largest) = largest_allocation(|| decode(&mutated, *encoding));
            assert!(
                largest < ALLOCATION_CEILING,
                "{encoding:?} seed {seed}: {largest}"
            );
        }
    }
}

#[test]
fn absurd_thrift_list_lengths_are_refused_without_reserving_memory() {
    for count in [i32::MAX, 1 << 20, -1] {
        let mut body = vec![12];
        body.extend_from_slice(&count.to_be_bytes());
        body.extend_from_slice(&[0; 16]);
        let (result, largest) = largest_allocation(|| decode(&body, ZipkinEncoding::V1Thrift));
        assert!(
            matches!(result, Err(ZipkinError::Thrift(_))),
            "{count}: {result:?}"
        );
        assert!(largest < ALLOCATION_CEILING, "{count}: {largest}");
    }
    // A span whose annotation list declares 2^31 - 1 elements.
    let mut body = vec![12, 0, 0, 0, 1];
    body.extend_from_slice(&[15, 0, 6, 12, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0]);
    let (result, largest) = largest_allocation(|| decode(&body, ZipkinEncoding::V1Thrift));
    assert!(result.is_err());
    assert!(largest < ALLOCATION_CEILING, "{largest}");
}

#[test]
fn deeply_nested_json_is_handled() {
    for encoding in [ZipkinEncoding::V1Json, ZipkinEncoding::V2Json] {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            decode(deep.as_bytes(), encoding),
            Err(ZipkinError::Json(_))
        ));
        // Unknown fields are skipped by serde_json without recursion (an explicit stack of one
        // byte per level), so deep nesting there costs memory proportional to the input only.
        let deep_unknown = format!(
            r#"[{{"traceId":"0000000000000001","id":"0000000000000001","unknown":{}1{}}}]"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(
            decode(deep_unknown.as_bytes(), encoding).is_ok(),
            "{encoding:?}"
        );
    }
}

#[test]
fn invalid_utf8_is_an_error() {
    let body = b"[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"\xC3\x28\"}]";
    assert!(matches!(
        decode(body, ZipkinEncoding::V2Json),
        Err(ZipkinError::Json(_))
    ));
    let proto = ListOfSpans {
        spans: vec![PSpan {
            trace_id: tid(1, 2),
            id: sid(3),
            ..PSpan::default()
        }],
    }
    .encode_to_vec();
    // Append a span whose name (field 5) is invalid UTF-8.
    let mut bad = proto.clone();
    bad.extend_from_slice(&[0x0A, 0x04, 0x2A, 0x02, 0xC3, 0x28]);
    assert!(matches!(
        decode(&bad, ZipkinEncoding::V2Proto),
        Err(ZipkinError::Protobuf(_))
    ));
}

#[test]
fn extreme_times_saturate() {
    let body = br#"[{"traceId":"1","id":"1","timestamp":9223372036854775807,"duration":9223372036854775807,
        "annotations":[{"timestamp":-5,"value":"neg"}]}]"#;
    let request = decode(body, ZipkinEncoding::V2Json).expect("decodes");
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.start_time_unix_nano, u64::MAX);
    assert_eq!(span.end_time_unix_nano, u64::MAX);
    assert_eq!(span.events[0].time_unix_nano, 0);
}
