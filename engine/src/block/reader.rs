//! Trace-by-ID read of one `tc1` block.
//!
//! 1. Row groups whose `trace_id` min/max statistics exclude the ID are skipped.
//! 2. In the rest, the `trace_id` column index (per-page min/max) and offset index (first row of
//!    each page) select only the rows of pages that can hold the ID; the reader then fetches and
//!    decompresses, for every projected column, only the pages overlapping those rows.
//! 3. A row filter on `trace_id` keeps exactly the trace's rows before the other columns are
//!    decoded, and [`TraceDecoder`] rebuilds the OTLP spans.
//!
//! Async with `futures` only (no runtime): the caller's [`AsyncFileReader`] does the I/O.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{BooleanArray, FixedSizeBinaryArray};
use arrow::error::ArrowError;
use bytes::Bytes;
use futures::FutureExt as _;
use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, RowFilter, RowSelection, RowSelector,
};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::Result as ParquetResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use tracecore_proto::otlp::ResourceSpans;

use super::decode::{DECODED_COLUMNS, TraceDecoder};
use super::encoder::DATA_PAGE_ROWS;
use super::error::BlockError;
use super::schema::{
    FORMAT_KEY, FORMAT_TC1, FORMAT_VERSION, TC1_COLUMNS, block_schema, col, project,
};

/// The spans of one trace found in one block.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRead {
    /// Spans grouped under their resource and scope, in row order (start time, then span ID).
    pub resource_spans: Vec<ResourceSpans>,
    /// Bytes fetched from the reader for this lookup (pages of all projected columns).
    pub inspected_bytes: u64,
}

/// Parquet metadata with the page index, loaded once per block and cached by the caller.
/// Fails with [`BlockError::UnsupportedFormat`] unless the file is a `tc1` block.
pub async fn load_block_metadata<R>(reader: &mut R) -> Result<ArrowReaderMetadata, BlockError>
where
    R: AsyncFileReader + Send + Unpin + 'static,
{
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    let metadata = ArrowReaderMetadata::load_async(reader, options)
        .await
        .map_err(BlockError::Read)?;
    check_format(&metadata)?;
    Ok(metadata)
}

fn check_format(metadata: &ArrowReaderMetadata) -> Result<(), BlockError> {
    let format = metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == FORMAT_KEY))
        .and_then(|kv| kv.value.as_deref());
    let expected = match format {
        Some(FORMAT_VERSION) => col::COUNT,
        Some(FORMAT_TC1) => TC1_COLUMNS,
        _ => {
            return Err(BlockError::UnsupportedFormat(format!(
                "{FORMAT_KEY} is {format:?}, expected {FORMAT_VERSION:?} or {FORMAT_TC1:?}"
            )));
        }
    };
    let fields = metadata.schema().fields();
    if fields.len() != expected || fields[..] != block_schema().fields()[..expected] {
        return Err(BlockError::UnsupportedFormat(format!(
            "arrow schema differs from {}: {}",
            format.unwrap_or_default(),
            metadata.schema()
        )));
    }
    Ok(())
}

/// Reads the spans of `trace_id`, or `None` if the block has none. See the module docs.
pub async fn read_trace<R>(
    reader: R,
    metadata: &ArrowReaderMetadata,
    trace_id: &[u8; 16],
) -> Result<Option<TraceRead>, BlockError>
where
    R: AsyncFileReader + Send + Unpin + 'static,
{
    check_format(metadata)?;
    let Some((row_groups, selection)) = plan_rows(metadata.metadata(), trace_id) else {
        return Ok(None);
    };
    let inspected = Arc::new(AtomicU64::new(0));
    let reader = CountingReader {
        inner: reader,
        bytes: inspected.clone(),
    };
    let parquet_schema = metadata.metadata().file_metadata().schema_descr();
    let target = *trace_id;
    let predicate = ArrowPredicateFn::new(
        ProjectionMask::leaves(parquet_schema, [col::TRACE_ID]),
        move |batch| {
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .ok_or_else(|| ArrowError::SchemaError("trace_id is not FixedSizeBinary".into()))?;
            // PERFORMANCE-CRITICAL: one compare per row of the selected pages.
            Ok(ids
                .iter()
                .map(|id| Some(id == Some(target.as_slice())))
                .collect::<BooleanArray>())
        },
    );
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
        .with_projection(project(parquet_schema, DECODED_COLUMNS))
        .with_row_groups(row_groups)
        .with_row_selection(selection)
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .with_batch_size(DATA_PAGE_ROWS)
        .build()
        .map_err(BlockError::Read)?;
    let mut decoder = TraceDecoder::new(trace_id);
    while let Some(batch) = stream.try_next().await.map_err(BlockError::Read)? {
        decoder.push_batch(&batch)?;
    }
    if decoder.is_empty() {
        return Ok(None);
    }
    Ok(Some(TraceRead {
        resource_spans: decoder.finish()?,
        inspected_bytes: inspected.load(Ordering::Relaxed),
    }))
}

