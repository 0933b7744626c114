//! Prefilter decisions from dictionary pages alone.
//!
//! When every filter condition of a query reads a single flat column (`name`, the
//! `service_name` of a block with exact service names, a dedicated attribute column of a block
//! whose list does not hold that key, …) and a row group stores each of those column chunks
//! entirely dictionary-encoded, a condition holds for some span of the row group exactly when
//! it holds for some value of the chunk's dictionary — or for null, in a nullable column. Every
//! value a row of the chunk holds is in its dictionary, and the writer interns only values it
//! writes, so the answer is exact. The prefilter then fetches only the dictionary pages and
//! evaluates the conditions once per distinct value instead of decoding a value per span. A
//! chunk with some page in plain encoding (its dictionary outgrew the page limit) leaves its row
//! group to the decoded prefilter.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BinaryBuilder, DictionaryArray, Int32Array, PrimitiveArray, RecordBatch,
    StringArray,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Int32Type, Int64Type, Schema, UInt32Type, UInt64Type,
};
use bytes::{Buf as _, Bytes};
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader as _};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::schema::types::SchemaDescriptor;

use super::batch::SpanBatch;
use super::error::ScanError;
use super::plan::SearchPlan;
use crate::block::layout::BlockLayout;
use crate::block::schema::COLUMN_NAMES;

/// How a plan's prefilter is decided from dictionary pages in one block.
#[derive(Debug)]
pub struct DictionaryProbe {
    leaves: Vec<ProbeLeaf>,
}

/// A filter condition and the one flat column it reads.
#[derive(Debug)]
struct ProbeLeaf {
    /// Index into `SearchPlan::exprs`.
    expr: usize,
    /// Parquet leaf index of the column (its chunk in a row group).
    chunk: usize,
    /// The column's Arrow field in the block's schema.
    field: Arc<Field>,
}

impl SearchPlan {
    /// The dictionary probe of this plan's prefilter in a block of `layout` with these
    /// schemas; `None` when some filter condition reads more than one column, or a column
    /// whose type has no dictionary.
    pub fn dictionary_probe(
        &self,
        layout: &BlockLayout,
        parquet: &SchemaDescriptor,
        arrow: &Schema,
    ) -> Option<DictionaryProbe> {
        let prefilter = self.prefilter.as_ref()?;
        self.prefilter_columns(layout)?;
        let mut leaves = Vec::with_capacity(prefilter.leaf_columns.len());
        for (expr, columns) in &prefilter.leaf_columns {
            let [column] = self.prefilter_kept(layout, columns)[..] else {
                return None;
            };
            let field = arrow.fields().get(column)?;
            if field.name() != COLUMN_NAMES.get(column)? || !has_dictionary(field.data_type()) {
                return None;
            }
            let mut chunks = (0..parquet.num_columns())
                .filter(|&leaf| parquet.get_column_root_idx(leaf) == column);
            let chunk = chunks.next()?;
            if chunks.next().is_some() || parquet.column(chunk).max_rep_level() != 0 {
                return None;
            }
            leaves.push(ProbeLeaf {
                expr: *expr,
                chunk,
                field: field.clone(),
            });
        }
        Some(DictionaryProbe { leaves })
    }
}

impl DictionaryProbe {
    /// File byte ranges of the dictionary pages the probe reads in `row_group`, one per
    /// condition; `None` when some of those chunks is not entirely dictionary-encoded.
    pub fn page_ranges(&self, row_group: &RowGroupMetaData) -> Option<Vec<Range<u64>>> {
        self.leaves
            .iter()
            .map(|leaf| dictionary_page_range(row_group.columns().get(leaf.chunk)?))
            .collect()
    }

