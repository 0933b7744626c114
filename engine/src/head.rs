//! The head block: every trace a shard has acknowledged since its last cut, per tenant.
//!
//! Traces are kept as their OTLP fragments (see [`TraceFragment`]) — shared slices of the
//! request buffers the receivers filled, never copied on ingest. Their concatenation is a valid
//! `TracesData` message, so a by-ID read is at most one copy and block building walks each
//! trace once. The index is a flat map keyed by the trace ID's own bits (the IDs are
//! random already, so no SipHash is spent on them).

pub mod trace_id_hasher;

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use crate::fragment::TraceFragment;
use trace_id_hasher::TraceIdMap;

/// One trace in the head block.
#[derive(Debug)]
pub struct LiveTrace {
    pub trace_id: [u8; 16],
    /// The trace's fragments; concatenated they are a valid `TracesData`.
    pub fragments: Vec<Bytes>,
    pub span_count: u32,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub last_append: Instant,
}

impl LiveTrace {
    /// The trace's OTLP bytes in one piece (a valid `TracesData`); free for one fragment.
    pub fn otlp(&self) -> Bytes {
        match self.fragments.as_slice() {
            [one] => one.clone(),
            many => {
                let mut joined = Vec::with_capacity(many.iter().map(Bytes::len).sum());
                for fragment in many {
                    joined.extend_from_slice(fragment);
                }
                Bytes::from(joined)
            }
        }
    }
}

/// A copy of one trace's in-memory state (fragments are shared, not copied), for searches.
#[derive(Clone, Debug)]
pub struct TraceSnapshot {
    /// The head block (or cut) the trace is in: see [`HeadBlock::epoch`].
    pub epoch: u64,
    pub trace_id: [u8; 16],
    /// Concatenated, a valid `TracesData`.
    pub fragments: Vec<Bytes>,
    pub span_count: u32,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

impl TraceSnapshot {
    fn of(t: &LiveTrace, epoch: u64) -> Self {
        TraceSnapshot {
            epoch,
            trace_id: t.trace_id,
            fragments: t.fragments.clone(),
            span_count: t.span_count,
            start_unix_nano: t.start_unix_nano,
            end_unix_nano: t.end_unix_nano,
        }
    }
}

/// The traces of one tenant.
#[derive(Debug, Default)]
pub struct TenantHead {
    slots: TraceIdMap<usize>,
    traces: Vec<LiveTrace>,
    bytes: usize,
}

impl TenantHead {
    /// Appends a snapshot of every trace, in arrival order, tagged with `epoch`.
    pub fn snapshot(&self, epoch: u64, out: &mut Vec<TraceSnapshot>) {
        out.extend(self.traces.iter().map(|t| TraceSnapshot::of(t, epoch)));
    }

    /// OTLP bytes of the tenant's fragments.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The tenant's traces, in arrival order.
    pub fn traces(&self) -> &[LiveTrace] {
        &self.traces
    }

    /// The trace `trace_id`, if present.
    pub fn find(&self, trace_id: &[u8; 16]) -> Option<&LiveTrace> {
        self.slots.get(trace_id).map(|&slot| &self.traces[slot])
    }

