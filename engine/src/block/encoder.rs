//! [`BlockEncoder`]: traces (in trace-ID order) → `data.parquet` + `bloom-0` + [`BlockMeta`].
//!
//! Encoding is incremental: rows are appended to Arrow builders and handed to the Parquet
//! writer every `batch_spans` rows; the writer cuts a row group every `row_group_spans` rows.
//! Memory held is one Arrow batch, the compressed pages of the open row group and the output
//! file itself (the block is produced in memory).

use arrow::array::RecordBatch;
use bytes::Bytes;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Encoding, Type as PhysicalType, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use tracecore_proto::otlp::ResourceSpans;

use super::bloom::BlockBloom;
use super::columns::{RowContext, SpanColumns};
use super::dedicated::{DEDICATED, DedicatedKind, SPILLED_KEY, format_spilled};
use super::error::BlockError;
use super::headers::{Dictionaries, HeaderCache};
use super::layout::{EXACT, SERVICE_NAMES_KEY};
use super::meta::{BlockMeta, rfc3339_seconds_ceil, rfc3339_seconds_floor};
use super::otlp::{SpanRec, TraceRecords};
use super::schema::{FORMAT_KEY, FORMAT_VERSION, block_schema, col};
use super::tag_index::TagIndexBuilder;
use super::wire::put_varint;

/// Target rows per Parquet data page (checked every 1024 rows, so pages hold ~8.2k); a by-ID
/// read decodes about one page per column.
pub const DATA_PAGE_ROWS: usize = 8192;

/// Largest dictionary page per column chunk; a column whose distinct values outgrow it falls
/// back to plain encoding for the rest of the row group. A by-ID read fetches the dictionary
/// page of every projected column, so this bounds its cost.
pub const DICTIONARY_PAGE_BYTES: usize = 128 << 10;

/// Columns (Parquet leaf paths) written without a dictionary: their values are (nearly) unique
/// per row, so a dictionary would only add a page every by-ID read must fetch.
const NO_DICTIONARY: &[&str] = &[
    "trace_id",
    "trace_start_unix_nano",
    "trace_duration_nano",
    "span_id",
    "parent_span_id",
    "irregular_ids",
    "start_offset_nano",
    "duration_nano",
    "end_before_start_unix_nano",
    "attributes.list.element.other",
    "events.list.element.time_offset_nano",
    "events.list.element.attributes",
    "links.list.element.trace_id",
    "links.list.element.span_id",
    "links.list.element.attributes",
];

/// Non-default encodings of dictionary-less columns (the rest are PLAIN, then zstd).
/// Measured on the realistic-traffic test (B/span, zstd 3): `trace_id` PLAIN 0.80 vs
/// DELTA_BYTE_ARRAY 1.05; trace start/duration PLAIN 0.32/0.26 vs DELTA_BINARY_PACKED 0.65/0.52
/// (zstd removes the per-trace repeats better than bit-packed deltas across trace boundaries);
/// span start offset / duration BYTE_STREAM_SPLIT 3.21/3.40 vs DELTA_BINARY_PACKED 3.55/3.66 vs
/// PLAIN 3.61/3.98.
const COLUMN_ENCODINGS: &[(&str, Encoding)] = &[
    ("start_offset_nano", Encoding::BYTE_STREAM_SPLIT),
    ("duration_nano", Encoding::BYTE_STREAM_SPLIT),
];

/// Columns written without compression: their values are random, so zstd saves nothing and
/// only burns CPU. Measured on loadgen data (400k spans): `span_id` 8.00 B/span compressed and
/// uncompressed.
const UNCOMPRESSED: &[&str] = &["span_id"];

/// The one byte-array leaf whose min/max statistics a reader uses (by-ID row-group and page
/// pruning). Every other string/binary leaf is written without statistics: computing them
/// compares every value (~2% of block encoding) and nothing reads them. Numeric leaves keep
/// theirs (trace start/duration and span duration prune searches; they are cheap).
const BYTE_ARRAY_STATISTICS: &[&str] = &["trace_id"];

