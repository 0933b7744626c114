//! Tag names and tag values over every shard's memory and the tenant's blocks
//! (TEMPO-SPEC §1.6–1.7): memory first, then blocks newest first, stopping early once the
//! value budget is spent.

use std::sync::Arc;

use tracecore_engine::scan::{SpanBatch, TagLookup, TagNames, TagValues};
use tracecore_engine::{ShardHandle, TenantId};

use super::memory::MemoryCache;
use super::search::{SearchError, block_scan, range_nanos};
use crate::storage::catalog::BlockCatalog;

/// Where a lookup reads and what it costs.
pub struct TagQuery<'a> {
    pub shards: &'a [ShardHandle],
    pub catalog: &'a Arc<BlockCatalog>,
    pub tenant: &'a TenantId,
    pub memory: &'a MemoryCache,
    /// Unix seconds, inclusive.
    pub range_seconds: Option<(u64, u64)>,
}

/// Attribute names per scope: memory, then each block's tag index (its data only when the
/// index cannot answer: a `q` filter, or a block without index).
pub async fn tag_names(
    q: &TagQuery<'_>,
    lookup: &TagLookup,
) -> Result<(TagNames, u64), SearchError> {
    let mut names = TagNames::default();
    let view = q.memory.view(q.shards, q.tenant).await?;
    let mut inspected = view.encoded_bytes;
    for chunk in view
        .chunks
        .iter()
        .filter(|c| c.overlaps(range_nanos(q.range_seconds)))
    {
        if lookup.names_from_index(&chunk.index, &mut names) {
            continue;
        }
        for batch in &chunk.batches {
            lookup.collect_names(&SpanBatch::new(batch.clone())?, &mut names)?;
        }
    }
    let blocks = q
        .catalog
        .blocks_newest_first(q.tenant.as_str(), q.range_seconds)
        .await;
    for block in blocks {
        if let Some(index) = &block.tag_index
            && lookup.names_from_index(index, &mut names)
        {
            continue;
        }
        inspected += block_scan::for_each_batch(
            q.catalog,
            &block,
            lookup.columns(),
            range_nanos(q.range_seconds),
            |batch| {
                lookup.collect_names(&SpanBatch::new(batch)?, &mut names)?;
                Ok(true)
            },
        )
        .await?;
    }
    Ok((names, inspected))
}

/// Distinct values, stopping when `values` is full; block tag indexes first, data when the
/// index cannot answer.
pub async fn tag_values(
    q: &TagQuery<'_>,
    lookup: &TagLookup,
    mut values: TagValues,
) -> Result<(TagValues, u64), SearchError> {
    let view = q.memory.view(q.shards, q.tenant).await?;
    let mut inspected = view.encoded_bytes;
    for chunk in view
        .chunks
        .iter()
        .filter(|c| c.overlaps(range_nanos(q.range_seconds)))
    {
        if values.full {
            return Ok((values, inspected));
        }
        if lookup.values_from_index(&chunk.index, &mut values) {
            continue;
        }
        for batch in &chunk.batches {
            lookup.collect_values(&SpanBatch::new(batch.clone())?, &mut values)?;
        }
    }
    let blocks = q
        .catalog
        .blocks_newest_first(q.tenant.as_str(), q.range_seconds)
        .await;
    for block in blocks {
        if values.full {
            break;
        }
        if let Some(index) = &block.tag_index
            && lookup.values_from_index(index, &mut values)
        {
            continue;
        }
        inspected += block_scan::for_each_batch(
            q.catalog,
            &block,
            lookup.columns(),
            range_nanos(q.range_seconds),
            |batch| {
                lookup.collect_values(&SpanBatch::new(batch)?, &mut values)?;
                Ok(!values.full)
            },
        )
        .await?;
    }
    Ok((values, inspected))
}
