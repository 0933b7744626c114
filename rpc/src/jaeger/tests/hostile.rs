//! Hostile Jaeger inputs: every truncation of a valid payload, garbage, absurd declared lengths,
//! deep nesting. Decoders must return an error (or, where a prefix is itself valid, a result)
//! without panicking, and must not reserve memory the input does not back.

use prost::Message;

use super::alloc_probe::largest_allocation;
use super::fixtures::*;
use super::thrift::sample_batch;
use crate::jaeger::model_proto::{Batch, PostSpansRequest, Process, Span as PSpan};
use crate::jaeger::{
    AgentProtocol, JaegerError, decode_agent_datagram, decode_post_spans_request,
    decode_thrift_http_body,
};

/// No allocation while decoding a small hostile input may exceed this.
const ALLOCATION_CEILING: usize = 1 << 20;

#[test]
fn every_truncation_of_a_thrift_body_is_an_error() {
    let body = encode_binary(&sample_batch());
    for end in 0..body.len() {
        assert!(
            decode_thrift_http_body(&body[..end]).is_err(),
            "prefix of {end} bytes decoded"
        );
    }
}

#[test]
fn every_truncation_of_an_agent_datagram_is_an_error() {
    for protocol in [AgentProtocol::Compact, AgentProtocol::Binary] {
        let datagram = agent_emit_batch(sample_batch(), protocol);
        for end in 0..datagram.len() {
            assert!(
                decode_agent_datagram(&datagram[..end], protocol).is_err(),
                "{protocol:?}: prefix of {end} bytes decoded"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_post_spans_request_is_handled() {
    let body = PostSpansRequest {
        batch: Some(Batch {
            spans: vec![PSpan {
                trace_id: tid(1, 2),
                span_id: sid(3),
                operation_name: "op".into(),
                ..PSpan::default()
            }],
            process: Some(Process {
                service_name: "svc".into(),
                tags: vec![],
            }),
        }),
    }
    .encode_to_vec();
    // A protobuf prefix can be a valid message with fewer fields; it must not panic, and a cut
    // inside a length-delimited field must be an error.
    let mut errors = 0;
    for end in 0..body.len() {
        if decode_post_spans_request(&body[..end]).is_err() {
            errors += 1;
        }
    }
    assert!(errors > body.len() / 2, "{errors} of {}", body.len());
}

#[test]
fn garbage_never_panics() {
    for seed in 0..3_000u64 {
        let bytes = noise(seed, (seed % 300) as usize);
        let _ = decode_thrift_http_body(&bytes);
        let _ = decode_agent_datagram(&bytes, AgentProtocol::Compact);
        let _ = decode_agent_datagram(&bytes, AgentProtocol::Binary);
        let _ = decode_post_spans_request(&bytes);
    }
}

#[test]
fn mutated_valid_payloads_never_panic() {
    let http = encode_binary(&sample_batch());
    let compact = agent_emit_batch(sample_batch(), AgentProtocol::Compact);
    for seed in 0..2_000u64 {
        for (bytes, which) in [(&http, 0), (&compact, 1)] {
            let mut mutated = bytes.clone();
            let flips = noise(seed, 6);
            for pair in flips.chunks(2) {
                let at = usize::from(pair[0]) * mutated.len() / 256;
                mutated[at] ^= pair[1] | 1;
            }
            let ((), largest) = largest_allocation(|| {
                if which == 0 {
                    let _ = decode_thrift_http_body(&mutated);
                } else {
                    let _ = decode_agent_datagram(&mutated, AgentProtocol::Compact);
                }
            });
            assert!(largest < ALLOCATION_CEILING, "seed {seed}: {largest} bytes");
        }
    }
}

/// Binary-protocol `Batch` prefix: field 1 = Process{serviceName:"s"}, then the header of
/// field 2 (`list<Span>`) declaring `count` elements, then a few stray bytes.
fn binary_batch_declaring(count: i32) -> Vec<u8> {
    let mut b = vec![12, 0, 1, 11, 0, 1, 0, 0, 0, 1, b's', 0];
    b.extend_from_slice(&[15, 0, 2, 12]);
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(&[0; 8]);
    b
}

#[test]
fn absurd_list_lengths_are_refused_without_reserving_memory() {
    for count in [i32::MAX, 1 << 24, 100, -1, i32::MIN] {
        let body = binary_batch_declaring(count);
        let (result, largest) = largest_allocation(|| decode_thrift_http_body(&body));
        assert!(
            matches!(result, Err(JaegerError::Thrift { .. })),
            "{count}: {result:?}"
        );
        assert!(largest < ALLOCATION_CEILING, "{count}: {largest} bytes");
    }
}

#[test]
fn absurd_string_lengths_are_refused_without_reserving_memory() {
    for len in [i32::MAX, 1 << 30, 64, -7] {
        // Field 1 = Process{ field 1 = string of `len` bytes … }.
        let mut body = vec![12, 0, 1, 11, 0, 1];
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(b"abc");
        let (result, largest) = largest_allocation(|| decode_thrift_http_body(&body));
        assert!(result.is_err(), "{len}");
        assert!(largest < ALLOCATION_CEILING, "{len}: {largest} bytes");
    }
}

#[test]
fn absurd_compact_lengths_are_refused_without_reserving_memory() {
    // A compact `emitBatch` message whose Batch.spans list declares ~2^31 elements.
    let mut datagram = vec![0x82, 0x81, 0x01, 9];
    datagram.extend_from_slice(b"emitBatch");
    datagram.extend_from_slice(&[
        0x1C, // args field 1: struct
        0x1C, // Batch field 1: struct (Process)
        0x18, 1, b's', // Process field 1: string "s"
        0x00, // end of Process
        0x19, // Batch field 2: list
        0xFC, // list header: long form, element type struct
        0xFF, 0xFF, 0xFF, 0xFF, 0x07, // varint size 2^31 - 1
        0x00, 0x00,
    ]);
    let (result, largest) =
        largest_allocation(|| decode_agent_datagram(&datagram, AgentProtocol::Compact));
    assert!(
        matches!(result, Err(JaegerError::Thrift { .. })),
        "{result:?}"
    );
    assert!(largest < ALLOCATION_CEILING, "{largest} bytes");
}

#[test]
fn deep_nesting_is_refused() {
    // Unknown field 99 of type struct, nested 100,000 times inside a Batch.
    let mut body = Vec::new();
    for _ in 0..100_000 {
        body.extend_from_slice(&[12, 0, 99]);
    }
    let error = decode_thrift_http_body(&body).expect_err("too deep");
    assert!(error.to_string().contains("depth"), "{error}");
    // The same through unknown nested lists, which the skipper bounds separately.
    let mut lists = vec![15, 0, 99];
    for _ in 0..100_000 {
        lists.extend_from_slice(&[15, 0, 0, 0, 1]);
    }
    assert!(decode_thrift_http_body(&lists).is_err());
}

#[test]
fn huge_protobuf_lengths_are_refused_without_reserving_memory() {
    // PostSpansRequest.batch (field 1, length-delimited) claiming 2^62 bytes.
    let mut body = vec![0x0A];
    let mut len: u64 = 1 << 62;
    while len >= 0x80 {
        body.push((len as u8) | 0x80);
        len >>= 7;
    }
    body.push(len as u8);
    body.extend_from_slice(&[0; 16]);
    let (result, largest) = largest_allocation(|| decode_post_spans_request(&body));
    assert!(
        matches!(result, Err(JaegerError::Protobuf(_))),
        "{result:?}"
    );
    assert!(largest < ALLOCATION_CEILING, "{largest} bytes");
}

#[test]
fn invalid_utf8_is_an_error() {
    let mut body = vec![12, 0, 1, 11, 0, 1, 0, 0, 0, 2, 0xC3, 0x28, 0];
    body.extend_from_slice(&[15, 0, 2, 12, 0, 0, 0, 0, 0]);
    let error = decode_thrift_http_body(&body).expect_err("invalid utf-8");
    assert!(
        error
            .to_string()
            .starts_with("invalid jaeger thrift batch: "),
        "{error}"
    );
}
