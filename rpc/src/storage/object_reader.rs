//! Parquet's `AsyncFileReader` over an `object_store` object (ranged GETs).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

/// Reads byte ranges of one object; counts what it read.
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    bytes_read: Arc<std::sync::atomic::AtomicU64>,
}

impl ObjectReader {
    /// A reader for `path` of known `size`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64) -> ObjectReader {
        ObjectReader {
            store,
            path,
            size,
            bytes_read: Arc::default(),
        }
    }

    /// A shared counter of the bytes this reader fetched.
    pub fn bytes_read(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.bytes_read.clone()
    }
}

fn to_parquet_error(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.bytes_read.fetch_add(
            range.end.saturating_sub(range.start),
            std::sync::atomic::Ordering::Relaxed,
        );
        let (store, path) = (self.store.clone(), self.path.clone());
        async move {
            store
                .get_range(&path, range)
                .await
                .map_err(to_parquet_error)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let total: u64 = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        self.bytes_read
            .fetch_add(total, std::sync::atomic::Ordering::Relaxed);
        let (store, path) = (self.store.clone(), self.path.clone());
        async move {
            store
                .get_ranges(&path, &ranges)
                .await
                .map_err(to_parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let size = self.size;
        async move {
            let metadata = ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Optional)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
