//! The limits in force: `overrides.defaults` plus the last good per-tenant file, and the lookup
//! exact tenant → `"*"` → defaults (TEMPO-SPEC §6.9).
//!
//! A reload that fails (unreadable file, bad YAML, bad tenant ID) keeps the last good
//! overrides, logs an error and is counted; the file is read again on the next period.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;

use super::LimitsError;
use super::metrics::LimitsMetrics;
use super::overrides_file::{ParsedOverrides, WILDCARD_TENANT, parse_overrides_file};
use super::tenant_limits::{LimitsSource, TenantLimits};
use crate::config::overrides::{LimitsSpec, OverridesConfig};

/// The per-tenant file as last loaded successfully.
#[derive(Debug, Default)]
struct Loaded {
    parsed: ParsedOverrides,
    tenants: BTreeMap<String, TenantLimits>,
}

/// Limits per tenant, shared by the write path, the query path and `/status/overrides`.
pub struct TenantOverrides {
    defaults: TenantLimits,
    file: Option<PathBuf>,
    period: Duration,
    loaded: RwLock<Arc<Loaded>>,
    metrics: LimitsMetrics,
}

/// `/status/overrides`: the defaults and every entry of the per-tenant file, resolved.
#[derive(Debug, Serialize)]
pub struct OverridesStatus {
    pub defaults: LimitsSpec,
    pub per_tenant_override_config: String,
    pub overrides: BTreeMap<String, LimitsSpec>,
}

/// `/status/overrides/{tenant}`: the limits one tenant gets and where they come from.
#[derive(Debug, Serialize)]
pub struct TenantStatus {
    pub tenant: String,
    pub source: LimitsSource,
    pub limits: LimitsSpec,
}

impl TenantOverrides {
    /// The defaults from `config`, and the per-tenant file loaded once (an error here stops
    /// start-up, as a bad file must not silently run with the defaults).
    pub fn load(
        config: &OverridesConfig,
        metrics: LimitsMetrics,
    ) -> Result<Arc<TenantOverrides>, LimitsError> {
        let file = (!config.per_tenant_override_config.is_empty())
            .then(|| PathBuf::from(&config.per_tenant_override_config));
        let overrides = TenantOverrides {
            defaults: TenantLimits::from_defaults_block(&config.defaults_block()),
            file,
            period: config.per_tenant_override_period.0,
            loaded: RwLock::new(Arc::new(Loaded::default())),
            metrics,
        };
        overrides.metrics.set_defaults(&overrides.defaults);
        overrides.metrics.last_reload_successful.set(1);
        if let Some(path) = &overrides.file {
            let text = std::fs::read_to_string(path).map_err(|source| LimitsError::Read {
                path: path.display().to_string(),
                source,
            })?;
            overrides.apply_text(&text)?;
        }
        Ok(Arc::new(overrides))
    }

    /// How often the per-tenant file is read.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The limits of `tenant`.
    pub fn limits_for(&self, tenant: &str) -> TenantLimits {
        self.resolve(tenant).0
    }

    /// The limits of `tenant` and where they come from.
    pub fn resolve(&self, tenant: &str) -> (TenantLimits, LimitsSource) {
        let loaded = self.current();
        if let Some(limits) = loaded.tenants.get(tenant) {
            (*limits, LimitsSource::Tenant)
        } else if let Some(limits) = loaded.tenants.get(WILDCARD_TENANT) {
            (*limits, LimitsSource::Wildcard)
        } else {
            (self.defaults, LimitsSource::Defaults)
        }
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the per-tenant file again (no-op without one). On failure the last good
    /// overrides stay, the error is logged and counted, and returned.
    pub async fn reload(&self) -> Result<(), LimitsError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let result = match tokio::fs::read_to_string(path).await {
            Ok(text) => self.apply_text(&text),
            Err(source) => Err(LimitsError::Read {
                path: path.display().to_string(),
                source,
            }),
        };
        match &result {
            Ok(()) => {
                self.metrics.last_reload_successful.set(1);
            }
            Err(error) => {
                self.metrics.last_reload_successful.set(0);
                self.metrics.reload_failures.inc();
                tracing::error!(%error, "per-tenant overrides not reloaded; keeping the last good ones");
            }
        }
        result
    }

