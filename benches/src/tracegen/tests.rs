use std::collections::{HashMap, HashSet};

use prost::Message;
use tracecore_proto::otlp::{AnyValue, ResourceSpans, Span, SpanKind, any_value::Value};

use super::*;

fn spans(rs: &[ResourceSpans]) -> Vec<&Span> {
    rs.iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

#[test]
fn same_seed_same_traces() {
    let a = TraceGenerator::with_start_time(7, 1_700_000_000_000_000_000).request(5);
    let b = TraceGenerator::with_start_time(7, 1_700_000_000_000_000_000).request(5);
    assert_eq!(a, b);
    let c = TraceGenerator::with_start_time(8, 1_700_000_000_000_000_000).request(5);
    assert_ne!(a.1, c.1);
}

#[test]
fn traces_are_well_formed_trees() {
    let mut generator = TraceGenerator::new(42);
    let mut sizes = HashSet::new();
    for _ in 0..300 {
        let (id, rs) = generator.next_trace();
        assert!(id.iter().any(|&b| b != 0));
        let all = spans(&rs);
        assert!((10..=30).contains(&all.len()), "{} spans", all.len());
        sizes.insert(all.len());
        let by_id: HashMap<&[u8], &Span> = all.iter().map(|s| (s.span_id.as_slice(), *s)).collect();
        assert_eq!(by_id.len(), all.len(), "span IDs are unique");
        let roots: Vec<_> = all.iter().filter(|s| s.parent_span_id.is_empty()).collect();
        assert_eq!(roots.len(), 1, "exactly one root");
        for s in &all {
            assert_eq!(s.trace_id, id);
            assert_eq!(s.span_id.len(), 8);
            assert!(s.span_id.iter().any(|&b| b != 0));
            assert!(s.start_time_unix_nano <= s.end_time_unix_nano);
            if s.parent_span_id.is_empty() {
                continue;
            }
            let parent = by_id
                .get(s.parent_span_id.as_slice())
                .unwrap_or_else(|| panic!("parent of {:?} missing", s.name));
            if s.kind == SpanKind::Consumer as i32 {
                assert!(s.start_time_unix_nano >= parent.end_time_unix_nano);
            } else {
                assert!(
                    s.start_time_unix_nano >= parent.start_time_unix_nano
                        && s.end_time_unix_nano <= parent.end_time_unix_nano,
                    "{} not inside {}",
                    s.name,
                    parent.name
                );
            }
        }
        let manifest = manifest_of(id, &rs);
        assert_eq!(manifest.span_count(), all.len());
    }
    assert!(sizes.len() > 12, "span counts vary: {sizes:?}");
}

#[test]
fn values_are_varied() {
    let mut generator = TraceGenerator::new(3);
    let (request, manifests) = generator.request(200);
    let all = spans(&request.resource_spans);
    let total: usize = manifests.iter().map(TraceManifest::span_count).sum();
    assert_eq!(all.len(), total);
    let strings = |key: &str| -> HashSet<String> {
        all.iter()
            .filter_map(|s| match attr(s, key).and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(v)) => Some(v.clone()),
                _ => None,
            })
            .collect()
    };
    let statements = strings("db.statement");
    let urls = strings("url.full");
    assert!(
        statements.len() > 300,
        "{} distinct statements",
        statements.len()
    );
    assert!(urls.len() > 100, "{} distinct urls", urls.len());
    assert!(strings("messaging.destination.name").len() >= 2);
    let kinds: HashSet<i32> = all.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        HashSet::from([1, 2, 3, 4, 5]),
        "every span kind but unspecified"
    );
    let errors = all
        .iter()
        .filter(|s| s.status.as_ref().is_some_and(|st| st.code == 2))
        .count();
    assert!(errors > 0 && errors < all.len() / 5, "{errors} errors");
    assert!(all.iter().any(|s| !s.events.is_empty()));
    assert!(all.iter().any(|s| !s.links.is_empty()));
    // Resources are merged across traces of one request.
    let services: HashSet<_> = request
        .resource_spans
        .iter()
        .map(|rs| format!("{:?}", rs.resource))
        .collect();
    assert_eq!(services.len(), request.resource_spans.len());
}

#[test]
fn span_size() {
    let mut generator = TraceGenerator::new(11);
    let mut bytes = 0usize;
    let mut count = 0usize;
    for _ in 0..50 {
        let (request, manifests) = generator.request(10);
        bytes += request.encoded_len();
        count += manifests
            .iter()
            .map(TraceManifest::span_count)
            .sum::<usize>();
    }
    let per_span = bytes as f64 / count as f64;
    println!(
        "{count} spans, {bytes} bytes, {per_span:.0} protobuf bytes per span (10 traces per request)"
    );
    assert!(
        (250.0..=450.0).contains(&per_span),
        "{per_span:.0} bytes per span"
    );
}