/// Byte-array leaves of the block schema that get no statistics (see [`BYTE_ARRAY_STATISTICS`]).
fn byte_array_leaves_without_statistics() -> Result<Vec<ColumnPath>, BlockError> {
    let schema = ArrowSchemaConverter::new()
        .convert(&block_schema())
        .map_err(BlockError::Write)?;
    Ok(schema
        .columns()
        .iter()
        .filter(|c| {
            matches!(
                c.physical_type(),
                PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY
            )
        })
        .map(|c| c.path().clone())
        .filter(|path| !BYTE_ARRAY_STATISTICS.contains(&path.string().as_str()))
        .collect())
}

/// A Parquet leaf path from its dotted form.
fn column_path(dotted: &str) -> ColumnPath {
    ColumnPath::new(dotted.split('.').map(str::to_owned).collect())
}

/// Flush an Arrow batch early when its variable-length values exceed this many bytes
/// (keeps Arrow's i32 offsets far from overflow for huge spans).
const MAX_BATCH_VALUE_BYTES: usize = 256 << 20;

/// Tuning of [`BlockEncoder`].
#[derive(Clone, Debug, PartialEq)]
pub struct BlockEncoderOptions {
    /// Spans per Parquet row group (the last one may be smaller).
    pub row_group_spans: usize,
    /// zstd level for every column (1..=22).
    pub zstd_level: i32,
    /// Target false-positive rate of `bloom-0`, in (0, 1).
    pub bloom_false_positive: f64,
    /// Spans converted to Arrow and handed to the Parquet writer at once: bounds the work (and
    /// the time without a yield) of one [`BlockEncoder::push_trace`] call.
    pub batch_spans: usize,
}

impl Default for BlockEncoderOptions {
    fn default() -> Self {
        BlockEncoderOptions {
            row_group_spans: 100_000,
            zstd_level: 3,
            bloom_false_positive: 0.01,
            batch_spans: 4096,
        }
    }
}

impl BlockEncoderOptions {
    fn validate(&self) -> Result<(), BlockError> {
        let invalid = |name, value: String, reason| BlockError::InvalidOption {
            name,
            value,
            reason,
        };
        if self.row_group_spans == 0 {
            return Err(invalid("row_group_spans", "0".into(), "must be at least 1"));
        }
        if self.batch_spans == 0 {
            return Err(invalid("batch_spans", "0".into(), "must be at least 1"));
        }
        if ZstdLevel::try_new(self.zstd_level).is_err() {
            return Err(invalid(
                "zstd_level",
                self.zstd_level.to_string(),
                "must be in 1..=22",
            ));
        }
        if !(self.bloom_false_positive > 0.0 && self.bloom_false_positive < 1.0) {
            return Err(invalid(
                "bloom_false_positive",
                self.bloom_false_positive.to_string(),
                "must be in (0, 1)",
            ));
        }
        Ok(())
    }

