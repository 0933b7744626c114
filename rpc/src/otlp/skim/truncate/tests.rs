//! Truncation: exact cases (ASCII, multi-byte characters at the limit, every attribute owner,
//! what is left alone), and random requests checked against a reference truncation of the
//! decoded structs.

use bytes::Bytes;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, ExportTraceServiceRequest, InstrumentationScope, KeyValue,
    KeyValueList, Link, Resource, ResourceSpans, ScopeSpans, Span, Status, any_value,
};

use super::super::{SkimLimits, skim_export_request};
use super::*;

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
    }
}

fn span_with(attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![1; 8],
        name: "op".into(),
        attributes,
        ..Span::default()
    }
}

fn request(
    resource: Vec<KeyValue>,
    scope: Vec<KeyValue>,
    spans: Vec<Span>,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1".into(),
                    attributes: scope,
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Truncates `req` with `max` and decodes the result.
fn truncate(
    req: &ExportTraceServiceRequest,
    max: usize,
) -> (ExportTraceServiceRequest, TruncatedAttributes) {
    let (out, counts) = truncate_attributes(&req.encode_to_vec(), max).expect("valid request");
    let decoded = ExportTraceServiceRequest::decode(out).expect("truncated request decodes");
    (decoded, counts)
}

fn span_value(req: &ExportTraceServiceRequest, attr: usize) -> (String, String) {
    let kv = &req.resource_spans[0].scope_spans[0].spans[0].attributes[attr];
    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => panic!("not a string: {other:?}"),
    };
    (kv.key.clone(), value)
}

#[test]
fn ascii_keys_and_values_are_cut_at_the_limit() {
    let long_key = "k".repeat(40);
    let req = request(
        vec![],
        vec![],
        vec![span_with(vec![
            string_kv("short", &"v".repeat(100)),
            string_kv(&long_key, "small"),
            string_kv("exact", &"x".repeat(10)),
        ])],
    );
    let (out, counts) = truncate(&req, 10);
    assert_eq!(span_value(&out, 0), ("short".into(), "v".repeat(10)));
    assert_eq!(span_value(&out, 1), ("k".repeat(10), "small".into()));
    // A string of exactly the limit is kept whole and not counted.
    assert_eq!(span_value(&out, 2), ("exact".into(), "x".repeat(10)));
    assert_eq!(
        counts,
        TruncatedAttributes {
            span: 2,
            ..TruncatedAttributes::default()
        }
    );
}

#[test]
fn multi_byte_characters_are_never_split() {
    // "é" is 2 bytes, "€" 3, "🦀" 4: every cut that would split one backs off to its start.
    for (text, max, expected) in [
        ("aéé", 2, "a"),
        ("aéé", 3, "aé"),
        ("éééé", 5, "éé"),
        ("€€", 5, "€"),
        ("€€", 3, "€"),
        ("x🦀y", 1, "x"),
        ("x🦀y", 2, "x"),
        ("x🦀y", 4, "x"),
        ("x🦀y", 5, "x🦀"),
        ("🦀", 3, ""),
    ] {
        let req = request(vec![], vec![], vec![span_with(vec![string_kv(text, text)])]);
        let (out, counts) = truncate(&req, max);
        assert_eq!(
            span_value(&out, 0),
            (expected.to_owned(), expected.to_owned()),
            "{text:?} at {max}"
        );
        assert_eq!(counts.span, 2, "{text:?} at {max}");
    }
}

