//! Tempo's span-ID deduper for Zipkin-style shared spans (TEMPO-SPEC §1.3.3).
//!
//! Zipkin lets a client and a server span share one span ID. Trace views need unique IDs, so,
//! as Tempo's frontend does, a SERVER span that shares its ID with a CLIENT span gets a fresh
//! ID (the smallest unused one counting up from 1, big-endian), its parent becomes the shared
//! ID (the client span), and spans that named the shared ID as parent — other than the server
//! span itself — now name the server span's new ID.

use std::collections::{HashMap, HashSet};

use tracecore_proto::otlp::{SpanKind, TracesData};

/// Rewrites shared SERVER/CLIENT span IDs in `trace` in place.
pub fn dedupe_shared_span_ids(trace: &mut TracesData) {
    let spans = || {
        trace
            .resource_spans
            .iter()
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter())
    };
    let client_ids: HashSet<Vec<u8>> = spans()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .map(|s| s.span_id.clone())
        .collect();
    let shared: HashSet<Vec<u8>> = spans()
        .filter(|s| s.kind == SpanKind::Server as i32 && client_ids.contains(&s.span_id))
        .map(|s| s.span_id.clone())
        .collect();
    if shared.is_empty() {
        return;
    }
    let mut used: HashSet<Vec<u8>> = spans().map(|s| s.span_id.clone()).collect();
    let mut next: u64 = 1;
    let mut renamed: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for resource in &mut trace.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                if span.kind != SpanKind::Server as i32 || !shared.contains(&span.span_id) {
                    continue;
                }
                let fresh = loop {
                    let candidate = next.to_be_bytes().to_vec();
                    next += 1;
                    if used.insert(candidate.clone()) {
                        break candidate;
                    }
                };
                let old = std::mem::replace(&mut span.span_id, fresh.clone());
                span.parent_span_id = old.clone();
                renamed.insert(old, fresh);
            }
        }
    }
    for resource in &mut trace.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                let is_renamed_server = renamed.values().any(|id| *id == span.span_id);
                if is_renamed_server {
                    continue;
                }
                if let Some(new_parent) = renamed.get(&span.parent_span_id)
                    && span.kind != SpanKind::Client as i32
                {
                    span.parent_span_id = new_parent.clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracecore_proto::otlp::{ResourceSpans, ScopeSpans, Span};

    fn span(id: u8, parent: u8, kind: SpanKind) -> Span {
        Span {
            span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: if parent == 0 {
                Vec::new()
            } else {
                vec![0, 0, 0, 0, 0, 0, 0, parent]
            },
            kind: kind as i32,
            ..Default::default()
        }
    }

    fn trace(spans: Vec<Span>) -> TracesData {
        TracesData {
            resource_spans: vec![ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn shared_server_span_gets_a_fresh_id_and_its_children_follow() {
        // root(5) -> client(9) ; server shares 9 ; child(7) of the shared 9 (server side).
        let mut t = trace(vec![
            span(5, 0, SpanKind::Server),
            span(9, 5, SpanKind::Client),
            span(9, 5, SpanKind::Server),
            span(7, 9, SpanKind::Internal),
        ]);
        dedupe_shared_span_ids(&mut t);
        let s = &t.resource_spans[0].scope_spans[0].spans;
        let one = vec![0, 0, 0, 0, 0, 0, 0, 1];
        let nine = vec![0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(s[1].span_id, nine, "client keeps the shared id");
        assert_eq!(s[2].span_id, one, "server gets the smallest unused id");
        assert_eq!(s[2].parent_span_id, nine, "server's parent is the client");
        assert_eq!(
            s[3].parent_span_id, one,
            "server-side child follows the server"
        );
    }

    #[test]
    fn traces_without_shared_ids_are_untouched() {
        let original = trace(vec![
            span(5, 0, SpanKind::Server),
            span(9, 5, SpanKind::Client),
        ]);
        let mut t = original.clone();
        dedupe_shared_span_ids(&mut t);
        assert_eq!(t, original);
    }
}
