//! One tenant's resolved limits, and how an overrides block becomes them.
//!
//! Under `overrides.defaults` an absent key takes Tempo's default; in an entry of the per-tenant
//! file it is zero, because a tenant entry is a complete, standalone overrides block that does
//! not inherit from the defaults (TEMPO-SPEC §6.9). Zero means "no limit" for every limit here
//! (`max_search_duration: 0` = the query frontend's default); `burst_size_bytes: 0` with a
//! rate means a burst of one second at that rate.

use std::time::Duration;

use serde::Serialize;
use tracecore_engine::TraceLimits;

use crate::config::overrides::{GlobalSpec, IngestionSpec, LimitsSpec, RateStrategy, ReadSpec};
use crate::config::schema::HumanDuration;

/// Tempo's default `ingestion.rate_limit_bytes` (bytes per second).
pub const DEFAULT_RATE_LIMIT_BYTES: u64 = 30_000_000;
/// Tempo's default `ingestion.burst_size_bytes`.
pub const DEFAULT_BURST_SIZE_BYTES: u64 = 30_000_000;
/// Tempo's default `ingestion.max_traces_per_user` (live traces).
pub const DEFAULT_MAX_TRACES_PER_USER: u64 = 10_000;
/// Tempo's default `global.max_bytes_per_trace`.
pub const DEFAULT_MAX_BYTES_PER_TRACE: u64 = 5_000_000;
/// Tempo's default `read.max_bytes_per_tag_values_query`.
pub const DEFAULT_MAX_BYTES_PER_TAG_VALUES_QUERY: u64 = 1_000_000;

/// The limits that apply to one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantLimits {
    /// Only ever taken from `overrides.defaults`.
    pub rate_strategy: RateStrategy,
    /// Bytes per second of OTLP requests; 0 = unlimited.
    pub rate_limit_bytes: u64,
    /// Bucket size of the rate limiter; 0 = one second at `rate_limit_bytes`.
    pub burst_size_bytes: u64,
    /// Live traces; 0 = unlimited.
    pub max_traces_per_user: u64,
    /// Longest attribute key or string value before truncation; 0 = the distributor's
    /// `max_attribute_bytes` (see [`TenantLimits::attribute_bytes_limit`]).
    pub max_attribute_bytes: u64,
    /// OTLP bytes of one trace per block window; 0 = unlimited.
    pub max_bytes_per_trace: u64,
    /// Bytes of tag values one query may return; 0 = unlimited.
    pub max_bytes_per_tag_values_query: u64,
    /// Longest search time range; zero = the query frontend's default.
    pub max_search_duration: Duration,
}

impl Default for TenantLimits {
    /// Tempo's defaults.
    fn default() -> Self {
        TenantLimits::from_defaults_block(&LimitsSpec::default())
    }
}

impl TenantLimits {
    /// `overrides.defaults`: absent keys take Tempo's defaults.
    pub fn from_defaults_block(spec: &LimitsSpec) -> TenantLimits {
        let spec = &spec.scoped();
        let i = &spec.ingestion;
        TenantLimits {
            rate_strategy: i.rate_strategy.unwrap_or_default(),
            rate_limit_bytes: i.rate_limit_bytes.unwrap_or(DEFAULT_RATE_LIMIT_BYTES),
            burst_size_bytes: i.burst_size_bytes.unwrap_or(DEFAULT_BURST_SIZE_BYTES),
            max_traces_per_user: i.max_traces_per_user.unwrap_or(DEFAULT_MAX_TRACES_PER_USER),
            // Tempo's overrides default is 0: the distributor-level value applies.
            max_attribute_bytes: i.max_attribute_bytes.unwrap_or(0),
            max_bytes_per_trace: spec
                .global
                .max_bytes_per_trace
                .unwrap_or(DEFAULT_MAX_BYTES_PER_TRACE),
            max_bytes_per_tag_values_query: spec
                .read
                .max_bytes_per_tag_values_query
                .unwrap_or(DEFAULT_MAX_BYTES_PER_TAG_VALUES_QUERY),
            max_search_duration: spec
                .read
                .max_search_duration
                .map_or(Duration::ZERO, |d| d.0),
        }
    }

