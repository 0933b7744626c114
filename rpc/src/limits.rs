//! Per-tenant limits (TEMPO-SPEC §6.2, §6.9): Tempo's `overrides` — defaults plus a per-tenant
//! file reloaded at run time — and their enforcement on the write path.
//!
//! Enforced before the WAL, in [`crate::ingest::Ingester::push`]: the ingestion rate limit
//! ([`rate`], a token bucket of request bytes per tenant; over it the whole request is refused
//! with 429 / `RESOURCE_EXHAUSTED` and a retry hint) and, in the shards, the per-trace limits
//! `max_traces_per_user` and `max_bytes_per_trace` (refused spans are reported in OTLP
//! `partial_success`, never acknowledged and dropped). Attribute keys and string values over
//! `max_attribute_bytes` (the tenant's, else `distributor.max_attribute_bytes`) are truncated
//! there too, and counted in `tempo_distributor_attributes_truncated_total{tenant,scope}`.
//! Every refusal is counted in `tempo_discarded_spans_total{reason,tenant}`. The read limits
//! (`max_search_duration`, `max_bytes_per_tag_values_query`) are resolved here for the query
//! path.

pub mod metrics;
pub mod overrides_file;
pub mod rate;
pub mod reloader;
pub mod tenant_limits;
pub mod tenant_overrides;

pub use metrics::LimitsMetrics;
pub use rate::{IngestionRateLimiter, RateLimited};
pub use tenant_limits::{LimitsSource, TenantLimits};
pub use tenant_overrides::TenantOverrides;

/// Errors loading the per-tenant overrides file.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("cannot read per-tenant overrides file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("per-tenant overrides file {path}: {message}")]
    Parse { path: String, message: String },
}