#[test]
fn every_attribute_owner_is_truncated_and_counted_by_scope() {
    let long = "L".repeat(50);
    let mut span = span_with(vec![string_kv("s", &long)]);
    span.events = vec![Event {
        time_unix_nano: 1,
        name: long.clone(),
        attributes: vec![string_kv("e1", &long), string_kv(&long, "v")],
        dropped_attributes_count: 0,
    }];
    span.links = vec![Link {
        trace_id: vec![9; 16],
        span_id: vec![2; 8],
        trace_state: long.clone(),
        attributes: vec![string_kv("l", &long)],
        dropped_attributes_count: 0,
        flags: 0,
    }];
    span.status = Some(Status {
        message: long.clone(),
        code: 2,
    });
    span.name = long.clone();
    let req = request(
        vec![string_kv("svc", &long)],
        vec![string_kv(&long, &long)],
        vec![span],
    );
    let (out, counts) = truncate(&req, 8);
    assert_eq!(
        counts,
        TruncatedAttributes {
            resource: 1,
            scope: 2,
            span: 1,
            event: 2,
            link: 1,
        }
    );
    assert_eq!(counts.total(), 7);
    let short = "L".repeat(8);
    let rs = &out.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().map(|r| r.attributes.clone()),
        Some(vec![string_kv("svc", &short)])
    );
    let ss = &rs.scope_spans[0];
    assert_eq!(
        ss.scope.as_ref().map(|s| s.attributes.clone()),
        Some(vec![string_kv(&short, &short)])
    );
    let s = &ss.spans[0];
    assert_eq!(
        s.events[0].attributes,
        vec![string_kv("e1", &short), string_kv(&short, "v")]
    );
    assert_eq!(s.links[0].attributes, vec![string_kv("l", &short)]);
    // Not attributes: left alone, as Tempo does.
    assert_eq!(s.name, long);
    assert_eq!(s.events[0].name, long);
    assert_eq!(s.links[0].trace_state, long);
    assert_eq!(
        s.status.as_ref().map(|st| st.message.as_str()),
        Some(long.as_str())
    );
}

#[test]
fn nested_and_non_string_values_are_left_alone() {
    let long = "N".repeat(64);
    let nested = KeyValue {
        key: "arr".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::StringValue(long.clone())),
                }],
            })),
        }),
    };
    let list = KeyValue {
        key: "list".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![string_kv(&long, &long)],
            })),
        }),
    };
    let bytes = KeyValue {
        key: "bytes".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BytesValue(vec![0xff; 64])),
        }),
    };
    let req = request(vec![], vec![], vec![span_with(vec![nested, list, bytes])]);
    let body = Bytes::from(req.encode_to_vec());
    let (out, counts) = truncate_attributes(&body, 5).expect("valid");
    assert_eq!(counts.total(), 0);
    assert_eq!(out, body, "nothing to cut: the same bytes");
    // The skim's hint ignores nested strings too, so such a request is never rewritten.
    let skimmed = skim_export_request(&body, &SkimLimits::default(), 1, |_| 0).expect("valid");
    assert_eq!(skimmed.longest_attribute, "bytes".len());
}

#[test]
fn the_skim_reports_the_longest_attribute_key_or_value() {
    let mut span = span_with(vec![string_kv("a", "bb")]);
    span.events = vec![Event {
        attributes: vec![string_kv("e", &"x".repeat(33))],
        ..Event::default()
    }];
    let req = request(vec![string_kv(&"r".repeat(20), "v")], vec![], vec![span]);
    let body = Bytes::from(req.encode_to_vec());
    let skimmed = skim_export_request(&body, &SkimLimits::default(), 1, |_| 0).expect("valid");
    assert_eq!(skimmed.longest_attribute, 33);
}

#[test]
fn unknown_fields_survive_and_zero_means_no_limit() {
    let req = request(
        vec![],
        vec![],
        vec![span_with(vec![string_kv("k", &"v".repeat(30))])],
    );
    let mut body = req.encode_to_vec();
    // An unknown varint field (99) and an unknown length-delimited one (100) on the request.
    body.extend_from_slice(&[0x98, 0x06, 0x2a, 0xa2, 0x06, 0x02, b'h', b'i']);
    let (out, counts) = truncate_attributes(&body, 0).expect("valid");
    assert_eq!((out.as_ref(), counts.total()), (body.as_slice(), 0));
    let (out, counts) = truncate_attributes(&body, 5).expect("valid");
    assert_eq!(counts.span, 1);
    assert!(out.ends_with(&[0x98, 0x06, 0x2a, 0xa2, 0x06, 0x02, b'h', b'i']));
    assert_eq!(out.len(), body.len() - 25);
}

