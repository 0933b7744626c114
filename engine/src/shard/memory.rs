//! Memory budgets of one shard, so backpressure replaces unbounded buffering.
//!
//! Two bounds, both on OTLP bytes and both enforced before the WAL write:
//! - `max_memory_bytes`: the live head block plus the cuts not yet committed to the bucket.
//!   When uploads lag, cuts pile up; a push that would take the shard over the budget is
//!   refused (429, retryable). A shard holding nothing admits any push, so a single request
//!   larger than the budget cannot be refused forever.
//! - `max_head_bytes_per_tenant`: one tenant's share of the live head. A tenant at or over it
//!   (as of the start of the group commit) is refused on that shard until the head is cut; other
//!   tenants continue. A refusal rather than an early cut: an early cut would cut every tenant's
//!   traces, so a noisy tenant would drive the cut rate, fill `max_pending_cuts` and the memory
//!   budget, and make everyone's pushes fail — refusing only the tenant keeps the others whole.
//!
//! The pump is the only writer and decides authoritatively ([`MemoryAdmission`]). It publishes
//! its state to a [`MemoryGate`] shared with the shard's handles, so the facade can refuse a
//! request before reserving any mailbox slot — nothing of it is written on any shard.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::EngineConfig;
use crate::error::EngineError;

/// The budget rule: refuse when `held + incoming` would exceed `budget`, unless nothing is held.
fn check_budget(
    shard: usize,
    held: usize,
    incoming: usize,
    budget: usize,
) -> Result<(), EngineError> {
    if held > 0 && held.saturating_add(incoming) > budget {
        return Err(EngineError::MemoryBudgetExceeded {
            shard,
            held,
            incoming,
            budget,
        });
    }
    Ok(())
}

/// A shard's memory state as last published by its pump; read by the handles (any thread).
#[derive(Debug)]
pub struct MemoryGate {
    shard: usize,
    budget: usize,
    share: usize,
    held: AtomicUsize,
    /// Size of `over_share`, so the common case (no tenant over its share) takes no lock.
    over_count: AtomicUsize,
    over_share: Mutex<HashSet<String>>,
}

impl MemoryGate {
    pub fn new(shard: usize, config: &EngineConfig) -> MemoryGate {
        MemoryGate {
            shard,
            budget: config.max_memory_bytes,
            share: config.max_head_bytes_per_tenant,
            held: AtomicUsize::new(0),
            over_count: AtomicUsize::new(0),
            over_share: Mutex::new(HashSet::new()),
        }
    }

    /// Refuses at once a push of `incoming` bytes for `tenant` that the pump would refuse as
    /// things stand. Advisory: the pump checks again with exact numbers.
    pub fn precheck(&self, tenant: &str, incoming: usize) -> Result<(), EngineError> {
        if self.over_count.load(Ordering::Relaxed) > 0 && self.locked().contains(tenant) {
            return Err(EngineError::TenantHeadExceeded {
                shard: self.shard,
                tenant: tenant.to_string(),
                share: self.share,
            });
        }
        check_budget(
            self.shard,
            self.held.load(Ordering::Relaxed),
            incoming,
            self.budget,
        )
    }

    /// Publishes the bytes the shard holds (head plus uncommitted cuts).
    pub fn set_held(&self, held: usize) {
        self.held.store(held, Ordering::Relaxed);
    }

    /// Bytes held, as last published.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Marks `tenant` as at or over its head share (until [`MemoryGate::clear_over_share`]).
    pub fn mark_over_share(&self, tenant: &str) {
        let mut over = self.locked();
        if over.insert(tenant.to_string()) {
            self.over_count.store(over.len(), Ordering::Relaxed);
        }
    }

