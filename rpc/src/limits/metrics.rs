//! Metrics of the limits: Tempo's `tempo_limits_defaults{limit_name}`,
//! `tempo_limits_overrides{limit_name,user}` and `tempo_runtime_config_last_reload_successful`
//! (TEMPO-SPEC §8.7), plus our count of failed reloads of the per-tenant file.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::tenant_limits::TenantLimits;

/// `{limit_name}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitNameLabels {
    pub limit_name: String,
}

/// `{limit_name, user}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitUserLabels {
    pub limit_name: String,
    pub user: String,
}

/// The limits' metrics.
#[derive(Clone, Default)]
pub struct LimitsMetrics {
    pub defaults: Family<LimitNameLabels, Gauge>,
    pub overrides: Family<LimitUserLabels, Gauge>,
    pub last_reload_successful: Gauge,
    pub reload_failures: Counter,
}

impl LimitsMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> LimitsMetrics {
        let m = LimitsMetrics::default();
        registry.register(
            "tempo_limits_defaults",
            "Default per-tenant limits",
            m.defaults.clone(),
        );
        registry.register(
            "tempo_limits_overrides",
            "Per-tenant limits from the per-tenant overrides file",
            m.overrides.clone(),
        );
        registry.register(
            "tempo_runtime_config_last_reload_successful",
            "1 when the last load of the per-tenant overrides file succeeded",
            m.last_reload_successful.clone(),
        );
        registry.register(
            "tracecore_overrides_reload_failures",
            "Loads of the per-tenant overrides file that failed (the last good one stays)",
            m.reload_failures.clone(),
        );
        m
    }

    /// Publishes the defaults.
    pub fn set_defaults(&self, limits: &TenantLimits) {
        for (name, value) in limits.gauges() {
            self.defaults
                .get_or_create(&LimitNameLabels {
                    limit_name: name.to_string(),
                })
                .set(gauge_value(value));
        }
    }

    /// Replaces the per-tenant series with `tenants` (a tenant dropped from the file disappears).
    pub fn set_overrides<'a>(&self, tenants: impl Iterator<Item = (&'a String, &'a TenantLimits)>) {
        self.overrides.clear();
        for (tenant, limits) in tenants {
            for (name, value) in limits.gauges() {
                self.overrides
                    .get_or_create(&LimitUserLabels {
                        limit_name: name.to_string(),
                        user: tenant.clone(),
                    })
                    .set(gauge_value(value));
            }
        }
    }
}

fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
