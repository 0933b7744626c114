//! The block catalog: every committed block per tenant, with its bloom filter in memory and its
//! Parquet metadata (footer + page index) cached after first use, so a by-ID read over
//! thousands of blocks is a loop of bloom probes plus one or two ranged reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use tokio::sync::{OnceCell, RwLock};
use tracecore_engine::block::{
    BlockBloom, BlockMeta, BlockTagIndex, load_block_metadata, read_trace,
};
use tracecore_proto::otlp::ResourceSpans;

use super::StorageError;
use super::object_reader::ObjectReader;

/// One committed block.
pub struct CatalogBlock {
    pub meta: BlockMeta,
    bloom: BlockBloom,
    /// `tags.json`; `None` for blocks written before it existed (readers then scan).
    pub tag_index: Option<Arc<BlockTagIndex>>,
    data_path: Path,
    metadata: OnceCell<ArrowReaderMetadata>,
}

/// What a by-ID read over blocks found.
#[derive(Default)]
pub struct BlockTraceRead {
    pub resource_spans: Vec<ResourceSpans>,
    pub inspected_bytes: u64,
    pub blocks_read: u64,
}

/// Blocks per tenant, newest last.
pub struct BlockCatalog {
    store: Arc<dyn ObjectStore>,
    tenants: RwLock<HashMap<String, Vec<Arc<CatalogBlock>>>>,
}

const LOAD_CONCURRENCY: usize = 16;
const READ_CONCURRENCY: usize = 8;

