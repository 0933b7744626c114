//! The transport-independent write path of the facade: skim, split per shard, apply the
//! tenant's limits, push, await the durable acknowledgement of every shard, and account for
//! what was accepted or refused.
//!
//! Limits come before the WAL: the ingestion rate limit refuses a whole request (429) before
//! anything is sent to a shard; attribute keys and string values over `max_attribute_bytes` are
//! truncated (the request is rewritten and skimmed again, only when the skim saw one); the
//! per-trace limits are applied by each shard before its WAL write, and what they refuse is
//! reported as a partial success, never acknowledged.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tracecore_engine::routing::shard_for;
use tracecore_engine::{EngineError, ErrorKind, LimitRefusals, ShardHandle, TenantId};

use crate::limits::{IngestionRateLimiter, RateLimited, TenantLimits, TenantOverrides};
use crate::otlp::skim::{
    SkimError, SkimLimits, SkimmedRequest, skim_export_request, truncate_attributes,
};
use crate::telemetry::{RpcMetrics, TenantLabels};

/// What happened to a request's spans.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// Spans durable in the WAL.
    pub accepted_spans: u64,
    /// Spans refused (reported through OTLP `partial_success`).
    pub rejected_spans: u64,
    /// Why spans were refused, when some were.
    pub message: Option<String>,
}

/// Why a whole request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Malformed(#[from] SkimError),
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("tracecore is starting: the wal is being replayed")]
    NotReady,
    #[error("{0}")]
    RateLimited(#[from] RateLimited),
}

impl IngestError {
    /// The engine's error kind, or `InvalidArgument` for malformed requests.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IngestError::Malformed(e) if e.is_client_error() => ErrorKind::InvalidArgument,
            IngestError::Malformed(_) => ErrorKind::Internal,
            IngestError::Engine(e) => e.kind(),
            IngestError::NotReady => ErrorKind::Unavailable,
            IngestError::RateLimited(_) => ErrorKind::Overloaded,
        }
    }
}

/// The write path shared by every receiver.
pub struct Ingester {
    shards: Vec<ShardHandle>,
    metrics: RpcMetrics,
    limits: SkimLimits,
    overrides: Arc<TenantOverrides>,
    rate: Arc<IngestionRateLimiter>,
    /// `distributor.max_attribute_bytes`: the truncation limit of tenants without their own.
    max_attribute_bytes: u64,
}

impl Ingester {
    pub fn new(
        shards: Vec<ShardHandle>,
        metrics: RpcMetrics,
        overrides: Arc<TenantOverrides>,
        rate: Arc<IngestionRateLimiter>,
        max_attribute_bytes: u64,
    ) -> Arc<Ingester> {
        Arc::new(Ingester {
            shards,
            metrics,
            limits: SkimLimits::default(),
            overrides,
            rate,
            max_attribute_bytes,
        })
    }

