//! Combining partial traces from shards and blocks into one, as Tempo does: spans deduplicated
//! by (span ID, kind), resource and scope groups merged, everything ordered by start time.

use std::collections::HashSet;

use tracecore_proto::otlp::{ResourceSpans, ScopeSpans, Span, TracesData};

/// Merges `parts` into one trace.
pub fn combine(parts: Vec<ResourceSpans>) -> TracesData {
    let mut seen: HashSet<(Vec<u8>, i32)> = HashSet::new();
    let mut out: Vec<ResourceSpans> = Vec::new();
    for part in parts {
        let group = match out
            .iter()
            .position(|r| r.resource == part.resource && r.schema_url == part.schema_url)
        {
            Some(i) => i,
            None => {
                out.push(ResourceSpans {
                    resource: part.resource.clone(),
                    scope_spans: Vec::new(),
                    schema_url: part.schema_url.clone(),
                });
                out.len() - 1
            }
        };
        for scope in part.scope_spans {
            let scopes = &mut out[group].scope_spans;
            let slot = match scopes
                .iter()
                .position(|s| s.scope == scope.scope && s.schema_url == scope.schema_url)
            {
                Some(i) => i,
                None => {
                    scopes.push(ScopeSpans {
                        scope: scope.scope.clone(),
                        spans: Vec::new(),
                        schema_url: scope.schema_url.clone(),
                    });
                    scopes.len() - 1
                }
            };
            for span in scope.spans {
                if seen.insert((span.span_id.clone(), span.kind)) {
                    scopes[slot].spans.push(span);
                }
            }
        }
    }
    for resource in &mut out {
        resource.scope_spans.retain(|s| !s.spans.is_empty());
        for scope in &mut resource.scope_spans {
            scope.spans.sort_by(span_order);
        }
        resource
            .scope_spans
            .sort_by_key(|s| s.spans.first().map(|sp| sp.start_time_unix_nano));
    }
    out.retain(|r| !r.scope_spans.is_empty());
    out.sort_by_key(|r| {
        r.scope_spans
            .iter()
            .filter_map(|s| s.spans.first().map(|sp| sp.start_time_unix_nano))
            .min()
    });
    TracesData {
        resource_spans: out,
    }
}

fn span_order(a: &Span, b: &Span) -> std::cmp::Ordering {
    a.start_time_unix_nano
        .cmp(&b.start_time_unix_nano)
        .then_with(|| a.span_id.cmp(&b.span_id))
}

/// Number of spans in a trace.
pub fn span_count(trace: &TracesData) -> usize {
    trace
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracecore_proto::otlp::{AnyValue, KeyValue, Resource, any_value};

    fn resource(service: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(service.into())),
                }),
            }],
            dropped_attributes_count: 0,
        })
    }

    fn part(service: &str, spans: &[(u8, u64)]) -> ResourceSpans {
        ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: spans
                    .iter()
                    .map(|&(id, start)| Span {
                        span_id: vec![id; 8],
                        start_time_unix_nano: start,
                        kind: 2,
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    #[test]
    fn merges_groups_dedupes_and_orders() {
        let trace = combine(vec![
            part("b", &[(3, 30)]),
            part("a", &[(2, 20), (1, 10)]),
            part("a", &[(1, 10), (4, 5)]),
        ]);
        assert_eq!(trace.resource_spans.len(), 2);
        assert_eq!(trace.resource_spans[0].resource, resource("a"));
        let starts: Vec<u64> = trace.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| s.start_time_unix_nano)
            .collect();
        assert_eq!(starts, vec![5, 10, 20]);
        assert_eq!(span_count(&trace), 4);
    }
}
