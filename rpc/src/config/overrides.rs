//! `overrides:` — Tempo's per-tenant limits (TEMPO-SPEC §6.9), in the scoped format.
//!
//! Every limit is optional here because absence means different things in the two places the
//! same block is written: under `overrides.defaults` an absent key takes Tempo's default, in a
//! tenant's entry of the per-tenant file it is zero (no inheritance from the defaults). The
//! resolution lives in [`crate::limits`].
//!
//! Tempo 2.x's flat ("legacy") names are accepted too, as Tempo 2.10 does: directly under
//! `overrides:` for the defaults and inside a tenant's entry (`ingestion_rate_limit_bytes`,
//! `ingestion_burst_size_bytes`, `ingestion_rate_strategy`, `max_traces_per_user`,
//! `ingestion_max_attribute_bytes`, `max_bytes_per_trace`, `max_bytes_per_tag_values_query`,
//! `max_search_duration`). Where a
//! block has both names for one limit, the scoped one wins.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::schema::HumanDuration;

/// `overrides:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct OverridesConfig {
    /// Limits of every tenant without an entry in the per-tenant file.
    pub defaults: LimitsSpec,
    /// A YAML file `overrides: {<tenant>: {...}, "*": {...}}`, re-read every
    /// `per_tenant_override_period`; empty = none.
    pub per_tenant_override_config: String,
    pub per_tenant_override_period: HumanDuration,
    /// Legacy flat defaults (Tempo 2.x), folded into `defaults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_rate_strategy: Option<RateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_rate_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_burst_size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_traces_per_user: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_max_attribute_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_trace: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_tag_values_query: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_search_duration: Option<HumanDuration>,
}

impl Default for OverridesConfig {
    fn default() -> Self {
        OverridesConfig {
            defaults: LimitsSpec::default(),
            per_tenant_override_config: String::new(),
            per_tenant_override_period: HumanDuration(Duration::from_secs(10)),
            ingestion_rate_strategy: None,
            ingestion_rate_limit_bytes: None,
            ingestion_burst_size_bytes: None,
            max_traces_per_user: None,
            ingestion_max_attribute_bytes: None,
            max_bytes_per_trace: None,
            max_bytes_per_tag_values_query: None,
            max_search_duration: None,
        }
    }
}

impl OverridesConfig {
    /// The defaults block in the scoped format, legacy flat keys folded in.
    pub fn defaults_block(&self) -> LimitsSpec {
        let legacy = LimitsSpec {
            ingestion_rate_strategy: self.ingestion_rate_strategy,
            ingestion_rate_limit_bytes: self.ingestion_rate_limit_bytes,
            ingestion_burst_size_bytes: self.ingestion_burst_size_bytes,
            max_traces_per_user: self.max_traces_per_user,
            ingestion_max_attribute_bytes: self.ingestion_max_attribute_bytes,
            max_bytes_per_trace: self.max_bytes_per_trace,
            max_bytes_per_tag_values_query: self.max_bytes_per_tag_values_query,
            max_search_duration: self.max_search_duration,
            ..self.defaults.clone()
        };
        legacy.scoped()
    }
}

/// One overrides block in the scoped format (`ingestion`, `read`, `global`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct LimitsSpec {
    pub ingestion: IngestionSpec,
    pub read: ReadSpec,
    pub global: GlobalSpec,
    /// Legacy flat names (Tempo 2.x), folded into the scoped ones by [`LimitsSpec::scoped`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_rate_strategy: Option<RateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_rate_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_burst_size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_traces_per_user: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_max_attribute_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_trace: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_tag_values_query: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_search_duration: Option<HumanDuration>,
}

impl LimitsSpec {
    /// The block with its legacy flat keys folded into the scoped ones (scoped wins).
    pub fn scoped(&self) -> LimitsSpec {
        let i = &self.ingestion;
        LimitsSpec {
            ingestion: IngestionSpec {
                rate_strategy: i.rate_strategy.or(self.ingestion_rate_strategy),
                rate_limit_bytes: i.rate_limit_bytes.or(self.ingestion_rate_limit_bytes),
                burst_size_bytes: i.burst_size_bytes.or(self.ingestion_burst_size_bytes),
                max_traces_per_user: i.max_traces_per_user.or(self.max_traces_per_user),
                max_attribute_bytes: i.max_attribute_bytes.or(self.ingestion_max_attribute_bytes),
            },
            read: ReadSpec {
                max_bytes_per_tag_values_query: self
                    .read
                    .max_bytes_per_tag_values_query
                    .or(self.max_bytes_per_tag_values_query),
                max_search_duration: self.read.max_search_duration.or(self.max_search_duration),
            },
            global: GlobalSpec {
                max_bytes_per_trace: self.global.max_bytes_per_trace.or(self.max_bytes_per_trace),
            },
            ..LimitsSpec::default()
        }
    }
}

/// `ingestion:` of an overrides block.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngestionSpec {
    /// Read from `overrides.defaults` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_strategy: Option<RateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_traces_per_user: Option<u64>,
    /// Longest attribute key or string value; longer ones are truncated. 0 (or absent) = the
    /// distributor's `max_attribute_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attribute_bytes: Option<u64>,
}

/// `read:` of an overrides block.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ReadSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_tag_values_query: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_search_duration: Option<HumanDuration>,
}

/// `global:` of an overrides block.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct GlobalSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_trace: Option<u64>,
}

/// `ingestion.rate_strategy`: `local` applies the whole limit in this process; `global` divides
/// it by the number of healthy distributors, which for one tracecore process is the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateStrategy {
    #[default]
    Local,
    Global,
}