    /// An entry of the per-tenant file: absent keys are zero, never the defaults'; the rate
    /// strategy is always the defaults' (`rate_strategy`).
    pub fn from_tenant_entry(spec: &LimitsSpec, rate_strategy: RateStrategy) -> TenantLimits {
        let spec = &spec.scoped();
        let i = &spec.ingestion;
        TenantLimits {
            rate_strategy,
            rate_limit_bytes: i.rate_limit_bytes.unwrap_or(0),
            burst_size_bytes: i.burst_size_bytes.unwrap_or(0),
            max_traces_per_user: i.max_traces_per_user.unwrap_or(0),
            max_attribute_bytes: i.max_attribute_bytes.unwrap_or(0),
            max_bytes_per_trace: spec.global.max_bytes_per_trace.unwrap_or(0),
            max_bytes_per_tag_values_query: spec.read.max_bytes_per_tag_values_query.unwrap_or(0),
            max_search_duration: spec
                .read
                .max_search_duration
                .map_or(Duration::ZERO, |d| d.0),
        }
    }

    /// The attribute truncation limit in force: the tenant's `max_attribute_bytes` when set,
    /// else `distributor_default` (`distributor.max_attribute_bytes`); 0 = no truncation.
    pub fn attribute_bytes_limit(&self, distributor_default: u64) -> usize {
        let limit = if self.max_attribute_bytes > 0 {
            self.max_attribute_bytes
        } else {
            distributor_default
        };
        usize::try_from(limit).unwrap_or(usize::MAX)
    }

    /// The burst actually used by the rate limiter.
    pub fn effective_burst_bytes(&self) -> u64 {
        if self.burst_size_bytes == 0 {
            self.rate_limit_bytes
        } else {
            self.burst_size_bytes
        }
    }

    /// What each of `shards` shards enforces: live traces are split evenly (rounded up; a
    /// tenant's traces spread uniformly over the shards), bytes per trace apply whole (a trace
    /// lives on one shard).
    pub fn trace_limits(&self, shards: usize) -> TraceLimits {
        let shards = shards.max(1) as u64;
        TraceLimits {
            max_live_traces: usize::try_from(self.max_traces_per_user.div_ceil(shards))
                .unwrap_or(usize::MAX),
            max_bytes_per_trace: usize::try_from(self.max_bytes_per_trace).unwrap_or(usize::MAX),
        }
    }

    /// The limits as a complete scoped overrides block (every key present).
    pub fn to_block(&self) -> LimitsSpec {
        LimitsSpec {
            ingestion: IngestionSpec {
                rate_strategy: Some(self.rate_strategy),
                rate_limit_bytes: Some(self.rate_limit_bytes),
                burst_size_bytes: Some(self.burst_size_bytes),
                max_traces_per_user: Some(self.max_traces_per_user),
                max_attribute_bytes: Some(self.max_attribute_bytes),
            },
            read: ReadSpec {
                max_bytes_per_tag_values_query: Some(self.max_bytes_per_tag_values_query),
                max_search_duration: Some(HumanDuration(self.max_search_duration)),
            },
            global: GlobalSpec {
                max_bytes_per_trace: Some(self.max_bytes_per_trace),
            },
            ..LimitsSpec::default()
        }
    }