    fn writer_properties(&self) -> Result<WriterProperties, BlockError> {
        let zstd = ZstdLevel::try_new(self.zstd_level).map_err(BlockError::Write)?;
        let sorting = [col::TRACE_ID, col::START_OFFSET_NANO]
            .iter()
            .map(|&index| SortingColumn {
                column_idx: index as i32,
                descending: false,
                nulls_first: false,
            })
            .collect();
        let mut builder = WriterProperties::builder()
            .set_compression(Compression::ZSTD(zstd))
            .set_dictionary_enabled(true)
            .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(self.row_group_spans))
            .set_max_row_group_bytes(None)
            .set_data_page_row_count_limit(DATA_PAGE_ROWS)
            .set_sorting_columns(Some(sorting))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                FORMAT_KEY.to_owned(),
                FORMAT_VERSION.to_owned(),
            )]));
        for path in NO_DICTIONARY {
            builder = builder.set_column_dictionary_enabled(column_path(path), false);
        }
        // Dedicated free-text attributes (URLs, statements) are near-unique, like the above.
        for d in DEDICATED.iter().filter(|d| d.kind == DedicatedKind::Text) {
            builder = builder.set_column_dictionary_enabled(column_path(d.column), false);
        }
        for path in byte_array_leaves_without_statistics()? {
            builder = builder.set_column_statistics_enabled(path, EnabledStatistics::None);
        }
        for path in UNCOMPRESSED {
            builder = builder.set_column_compression(column_path(path), Compression::UNCOMPRESSED);
        }
        for (path, encoding) in COLUMN_ENCODINGS {
            builder = builder.set_column_encoding(column_path(path), *encoding);
        }
        Ok(builder.build())
    }
}

/// The three objects of a finished block.
#[derive(Clone, Debug)]
pub struct EncodedBlock {
    pub meta: BlockMeta,
    /// `data.parquet`.
    pub data: Bytes,
    /// `bloom-0`.
    pub bloom: Bytes,
    /// `tags.json` ([`BlockTagIndex`]).
    pub tag_index: Bytes,
}

/// Writes one block. See the module docs.
pub struct BlockEncoder {
    tenant: String,
    opts: BlockEncoderOptions,
    /// `None` for an in-memory encoder ([`Self::in_memory`]), whose batches go to `kept`.
    writer: Option<ArrowWriter<Vec<u8>>>,
    kept: Vec<RecordBatch>,
    tag_index: TagIndexBuilder,
    columns: SpanColumns,
    trace_ids: Vec<[u8; 16]>,
    last_trace: Option<[u8; 16]>,
    total_spans: u64,
    min_start: u64,
    max_end: u64,
    /// Batches handed to the writer so far (dictionary keys are valid within one batch).
    batches: u64,
    headers: HeaderCache,
    // Per-trace scratch, reused across pushes.
    trace: TraceRecords,
    scope_keys: Vec<i32>,
    resource_keys: Vec<(i32, i32)>,
    /// (span ID, row) of the trace's 8-byte span IDs, sorted: parent lookups by binary search.
    rows_by_span_id: Vec<(u64, i32)>,
    otlp_buf: Vec<u8>,
    irregular_buf: Vec<u8>,
}

impl BlockEncoder {
    /// Starts a block for `tenant`. `expected_traces` only pre-sizes buffers.
    pub fn new(
        tenant: &str,
        expected_traces: usize,
        opts: BlockEncoderOptions,
    ) -> Result<Self, BlockError> {
        opts.validate()?;
        let writer =
            ArrowWriter::try_new(Vec::new(), block_schema(), Some(opts.writer_properties()?))
                .map_err(BlockError::Write)?;
        Ok(Self::with_writer(
            tenant,
            expected_traces,
            opts,
            Some(writer),
        ))
    }

    /// An encoder that builds the block's Arrow batches (exactly the rows `new` would write,
    /// each batch ending on a trace boundary) without Parquet: how searches read the head
    /// block with the same scan code as committed blocks. Finish with [`Self::finish_batches`].
    pub fn in_memory(tenant: &str, expected_traces: usize) -> Self {
        Self::with_writer(
            tenant,
            expected_traces,
            BlockEncoderOptions::default(),
            None,
        )
    }

    fn with_writer(
        tenant: &str,
        expected_traces: usize,
        opts: BlockEncoderOptions,
        writer: Option<ArrowWriter<Vec<u8>>>,
    ) -> Self {
        BlockEncoder {
            tenant: tenant.to_owned(),
            opts,
            writer,
            kept: Vec::new(),
            tag_index: TagIndexBuilder::default(),
            columns: SpanColumns::new(),
            trace_ids: Vec::with_capacity(expected_traces),
            last_trace: None,
            total_spans: 0,
            min_start: u64::MAX,
            max_end: 0,
            batches: 0,
            headers: HeaderCache::default(),
            trace: TraceRecords::default(),
            scope_keys: Vec::new(),
            resource_keys: Vec::new(),
            rows_by_span_id: Vec::new(),
            otlp_buf: Vec::new(),
            irregular_buf: Vec::new(),
        }
    }

