//! The transport-independent write path of the facade: skim, split per shard, push, await the
//! durable acknowledgement of every shard, and account for what was accepted or refused.

use std::sync::Arc;

use bytes::Bytes;
use tracecore_engine::routing::shard_for;
use tracecore_engine::{EngineError, ErrorKind, ShardHandle, TenantId};

use crate::otlp::skim::{SkimError, SkimLimits, skim_export_request};
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
}

impl IngestError {
    /// The engine's error kind, or `InvalidArgument` for malformed requests.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IngestError::Malformed(e) if e.is_client_error() => ErrorKind::InvalidArgument,
            IngestError::Malformed(_) => ErrorKind::Internal,
            IngestError::Engine(e) => e.kind(),
            IngestError::NotReady => ErrorKind::Unavailable,
        }
    }
}

/// The write path shared by every receiver.
pub struct Ingester {
    shards: Vec<ShardHandle>,
    metrics: RpcMetrics,
    limits: SkimLimits,
}

impl Ingester {
    pub fn new(shards: Vec<ShardHandle>, metrics: RpcMetrics) -> Arc<Ingester> {
        Arc::new(Ingester {
            shards,
            metrics,
            limits: SkimLimits::default(),
        })
    }

    /// Ingests one encoded `ExportTraceServiceRequest` for `tenant`. Returns after every
    /// accepted span is durable; spans a shard refused are counted in the outcome. When every
    /// shard refused, the first refusal is returned as the error so the client retries.
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
        let mut pending = Vec::new();
        let mut refused: Vec<(u64, EngineError)> = Vec::new();
        for (shard, fragments) in skimmed.per_shard.into_iter().enumerate() {
            if fragments.is_empty() {
                continue;
            }
            let spans: u64 = fragments.iter().map(|f| u64::from(f.span_count)).sum();
            let bytes: u64 = fragments.iter().map(|f| f.otlp.len() as u64).sum();
            match self.shards[shard].push(tenant.clone(), fragments) {
                Ok(rx) => pending.push((spans, bytes, rx)),
                Err(error) => refused.push((spans, error)),
            }
        }
        let mut outcome = PushOutcome::default();
        let mut accepted_bytes = 0;
        for (spans, bytes, rx) in pending {
            match rx.await {
                Ok(Ok(())) => {
                    outcome.accepted_spans += spans;
                    accepted_bytes += bytes;
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
        for (spans, error) in &refused {
            let reason = match error.kind() {
                ErrorKind::Overloaded => "rate_limited",
                _ => "unknown_error",
            };
            self.metrics.discard(reason, tenant.as_str(), *spans);
            outcome.rejected_spans += spans;
        }
        if let Some((_, first)) = refused.into_iter().next() {
            if outcome.accepted_spans == 0 {
                return Err(first.into());
            }
            outcome.message = Some(first.to_string());
        }
        Ok(outcome)
    }
}