    /// `(limit_name, value)` as exported in `tempo_limits_defaults` / `tempo_limits_overrides`.
    pub fn gauges(&self) -> [(&'static str, u64); 6] {
        [
            ("max_local_traces_per_user", self.max_traces_per_user),
            ("max_global_traces_per_user", 0),
            ("ingestion_rate_limit_bytes", self.rate_limit_bytes),
            ("ingestion_burst_size_bytes", self.burst_size_bytes),
            ("max_bytes_per_trace", self.max_bytes_per_trace),
            (
                "max_bytes_per_tag_values_query",
                self.max_bytes_per_tag_values_query,
            ),
        ]
    }
}

/// Where a tenant's limits came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitsSource {
    /// The tenant's own entry in the per-tenant file.
    Tenant,
    /// The `"*"` entry of the per-tenant file.
    Wildcard,
    /// `overrides.defaults`.
    Defaults,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> LimitsSpec {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn absent_default_keys_take_tempo_defaults() {
        let d = TenantLimits::from_defaults_block(&spec("ingestion:\n  rate_limit_bytes: 1000\n"));
        assert_eq!(d.rate_limit_bytes, 1000);
        assert_eq!(d.burst_size_bytes, DEFAULT_BURST_SIZE_BYTES);
        assert_eq!(d.max_traces_per_user, 10_000);
        assert_eq!(d.max_bytes_per_trace, 5_000_000);
        assert_eq!(d.max_bytes_per_tag_values_query, 1_000_000);
        assert_eq!(d.max_search_duration, Duration::ZERO);
        assert_eq!(TenantLimits::default().rate_limit_bytes, 30_000_000);
    }

    #[test]
    fn a_tenant_entry_does_not_inherit_from_the_defaults() {
        let entry = spec("ingestion:\n  rate_limit_bytes: 500\nread:\n  max_search_duration: 1h\n");
        let t = TenantLimits::from_tenant_entry(&entry, RateStrategy::Global);
        assert_eq!(t.rate_limit_bytes, 500);
        assert_eq!(t.rate_strategy, RateStrategy::Global);
        assert_eq!(
            (
                t.burst_size_bytes,
                t.max_traces_per_user,
                t.max_bytes_per_trace
            ),
            (0, 0, 0)
        );
        assert_eq!(t.effective_burst_bytes(), 500);
        assert_eq!(t.max_search_duration, Duration::from_secs(3600));
    }

    #[test]
    fn legacy_flat_names_are_read_and_scoped_names_win() {
        let entry = spec(
            "ingestion_rate_limit_bytes: 10\ningestion_burst_size_bytes: 20\nmax_traces_per_user: 30\nmax_bytes_per_trace: 40\nmax_search_duration: 1m\ningestion:\n  max_traces_per_user: 31\n",
        );
        let t = TenantLimits::from_tenant_entry(&entry, RateStrategy::Local);
        assert_eq!(
            (
                t.rate_limit_bytes,
                t.burst_size_bytes,
                t.max_traces_per_user,
                t.max_bytes_per_trace
            ),
            (10, 20, 31, 40)
        );
        assert_eq!(t.max_search_duration, Duration::from_secs(60));
        let config: crate::config::OverridesConfig =
            yaml_serde::from_str("ingestion_rate_limit_bytes: 123\nmax_bytes_per_trace: 7\n")
                .unwrap();
        let d = TenantLimits::from_defaults_block(&config.defaults_block());
        assert_eq!((d.rate_limit_bytes, d.max_bytes_per_trace), (123, 7));
        assert_eq!(d.burst_size_bytes, DEFAULT_BURST_SIZE_BYTES);
    }

    #[test]
    fn live_traces_are_split_over_shards_and_bytes_per_trace_are_not() {
        let t = TenantLimits {
            max_traces_per_user: 10,
            max_bytes_per_trace: 99,
            ..TenantLimits::default()
        };
        assert_eq!(t.trace_limits(3).max_live_traces, 4);
        assert_eq!(t.trace_limits(1).max_live_traces, 10);
        assert_eq!(t.trace_limits(3).max_bytes_per_trace, 99);
        let off = TenantLimits {
            max_traces_per_user: 0,
            ..t
        };
        assert_eq!(off.trace_limits(4).max_live_traces, 0);
    }

    #[test]
    fn the_attribute_limit_falls_back_to_the_distributor() {
        let d = TenantLimits::from_defaults_block(&spec("ingestion:\n  rate_limit_bytes: 1\n"));
        assert_eq!(d.max_attribute_bytes, 0);
        assert_eq!(d.attribute_bytes_limit(2048), 2048);
        assert_eq!(d.attribute_bytes_limit(0), 0);
        let t = TenantLimits::from_tenant_entry(
            &spec("ingestion:\n  max_attribute_bytes: 64\n"),
            RateStrategy::Local,
        );
        assert_eq!(t.attribute_bytes_limit(2048), 64);
        let legacy = TenantLimits::from_tenant_entry(
            &spec("ingestion_max_attribute_bytes: 32\n"),
            RateStrategy::Local,
        );
        assert_eq!(legacy.max_attribute_bytes, 32);
    }

    #[test]
    fn the_block_round_trips() {
        let t = TenantLimits::default();
        let yaml = yaml_serde::to_string(&t.to_block()).unwrap();
        assert!(yaml.contains("rate_limit_bytes: 30000000"), "{yaml}");
        assert_eq!(
            TenantLimits::from_tenant_entry(&spec(&yaml), t.rate_strategy),
            t
        );
    }
}
