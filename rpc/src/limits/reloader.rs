//! The periodic task of the limits: re-reads the per-tenant overrides file every
//! `per_tenant_override_period` and forgets the rate-limit buckets of idle tenants.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::rate::IngestionRateLimiter;
use super::tenant_overrides::TenantOverrides;

/// Runs until `stop` turns true.
pub async fn run_reloader(
    overrides: Arc<TenantOverrides>,
    rate: Arc<IngestionRateLimiter>,
    mut stop: watch::Receiver<bool>,
) {
    let period = overrides.period();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Errors are logged and counted by `reload`; the last good overrides stay.
        let _ = overrides.reload().await;
        rate.forget_idle(Instant::now());
    }
}