/// Tempo's rule applied to decoded structs, with the cut moved to a character boundary.
fn reference(req: &mut ExportTraceServiceRequest, max: usize) -> u64 {
    fn cut(s: &mut String, max: usize) -> u64 {
        if s.len() <= max {
            return 0;
        }
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        1
    }
    fn attrs(list: &mut [KeyValue], max: usize) -> u64 {
        let mut n = 0;
        for kv in list {
            n += cut(&mut kv.key, max);
            if let Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) = &mut kv.value
            {
                n += cut(s, max);
            }
        }
        n
    }
    let mut n = 0;
    for rs in &mut req.resource_spans {
        if let Some(r) = &mut rs.resource {
            n += attrs(&mut r.attributes, max);
        }
        for ss in &mut rs.scope_spans {
            if let Some(s) = &mut ss.scope {
                n += attrs(&mut s.attributes, max);
            }
            for span in &mut ss.spans {
                n += attrs(&mut span.attributes, max);
                for e in &mut span.events {
                    n += attrs(&mut e.attributes, max);
                }
                for l in &mut span.links {
                    n += attrs(&mut l.attributes, max);
                }
            }
        }
    }
    n
}

fn random_text(rng: &mut StdRng) -> String {
    const PIECES: [&str; 6] = ["a", "Z", "é", "€", "🦀", "ab"];
    (0..rng.random_range(0..24))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

fn random_attrs(rng: &mut StdRng) -> Vec<KeyValue> {
    (0..rng.random_range(0..4))
        .map(|_| {
            let value = match rng.random_range(0..4) {
                0 => any_value::Value::IntValue(rng.random()),
                1 => any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::StringValue(random_text(rng))),
                    }],
                }),
                _ => any_value::Value::StringValue(random_text(rng)),
            };
            KeyValue {
                key: random_text(rng),
                value: Some(AnyValue { value: Some(value) }),
            }
        })
        .collect()
}

fn random_request(rng: &mut StdRng) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..rng.random_range(0..3))
            .map(|_| {
                let spans = (0..rng.random_range(0..3))
                    .map(|_| {
                        let mut span = span_with(random_attrs(rng));
                        span.trace_id = vec![rng.random_range(1..4); 16];
                        span.events = (0..rng.random_range(0..2))
                            .map(|_| Event {
                                attributes: random_attrs(rng),
                                ..Event::default()
                            })
                            .collect();
                        span.links = (0..rng.random_range(0..2))
                            .map(|_| Link {
                                attributes: random_attrs(rng),
                                ..Link::default()
                            })
                            .collect();
                        span
                    })
                    .collect();
                let mut r = request(random_attrs(rng), random_attrs(rng), spans);
                r.resource_spans.remove(0)
            })
            .collect(),
    }
}

#[test]
fn random_requests_match_the_reference_and_still_skim() {
    let mut rng = StdRng::seed_from_u64(0x7ab1e);
    for round in 0..500 {
        let req = random_request(&mut rng);
        let max = rng.random_range(1..30);
        let body = Bytes::from(req.encode_to_vec());
        let skimmed =
            skim_export_request(&body, &SkimLimits::default(), 2, |id| id[0] as usize % 2)
                .expect("valid");
        let (out, counts) = truncate_attributes(&body, max).expect("valid");
        let mut expected = req.clone();
        let n = reference(&mut expected, max);
        assert_eq!(counts.total(), n, "round {round}");
        assert_eq!(n > 0, skimmed.longest_attribute > max, "round {round}");
        let decoded = ExportTraceServiceRequest::decode(out.clone()).expect("decodes");
        assert_eq!(decoded, expected, "round {round}");
        let again = skim_export_request(&out, &SkimLimits::default(), 2, |id| id[0] as usize % 2)
            .expect("truncated request skims");
        assert!(again.longest_attribute <= max, "round {round}");
        assert_eq!(again.span_count, skimmed.span_count);
    }
}
