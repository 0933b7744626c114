//! Tests for the skim: random requests round-trip through fragments; hostile inputs (with
//! prost as the oracle for what must be accepted) are in `hostile`, the timing in `speed`.

use std::collections::HashMap;

use bytes::{BufMut, Bytes};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, ExportTraceServiceRequest, InstrumentationScope, KeyValue,
    KeyValueList, Link, Resource, ResourceSpans, ScopeSpans, Span, Status, TracesData, any_value,
};

use super::*;

fn shard_by_first_byte(shards: usize) -> impl Fn(&[u8; 16]) -> usize {
    move |id| id[0] as usize % shards
}

fn skim(body: &[u8]) -> Result<SkimmedRequest, SkimError> {
    skim_export_request(
        &Bytes::copy_from_slice(body),
        &SkimLimits::default(),
        4,
        shard_by_first_byte(4),
    )
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> any_value::Value {
    let pick = if depth >= 3 {
        rng.random_range(0..5)
    } else {
        rng.random_range(0..7)
    };
    match pick {
        0 => any_value::Value::StringValue(format!("v{}", rng.random::<u16>())),
        1 => any_value::Value::BoolValue(rng.random()),
        2 => any_value::Value::IntValue(rng.random()),
        3 => any_value::Value::DoubleValue(rng.random()),
        4 => any_value::Value::BytesValue(vec![rng.random(); rng.random_range(0..5)]),
        5 => any_value::Value::ArrayValue(ArrayValue {
            values: (0..rng.random_range(0..3))
                .map(|_| AnyValue {
                    value: Some(random_value(rng, depth + 1)),
                })
                .collect(),
        }),
        _ => any_value::Value::KvlistValue(KeyValueList {
            values: (0..rng.random_range(0..3))
                .map(|i| kv(&format!("k{i}"), random_value(rng, depth + 1)))
                .collect(),
        }),
    }
}

fn random_attrs(rng: &mut StdRng, max: usize) -> Vec<KeyValue> {
    (0..rng.random_range(0..=max))
        .map(|i| kv(&format!("attr.{i}"), random_value(rng, 1)))
        .collect()
}

fn random_span(rng: &mut StdRng, trace_id: [u8; 16]) -> Span {
    let start = rng.random_range(1_000..2_000_000u64);
    Span {
        trace_id: trace_id.to_vec(),
        span_id: rng.random_range(1..u64::MAX).to_be_bytes().to_vec(),
        trace_state: if rng.random_bool(0.2) {
            "a=b".into()
        } else {
            String::new()
        },
        parent_span_id: if rng.random_bool(0.5) {
            rng.random_range(1..u64::MAX).to_be_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags: rng.random_range(0..2),
        name: format!("op-{}", rng.random_range(0..20)),
        kind: rng.random_range(0..6),
        start_time_unix_nano: start,
        end_time_unix_nano: start + rng.random_range(0..1_000_000u64),
        attributes: random_attrs(rng, 4),
        dropped_attributes_count: rng.random_range(0..2),
        events: (0..rng.random_range(0..2))
            .map(|_| Event {
                time_unix_nano: start,
                name: "ev".into(),
                attributes: random_attrs(rng, 2),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: (0..rng.random_range(0..2))
            .map(|_| Link {
                trace_id: trace_id.to_vec(),
                span_id: vec![1; 8],
                trace_state: String::new(),
                attributes: random_attrs(rng, 1),
                dropped_attributes_count: 0,
                flags: 1,
            })
            .collect(),
        dropped_links_count: 0,
        status: if rng.random_bool(0.5) {
            Some(Status {
                message: "oops".into(),
                code: 2,
            })
        } else {
            None
        },
    }
}

fn random_request(rng: &mut StdRng) -> ExportTraceServiceRequest {
    let traces: Vec<[u8; 16]> = (0..rng.random_range(1..6)).map(|_| rng.random()).collect();
    let resource_spans = (0..rng.random_range(0..4))
        .map(|r| ResourceSpans {
            resource: if rng.random_bool(0.8) {
                Some(Resource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue(format!("svc-{r}")),
                    )],
                    dropped_attributes_count: 0,
                })
            } else {
                None
            },
            scope_spans: (0..rng.random_range(0..4))
                .map(|s| ScopeSpans {
                    scope: if rng.random_bool(0.8) {
                        Some(InstrumentationScope {
                            name: format!("scope-{s}"),
                            version: "1.0".into(),
                            attributes: random_attrs(rng, 1),
                            dropped_attributes_count: 0,
                        })
                    } else {
                        None
                    },
                    spans: (0..rng.random_range(0..8))
                        .map(|_| {
                            let t = traces[rng.random_range(0..traces.len())];
                            random_span(rng, t)
                        })
                        .collect(),
                    schema_url: if rng.random_bool(0.3) {
                        "https://s/1".into()
                    } else {
                        String::new()
                    },
                })
                .collect(),
            schema_url: if rng.random_bool(0.3) {
                "https://r/1".into()
            } else {
                String::new()
            },
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// The request restricted to one trace: the expected decode of that trace's fragment.
fn expected_for(req: &ExportTraceServiceRequest, trace_id: &[u8; 16]) -> TracesData {
    let resource_spans = req
        .resource_spans
        .iter()
        .filter_map(|rs| {
            let scope_spans: Vec<ScopeSpans> = rs
                .scope_spans
                .iter()
                .filter_map(|ss| {
                    let spans: Vec<Span> = ss
                        .spans
                        .iter()
                        .filter(|s| s.trace_id == trace_id)
                        .cloned()
                        .collect();
                    (!spans.is_empty()).then(|| ScopeSpans {
                        spans,
                        ..ss.clone()
                    })
                })
                .collect();
            (!scope_spans.is_empty()).then(|| ResourceSpans {
                scope_spans,
                ..rs.clone()
            })
        })
        .collect();
    TracesData { resource_spans }
}

#[test]
fn random_requests_split_into_exact_traces() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for round in 0..300 {
        let req = random_request(&mut rng);
        let body = Bytes::from(req.encode_to_vec());
        let got = skim_export_request(&body, &SkimLimits::default(), 3, shard_by_first_byte(3))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));

        let all_spans: Vec<&Span> = req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect();
        let mut expected_traces: HashMap<[u8; 16], Vec<&Span>> = HashMap::new();
        for s in &all_spans {
            let id: [u8; 16] = s.trace_id.as_slice().try_into().expect("16-byte id");
            expected_traces.entry(id).or_default().push(s);
        }
        assert_eq!(got.span_count, all_spans.len() as u64, "round {round}");
        assert_eq!(
            got.trace_count,
            expected_traces.len() as u64,
            "round {round}"
        );
        assert_eq!(got.per_shard.len(), 3);

        let mut seen = 0;
        for (shard, fragments) in got.per_shard.iter().enumerate() {
            for f in fragments {
                seen += 1;
                assert_eq!(
                    f.trace_id[0] as usize % 3,
                    shard,
                    "round {round}: wrong shard"
                );
                let spans = &expected_traces[&f.trace_id];
                assert_eq!(f.span_count as usize, spans.len());
                let min = spans.iter().map(|s| s.start_time_unix_nano).min();
                let max = spans.iter().map(|s| s.end_time_unix_nano).max();
                assert_eq!(Some(f.start_unix_nano), min);
                assert_eq!(Some(f.end_unix_nano), max);
                let decoded = TracesData::decode(f.otlp.clone()).expect("fragment decodes");
                assert_eq!(decoded, expected_for(&req, &f.trace_id), "round {round}");
            }
        }
        assert_eq!(
            seen,
            expected_traces.len(),
            "round {round}: one fragment per trace"
        );

        // Concatenating every fragment gives the whole request back (grouped by trace).
        let mut all = Vec::new();
        for f in got.per_shard.iter().flatten() {
            all.extend_from_slice(&f.otlp);
        }
        let merged = TracesData::decode(all.as_slice()).expect("concatenation decodes");
        let merged_spans = merged
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum::<usize>();
        assert_eq!(merged_spans, all_spans.len());
    }
}

/// A request in which every field the skim knows is set to a non-default value.
fn every_field_request() -> ExportTraceServiceRequest {
    use any_value::Value::{
        ArrayValue as Arr, BoolValue, BytesValue, DoubleValue, IntValue, KvlistValue, StringValue,
    };
    let all_values = vec![
        kv("s", StringValue("v".into())),
        kv("b", BoolValue(true)),
        kv("i", IntValue(-5)),
        kv("d", DoubleValue(2.5)),
        kv("y", BytesValue(vec![1, 2])),
        kv(
            "a",
            Arr(ArrayValue {
                values: vec![AnyValue {
                    value: Some(IntValue(1)),
                }],
            }),
        ),
        kv(
            "m",
            KvlistValue(KeyValueList {
                values: vec![kv("k", BoolValue(false))],
            }),
        ),
    ];
    let span = Span {
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        trace_state: "ts".into(),
        parent_span_id: vec![5; 8],
        flags: 0x301,
        name: "name".into(),
        kind: 3,
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        attributes: all_values.clone(),
        dropped_attributes_count: 1,
        events: vec![Event {
            time_unix_nano: 15,
            name: "ev".into(),
            attributes: all_values.clone(),
            dropped_attributes_count: 2,
        }],
        dropped_events_count: 3,
        links: vec![Link {
            trace_id: vec![6; 16],
            span_id: vec![7; 8],
            trace_state: "lts".into(),
            attributes: all_values.clone(),
            dropped_attributes_count: 4,
            flags: 0x100,
        }],
        dropped_links_count: 5,
        status: Some(Status {
            message: "m".into(),
            code: 2,
        }),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: all_values.clone(),
                dropped_attributes_count: 6,
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "sn".into(),
                    version: "sv".into(),
                    attributes: all_values,
                    dropped_attributes_count: 7,
                }),
                spans: vec![span],
                schema_url: "ss".into(),
            }],
            schema_url: "rs".into(),
        }],
    }
}

