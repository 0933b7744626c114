//! Tag names and tag values over every shard's memory and the tenant's blocks
//! (TEMPO-SPEC §1.6–1.7): memory first, then blocks newest first, stopping early once the
//! value budget is spent.

use std::sync::Arc;

use tracecore_engine::scan::{SpanBatch, TagLookup, TagNames, TagValues};
use tracecore_engine::{ShardHandle, TenantId};

use super::search::{SearchError, block_scan, head_scan};
use crate::storage::catalog::BlockCatalog;

/// Where a lookup reads and what it costs.
pub struct TagQuery<'a> {
    pub shards: &'a [ShardHandle],
    pub catalog: &'a Arc<BlockCatalog>,
    pub tenant: &'a TenantId,
    /// Unix seconds, inclusive.
    pub range_seconds: Option<(u64, u64)>,
}

fn range_nanos(range: Option<(u64, u64)>) -> Option<(u64, u64)> {
    range.map(|(s, e)| {
        (
            s.saturating_mul(1_000_000_000),
            e.saturating_mul(1_000_000_000).saturating_add(999_999_999),
        )
    })
}

/// Runs `visit` over every batch in memory, then over blocks until it returns `false`.
/// Returns the bytes inspected.
async fn visit_all(
    q: &TagQuery<'_>,
    columns: &[usize],
    mut visit: impl FnMut(&SpanBatch) -> Result<bool, SearchError>,
) -> Result<u64, SearchError> {
    let snapshot = head_scan::snapshot(q.shards, q.tenant).await?;
    let mut inspected = 0;
    if !snapshot.is_empty() {
        let tenant = q.tenant.as_str().to_owned();
        let (batches, bytes) =
            tokio::task::spawn_blocking(move || head_scan::batches(&tenant, &snapshot))
                .await
                .map_err(|e| SearchError::Task(e.to_string()))??;
        inspected += bytes;
        for batch in batches {
            if !visit(&SpanBatch::new(batch)?)? {
                return Ok(inspected);
            }
        }
    }
    let blocks = q
        .catalog
        .blocks_newest_first(q.tenant.as_str(), q.range_seconds)
        .await;
    for block in blocks {
        let mut go_on = true;
        inspected += block_scan::for_each_batch(
            q.catalog,
            &block,
            columns,
            range_nanos(q.range_seconds),
            |batch| {
                go_on = visit(&SpanBatch::new(batch)?)?;
                Ok(go_on)
            },
        )
        .await?;
        if !go_on {
            break;
        }
    }
    Ok(inspected)
}

/// Attribute names per scope.
pub async fn tag_names(
    q: &TagQuery<'_>,
    lookup: &TagLookup,
) -> Result<(TagNames, u64), SearchError> {
    let mut names = TagNames::default();
    let inspected = visit_all(q, lookup.columns(), |batch| {
        lookup.collect_names(batch, &mut names)?;
        Ok(true)
    })
    .await?;
    Ok((names, inspected))
}

/// Distinct values, stopping when `values` is full.
pub async fn tag_values(
    q: &TagQuery<'_>,
    lookup: &TagLookup,
    mut values: TagValues,
) -> Result<(TagValues, u64), SearchError> {
    let inspected = visit_all(q, lookup.columns(), |batch| {
        lookup.collect_values(batch, &mut values)?;
        Ok(!values.full)
    })
    .await?;
    Ok((values, inspected))
}