    /// Parses `text` as the per-tenant file and, when valid, makes it the overrides in force.
    fn apply_text(&self, text: &str) -> Result<(), LimitsError> {
        let path = self
            .file
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string());
        let parsed = parse_overrides_file(&path, text)?;
        if parsed == self.current().parsed {
            return Ok(());
        }
        if !parsed.unknown_keys.is_empty() {
            tracing::warn!(
                path = %path,
                keys = %parsed.unknown_keys.join(", "),
                "per-tenant overrides file has keys tracecore does not implement; they are ignored"
            );
        }
        let strategy = self.defaults.rate_strategy;
        let tenants: BTreeMap<String, TenantLimits> = parsed
            .tenants
            .iter()
            .map(|(tenant, spec)| {
                (
                    tenant.clone(),
                    TenantLimits::from_tenant_entry(spec, strategy),
                )
            })
            .collect();
        self.metrics.set_overrides(tenants.iter());
        tracing::info!(path = %path, tenants = tenants.len(), "per-tenant overrides loaded");
        *self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(Loaded { parsed, tenants });
        Ok(())
    }

    /// The defaults and every per-tenant entry, resolved.
    pub fn status(&self) -> OverridesStatus {
        let loaded = self.current();
        OverridesStatus {
            defaults: self.defaults.to_block(),
            per_tenant_override_config: self
                .file
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
            overrides: loaded
                .tenants
                .iter()
                .map(|(tenant, limits)| (tenant.clone(), limits.to_block()))
                .collect(),
        }
    }

    /// The limits `tenant` gets.
    pub fn tenant_status(&self, tenant: &str) -> TenantStatus {
        let (limits, source) = self.resolve(tenant);
        TenantStatus {
            tenant: tenant.to_string(),
            source,
            limits: limits.to_block(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::HumanDuration;

    fn config(file: &std::path::Path) -> OverridesConfig {
        OverridesConfig {
            defaults: yaml_serde::from_str("ingestion:\n  rate_limit_bytes: 1000\n").unwrap(),
            per_tenant_override_config: file.display().to_string(),
            per_tenant_override_period: HumanDuration(Duration::from_secs(10)),
            ..OverridesConfig::default()
        }
    }

    #[tokio::test]
    async fn lookup_is_tenant_then_wildcard_then_defaults_and_reload_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("overrides.yaml");
        std::fs::write(
            &file,
            "overrides:\n  a:\n    ingestion:\n      rate_limit_bytes: 5\n",
        )
        .unwrap();
        let metrics = LimitsMetrics::default();
        let o = TenantOverrides::load(&config(&file), metrics.clone()).unwrap();
        assert_eq!(o.resolve("a").1, LimitsSource::Tenant);
        assert_eq!(o.limits_for("a").rate_limit_bytes, 5);
        // No inheritance: what the entry omits is zero, not the defaults' value.
        assert_eq!(o.limits_for("a").max_traces_per_user, 0);
        assert_eq!(o.resolve("b"), (o.defaults, LimitsSource::Defaults));
        assert_eq!(o.limits_for("b").rate_limit_bytes, 1000);

        std::fs::write(
            &file,
            "overrides:\n  \"*\":\n    ingestion:\n      rate_limit_bytes: 7\n",
        )
        .unwrap();
        o.reload().await.unwrap();
        assert_eq!(o.resolve("a").1, LimitsSource::Wildcard);
        assert_eq!(o.limits_for("b").rate_limit_bytes, 7);
        let status = o.status();
        assert_eq!(status.overrides["*"].ingestion.rate_limit_bytes, Some(7));
        assert_eq!(status.defaults.ingestion.rate_limit_bytes, Some(1000));
        assert_eq!(metrics.last_reload_successful.get(), 1);
    }

    #[tokio::test]
    async fn a_bad_reload_keeps_the_last_good_overrides_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("overrides.yaml");
        std::fs::write(
            &file,
            "overrides:\n  a:\n    global:\n      max_bytes_per_trace: 9\n",
        )
        .unwrap();
        let metrics = LimitsMetrics::default();
        let o = TenantOverrides::load(&config(&file), metrics.clone()).unwrap();
        std::fs::write(&file, "overrides:\n  a:\n    global: [").unwrap();
        assert!(o.reload().await.is_err());
        assert_eq!(o.limits_for("a").max_bytes_per_trace, 9);
        std::fs::remove_file(&file).unwrap();
        assert!(o.reload().await.is_err());
        assert_eq!(o.limits_for("a").max_bytes_per_trace, 9);
        assert_eq!(metrics.reload_failures.get(), 2);
        assert_eq!(metrics.last_reload_successful.get(), 0);
        std::fs::write(
            &file,
            "overrides:\n  a:\n    global:\n      max_bytes_per_trace: 3\n",
        )
        .unwrap();
        o.reload().await.unwrap();
        assert_eq!(o.limits_for("a").max_bytes_per_trace, 3);
        assert_eq!(metrics.last_reload_successful.get(), 1);
    }

    #[test]
    fn a_bad_file_at_start_up_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.yaml");
        let error = TenantOverrides::load(&config(&missing), LimitsMetrics::default())
            .err()
            .unwrap();
        assert!(error.to_string().contains("absent.yaml"), "{error}");
    }

    #[test]
    fn without_a_file_every_tenant_gets_the_defaults() {
        let o =
            TenantOverrides::load(&OverridesConfig::default(), LimitsMetrics::default()).unwrap();
        assert_eq!(o.limits_for("x"), TenantLimits::default());
    }
}