#[test]
fn every_known_field_round_trips() {
    let req = every_field_request();
    let got = skim(&req.encode_to_vec()).expect("valid");
    let f = got.per_shard.iter().flatten().next().expect("one fragment");
    assert_eq!(
        (f.start_unix_nano, f.end_unix_nano, f.span_count),
        (10, 20, 1)
    );
    let decoded = TracesData::decode(f.otlp.clone()).expect("decodes");
    assert_eq!(decoded.resource_spans, req.resource_spans);
}

#[test]
fn empty_request_gives_no_fragments() {
    let got = skim(&[]).expect("empty is valid");
    assert_eq!(got.span_count, 0);
    assert_eq!(got.trace_count, 0);
    assert_eq!(got.per_shard, vec![Vec::new(); 4]);
    // Resources and scopes without spans produce nothing either.
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans::default()],
            schema_url: "x".into(),
        }],
    };
    let got = skim(&req.encode_to_vec()).expect("valid");
    assert!(got.per_shard.iter().all(Vec::is_empty));
}

#[test]
fn shard_out_of_range_is_reported() {
    let mut rng = StdRng::seed_from_u64(1);
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![random_span(&mut rng, [9; 16])],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let err = skim_export_request(
        &Bytes::from(req.encode_to_vec()),
        &SkimLimits::default(),
        2,
        |_| 5,
    )
    .expect_err("shard 5 of 2");
    assert_eq!(
        err,
        SkimError::ShardOutOfRange {
            shard: 5,
            shards: 2
        }
    );
    assert!(!err.is_client_error());
}

