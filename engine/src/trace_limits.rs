//! The per-tenant limits a shard enforces on its traces before they reach the WAL: Tempo's
//! ingester limits `max_traces_per_user` (live traces) and `max_bytes_per_trace`.
//!
//! A fragment refused here is never written, so a refusal is permanent and exact: the facade
//! reports it in OTLP `partial_success` and counts it as discarded (`live_traces_exceeded`,
//! `trace_too_large`), while the rest of the request is written as usual.
//!
//! *Live* follows Tempo: a trace is live while it keeps receiving spans; one idle for
//! `trace_idle_period` is not. Liveness is counted in O(1) per fragment with two epochs of one
//! idle period each, so a trace stops counting between one and two idle periods after its last
//! span. A fragment for a known but idle trace makes it live again and so needs room under the
//! limit, as a new trace does. Bytes per trace are the OTLP bytes accepted since the shard's
//! last cut (Tempo: "within the current block window").
//!
//! Admission of a group commit is provisional until the WAL write succeeds: [`TraceLimiter::commit`]
//! keeps it, [`TraceLimiter::rollback`] undoes it after a failed write, so a transient failure
//! never leaves bytes or live traces counted for spans that were not kept.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::fragment::TraceFragment;
use crate::head::trace_id_hasher::TraceIdMap;

/// The limits of one tenant on one shard; 0 turns a limit off.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TraceLimits {
    /// Live traces the tenant may have on this shard.
    pub max_live_traces: usize,
    /// OTLP bytes one trace may accumulate between cuts.
    pub max_bytes_per_trace: usize,
}

impl TraceLimits {
    /// No limits.
    pub const OFF: TraceLimits = TraceLimits {
        max_live_traces: 0,
        max_bytes_per_trace: 0,
    };

    fn is_off(&self) -> bool {
        self.max_live_traces == 0 && self.max_bytes_per_trace == 0
    }
}

/// Spans of one push refused for per-trace limits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LimitRefusals {
    /// Spans of traces refused because the tenant has too many live traces.
    pub live_traces_exceeded: u64,
    /// Spans refused because their trace would exceed `max_bytes_per_trace`.
    pub trace_too_large: u64,
    /// OTLP bytes of all refused spans.
    pub bytes: u64,
}

impl LimitRefusals {
    /// All refused spans.
    pub fn total(&self) -> u64 {
        self.live_traces_exceeded + self.trace_too_large
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: LimitRefusals) {
        self.live_traces_exceeded += other.live_traces_exceeded;
        self.trace_too_large += other.trace_too_large;
        self.bytes += other.bytes;
    }
}

/// What the limiter knows of one trace.
#[derive(Debug, Clone, Copy)]
struct TraceUsage {
    bytes: usize,
    /// Epoch of the last accepted fragment.
    epoch: u64,
}

/// An admitted fragment, kept until the group commit is durable so it can be undone.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    trace_id: [u8; 16],
    bytes: usize,
    /// The trace's epoch before this fragment; `None` when the fragment created the trace.
    previous_epoch: Option<u64>,
}

/// One tenant's traces on this shard.
#[derive(Debug, Default)]
struct TenantUsage {
    traces: TraceIdMap<TraceUsage>,
    epoch: u64,
    /// Traces whose last fragment arrived in `epoch`.
    live_current: usize,
    /// Traces whose last fragment arrived in `epoch - 1`.
    live_previous: usize,
    /// Fragments admitted in the group commit being written.
    pending: Vec<Admitted>,
}

impl TenantUsage {
    fn live(&self) -> usize {
        self.live_current + self.live_previous
    }

    fn advance(&mut self, epoch: u64) {
        if epoch <= self.epoch {
            return;
        }
        self.live_previous = if epoch == self.epoch + 1 {
            self.live_current
        } else {
            0
        };
        self.live_current = 0;
        self.epoch = epoch;
    }