    /// Forgets every over-share tenant: the head was cut.
    pub fn clear_over_share(&self) {
        if self.over_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.locked().clear();
        self.over_count.store(0, Ordering::Relaxed);
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // The set is valid after any panic of a holder (single insert/clear calls).
        self.over_share.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The pump's decision over one group commit: pushes are admitted in order against the bytes
/// the shard holds plus the pushes admitted before them.
pub struct MemoryAdmission {
    shard: usize,
    budget: usize,
    share: usize,
    held: usize,
}

impl MemoryAdmission {
    /// Starts a batch on a shard holding `held` bytes.
    pub fn new(shard: usize, config: &EngineConfig, held: usize) -> MemoryAdmission {
        MemoryAdmission {
            shard,
            budget: config.max_memory_bytes,
            share: config.max_head_bytes_per_tenant,
            held,
        }
    }

    /// Admits a push of `incoming` bytes from `tenant`, which holds `tenant_head_bytes` in the
    /// live head at the start of the batch; counts it when admitted.
    pub fn admit(
        &mut self,
        tenant: &str,
        tenant_head_bytes: usize,
        incoming: usize,
    ) -> Result<(), EngineError> {
        if tenant_head_bytes >= self.share {
            return Err(EngineError::TenantHeadExceeded {
                shard: self.shard,
                tenant: tenant.to_string(),
                share: self.share,
            });
        }
        check_budget(self.shard, self.held, incoming, self.budget)?;
        self.held += incoming;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(budget: usize, share: usize) -> EngineConfig {
        EngineConfig {
            max_memory_bytes: budget,
            max_head_bytes_per_tenant: share,
            ..EngineConfig::default()
        }
    }

    #[test]
    fn budget_counts_earlier_pushes_of_the_batch_and_always_admits_an_empty_shard() {
        let c = config(100, 1000);
        let mut batch = MemoryAdmission::new(0, &c, 40);
        assert!(batch.admit("a", 0, 60).is_ok());
        let refused = batch.admit("b", 0, 1).unwrap_err();
        assert!(matches!(
            refused,
            EngineError::MemoryBudgetExceeded {
                held: 100,
                incoming: 1,
                budget: 100,
                ..
            }
        ));
        assert_eq!(refused.kind(), crate::ErrorKind::Overloaded);
        // The refused push was not counted: the batch still holds exactly the budget.
        assert!(batch.admit("c", 0, 0).is_ok());
        // On an empty shard even a push larger than the budget is admitted, once.
        let mut empty = MemoryAdmission::new(0, &c, 0);
        assert!(empty.admit("a", 0, 500).is_ok());
        assert!(empty.admit("a", 0, 1).is_err());
    }

    #[test]
    fn tenant_over_its_share_is_refused_while_others_are_admitted() {
        let c = config(1 << 20, 10);
        let mut batch = MemoryAdmission::new(0, &c, 50);
        let refused = batch.admit("noisy", 10, 1).unwrap_err();
        assert!(
            matches!(&refused, EngineError::TenantHeadExceeded { tenant, share: 10, .. } if tenant == "noisy")
        );
        assert!(batch.admit("noisy", 9, 100).is_ok(), "under the share");
        assert!(batch.admit("quiet", 0, 5).is_ok());
    }

    #[test]
    fn gate_publishes_held_bytes_and_over_share_tenants() {
        let gate = MemoryGate::new(3, &config(100, 10));
        assert!(gate.precheck("a", 1000).is_ok(), "empty shard admits");
        gate.set_held(90);
        assert!(gate.precheck("a", 10).is_ok());
        assert!(matches!(
            gate.precheck("a", 11),
            Err(EngineError::MemoryBudgetExceeded { shard: 3, .. })
        ));
        gate.mark_over_share("noisy");
        gate.mark_over_share("noisy");
        assert!(matches!(
            gate.precheck("noisy", 1),
            Err(EngineError::TenantHeadExceeded { .. })
        ));
        assert!(gate.precheck("quiet", 1).is_ok());
        gate.clear_over_share();
        assert!(gate.precheck("noisy", 1).is_ok());
        assert_eq!(gate.held(), 90);
    }
}