    /// Whether some filter condition of `plan` (the plan this probe was made for) holds for
    /// some span of `row_group`, from the dictionary pages at [`Self::page_ranges`] (in
    /// that order).
    pub fn matches(
        &self,
        plan: &SearchPlan,
        row_group: &RowGroupMetaData,
        pages: &[Bytes],
    ) -> Result<bool, ScanError> {
        if pages.len() != self.leaves.len() {
            return Err(ScanError::Internal(
                "one dictionary page per probed condition",
            ));
        }
        for (leaf, page) in self.leaves.iter().zip(pages) {
            let chunk = row_group
                .columns()
                .get(leaf.chunk)
                .ok_or(ScanError::Internal(
                    "probed column missing from the row group",
                ))?;
            let values = dictionary_values(chunk, page, row_group.num_rows(), &leaf.field)?;
            let schema = Arc::new(Schema::new(vec![leaf.field.clone()]));
            let batch = SpanBatch::rows_only(RecordBatch::try_new(schema, vec![values])?);
            if plan.leaf_matches(&batch, leaf.expr) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Arrow types of flat columns whose Parquet chunks may be dictionary-encoded.
fn has_dictionary(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8
        | DataType::Binary
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt32
        | DataType::UInt64 => true,
        DataType::Dictionary(key, value) => {
            **key == DataType::Int32 && matches!(**value, DataType::Utf8 | DataType::Binary)
        }
        _ => false,
    }
}

/// The byte range of the chunk's dictionary page, when every data page of the chunk is
/// dictionary-encoded.
fn dictionary_page_range(chunk: &ColumnChunkMetaData) -> Option<Range<u64>> {
    let all_dictionary = chunk.page_encoding_stats_mask().is_some_and(|mask| {
        mask.is_only(Encoding::RLE_DICTIONARY) || mask.is_only(Encoding::PLAIN_DICTIONARY)
    });
    let physical = matches!(
        chunk.column_type(),
        PhysicalType::BYTE_ARRAY | PhysicalType::INT32 | PhysicalType::INT64
    );
    let start = u64::try_from(chunk.dictionary_page_offset()?).ok()?;
    let end = u64::try_from(chunk.data_page_offset()).ok()?;
    (all_dictionary && physical && start < end).then_some(start..end)
}

/// The values of the chunk's dictionary page `page` as an array of `field`'s type, plus a
/// null when the field is nullable.
fn dictionary_values(
    chunk: &ColumnChunkMetaData,
    page: &Bytes,
    rows: i64,
    field: &Field,
) -> Result<ArrayRef, ScanError> {
    let start = dictionary_page_range(chunk)
        .ok_or(ScanError::Internal(
            "probed chunk is not dictionary-encoded",
        ))?
        .start;
    let reader = Arc::new(PageBytes {
        start,
        data: page.clone(),
    });
    let rows = usize::try_from(rows).map_err(|_| ScanError::Internal("negative row count"))?;
    let mut pages = SerializedPageReader::new(reader, chunk, rows, None)?;
    let Some(Page::DictionaryPage {
        buf,
        num_values,
        encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
        ..
    }) = pages.get_next_page()?
    else {
        return Err(corrupt(
            "the chunk does not start with a plain dictionary page",
        ));
    };
    let n = num_values as usize;
    let null = field.is_nullable();
    Ok(match field.data_type() {
        DataType::Int32 => plain_primitive::<Int32Type, 4>(&buf, n, null, i32::from_le_bytes)?,
        DataType::UInt32 => plain_primitive::<UInt32Type, 4>(&buf, n, null, u32::from_le_bytes)?,
        DataType::Int64 => plain_primitive::<Int64Type, 8>(&buf, n, null, i64::from_le_bytes)?,
        DataType::UInt64 => plain_primitive::<UInt64Type, 8>(&buf, n, null, u64::from_le_bytes)?,
        DataType::Utf8 => Arc::new(StringArray::try_from_binary(plain_byte_arrays(
            &buf, n, null,
        )?)?),
        DataType::Binary => Arc::new(plain_byte_arrays(&buf, n, null)?),
        DataType::Dictionary(_, value) => {
            let values = plain_byte_arrays(&buf, n, false)?;
            let values: ArrayRef = if **value == DataType::Utf8 {
                Arc::new(StringArray::try_from_binary(values)?)
            } else {
                Arc::new(values)
            };
            let count = i32::try_from(n).map_err(|_| corrupt("dictionary size"))?;
            let keys = Int32Array::from_iter((0..count).map(Some).chain(null.then_some(None)));
            Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?)
        }
        _ => return Err(ScanError::Internal("probed column type has no dictionary")),
    })
}

/// `n` PLAIN-encoded fixed-width values (`W` little-endian bytes each, as `decode` reads
/// them), and a trailing null when `null`.
fn plain_primitive<T: ArrowPrimitiveType, const W: usize>(
    buf: &[u8],
    n: usize,
    null: bool,
    decode: fn([u8; W]) -> T::Native,
) -> Result<ArrayRef, ScanError> {
    let bytes = n
        .checked_mul(W)
        .and_then(|len| buf.get(..len))
        .ok_or(corrupt("dictionary page shorter than its values"))?;
    let values = bytes.chunks_exact(W).map(|b| {
        let mut word = [0u8; W];
        word.copy_from_slice(b);
        Some(decode(word))
    });
    Ok(Arc::new(PrimitiveArray::<T>::from_iter(
        values.chain(null.then_some(None)),
    )))
}

/// PLAIN-encoded byte arrays (4-byte little-endian length, then the bytes), and a trailing
/// null when `null`.
fn plain_byte_arrays(buf: &[u8], n: usize, null: bool) -> Result<BinaryArray, ScanError> {
    let mut out = BinaryBuilder::with_capacity(n + usize::from(null), buf.len());
    let mut at = 0usize;
    for _ in 0..n {
        let len = buf
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(corrupt("dictionary page shorter than its values"))?;
        at += 4;
        let value = at
            .checked_add(len)
            .and_then(|end| buf.get(at..end))
            .ok_or(corrupt("dictionary value past the end of its page"))?;
        out.append_value(value);
        at += len;
    }
    if null {
        out.append_null();
    }
    Ok(out.finish())
}

fn corrupt(what: &str) -> ScanError {
    ScanError::Parquet(ParquetError::General(format!("dictionary probe: {what}")))
}

/// Bytes of a file from `start` on, as a Parquet chunk reader (reads outside them fail).
struct PageBytes {
    start: u64,
    data: Bytes,
}

impl PageBytes {
    fn slice(&self, start: u64, len: Option<usize>) -> parquet::errors::Result<Bytes> {
        let outside = || ParquetError::EOF(format!("read at {start} outside the fetched page"));
        let from = start
            .checked_sub(self.start)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o <= self.data.len())
            .ok_or_else(outside)?;
        let to = match len {
            Some(len) => from
                .checked_add(len)
                .filter(|&end| end <= self.data.len())
                .ok_or_else(outside)?,
            None => self.data.len(),
        };
        Ok(self.data.slice(from..to))
    }
}