    /// Ingests one encoded `ExportTraceServiceRequest` for `tenant`. Returns after every span
    /// is durable. A request over the tenant's ingestion rate, or that some shard cannot take,
    /// is refused as a whole with a retryable error (429/503); `PushOutcome::rejected_spans` is
    /// for permanent, per-span refusals (per-trace limits).
    pub async fn push(&self, tenant: &TenantId, body: &Bytes) -> Result<PushOutcome, IngestError> {
        let shards = self.shards.len();
        let skimmed = match skim_export_request(body, &self.limits, shards, |id| {
            shard_for(tenant.as_str(), id, shards)
        }) {
            Ok(s) => s,
            Err(error) => {
                let reason = match &error {
                    SkimError::InvalidTraceId { .. } => "invalid_trace_id",
                    SkimError::InvalidSpanId { .. } => "invalid_span_id",
                    _ => "malformed_request",
                };
                // The span count of a malformed request is unknown; count the request as one.
                self.metrics.discard(reason, tenant.as_str(), 1);
                return Err(error.into());
            }
        };
        let limits = self.overrides.limits_for(tenant.as_str());
        if let Err(refused) =
            self.rate
                .admit(tenant.as_str(), body.len() as u64, &limits, Instant::now())
        {
            self.metrics
                .discard("rate_limited", tenant.as_str(), skimmed.span_count);
            return Err(refused.into());
        }
        let skimmed = self.truncate_attributes(tenant, body, skimmed, &limits)?;
        let trace_limits = limits.trace_limits(shards);
        // Admission is all-or-nothing: reserve a mailbox slot on every shard the request
        // touches before sending anything, so a full queue or memory budget refuses the whole
        // request (429) and nothing of it is written.
        let mut permits = Vec::new();
        for (shard, fragments) in skimmed.per_shard.into_iter().enumerate() {
            if fragments.is_empty() {
                continue;
            }
            let bytes = fragments.iter().map(|f| f.otlp.len()).sum();
            match self.shards[shard].try_reserve(tenant, bytes) {
                Ok(permit) => permits.push((permit, fragments)),
                Err(error) => {
                    self.metrics.discard(
                        discard_reason(&error),
                        tenant.as_str(),
                        skimmed.span_count,
                    );
                    return Err(error.into());
                }
            }
        }
        let mut pending = Vec::with_capacity(permits.len());
        for (permit, fragments) in permits {
            let spans: u64 = fragments.iter().map(|f| u64::from(f.span_count)).sum();
            let bytes: u64 = fragments.iter().map(|f| f.otlp.len() as u64).sum();
            pending.push((
                spans,
                bytes,
                permit.push(tenant.clone(), fragments, trace_limits),
            ));
        }
        let mut outcome = PushOutcome::default();
        let mut accepted_bytes = 0;
        let mut limited = LimitRefusals::default();
        let mut refused: Vec<(u64, EngineError)> = Vec::new();
        for (spans, bytes, rx) in pending {
            match rx.await {
                Ok(Ok(refusals)) => {
                    outcome.accepted_spans += spans - refusals.total();
                    accepted_bytes += bytes - refusals.bytes;
                    limited.add(refusals);
                }
                Ok(Err(error)) => refused.push((spans, error)),
                Err(_) => refused.push((
                    spans,
                    EngineError::ShardUnavailable {
                        shard: usize::MAX,
                        reason: "shard stopped before answering".to_string(),
                    },
                )),
            }
        }
        let labels = TenantLabels {
            tenant: tenant.to_string(),
        };
        self.metrics
            .spans_received
            .get_or_create(&labels)
            .inc_by(outcome.accepted_spans);
        self.metrics
            .bytes_received
            .get_or_create(&labels)
            .inc_by(accepted_bytes);
        self.metrics.discard(
            "live_traces_exceeded",
            tenant.as_str(),
            limited.live_traces_exceeded,
        );
        self.metrics
            .discard("trace_too_large", tenant.as_str(), limited.trace_too_large);
        if let Some((_, first)) = refused.into_iter().next() {
            // Every refusal a shard can make after admission is transient (flushes behind, a
            // failed fsync). Refuse the whole request with a retryable status: the parts other
            // shards made durable come back on retry as exact duplicates, which reads
            // deduplicate by span ID — never an OK for a span we did not keep.
            let reason = discard_reason(&first);
            let refused_spans = skimmed.span_count - outcome.accepted_spans - limited.total();
            self.metrics.discard(reason, tenant.as_str(), refused_spans);
            return Err(first.into());
        }
        if limited.total() > 0 {
            outcome.rejected_spans = limited.total();
            outcome.message = Some(limit_message(&limited, &limits, tenant));
        }
        Ok(outcome)
    }
}

impl Ingester {
    // PERFORMANCE-CRITICAL: once per request. A request whose attributes are all within the
    // limit (the skim measured the longest) costs one comparison; only a request with an
    // over-long key or value is rewritten (one copy of the body) and skimmed again.
    /// Applies the tenant's `max_attribute_bytes` (Tempo's distributor rule, TEMPO-SPEC §6.2):
    /// truncates over-long attribute keys and string values and counts them in
    /// `tempo_distributor_attributes_truncated_total{tenant,scope}`.
    fn truncate_attributes(
        &self,
        tenant: &TenantId,
        body: &Bytes,
        skimmed: SkimmedRequest,
        limits: &TenantLimits,
    ) -> Result<SkimmedRequest, IngestError> {
        let max = limits.attribute_bytes_limit(self.max_attribute_bytes);
        if max == 0 || skimmed.longest_attribute <= max {
            return Ok(skimmed);
        }
        // The body passed the skim, so neither step can find it malformed; should one anyway,
        // the request is refused like any malformed one rather than stored untruncated.
        let (body, truncated) = truncate_attributes(body, max)?;
        let shards = self.shards.len();
        let skimmed = skim_export_request(&body, &self.limits, shards, |id| {
            shard_for(tenant.as_str(), id, shards)
        })?;
        self.metrics
            .attributes_truncated(tenant.as_str(), &truncated);
        Ok(skimmed)
    }
}

/// The `tempo_discarded_spans_total` reason of a request a shard refused.
fn discard_reason(error: &EngineError) -> &'static str {
    match error {
        EngineError::TenantHeadExceeded { .. } => "head_memory_exceeded",
        EngineError::MemoryBudgetExceeded { .. } => "memory_budget_exceeded",
        e if e.kind() == ErrorKind::Overloaded => "rate_limited",
        _ => "unknown_error",
    }
}

/// The `partial_success` message for spans refused by per-trace limits.
fn limit_message(refused: &LimitRefusals, limits: &TenantLimits, tenant: &TenantId) -> String {
    let mut parts = Vec::new();
    if refused.live_traces_exceeded > 0 {
        parts.push(format!(
            "LIVE_TRACES_EXCEEDED: {} spans of new traces refused: user {tenant} has reached max_traces_per_user ({} live traces)",
            refused.live_traces_exceeded, limits.max_traces_per_user
        ));
    }
    if refused.trace_too_large > 0 {
        parts.push(format!(
            "TRACE_TOO_LARGE: {} spans refused: their traces would exceed max_bytes_per_trace ({} bytes) for user {tenant}",
            refused.trace_too_large, limits.max_bytes_per_trace
        ));
    }
    parts.join("; ")
}