    /// Moves a trace last seen in `from` into the current epoch.
    fn touch(&mut self, from: u64) {
        if from == self.epoch {
            return;
        }
        if from + 1 == self.epoch {
            self.live_previous -= 1;
        }
        self.live_current += 1;
    }

    /// Undoes [`TenantUsage::touch`].
    fn untouch(&mut self, from: u64) {
        if from == self.epoch {
            return;
        }
        if from + 1 == self.epoch {
            self.live_previous += 1;
        }
        self.live_current -= 1;
    }

    // PERFORMANCE-CRITICAL: one map probe per fragment, no allocation once warm.
    fn admit(
        &mut self,
        f: &TraceFragment,
        limits: TraceLimits,
        refused: &mut LimitRefusals,
    ) -> bool {
        let bytes = f.byte_len();
        let spans = u64::from(f.span_count);
        let epoch = self.epoch;
        let live = self.live();
        let max_live = limits.max_live_traces;
        let max_bytes = limits.max_bytes_per_trace;
        match self.traces.get_mut(&f.trace_id) {
            Some(usage) => {
                let was_live = usage.epoch + 1 >= epoch;
                if !was_live && max_live > 0 && live >= max_live {
                    refused.live_traces_exceeded += spans;
                    refused.bytes += bytes as u64;
                    return false;
                }
                if max_bytes > 0 && usage.bytes + bytes > max_bytes {
                    refused.trace_too_large += spans;
                    refused.bytes += bytes as u64;
                    return false;
                }
                let previous = usage.epoch;
                usage.bytes += bytes;
                usage.epoch = epoch;
                self.pending.push(Admitted {
                    trace_id: f.trace_id,
                    bytes,
                    previous_epoch: Some(previous),
                });
                self.touch(previous);
            }
            None => {
                if max_live > 0 && live >= max_live {
                    refused.live_traces_exceeded += spans;
                    refused.bytes += bytes as u64;
                    return false;
                }
                if max_bytes > 0 && bytes > max_bytes {
                    refused.trace_too_large += spans;
                    refused.bytes += bytes as u64;
                    return false;
                }
                self.traces.insert(f.trace_id, TraceUsage { bytes, epoch });
                self.pending.push(Admitted {
                    trace_id: f.trace_id,
                    bytes,
                    previous_epoch: None,
                });
                self.live_current += 1;
            }
        }
        true
    }

    fn rollback(&mut self) {
        while let Some(a) = self.pending.pop() {
            match a.previous_epoch {
                None => {
                    self.traces.remove(&a.trace_id);
                    self.live_current -= 1;
                }
                Some(previous) => {
                    if let Some(usage) = self.traces.get_mut(&a.trace_id) {
                        usage.bytes -= a.bytes;
                        usage.epoch = previous;
                    }
                    self.untouch(previous);
                }
            }
        }
    }
}

/// Live traces and bytes per trace of every tenant on one shard (owned by the shard's pump).
#[derive(Debug)]
pub struct TraceLimiter {
    idle: Duration,
    origin: Instant,
    tenants: HashMap<String, TenantUsage>,
    /// Tenants with admissions in the group commit being written.
    dirty: Vec<String>,
}

