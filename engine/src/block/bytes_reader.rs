//! [`BytesFileReader`]: a Parquet [`AsyncFileReader`] over a block held in memory.
//!
//! Used by tests, benches and the local block cache. Every future it returns is already ready,
//! so it works under any executor (or `futures::executor::block_on`).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

/// An in-memory Parquet file. Cloning is cheap (the bytes are shared).
#[derive(Clone, Debug)]
pub struct BytesFileReader {
    data: Bytes,
}

impl BytesFileReader {
    pub fn new(data: Bytes) -> Self {
        BytesFileReader { data }
    }

    fn slice(&self, range: Range<u64>) -> ParquetResult<Bytes> {
        let len = self.data.len() as u64;
        if range.start > range.end || range.end > len {
            return Err(ParquetError::EOF(format!(
                "byte range {}..{} outside a file of {len} bytes",
                range.start, range.end
            )));
        }
        Ok(self.data.slice(range.start as usize..range.end as usize))
    }
}

impl AsyncFileReader for BytesFileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, ParquetResult<Bytes>> {
        futures::future::ready(self.slice(range)).boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, ParquetResult<Vec<Bytes>>> {
        let result = ranges.into_iter().map(|r| self.slice(r)).collect();
        futures::future::ready(result).boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, ParquetResult<Arc<ParquetMetaData>>> {
        let result = ParquetMetaDataReader::new()
            .with_arrow_reader_options(options)
            .parse_and_finish(&self.data)
            .map(Arc::new);
        futures::future::ready(result).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn ranges_are_bounds_checked() {
        let mut reader = BytesFileReader::new(Bytes::from_static(b"0123456789"));
        assert_eq!(
            block_on(reader.get_bytes(2..5)).expect("in range"),
            Bytes::from_static(b"234")
        );
        assert!(block_on(reader.get_bytes(5..11)).is_err());
        let ranges = block_on(reader.get_byte_ranges(vec![0..1, 9..10])).expect("in range");
        assert_eq!(
            ranges,
            vec![Bytes::from_static(b"0"), Bytes::from_static(b"9")]
        );
        assert!(block_on(reader.get_byte_ranges(vec![0..1, 9..12])).is_err());
        assert!(block_on(reader.get_metadata(None)).is_err(), "not parquet");
    }
}
