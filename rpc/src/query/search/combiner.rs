//! Merges search hits from the head block and blocks into at most `limit` traces
//! (TEMPO-SPEC §4.6): same trace ID → earliest start, longest duration, first non-empty root
//! names, service stats by element-wise max, span sets keyed by their `by()` attributes (a
//! colliding span set is replaced only by one with more matches).

use std::collections::HashMap;

use tracecore_engine::scan::{SpansetHit, TraceHit};

/// Collects up to `limit` distinct traces in arrival order; later hits of kept traces merge.
pub struct Combiner {
    limit: usize,
    order: Vec<[u8; 16]>,
    /// Traces of `order` already handed out by [`Self::take_new`].
    reported: usize,
    traces: HashMap<[u8; 16], TraceHit>,
}

impl Combiner {
    pub fn new(limit: usize) -> Combiner {
        Combiner {
            limit,
            order: Vec::new(),
            reported: 0,
            traces: HashMap::new(),
        }
    }

    /// True once `limit` distinct traces are held.
    pub fn is_full(&self) -> bool {
        self.order.len() >= self.limit
    }

    pub fn add(&mut self, hit: TraceHit) {
        let full = self.is_full();
        match self.traces.get_mut(&hit.trace_id) {
            Some(kept) => merge(kept, hit),
            None if full => {}
            None => {
                self.order.push(hit.trace_id);
                self.traces.insert(hit.trace_id, hit);
            }
        }
    }

    /// Copies of the traces kept since the last call (for streaming progress).
    pub fn take_new(&mut self) -> Vec<TraceHit> {
        let new = self.order[self.reported..]
            .iter()
            .filter_map(|id| self.traces.get(id).cloned())
            .collect();
        self.reported = self.order.len();
        new
    }

    /// The kept traces, newest start first (ties by trace ID, so the order is stable).
    pub fn finish(mut self) -> Vec<TraceHit> {
        let mut out: Vec<TraceHit> = self
            .order
            .iter()
            .filter_map(|id| self.traces.remove(id))
            .collect();
        out.sort_by(|a, b| {
            b.start_unix_nano
                .cmp(&a.start_unix_nano)
                .then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        out
    }
}

fn spanset_key(set: &SpansetHit) -> String {
    set.attributes
        .iter()
        .filter(|(k, _)| k.starts_with("by("))
        .map(|(k, v)| format!("{k}={v:?};"))
        .collect()
}

fn merge(kept: &mut TraceHit, hit: TraceHit) {
    if kept.root_service_name.is_empty() && !hit.root_service_name.is_empty() {
        kept.root_service_name = hit.root_service_name;
        kept.root_span_name = hit.root_span_name;
    }
    let kept_end = kept.start_unix_nano.saturating_add(kept.duration_nanos);
    let hit_end = hit.start_unix_nano.saturating_add(hit.duration_nanos);
    if hit.start_unix_nano != 0
        && (kept.start_unix_nano == 0 || hit.start_unix_nano < kept.start_unix_nano)
    {
        kept.start_unix_nano = hit.start_unix_nano;
    }
    kept.duration_nanos = kept_end.max(hit_end).saturating_sub(kept.start_unix_nano);
    for (service, stats) in hit.service_stats {
        let entry = kept.service_stats.entry(service).or_default();
        entry.span_count = entry.span_count.max(stats.span_count);
        entry.error_count = entry.error_count.max(stats.error_count);
    }
    for set in hit.spansets {
        let key = spanset_key(&set);
        match kept.spansets.iter_mut().find(|s| spanset_key(s) == key) {
            Some(existing) if set.matched > existing.matched => *existing = set,
            Some(_) => {}
            None => kept.spansets.push(set),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use tracecore_engine::scan::ServiceStats;

    fn hit(id: u8, start: u64, matched: u32, root: &str) -> TraceHit {
        TraceHit {
            trace_id: [id; 16],
            root_service_name: root.into(),
            root_span_name: String::new(),
            start_unix_nano: start,
            duration_nanos: 10,
            service_stats: BTreeMap::from([(
                "svc".to_owned(),
                ServiceStats {
                    span_count: matched,
                    error_count: 0,
                },
            )]),
            spansets: vec![SpansetHit {
                spans: Vec::new(),
                matched,
                attributes: Vec::new(),
            }],
        }
    }

    #[test]
    fn keeps_first_limit_traces_merges_and_sorts_newest_first() {
        let mut c = Combiner::new(2);
        c.add(hit(1, 100, 1, ""));
        c.add(hit(2, 200, 1, "a"));
        c.add(hit(3, 300, 1, "b"));
        assert!(c.is_full());
        c.add(hit(1, 50, 4, "root"));
        let out = c.finish();
        assert_eq!(
            out.iter().map(|h| h.trace_id[0]).collect::<Vec<_>>(),
            vec![2, 1]
        );
        let merged = &out[1];
        assert_eq!(merged.start_unix_nano, 50);
        assert_eq!(merged.duration_nanos, 60, "from 50 to the later end at 110");
        assert_eq!(merged.root_service_name, "root");
        assert_eq!(merged.spansets[0].matched, 4);
        assert_eq!(merged.service_stats["svc"].span_count, 4);
    }
}