/// Row groups that may hold `trace_id` and, across them, the rows of the pages that may.
/// `None` when statistics rule the ID out everywhere.
pub(crate) fn plan_rows(
    metadata: &ParquetMetaData,
    trace_id: &[u8; 16],
) -> Option<(Vec<usize>, RowSelection)> {
    let id = trace_id.as_slice();
    let may_hold = |min: Option<&[u8]>, max: Option<&[u8]>| match (min, max) {
        (Some(min), Some(max)) => min <= id && id <= max,
        _ => true,
    };
    let mut row_groups = Vec::new();
    let mut selectors = Vec::new();
    for (rg_index, rg) in metadata.row_groups().iter().enumerate() {
        let rows = rg.num_rows().max(0) as usize;
        if let Some(stats) = rg.column(col::TRACE_ID).statistics()
            && !may_hold(stats.min_bytes_opt(), stats.max_bytes_opt())
        {
            continue;
        }
        let page_index = metadata.page_index();
        let pages = page_index.and_then(|p| {
            match (
                p.column_index(rg_index, col::TRACE_ID),
                p.offset_index(rg_index, col::TRACE_ID),
            ) {
                (Some(ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(ci)), Some(oi)) => Some((ci, oi)),
                _ => None,
            }
        });
        let mut rg_selectors = Vec::new();
        match pages {
            Some((ci, oi)) if ci.num_pages() as usize == oi.page_locations().len() => {
                let locations = oi.page_locations();
                for (page, location) in locations.iter().enumerate() {
                    let first = location.first_row_index.max(0) as usize;
                    let end = locations
                        .get(page + 1)
                        .map_or(rows, |next| next.first_row_index.max(0) as usize)
                        .clamp(first, rows.max(first));
                    let keep =
                        ci.is_null_page(page) || may_hold(ci.min_value(page), ci.max_value(page));
                    push_run(&mut rg_selectors, end - first, keep);
                }
            }
            _ => push_run(&mut rg_selectors, rows, true),
        }
        if rg_selectors.iter().any(|s| !s.skip && s.row_count > 0) {
            row_groups.push(rg_index);
            selectors.extend(rg_selectors);
        }
    }
    if row_groups.is_empty() {
        return None;
    }
    Some((row_groups, RowSelection::from(selectors)))
}

fn push_run(selectors: &mut Vec<RowSelector>, rows: usize, keep: bool) {
    if rows == 0 {
        return;
    }
    match selectors.last_mut() {
        Some(last) if last.skip != keep => last.row_count += rows,
        _ => selectors.push(if keep {
            RowSelector::select(rows)
        } else {
            RowSelector::skip(rows)
        }),
    }
}

/// Counts the bytes a read fetches.
struct CountingReader<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: AsyncFileReader> AsyncFileReader for CountingReader<R> {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, ParquetResult<Bytes>> {
        self.bytes
            .fetch_add(range.end.saturating_sub(range.start), Ordering::Relaxed);
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, ParquetResult<Vec<Bytes>>> {
        let total: u64 = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        self.bytes.fetch_add(total, Ordering::Relaxed);
        self.inner.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, ParquetResult<Arc<ParquetMetaData>>> {
        self.inner.get_metadata(options).boxed()
    }
}
