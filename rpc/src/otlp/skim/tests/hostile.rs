//! Hostile inputs: wrong wire types, bad UTF-8, deep nesting, truncation and random mutation,
//! with prost as the oracle for what must be accepted.

use super::*;

#[test]
fn wrong_wire_type_names_the_field() {
    // A span whose `name` (field 5) is a varint.
    let mut span = Vec::new();
    span.extend_from_slice(&[0x0a, 16]);
    span.extend_from_slice(&[7; 16]);
    span.extend_from_slice(&[0x12, 8]);
    span.extend_from_slice(&[1; 8]);
    span.extend_from_slice(&[0x28, 0x01]);
    let body = wrap_span(&span);
    let err = skim(&body).expect_err("wrong wire type");
    let text = err.to_string();
    assert!(
        text.contains("field 5 (Span.name) has wire type varint, expected length-delimited"),
        "{text}"
    );
    assert!(
        text.contains("resource_spans[0].scope_spans[0].spans[0]"),
        "{text}"
    );
    assert!(ExportTraceServiceRequest::decode(body.as_slice()).is_err());

    // `ResourceSpans.scope_spans` as fixed32.
    let body = [0x0a, 0x05, 0x15, 1, 2, 3, 4];
    let err = skim(&body).expect_err("wrong wire type");
    assert!(
        err.to_string().contains("ResourceSpans.scope_spans"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_anywhere_is_rejected() {
    let bad = "\u{fffd}bad".to_owned();
    type Change<'a> = Box<dyn Fn(&mut Span) + 'a>;
    let variants: Vec<Change> = vec![
        Box::new(|s| s.name = bad.clone()),
        Box::new(|s| s.trace_state = bad.clone()),
        Box::new(|s| s.attributes = vec![kv(&bad, any_value::Value::BoolValue(true))]),
        Box::new(|s| {
            s.attributes = vec![kv(
                "k",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("inner", any_value::Value::StringValue(bad.clone()))],
                }),
            )]
        }),
        Box::new(|s| {
            s.events = vec![Event {
                name: bad.clone(),
                ..Event::default()
            }]
        }),
        Box::new(|s| {
            s.links = vec![Link {
                trace_state: bad.clone(),
                ..Link::default()
            }]
        }),
        Box::new(|s| {
            s.status = Some(Status {
                message: bad.clone(),
                code: 0,
            })
        }),
    ];
    for (i, change) in variants.iter().enumerate() {
        let mut span = valid_span();
        change(&mut span);
        let mut body = one_scope(vec![span]);
        // Turn the UTF-8 of U+FFFD (ef bf bd) into an invalid sequence (ef bf ff).
        let at = body
            .windows(3)
            .position(|w| w == [0xef, 0xbf, 0xbd])
            .expect("marker present");
        body[at + 2] = 0xff;
        assert!(
            ExportTraceServiceRequest::decode(body.as_slice()).is_err(),
            "case {i}"
        );
        let err = skim(&body).expect_err("invalid utf-8");
        assert!(
            err.to_string().contains("is not valid utf-8"),
            "case {i}: {err}"
        );
    }
    // Scope name and schema URLs too.
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "\u{fffd}".into(),
                    ..InstrumentationScope::default()
                }),
                spans: vec![valid_span()],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let mut body = req.encode_to_vec();
    let at = body
        .windows(3)
        .position(|w| w == [0xef, 0xbf, 0xbd])
        .expect("marker");
    body[at] = 0xc0;
    let err = skim(&body).expect_err("bad scope name");
    assert!(
        err.to_string().contains("InstrumentationScope.name"),
        "{err}"
    );
}

/// `AnyValue` nested `depth` times through arrays (depth 1 = a plain string value), encoded
/// without recursion so that very deep values cost no stack.
fn nested_array_value(depth: usize) -> Vec<u8> {
    let inner = [0x0a, 0x01, b'x']; // AnyValue{string_value: "x"}
    // Each level above the innermost adds AnyValue{array_value(5): ArrayValue{values(1): ...}}.
    let mut lens = Vec::with_capacity(depth);
    let mut len = inner.len();
    for _ in 1..depth {
        let array = 1 + prost::encoding::encoded_len_varint(len as u64) + len;
        let any = 1 + prost::encoding::encoded_len_varint(array as u64) + array;
        lens.push((array, len));
        len = any;
    }
    let mut out = Vec::with_capacity(len);
    for &(array, values) in lens.iter().rev() {
        out.push(0x2a);
        prost::encoding::encode_varint(array as u64, &mut out);
        out.push(0x0a);
        prost::encoding::encode_varint(values as u64, &mut out);
    }
    out.extend_from_slice(&inner);
    out
}