impl BlockCatalog {
    /// An empty catalog over `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> BlockCatalog {
        BlockCatalog {
            store,
            tenants: RwLock::new(HashMap::new()),
        }
    }

    /// Lists the bucket and loads every complete block (`meta.json` present) with its bloom.
    pub async fn load_all(&self) -> Result<usize, StorageError> {
        let metas: Vec<Path> = self
            .store
            .list(None)
            .try_filter_map(|object| async move {
                let parts: Vec<_> = object.location.parts().collect();
                let is_meta = parts.len() == 3 && parts[2].as_ref() == "meta.json";
                Ok(is_meta.then_some(object.location))
            })
            .try_collect()
            .await?;
        type Loaded = (BlockMeta, BlockBloom, Option<Arc<BlockTagIndex>>);
        let loaded: Vec<Result<Loaded, StorageError>> = futures::stream::iter(metas)
            .map(|path| self.load_block(path))
            .buffer_unordered(LOAD_CONCURRENCY)
            .collect()
            .await;
        let mut count = 0;
        for block in loaded {
            match block {
                Ok((meta, bloom, tag_index)) => {
                    self.insert(meta, bloom, tag_index).await;
                    count += 1;
                }
                Err(error) => tracing::warn!(%error, "block skipped while loading the catalog"),
            }
        }
        Ok(count)
    }

    async fn load_block(
        &self,
        meta_path: Path,
    ) -> Result<(BlockMeta, BlockBloom, Option<Arc<BlockTagIndex>>), StorageError> {
        let meta_bytes = self.store.get(&meta_path).await?.bytes().await?;
        let meta = BlockMeta::from_json(&meta_bytes).map_err(|e| StorageError::BadMeta {
            path: meta_path.to_string(),
            message: e.to_string(),
        })?;
        let (_, _, bloom_path) = meta.object_paths();
        let bloom_bytes = self
            .store
            .get(&Path::from(bloom_path))
            .await?
            .bytes()
            .await?;
        let bloom = BlockBloom::from_bytes(&bloom_bytes).map_err(|source| StorageError::Block {
            block: meta.block_id.to_string(),
            source,
        })?;
        // Optional: older blocks have none, and a damaged one only costs scans.
        let tag_index = match self.store.get(&Path::from(meta.tag_index_path())).await {
            Ok(found) => match found.bytes().await {
                Ok(bytes) => BlockTagIndex::from_json(&bytes).ok().map(Arc::new),
                Err(_) => None,
            },
            Err(_) => None,
        };
        Ok((meta, bloom, tag_index))
    }

    /// Adds a block that was just committed.
    pub async fn insert(
        &self,
        meta: BlockMeta,
        bloom: BlockBloom,
        tag_index: Option<Arc<BlockTagIndex>>,
    ) {
        let (_, data_path, _) = meta.object_paths();
        let tenant = meta.tenant_id.clone();
        let block = Arc::new(CatalogBlock {
            meta,
            bloom,
            tag_index,
            data_path: Path::from(data_path),
            metadata: OnceCell::new(),
        });
        let mut tenants = self.tenants.write().await;
        let blocks = tenants.entry(tenant).or_default();
        if !blocks
            .iter()
            .any(|b| b.meta.block_id == block.meta.block_id)
        {
            blocks.push(block);
        }
    }

    /// Blocks of `tenant` overlapping `range_seconds` (all when `None`), newest end time first
    /// (ties by block ID): the order searches visit them in.
    pub async fn blocks_newest_first(
        &self,
        tenant: &str,
        range_seconds: Option<(u64, u64)>,
    ) -> Vec<Arc<CatalogBlock>> {
        let mut blocks: Vec<Arc<CatalogBlock>> = {
            let tenants = self.tenants.read().await;
            tenants
                .get(tenant)
                .map(|blocks| {
                    blocks
                        .iter()
                        .filter(|b| overlaps(&b.meta, range_seconds))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        blocks.sort_by(|a, b| {
            b.meta
                .end_time_unix_nano
                .cmp(&a.meta.end_time_unix_nano)
                .then_with(|| a.meta.block_id.cmp(&b.meta.block_id))
        });
        blocks
    }

    /// The block's Parquet metadata (loaded once, then cached) and a reader over its data.
    pub async fn open(
        &self,
        block: &CatalogBlock,
    ) -> Result<(ArrowReaderMetadata, ObjectReader), StorageError> {
        let size = block.meta.size;
        let metadata = block
            .metadata
            .get_or_try_init(|| async {
                let mut reader =
                    ObjectReader::new(self.store.clone(), block.data_path.clone(), size);
                load_block_metadata(&mut reader)
                    .await
                    .map_err(|source| StorageError::Block {
                        block: block.meta.block_id.to_string(),
                        source,
                    })
            })
            .await?;
        let reader = ObjectReader::new(self.store.clone(), block.data_path.clone(), size);
        Ok((metadata.clone(), reader))
    }

    /// Number of blocks of `tenant`.
    pub async fn block_count(&self, tenant: &str) -> usize {
        self.tenants.read().await.get(tenant).map_or(0, Vec::len)
    }

    /// Reads `trace_id` from every block of `tenant` that may hold it: time range (when given,
    /// unix seconds), then bloom, then Parquet row-group/page pruning inside the block.
    pub async fn find_trace(
        &self,
        tenant: &str,
        trace_id: &[u8; 16],
        range_seconds: Option<(u64, u64)>,
    ) -> Result<BlockTraceRead, StorageError> {
        let candidates: Vec<Arc<CatalogBlock>> = {
            let tenants = self.tenants.read().await;
            let Some(blocks) = tenants.get(tenant) else {
                return Ok(BlockTraceRead::default());
            };
            blocks
                .iter()
                .filter(|b| overlaps(&b.meta, range_seconds))
                .filter(|b| b.bloom.may_contain(trace_id))
                .cloned()
                .collect()
        };
        let reads: Vec<Result<(Vec<ResourceSpans>, u64), StorageError>> =
            futures::stream::iter(candidates)
                .map(|block| self.read_block(block, trace_id))
                .buffer_unordered(READ_CONCURRENCY)
                .collect()
                .await;
        let mut out = BlockTraceRead::default();
        for read in reads {
            let (spans, bytes) = read?;
            out.blocks_read += 1;
            out.inspected_bytes += bytes;
            out.resource_spans.extend(spans);
        }
        Ok(out)
    }

    async fn read_block(
        &self,
        block: Arc<CatalogBlock>,
        trace_id: &[u8; 16],
    ) -> Result<(Vec<ResourceSpans>, u64), StorageError> {
        let block_error = |source| StorageError::Block {
            block: block.meta.block_id.to_string(),
            source,
        };
        let size = block.meta.size;
        let metadata = block
            .metadata
            .get_or_try_init(|| async {
                let mut reader =
                    ObjectReader::new(self.store.clone(), block.data_path.clone(), size);
                load_block_metadata(&mut reader).await.map_err(block_error)
            })
            .await?;
        let reader = ObjectReader::new(self.store.clone(), block.data_path.clone(), size);
        let counter = reader.bytes_read();
        let found = read_trace(reader, metadata, trace_id)
            .await
            .map_err(block_error)?;
        let bytes = counter.load(Ordering::Relaxed);
        Ok((found.map(|t| t.resource_spans).unwrap_or_default(), bytes))
    }
}

fn overlaps(meta: &BlockMeta, range_seconds: Option<(u64, u64)>) -> bool {
    let Some((start, end)) = range_seconds else {
        return true;
    };
    let block_start = meta.start_time_unix_nano / 1_000_000_000;
    let block_end = meta.end_time_unix_nano.div_ceil(1_000_000_000);
    block_start <= end && block_end >= start
}