impl TraceLimiter {
    /// A limiter whose traces stop being live after `trace_idle_period`; `origin` starts the
    /// first epoch.
    pub fn new(trace_idle_period: Duration, origin: Instant) -> TraceLimiter {
        TraceLimiter {
            idle: trace_idle_period.max(Duration::from_millis(1)),
            origin,
            tenants: HashMap::new(),
            dirty: Vec::new(),
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.idle.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Keeps the fragments of `tenant` that fit its limits and returns the spans refused.
    /// Admissions are provisional until [`TraceLimiter::commit`] or [`TraceLimiter::rollback`];
    /// `now` must be the same for every push of one group commit.
    pub fn admit(
        &mut self,
        tenant: &str,
        fragments: &mut Vec<TraceFragment>,
        limits: TraceLimits,
        now: Instant,
    ) -> LimitRefusals {
        let mut refused = LimitRefusals::default();
        if limits.is_off() {
            return refused;
        }
        let epoch = self.epoch(now);
        let usage = match self.tenants.get_mut(tenant) {
            Some(usage) => usage,
            None => self.tenants.entry(tenant.to_string()).or_default(),
        };
        usage.advance(epoch);
        let was_clean = usage.pending.is_empty();
        fragments.retain(|f| usage.admit(f, limits, &mut refused));
        if was_clean && !usage.pending.is_empty() {
            self.dirty.push(tenant.to_string());
        }
        refused
    }

    /// The group commit is durable: keep its admissions.
    pub fn commit(&mut self) {
        for tenant in self.dirty.drain(..) {
            if let Some(usage) = self.tenants.get_mut(&tenant) {
                usage.pending.clear();
            }
        }
    }

    /// The group commit failed: forget its admissions.
    pub fn rollback(&mut self) {
        for tenant in self.dirty.drain(..) {
            if let Some(usage) = self.tenants.get_mut(&tenant) {
                usage.rollback();
            }
        }
    }

    /// The head block was cut: bytes per trace start again from zero, traces that are no
    /// longer live are forgotten.
    pub fn on_cut(&mut self, now: Instant) {
        let epoch = self.epoch(now);
        self.tenants.retain(|_, usage| {
            usage.advance(epoch);
            let live_from = usage.epoch.saturating_sub(1);
            usage.traces.retain(|_, t| t.epoch >= live_from);
            for t in usage.traces.values_mut() {
                t.bytes = 0;
            }
            !usage.traces.is_empty()
        });
    }

    /// Live traces of `tenant` as of `now` (for tests and gauges).
    pub fn live_traces(&mut self, tenant: &str, now: Instant) -> usize {
        let epoch = self.epoch(now);
        self.tenants.get_mut(tenant).map_or(0, |usage| {
            usage.advance(epoch);
            usage.live()
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    const IDLE: Duration = Duration::from_secs(10);

    fn frag(id: u8, bytes: usize, spans: u32) -> TraceFragment {
        TraceFragment {
            trace_id: [id; 16],
            span_count: spans,
            start_unix_nano: 1,
            end_unix_nano: 2,
            otlp: Bytes::from(vec![0u8; bytes]),
        }
    }

    fn ids(fragments: &[TraceFragment]) -> Vec<u8> {
        fragments.iter().map(|f| f.trace_id[0]).collect()
    }

    fn limits(live: usize, bytes: usize) -> TraceLimits {
        TraceLimits {
            max_live_traces: live,
            max_bytes_per_trace: bytes,
        }
    }

    #[test]
    fn new_traces_over_the_live_limit_are_refused_and_known_ones_still_grow() {
        let t0 = Instant::now();
        let mut limiter = TraceLimiter::new(IDLE, t0);
        let mut batch = vec![frag(1, 10, 1), frag(2, 10, 2), frag(3, 10, 3)];
        let refused = limiter.admit("a", &mut batch, limits(2, 0), t0);
        limiter.commit();
        assert_eq!(ids(&batch), vec![1, 2]);
        assert_eq!(refused.live_traces_exceeded, 3);
        // Known live traces keep growing; another tenant has its own budget.
        let mut more = vec![frag(2, 10, 1), frag(4, 10, 5)];
        let refused = limiter.admit("a", &mut more, limits(2, 0), t0);
        assert_eq!((ids(&more), refused.live_traces_exceeded), (vec![2], 5));
        let mut other = vec![frag(4, 10, 1)];
        assert_eq!(limiter.admit("b", &mut other, limits(2, 0), t0).total(), 0);
        limiter.commit();
        assert_eq!(limiter.live_traces("a", t0), 2);
    }

    #[test]
    fn idle_traces_stop_counting_after_one_to_two_idle_periods() {
        let t0 = Instant::now();
        let mut limiter = TraceLimiter::new(IDLE, t0);
        let mut batch = vec![frag(1, 10, 1), frag(2, 10, 1)];
        limiter.admit("a", &mut batch, limits(2, 0), t0);
        limiter.commit();
        // Still live one epoch later: no room.
        let mut late = vec![frag(3, 10, 1)];
        let refused = limiter.admit("a", &mut late, limits(2, 0), t0 + IDLE);
        assert_eq!(refused.live_traces_exceeded, 1);
        // Trace 1 keeps receiving spans; trace 2 goes idle.
        let mut keep = vec![frag(1, 10, 1)];
        limiter.admit("a", &mut keep, limits(2, 0), t0 + IDLE);
        limiter.commit();
        let later = t0 + IDLE * 2;
        assert_eq!(limiter.live_traces("a", later), 1);
        let mut new = vec![frag(3, 10, 1)];
        assert_eq!(limiter.admit("a", &mut new, limits(2, 0), later).total(), 0);
        limiter.commit();
        // Idle trace 2 coming back needs room like a new trace.
        let mut back = vec![frag(2, 10, 4)];
        let refused = limiter.admit("a", &mut back, limits(2, 0), later);
        assert_eq!((back.len(), refused.live_traces_exceeded), (0, 4));
    }

    #[test]
    fn a_trace_may_not_grow_past_max_bytes_until_the_cut() {
        let t0 = Instant::now();
        let mut limiter = TraceLimiter::new(IDLE, t0);
        let mut batch = vec![frag(1, 60, 1), frag(2, 101, 7)];
        let refused = limiter.admit("a", &mut batch, limits(0, 100), t0);
        assert_eq!((ids(&batch), refused.trace_too_large), (vec![1], 7));
        limiter.commit();
        let mut second = vec![frag(1, 40, 2)];
        assert_eq!(
            limiter.admit("a", &mut second, limits(0, 100), t0).total(),
            0
        );
        limiter.commit();
        let mut third = vec![frag(1, 1, 3)];
        let refused = limiter.admit("a", &mut third, limits(0, 100), t0);
        assert_eq!((third.len(), refused.trace_too_large), (0, 3));
        limiter.on_cut(t0);
        let mut after_cut = vec![frag(1, 100, 1)];
        assert_eq!(
            limiter
                .admit("a", &mut after_cut, limits(0, 100), t0)
                .total(),
            0
        );
    }

    #[test]
    fn rollback_forgets_a_failed_group_commit() {
        let t0 = Instant::now();
        let mut limiter = TraceLimiter::new(IDLE, t0);
        let mut first = vec![frag(1, 50, 1)];
        limiter.admit("a", &mut first, limits(2, 100), t0);
        limiter.commit();
        let t1 = t0 + IDLE;
        let mut failed = vec![frag(1, 50, 1), frag(2, 10, 1), frag(1, 0, 1)];
        assert_eq!(
            limiter.admit("a", &mut failed, limits(2, 100), t1).total(),
            0
        );
        limiter.rollback();
        // Trace 1 has 50 bytes again and trace 2 is unknown: both fit once more.
        let mut retry = vec![frag(1, 50, 1), frag(2, 10, 1)];
        assert_eq!(
            limiter.admit("a", &mut retry, limits(2, 100), t1).total(),
            0
        );
        limiter.commit();
        assert_eq!(limiter.live_traces("a", t1), 2);
        let mut full = vec![frag(1, 1, 1), frag(3, 1, 1)];
        let refused = limiter.admit("a", &mut full, limits(2, 100), t1);
        assert_eq!(
            (refused.trace_too_large, refused.live_traces_exceeded),
            (1, 1)
        );
    }

    #[test]
    fn limits_off_admit_everything_without_tracking() {
        let t0 = Instant::now();
        let mut limiter = TraceLimiter::new(IDLE, t0);
        let mut batch = vec![frag(1, 1 << 20, 1), frag(2, 1, 1)];
        assert_eq!(
            limiter.admit("a", &mut batch, TraceLimits::OFF, t0).total(),
            0
        );
        assert_eq!(batch.len(), 2);
        assert_eq!(limiter.live_traces("a", t0), 0);
    }
}
