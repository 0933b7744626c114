//! The engine's `BlockSink`: uploads a block's objects, `meta.json` last, then makes the block
//! visible in the catalog. For the local backend every file and directory is fsynced before
//! `meta.json` is written and before the commit is reported (the shard then deletes its WAL).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use object_store::ObjectStoreExt;
use object_store::path::Path;
use tracecore_engine::BlockSink;
use tracecore_engine::block::{BlockBloom, BlockTagIndex, EncodedBlock};

use super::StorageError;
use super::backend::Bucket;
use super::catalog::BlockCatalog;

/// Commits blocks to the bucket on the io runtime.
pub struct BucketSink {
    bucket: Bucket,
    catalog: Arc<BlockCatalog>,
    io: tokio::runtime::Handle,
}

impl BucketSink {
    pub fn new(bucket: Bucket, catalog: Arc<BlockCatalog>, io: tokio::runtime::Handle) -> Self {
        BucketSink {
            bucket,
            catalog,
            io,
        }
    }
}

impl BlockSink for BucketSink {
    fn commit(
        &self,
        block: EncodedBlock,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let bucket = self.bucket.clone();
        let catalog = self.catalog.clone();
        let task = self.io.spawn(async move {
            commit_block(&bucket, &catalog, block)
                .await
                .map_err(|e| e.to_string())
        });
        Box::pin(async move { task.await.map_err(|e| format!("upload task failed: {e}"))? })
    }
}

async fn commit_block(
    bucket: &Bucket,
    catalog: &BlockCatalog,
    block: EncodedBlock,
) -> Result<(), StorageError> {
    let (meta_path, data_path, bloom_path) = block.meta.object_paths();
    let bloom = BlockBloom::from_bytes(&block.bloom).map_err(|source| StorageError::Block {
        block: block.meta.block_id.to_string(),
        source,
    })?;
    put(bucket, &data_path, block.data.clone()).await?;
    put(bucket, &bloom_path, block.bloom.clone()).await?;
    put(
        bucket,
        &block.meta.tag_index_path(),
        block.tag_index.clone(),
    )
    .await?;
    let tag_index = BlockTagIndex::from_json(&block.tag_index)
        .ok()
        .map(Arc::new);
    let meta_json = block.meta.to_json_bytes();
    put(bucket, &meta_path, meta_json.into()).await?;
    if let Some(root) = &bucket.local_root {
        // The block directory and the tenant directory hold new entries.
        let block_dir = root.join(&meta_path).parent().map(PathBuf::from);
        if let Some(dir) = block_dir {
            sync_path(&dir).await?;
            if let Some(tenant_dir) = dir.parent() {
                sync_path(tenant_dir).await?;
            }
        }
    }
    catalog.insert(block.meta, bloom, tag_index).await;
    Ok(())
}

async fn put(bucket: &Bucket, path: &str, bytes: bytes::Bytes) -> Result<(), StorageError> {
    bucket.store.put(&Path::from(path), bytes.into()).await?;
    if let Some(root) = &bucket.local_root {
        sync_path(&root.join(path)).await?;
    }
    Ok(())
}

async fn sync_path(path: &std::path::Path) -> Result<(), StorageError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&owned)?.sync_all())
        .await
        .map_err(|e| StorageError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?
        .map_err(|source| StorageError::Io {
            path: path.display().to_string(),
            source,
        })
}