/// A span (valid IDs) with one attribute whose value is `value` (an encoded `AnyValue`).
fn span_with_value(value: &[u8]) -> Vec<u8> {
    let mut kv = Vec::new();
    put_len(&mut kv, 1, b"deep");
    put_len(&mut kv, 2, value);
    let mut span = Vec::new();
    put_len(&mut span, 1, &[7; 16]);
    put_len(&mut span, 2, &[1; 8]);
    put_len(&mut span, 9, &kv);
    span
}

#[test]
fn nesting_limit_is_enforced_without_recursion_blowup() {
    let deep = wrap_span(&span_with_value(&nested_array_value(10_000)));
    let err = skim(&deep).expect_err("10k deep");
    let SkimError::Malformed { error, .. } = &err else {
        panic!("expected a wire error, got {err}");
    };
    assert_eq!(error.problem, WireProblem::ValueTooDeep { limit: 32 });
    // Exactly at the limit is fine and decodes; one more is not.
    let ok = wrap_span(&span_with_value(&nested_array_value(32)));
    let got = skim(&ok).expect("depth 32");
    let f = &got.per_shard.iter().flatten().next().expect("one fragment");
    TracesData::decode(f.otlp.clone()).expect("decodes");
    assert!(skim(&wrap_span(&span_with_value(&nested_array_value(33)))).is_err());
}

/// `AnyValue` nested `depth` times through key-value lists, as prost structs.
fn nested_kvlist(depth: usize) -> AnyValue {
    let mut v = AnyValue {
        value: Some(any_value::Value::StringValue("x".into())),
    };
    for _ in 1..depth {
        v = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(v),
                }],
            })),
        };
    }
    v
}

#[test]
fn deepest_accepted_message_level_still_decodes_with_prost() {
    // Key-value lists inside an event attribute reach prost's recursion limit first: depth 32
    // puts the innermost AnyValue at level 99.
    let span = |depth| Span {
        events: vec![Event {
            attributes: vec![KeyValue {
                key: "deep".into(),
                value: Some(nested_kvlist(depth)),
            }],
            ..Event::default()
        }],
        ..valid_span()
    };
    let body = one_scope(vec![span(32)]);
    let got = skim(&body).expect("depth 32 in an event");
    for f in got.per_shard.iter().flatten() {
        TracesData::decode(f.otlp.clone()).expect("fragment decodes at level 99");
    }
    // With a laxer value limit, prost's limit still holds the line.
    let body = one_scope(vec![span(34)]);
    assert!(ExportTraceServiceRequest::decode(body.as_slice()).is_err());
    let lax = SkimLimits {
        max_nesting_depth: 1_000,
    };
    let err = skim_export_request(&Bytes::from(body), &lax, 1, |_| 0).expect_err("too deep");
    assert!(
        err.to_string().contains("nested deeper than 99 levels"),
        "{err}"
    );
}

#[test]
fn truncation_at_every_byte_matches_prost() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut req = random_request(&mut rng);
    while req.resource_spans.iter().all(|r| r.scope_spans.is_empty()) {
        req = random_request(&mut rng);
    }
    let body = req.encode_to_vec();
    let mut rejected = 0;
    for cut in 0..body.len() {
        let part = &body[..cut];
        let prost_ok = ExportTraceServiceRequest::decode(part).is_ok();
        let skim_ok = skim(part).is_ok();
        assert_eq!(skim_ok, prost_ok, "cut at {cut} of {}", body.len());
        rejected += usize::from(!skim_ok);
    }
    assert!(rejected > body.len() / 2, "most truncations are invalid");
}

#[test]
fn mutated_requests_agree_with_prost() {
    let mut rng = StdRng::seed_from_u64(99);
    let mut accepted = 0;
    for _ in 0..3_000 {
        let req = random_request(&mut rng);
        let mut body = req.encode_to_vec();
        if body.is_empty() {
            continue;
        }
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..body.len());
            match rng.random_range(0..4) {
                0 => body[at] = rng.random(),
                1 => body[at] ^= 1 << rng.random_range(0..8),
                2 => {
                    body.insert(at, rng.random());
                }
                _ => {
                    body.remove(at);
                }
            }
            if body.is_empty() {
                break;
            }
        }
        let prost = ExportTraceServiceRequest::decode(body.as_slice());
        match skim(&body) {
            Ok(got) => {
                accepted += 1;
                let decoded = prost.expect("skim accepted what prost rejects");
                let spans: usize = decoded
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum();
                assert_eq!(got.span_count as usize, spans);
                for f in got.per_shard.iter().flatten() {
                    TracesData::decode(f.otlp.clone()).expect("accepted fragment decodes");
                }
            }
            Err(err) => {
                if prost.is_ok() {
                    // Only our own rules may reject what prost accepts.
                    assert!(
                        matches!(
                            err,
                            SkimError::InvalidTraceId { .. }
                                | SkimError::InvalidSpanId { .. }
                                | SkimError::InvalidParentSpanId { .. }
                        ),
                        "skim rejected what prost accepts: {err}"
                    );
                }
            }
        }
    }
    assert!(accepted > 50, "some mutations stay valid ({accepted})");
}