/// A request with one resource, one scope and the given spans.
fn one_scope(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

fn valid_span() -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![1; 8],
        name: "ok".into(),
        ..Span::default()
    }
}

#[test]
fn bad_ids_are_rejected_with_tempo_messages() {
    let cases: Vec<(Span, &str)> = vec![
        (
            Span {
                trace_id: vec![7; 8],
                ..valid_span()
            },
            "trace ids must be 128 bit, received 64 bits (at resource_spans[0].scope_spans[0].spans[1])",
        ),
        (
            Span {
                trace_id: Vec::new(),
                ..valid_span()
            },
            "trace ids must be 128 bit, received 0 bits (at resource_spans[0].scope_spans[0].spans[1])",
        ),
        (
            Span {
                span_id: vec![0; 8],
                ..valid_span()
            },
            "span ids must be 64 bit and not all zero, received 64 bits (at resource_spans[0].scope_spans[0].spans[1])",
        ),
        (
            Span {
                span_id: vec![1; 16],
                ..valid_span()
            },
            "span ids must be 64 bit and not all zero, received 128 bits (at resource_spans[0].scope_spans[0].spans[1])",
        ),
        (
            Span {
                parent_span_id: vec![1; 4],
                ..valid_span()
            },
            "parent span ids must be empty or 64 bit, received 32 bits (at resource_spans[0].scope_spans[0].spans[1])",
        ),
    ];
    for (bad, message) in cases {
        let err = skim(&one_scope(vec![valid_span(), bad])).expect_err(message);
        assert_eq!(err.to_string(), message);
        assert!(err.is_client_error());
    }
    assert!(
        skim(&one_scope(vec![Span {
            parent_span_id: vec![2; 8],
            ..valid_span()
        }]))
        .is_ok()
    );
}

