//! The first stage of a block scan's prefilter: row groups whose filter conditions the
//! column chunks' dictionary pages decide (`tracecore_engine::scan::DictionaryProbe`) fetch
//! only those pages, and are decided on a shard, one row group per step. The others go on to
//! the decoded prefilter.

use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::async_reader::AsyncFileReader as _;
use tracecore_engine::ShardHandle;
use tracecore_engine::scan::{DictionaryProbe, SearchPlan};

use super::SearchError;
use super::block_scan::block_error;
use crate::storage::catalog::{BlockCatalog, CatalogBlock};

/// What the dictionary pages decided.
pub(super) struct Probed {
    /// Row groups the probe decided, with whether they may match.
    pub decided: Vec<(usize, bool)>,
    /// Row groups it could not decide (a chunk not entirely dictionary-encoded).
    pub undecided: Vec<usize>,
    /// Bytes of dictionary pages fetched.
    pub bytes: u64,
}

/// Decides what it can of `row_groups` from dictionary pages.
pub(super) async fn probe_row_groups(
    shard: &ShardHandle,
    catalog: &BlockCatalog,
    block: &CatalogBlock,
    metadata: &ArrowReaderMetadata,
    plan: &Arc<SearchPlan>,
    probe: DictionaryProbe,
    row_groups: &[usize],
) -> Result<Probed, SearchError> {
    let mut ranges = Vec::new();
    let mut probed = Vec::new();
    let mut undecided = Vec::new();
    for &rg in row_groups {
        match probe.page_ranges(metadata.metadata().row_group(rg)) {
            Some(pages) => {
                probed.push(rg);
                ranges.extend(pages);
            }
            None => undecided.push(rg),
        }
    }
    if probed.is_empty() {
        return Ok(Probed {
            decided: Vec::new(),
            undecided,
            bytes: 0,
        });
    }
    let block_id = block.meta.block_id.to_string();
    let bytes = ranges.iter().map(|r| r.end - r.start).sum();
    let (_, mut reader) = catalog.open(block).await?;
    let pages = reader
        .get_byte_ranges(ranges)
        .await
        .map_err(block_error(&block_id))?;
    let decided = decide_on_shard(shard, metadata.clone(), plan.clone(), probe, probed, pages)
        .await
        .map_err(|e| match e {
            SearchError::Scan(e) => SearchError::Block {
                block: block_id,
                message: e.to_string(),
            },
            other => other,
        })?;
    Ok(Probed {
        decided,
        undecided,
        bytes,
    })
}

/// Runs the probe over the row groups `probed` on `shard`, one row group per step; `pages`
/// holds each row group's pages in order.
async fn decide_on_shard(
    shard: &ShardHandle,
    metadata: ArrowReaderMetadata,
    plan: Arc<SearchPlan>,
    probe: DictionaryProbe,
    probed: Vec<usize>,
    pages: Vec<Bytes>,
) -> Result<Vec<(usize, bool)>, SearchError> {
    let per_row_group = pages.len() / probed.len().max(1);
    let mut decided = Vec::with_capacity(probed.len());
    shard
        .run_query(move || {
            let i = decided.len();
            let Some(&rg) = probed.get(i) else {
                return Some(Ok(std::mem::take(&mut decided)));
            };
            let Some(own) = pages.get(i * per_row_group..(i + 1) * per_row_group) else {
                return Some(Err(SearchError::Internal("dictionary pages missing")));
            };
            match probe.matches(&plan, metadata.metadata().row_group(rg), own) {
                Ok(matched) => decided.push((rg, matched)),
                Err(e) => return Some(Err(e.into())),
            }
            (decided.len() == probed.len()).then(|| Ok(std::mem::take(&mut decided)))
        })
        .await?
}