    /// Spans appended but not yet handed to the Parquet writer.
    pub fn buffered_spans(&self) -> usize {
        self.columns.len()
    }

    /// Spans pushed so far.
    pub fn total_spans(&self) -> u64 {
        self.total_spans
    }

    /// Appends the spans of one trace. Traces must arrive in strictly ascending trace-ID order.
    /// `resource_spans` may repeat resources and hold spans in any order; spans whose IDs do not
    /// fit the fixed-size columns are stored exactly via `irregular_ids` (see the schema docs).
    /// A trace with no spans only advances the ordering check.
    ///
    /// Same as [`Self::push_trace_otlp`] on the `TracesData` encoding of `resource_spans`
    /// (which this builds): the cut path holds encoded traces and calls that directly.
    pub fn push_trace(
        &mut self,
        trace_id: &[u8; 16],
        resource_spans: &[ResourceSpans],
    ) -> Result<(), BlockError> {
        let mut otlp = std::mem::take(&mut self.otlp_buf);
        otlp.clear();
        for rs in resource_spans {
            prost::encoding::message::encode(1, rs, &mut otlp);
        }
        let pushed = self.push_trace_otlp(trace_id, &otlp);
        self.otlp_buf = otlp;
        pushed
    }

    /// Appends the spans of one trace given as `otlp`, a `TracesData` encoding (what the head
    /// block holds per trace), without decoding it into structs. The block stores exactly what
    /// [`Self::push_trace`] would store for the prost-decoded message.
    ///
    /// Bytes that prost would refuse are refused with [`BlockError::InvalidOtlp`] and nothing
    /// of the trace is appended (the ordering check does not advance either).
    pub fn push_trace_otlp(&mut self, trace_id: &[u8; 16], otlp: &[u8]) -> Result<(), BlockError> {
        if let Some(previous) = &self.last_trace
            && previous >= trace_id
        {
            return Err(BlockError::TraceOrder {
                previous: hex::encode(previous),
                got: hex::encode(trace_id),
            });
        }
        // Everything fallible happens before the first row is appended.
        self.trace.parse(otlp)?;
        let mut dicts = Dictionaries {
            batch: self.batches,
            names: &mut self.columns.names,
            resources: &mut self.columns.resources,
            scopes: &mut self.columns.scopes,
        };
        self.headers.resolve(
            &self.trace,
            otlp,
            &mut dicts,
            &mut self.resource_keys,
            &mut self.scope_keys,
        )?;
        self.last_trace = Some(*trace_id);
        if self.trace.spans.is_empty() {
            return Ok(());
        }
        self.trace_ids.push(*trace_id);
        self.append_rows(trace_id, otlp);
        self.total_spans += self.trace.spans.len() as u64;

        if self.columns.len() >= self.opts.batch_spans
            || self.columns.value_bytes() >= MAX_BATCH_VALUE_BYTES
        {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Appends the rows of the parsed trace (`self.trace`, from `otlp`).
    // PERFORMANCE-CRITICAL: one iteration per span; lookups are by index or by binary search
    // on the 8-byte ID; no allocation but reused buffers.
    fn append_rows(&mut self, trace_id: &[u8; 16], otlp: &[u8]) {
        let mut spans = std::mem::take(&mut self.trace.spans);
        let trace = &self.trace;
        // Rows of a trace are ordered by start, then span ID (stable for equal pairs).
        spans.sort_by(|a, b| {
            a.start.cmp(&b.start).then_with(|| {
                trace
                    .bytes(otlp, a.span_id)
                    .cmp(trace.bytes(otlp, b.span_id))
            })
        });

        // Trace-level values.
        let trace_start = spans[0].start;
        let mut trace_end = 0u64;
        let mut root: Option<usize> = None;
        self.rows_by_span_id.clear();
        for (row, span) in spans.iter().enumerate() {
            trace_end = trace_end.max(span.end);
            if root.is_none() && span.parent_span_id.is_empty() {
                root = Some(row);
            }
            if let Ok(id) = <[u8; 8]>::try_from(trace.bytes(otlp, span.span_id)) {
                self.rows_by_span_id
                    .push((u64::from_be_bytes(id), row as i32));
            }
        }
        self.rows_by_span_id.sort_unstable();
        let root_span = &spans[root.unwrap_or(0)];
        let (_, root_service_key) = self.resource_keys[root_span.resource as usize];
        let root_span_name_key = self.columns.names.intern(trace.bytes(otlp, root_span.name));
        self.min_start = self.min_start.min(trace_start);
        self.max_end = self.max_end.max(trace_end);

        for span in &spans {
            let (resource_key, service_key) = self.resource_keys[span.resource as usize];
            let scope_key = self.scope_keys[span.scope as usize];
            let (parent_index, parent_span_id, irregular_ids) =
                match regular_parent(trace, otlp, span, trace_id) {
                    Some(Some(parent)) => match self.row_of(u64::from_be_bytes(parent)) {
                        Some(row) => (row, None, None),
                        None => (-1, Some(parent), None),
                    },
                    Some(None) => (-1, None, None),
                    None => {
                        encode_irregular_ids(trace, otlp, span, &mut self.irregular_buf);
                        (-1, None, Some(self.irregular_buf.as_slice()))
                    }
                };
            let ctx = RowContext {
                trace_id,
                trace_start,
                trace_duration: trace_end.saturating_sub(trace_start),
                root_service_key,
                root_span_name_key,
                service_key,
                resource_key,
                scope_key,
                parent_index,
                parent_span_id,
                irregular_ids,
            };
            self.columns.append(&ctx, span, trace, otlp);
        }
        self.trace.spans = spans;
    }

    /// The first row of the trace whose span ID is `id`.
    fn row_of(&self, id: u64) -> Option<i32> {
        let at = self.rows_by_span_id.partition_point(|&(key, _)| key < id);
        match self.rows_by_span_id.get(at) {
            Some(&(key, row)) if key == id => Some(row),
            _ => None,
        }
    }

    fn write_batch(&mut self) -> Result<(), BlockError> {
        if self.columns.len() == 0 {
            return Ok(());
        }
        let batch = self.columns.finish()?;
        self.batches += 1;
        match &mut self.writer {
            Some(writer) => {
                self.tag_index.add_batch(&batch)?;
                writer.write(&batch).map_err(BlockError::Write)
            }
            None => {
                self.kept.push(batch);
                Ok(())
            }
        }
    }

    /// The Arrow batches of an in-memory encoder (empty when nothing was pushed). Each batch
    /// holds whole traces in ascending trace-ID order; dictionary keys are batch-local.
    pub fn finish_batches(mut self) -> Result<Vec<RecordBatch>, BlockError> {
        self.write_batch()?;
        Ok(self.kept)
    }

    /// Writes the remaining rows and the footer; builds the bloom filter and `meta.json`.
    pub fn finish(mut self) -> Result<EncodedBlock, BlockError> {
        if self.total_spans == 0 {
            return Err(BlockError::EmptyBlock {
                tenant: self.tenant,
            });
        }
        self.write_batch()?;
        let Some(mut writer) = self.writer.take() else {
            return Err(BlockError::InvalidOption {
                name: "writer",
                value: "in-memory".into(),
                reason: "an in-memory encoder has no Parquet output; use finish_batches",
            });
        };
        let spilled = self.columns.spilled();
        if spilled != 0 {
            writer.append_key_value_metadata(KeyValue::new(
                SPILLED_KEY.to_owned(),
                format_spilled(spilled),
            ));
        }
        if self.headers.service_names_exact() {
            writer.append_key_value_metadata(KeyValue::new(
                SERVICE_NAMES_KEY.to_owned(),
                EXACT.to_owned(),
            ));
        }
        writer.flush().map_err(BlockError::Write)?;
        let row_groups = writer.flushed_row_groups().len();
        let data = writer.into_inner().map_err(BlockError::Write)?;
        let footer_size = footer_len(&data)?;

        let bloom = BlockBloom::build(
            self.trace_ids.iter(),
            self.trace_ids.len(),
            self.opts.bloom_false_positive,
        );
        let min_trace = self
            .trace_ids
            .first()
            .expect("total_spans > 0 implies a trace");
        let max_trace = self
            .trace_ids
            .last()
            .expect("total_spans > 0 implies a trace");
        let meta = BlockMeta {
            format: FORMAT_VERSION.to_owned(),
            version: FORMAT_VERSION.to_owned(),
            block_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: self.tenant,
            start_time: rfc3339_seconds_floor(self.min_start),
            end_time: rfc3339_seconds_ceil(self.max_end),
            start_time_unix_nano: self.min_start,
            end_time_unix_nano: self.max_end,
            total_objects: self.trace_ids.len() as u64,
            total_spans: self.total_spans,
            size: data.len() as u64,
            compaction_level: 0,
            index_page_size: 0,
            total_records: row_groups as u32,
            bloom_shards: 1,
            footer_size,
            replication_factor: 1,
            min_trace_id: hex::encode(min_trace),
            max_trace_id: hex::encode(max_trace),
        };
        let tag_index = std::mem::take(&mut self.tag_index).finish().to_json()?;
        Ok(EncodedBlock {
            meta,
            data: Bytes::from(data),
            bloom: Bytes::from(bloom.to_bytes()),
            tag_index: Bytes::from(tag_index),
        })
    }
}

/// The Parquet footer length stored before the trailing magic.
fn footer_len(data: &[u8]) -> Result<u32, BlockError> {
    let tail = data
        .len()
        .checked_sub(8)
        .and_then(|at| data.get(at..at + 4))
        .ok_or_else(|| BlockError::Corrupt(format!("parquet output of {} bytes", data.len())))?;
    Ok(u32::from_le_bytes(
        tail.try_into().expect("slice of length 4"),
    ))
}

/// For a regular span (see the schema docs): `Some(parent)` with its 8-byte parent ID, if any.
/// `None` for an irregular span.
#[inline]
fn regular_parent(
    trace: &TraceRecords,
    otlp: &[u8],
    span: &SpanRec,
    trace_id: &[u8; 16],
) -> Option<Option<[u8; 8]>> {
    let parent = trace.bytes(otlp, span.parent_span_id);
    let regular = trace.bytes(otlp, span.trace_id) == trace_id.as_slice()
        && span.span_id.len() == 8
        && (parent.is_empty() || parent.len() == 8);
    regular.then(|| <[u8; 8]>::try_from(parent).ok())
}

/// The `irregular_ids` value: a `Span` encoding with only the three IDs (prost's field order).
#[cold]
fn encode_irregular_ids(trace: &TraceRecords, otlp: &[u8], span: &SpanRec, out: &mut Vec<u8>) {
    out.clear();
    for (key, loc) in [
        (0x0a, span.trace_id),
        (0x12, span.span_id),
        (0x22, span.parent_span_id),
    ] {
        let bytes = trace.bytes(otlp, loc);
        if !bytes.is_empty() {
            out.push(key);
            put_varint(bytes.len() as u64, out);
            out.extend_from_slice(bytes);
        }
    }
}
