//! `push_trace_otlp` against prost: unusual but valid encodings store what prost decodes, and
//! damaged bytes are refused (never a panic) exactly when prost refuses them.

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::TracesData;

use super::super::*;
use super::traces;

fn batches(block: &EncodedBlock) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(block.data.clone())
        .expect("reader")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn encoder() -> BlockEncoder {
    BlockEncoder::new("t", 16, BlockEncoderOptions::default()).expect("encoder")
}

/// A protobuf field key.
fn key(field: u32, wire_type: u32) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(u64::from(field << 3 | wire_type), &mut out);
    out
}

/// A length-delimited field.
fn len_field(field: u32, body: &[u8]) -> Vec<u8> {
    let mut out = key(field, 2);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

/// Hand-made encodings prost accepts but never produces: repeated scalars (last wins), repeated
/// messages (merged), multi-field `AnyValue`s, unknown fields of every wire type, fields out of
/// order. Each is one `TracesData`.
fn unusual_encodings() -> Vec<Vec<u8>> {
    let id = [9u8; 16];
    let span_core = |extra: &[u8]| {
        let mut span = len_field(1, &id);
        span.extend(len_field(2, &[1; 8]));
        span.extend(key(7, 1));
        span.extend(1_000u64.to_le_bytes());
        span.extend(key(8, 1));
        span.extend(2_000u64.to_le_bytes());
        span.extend_from_slice(extra);
        span
    };
    let string_value = |s: &str| len_field(1, s.as_bytes());
    let attr = |k: &str, any: &[u8]| {
        let mut kv = len_field(1, k.as_bytes());
        kv.extend(len_field(2, any));
        len_field(9, &kv)
    };
    let mut unknown = key(99, 0);
    unknown.push(5);
    unknown.extend(key(98, 1));
    unknown.extend([0; 8]);
    unknown.extend(key(97, 5));
    unknown.extend([0; 4]);
    unknown.extend(len_field(96, b"x"));
    unknown.extend(key(95, 3));
    unknown.extend(key(1, 0));
    unknown.push(1);
    unknown.extend(key(95, 4));

    let mut spans: Vec<Vec<u8>> = Vec::new();
    // Repeated name: the last wins; repeated status: merged field by field.
    let mut extra = len_field(5, b"first");
    extra.extend(len_field(5, b"second"));
    extra.extend(len_field(15, &len_field(2, b"msg")));
    extra.extend(len_field(15, &[0x18, 2]));
    spans.push(span_core(&extra));
    // AnyValue with two fields (oneof: the last wins), an int and then a string.
    let mut two = vec![0x18, 7];
    two.extend(string_value("now a string"));
    spans.push(span_core(&attr("two", &two)));
    // A KeyValue whose value field repeats: the AnyValues merge (the second replaces the oneof).
    let mut kv = len_field(1, b"split");
    kv.extend(len_field(2, &string_value("a")));
    kv.extend(len_field(2, &[0x10, 1]));
    spans.push(span_core(&len_field(9, &kv)));
    // Unknown fields everywhere, including inside an AnyValue (a single known field + unknown).
    let mut any = string_value("v");
    any.extend(&unknown);
    let mut extra = attr("k", &any);
    extra.extend(&unknown);
    spans.push(span_core(&extra));
    // Nested values, bytes, an empty AnyValue and a KeyValue without value.
    let mut extra = attr("bytes", &len_field(7, b"\x00\x01"));
    extra.extend(attr(
        "array",
        &len_field(5, &len_field(1, &string_value("x"))),
    ));
    extra.extend(attr("empty", &[]));
    extra.extend(len_field(9, &len_field(1, b"novalue")));
    spans.push(span_core(&extra));
    // Event and link attributes with the same oddities (re-encoded canonically).
    let mut event = key(1, 1);
    event.extend(1_500u64.to_le_bytes());
    event.extend(len_field(3, &{
        let mut kv = len_field(1, b"ek");
        kv.extend(len_field(2, &two));
        kv
    }));
    event.extend(&unknown);
    let mut link = len_field(1, &[1, 2, 3]);
    link.extend(len_field(4, &{
        let mut kv = len_field(2, &[0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        kv.extend(len_field(1, b"lk"));
        kv
    }));
    let mut extra = len_field(11, &event);
    extra.extend(len_field(13, &link));
    spans.push(span_core(&extra));

    // Resource repeated (merged) and schema URL before the scope spans; scope with unknown fields.
    let service = |name: &str| {
        let mut kv = len_field(1, b"service.name");
        kv.extend(len_field(2, &string_value(name)));
        len_field(1, &kv)
    };
    let mut out = Vec::new();
    for span in spans {
        let mut scope_spans = len_field(2, &span);
        scope_spans.extend(len_field(1, &{
            let mut scope = len_field(2, b"1.0");
            scope.extend(len_field(1, b"lib"));
            scope.extend(&unknown);
            scope
        }));
        let mut rs = len_field(3, b"https://schema");
        rs.extend(len_field(1, &service("svc")));
        rs.extend(len_field(2, &scope_spans));
        rs.extend(len_field(1, &{
            let mut r = key(2, 0);
            r.push(4);
            r
        }));
        let mut data = len_field(1, &rs);
        data.extend(&unknown);
        out.push(data);
    }
    out
}

#[test]
fn unusual_encodings_store_what_prost_decodes() {
    let inputs = unusual_encodings();
    let (mut ours, mut theirs) = (encoder(), encoder());
    for (i, bytes) in inputs.iter().enumerate() {
        let id = [i as u8 + 1; 16];
        let decoded = TracesData::decode(bytes.as_slice()).expect("prost accepts it");
        ours.push_trace_otlp(&id, bytes).expect("accepted");
        theirs
            .push_trace(&id, &decoded.resource_spans)
            .expect("accepted");
    }
    let (ours, theirs) = (
        ours.finish().expect("finish"),
        theirs.finish().expect("finish"),
    );
    assert_eq!(batches(&ours), batches(&theirs));
}

#[test]
fn damaged_bytes_are_refused_exactly_when_prost_refuses_them() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut sources: Vec<Vec<u8>> = traces(12, 20)
        .into_iter()
        .map(|(_, rs)| TracesData { resource_spans: rs }.encode_to_vec())
        .collect();
    sources.extend(unusual_encodings());
    let (mut ours, mut theirs) = (encoder(), encoder());
    let (mut refused, mut accepted) = (0, 0);
    let mut next_id = 0u128;
    for source in &sources {
        for _ in 0..150 {
            let mut bytes = source.clone();
            match rng.random_range(0..4) {
                0 => bytes.truncate(rng.random_range(0..bytes.len())),
                1 => {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] = rng.random();
                }
                2 => {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] ^= 1 << rng.random_range(0..8);
                }
                _ => {
                    let at = rng.random_range(0..bytes.len());
                    let len = rng.random_range(0..8).min(bytes.len() - at);
                    bytes.drain(at..at + len);
                }
            }
            next_id += 1;
            let id = next_id.to_be_bytes();
            let prost = TracesData::decode(bytes.as_slice());
            let pushed = ours.push_trace_otlp(&id, &bytes);
            match (prost, pushed) {
                (Ok(data), Ok(())) => {
                    theirs
                        .push_trace(&id, &data.resource_spans)
                        .expect("accepted");
                    accepted += 1;
                }
                (Err(_), Err(err)) => {
                    assert_eq!(err.kind(), BlockErrorKind::InvalidArgument, "{err}");
                    refused += 1;
                }
                (prost, ours) => panic!("prost: {prost:?}, ours: {ours:?} for {bytes:?}"),
            }
        }
    }
    assert!(
        refused > 500 && accepted > 500,
        "{refused} refused, {accepted} accepted"
    );
    let (ours, theirs) = (
        ours.finish().expect("finish"),
        theirs.finish().expect("finish"),
    );
    assert_eq!(batches(&ours), batches(&theirs));
}

#[test]
fn a_refused_trace_appends_nothing() {
    let input = traces(13, 2);
    let bytes: Vec<Vec<u8>> = input
        .iter()
        .map(|(_, rs)| {
            TracesData {
                resource_spans: rs.clone(),
            }
            .encode_to_vec()
        })
        .collect();
    let mut encoder = encoder();
    let truncated = &bytes[0][..bytes[0].len() - 1];
    let err = encoder
        .push_trace_otlp(&input[0].0, truncated)
        .expect_err("truncated");
    assert!(matches!(err, BlockError::InvalidOtlp { .. }), "{err}");
    assert_eq!(encoder.total_spans(), 0);
    // The refused ID did not advance the order check.
    encoder
        .push_trace_otlp(&input[0].0, &bytes[0])
        .expect("valid");
    encoder
        .push_trace_otlp(&input[1].0, &bytes[1])
        .expect("valid");
    let block = encoder.finish().expect("finish");
    for (id, rs) in &input {
        let read = super::read(&block, id).expect("found");
        assert_eq!(super::normalize(&read.resource_spans), super::normalize(rs));
    }
}