/// Wraps one encoded span body into request → resource spans → scope spans.
fn wrap_span(span: &[u8]) -> Vec<u8> {
    let mut scope = Vec::new();
    put_len(&mut scope, 2, span);
    let mut resource = Vec::new();
    put_len(&mut resource, 2, &scope);
    let mut req = Vec::new();
    put_len(&mut req, 1, &resource);
    req
}

fn put_len(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(body.len() as u64, out);
    out.put_slice(body);
}

#[test]
fn unknown_fields_are_skipped_and_kept_inside_spans() {
    let mut span = Vec::new();
    put_len(&mut span, 1, &[7; 16]);
    put_len(&mut span, 2, &[1; 8]);
    // Unknown: varint field 100, fixed64 field 101, a group 102 holding a varint, bytes 103.
    span.extend_from_slice(&[0xa0, 0x06, 0x2a]);
    span.extend_from_slice(&[0xa9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    span.extend_from_slice(&[0xb3, 0x06, 0x08, 0x01, 0xb4, 0x06]);
    span.extend_from_slice(&[0xba, 0x06, 0x02, b'h', b'i']);
    let mut body = wrap_span(&span);
    // And an unknown top-level field.
    body.extend_from_slice(&[0x10, 0x05]);
    let got = skim(&body).expect("unknown fields are fine");
    let f = got.per_shard.iter().flatten().next().expect("one fragment");
    assert!(
        f.otlp.windows(span.len()).any(|w| w == span.as_slice()),
        "span copied verbatim"
    );
    let decoded = TracesData::decode(f.otlp.clone()).expect("decodes");
    assert_eq!(
        decoded.resource_spans[0].scope_spans[0].spans[0].span_id,
        vec![1; 8]
    );
}

#[test]
fn repeated_resource_fields_keep_prost_merge_semantics() {
    // ResourceSpans with `resource` twice (prost merges them) and spans of two traces.
    let r1 = Resource {
        attributes: vec![kv("a", any_value::Value::IntValue(1))],
        dropped_attributes_count: 0,
    };
    let r2 = Resource {
        attributes: vec![kv("b", any_value::Value::IntValue(2))],
        dropped_attributes_count: 3,
    };
    let scope = ScopeSpans {
        spans: vec![
            valid_span(),
            Span {
                trace_id: vec![8; 16],
                ..valid_span()
            },
        ],
        ..ScopeSpans::default()
    };
    let mut rs = Vec::new();
    put_len(&mut rs, 1, &r1.encode_to_vec());
    put_len(&mut rs, 2, &scope.encode_to_vec());
    put_len(&mut rs, 1, &r2.encode_to_vec());
    put_len(&mut rs, 3, b"url-1");
    put_len(&mut rs, 3, b"url-2");
    let mut body = Vec::new();
    put_len(&mut body, 1, &rs);
    let original = ExportTraceServiceRequest::decode(body.as_slice()).expect("valid");
    let got = skim(&body).expect("valid");
    assert_eq!(got.trace_count, 2);
    for f in got.per_shard.iter().flatten() {
        let decoded = TracesData::decode(f.otlp.clone()).expect("decodes");
        let want = expected_for(&original, &f.trace_id);
        assert_eq!(decoded, want);
        assert_eq!(decoded.resource_spans[0].schema_url, "url-2");
        assert_eq!(
            decoded.resource_spans[0]
                .resource
                .as_ref()
                .map(|r| r.attributes.len()),
            Some(2)
        );
    }
}

mod hostile;
mod speed;