    /// Consumes the head and returns its traces.
    pub fn into_traces(self) -> Vec<LiveTrace> {
        self.traces
    }
}

/// A shard's head block.
#[derive(Debug)]
pub struct HeadBlock {
    tenants: HashMap<String, TenantHead>,
    bytes: usize,
    trace_count: usize,
    span_count: u64,
    created_at: Instant,
    epoch: u64,
}

/// Identifies head blocks process-wide: every new head block (and so every cut) gets the next.
static NEXT_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Default for HeadBlock {
    fn default() -> Self {
        HeadBlock {
            tenants: HashMap::new(),
            bytes: 0,
            trace_count: 0,
            span_count: 0,
            created_at: Instant::now(),
            epoch: NEXT_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl HeadBlock {
    /// Adds acknowledged fragments of `tenant`; returns how many traces were new.
    // PERFORMANCE-CRITICAL: one map probe and one append per fragment, no per-span work.
    pub fn apply(&mut self, tenant: &str, fragments: &[TraceFragment], now: Instant) -> usize {
        let head = match self.tenants.get_mut(tenant) {
            Some(head) => head,
            None => self.tenants.entry(tenant.to_string()).or_default(),
        };
        let mut created = 0;
        for f in fragments {
            self.bytes += f.otlp.len();
            head.bytes += f.otlp.len();
            self.span_count += u64::from(f.span_count);
            match head.slots.get(&f.trace_id) {
                Some(&slot) => {
                    let t = &mut head.traces[slot];
                    t.fragments.push(f.otlp.clone());
                    t.span_count = t.span_count.saturating_add(f.span_count);
                    t.start_unix_nano = t.start_unix_nano.min(f.start_unix_nano);
                    t.end_unix_nano = t.end_unix_nano.max(f.end_unix_nano);
                    t.last_append = now;
                }
                None => {
                    head.slots.insert(f.trace_id, head.traces.len());
                    head.traces.push(LiveTrace {
                        trace_id: f.trace_id,
                        fragments: vec![f.otlp.clone()],
                        span_count: f.span_count,
                        start_unix_nano: f.start_unix_nano,
                        end_unix_nano: f.end_unix_nano,
                        last_append: now,
                    });
                    created += 1;
                }
            }
        }
        self.trace_count += created;
        created
    }

    /// The OTLP bytes of `trace_id` for `tenant`, if present.
    pub fn find(&self, tenant: &str, trace_id: &[u8; 16]) -> Option<Bytes> {
        let trace = self.tenants.get(tenant)?.find(trace_id)?;
        Some(trace.otlp())
    }

    /// Appends a snapshot of every trace of `tenant` to `out`, in arrival order.
    pub fn snapshot(&self, tenant: &str, out: &mut Vec<TraceSnapshot>) {
        if let Some(head) = self.tenants.get(tenant) {
            head.snapshot(self.epoch, out);
        }
    }

    /// This head block's identity: unique in the process, unchanged until it is cut. Within
    /// one epoch traces are only appended and fragments only added, so a trace's content is
    /// fully determined by (epoch, trace ID, fragment count).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// OTLP bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// OTLP bytes held for `tenant` (0 when it has none).
    pub fn tenant_bytes(&self, tenant: &str) -> usize {
        self.tenants.get(tenant).map_or(0, TenantHead::bytes)
    }

    /// Traces held, over all tenants.
    pub fn trace_count(&self) -> usize {
        self.trace_count
    }

    /// Spans held, over all tenants.
    pub fn span_count(&self) -> u64 {
        self.span_count
    }

    /// True when nothing has been applied since the last cut.
    pub fn is_empty(&self) -> bool {
        self.trace_count == 0
    }

    /// When this head block started collecting.
    pub fn created_at(&self) -> Instant {
        self.created_at
    }

    /// Traces that received spans within `idle` of `now` (Tempo's "live" traces).
    pub fn live_trace_count(&self, now: Instant, idle: std::time::Duration) -> usize {
        self.tenants
            .values()
            .flat_map(|h| h.traces.iter())
            .filter(|t| now.saturating_duration_since(t.last_append) < idle)
            .count()
    }

    /// Takes every tenant's traces out, leaving an empty head block.
    pub fn take(&mut self) -> Vec<(String, TenantHead)> {
        let old = std::mem::take(self);
        let mut tenants: Vec<(String, TenantHead)> = old.tenants.into_iter().collect();
        tenants.sort_by(|a, b| a.0.cmp(&b.0));
        tenants
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u8, payload: &[u8], start: u64, end: u64) -> TraceFragment {
        TraceFragment {
            trace_id: [id; 16],
            span_count: 2,
            start_unix_nano: start,
            end_unix_nano: end,
            otlp: Bytes::copy_from_slice(payload),
        }
    }

    #[test]
    fn appends_fragments_of_the_same_trace_and_keeps_tenants_apart() {
        let mut head = HeadBlock::default();
        let now = Instant::now();
        assert_eq!(
            head.apply("a", &[frag(1, b"xy", 10, 20), frag(2, b"q", 5, 6)], now),
            2
        );
        assert_eq!(head.apply("a", &[frag(1, b"z", 3, 30)], now), 0);
        assert_eq!(head.apply("b", &[frag(1, b"other", 1, 2)], now), 1);
        assert_eq!(head.find("a", &[1; 16]).unwrap().as_ref(), b"xyz");
        assert_eq!(head.find("b", &[1; 16]).unwrap().as_ref(), b"other");
        assert!(head.find("b", &[2; 16]).is_none());
        assert_eq!(
            (head.trace_count(), head.span_count(), head.bytes()),
            (3, 8, 9)
        );
        assert_eq!((head.tenant_bytes("a"), head.tenant_bytes("b")), (4, 5));
        assert_eq!(head.tenant_bytes("c"), 0);
        let taken = head.take();
        assert!(head.is_empty());
        let a = &taken[0].1.traces()[0];
        assert_eq!(
            (a.start_unix_nano, a.end_unix_nano, a.span_count),
            (3, 30, 4)
        );
    }
}