impl Length for PageBytes {
    fn len(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

impl ChunkReader for PageBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array as _;

    fn plain(values: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        out
    }

    #[test]
    fn plain_byte_arrays_decode_and_refuse_truncation() {
        let buf = plain(&[b"frontend", b"", b"cart"]);
        let values = plain_byte_arrays(&buf, 3, true).expect("decodes");
        assert_eq!(values.len(), 4);
        assert_eq!(values.value(0), b"frontend");
        assert_eq!(values.value(1), b"");
        assert!(values.is_null(3));
        for cut in 0..buf.len() {
            assert!(
                plain_byte_arrays(&buf[..cut], 3, false).is_err(),
                "truncated at {cut}"
            );
        }
        // A length that points past the page.
        let mut long = buf.clone();
        long[0] = 0xff;
        assert!(plain_byte_arrays(&long, 3, false).is_err());
    }

    #[test]
    fn page_bytes_refuse_reads_outside_the_fetched_range() {
        let pages = PageBytes {
            start: 100,
            data: Bytes::from_static(b"0123456789"),
        };
        assert_eq!(pages.get_bytes(102, 3).expect("inside").as_ref(), b"234");
        assert_eq!(pages.get_bytes(110, 0).expect("empty at end").len(), 0);
        assert!(pages.get_bytes(99, 1).is_err());
        assert!(pages.get_bytes(108, 3).is_err());
        assert!(pages.get_bytes(u64::MAX, 1).is_err());
        assert!(pages.get_read(111).is_err());
    }
}
