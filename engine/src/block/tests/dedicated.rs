//! Dedicated attribute columns (`tc2`): exact round trips whatever the types, order and
//! repeats of the dedicated keys, and `tc1` blocks (no dedicated columns) still read.

use arrow::array::{Array as _, AsArray as _};

use super::*;
use crate::block::dedicated as columns;

/// Keys the generator mixes into spans: dedicated ones (string, dictionary string and int
/// columns) and one that is not.
const KEYS: [&str; 6] = [
    "http.url",
    "http.method",
    "http.status_code",
    "db.statement",
    "server.port",
    "not.dedicated",
];

/// `traces(seed, count)` with dedicated keys inserted at random positions: mostly with the
/// column's type, sometimes with another type, without a value, or repeated.
pub(super) fn traces_with_dedicated_keys(
    seed: u64,
    count: usize,
) -> Vec<([u8; 16], Vec<ResourceSpans>)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xded1_ca7e);
    let mut input = traces(seed, count);
    for (_, resource_spans) in &mut input {
        for span in resource_spans
            .iter_mut()
            .flat_map(|rs| &mut rs.scope_spans)
            .flat_map(|ss| &mut ss.spans)
        {
            for _ in 0..rng.random_range(0..=5) {
                let key = KEYS[rng.random_range(0..KEYS.len())];
                let numeric = matches!(key, "http.status_code" | "server.port");
                let value = match rng.random_range(0..10) {
                    0 => None,
                    1 if numeric => Some(Value::StringValue("200".into())),
                    1 => Some(Value::IntValue(7)),
                    2 => Some(Value::DoubleValue(1.5)),
                    _ if numeric => Some(Value::IntValue(rng.random_range(100..600))),
                    _ => Some(Value::StringValue(format!(
                        "https://shop.example/{}/{}",
                        key,
                        rng.random_range(0..1000)
                    ))),
                };
                let at = rng.random_range(0..=span.attributes.len());
                span.attributes.insert(at, kv(key, value));
            }
        }
    }
    input
}

fn span_total(input: &[([u8; 16], Vec<ResourceSpans>)]) -> usize {
    input.iter().map(|(_, rs)| span_count(rs)).sum()
}

fn assert_reads_back(block: &EncodedBlock, input: &[([u8; 16], Vec<ResourceSpans>)]) {
    for (id, rs) in input {
        let read = read(block, id).unwrap_or_else(|| panic!("trace {} missing", hex::encode(id)));
        assert_eq!(
            normalize(&read.resource_spans),
            normalize(rs),
            "trace {}",
            hex::encode(id)
        );
    }
}

fn first_batch(data: &Bytes) -> arrow::array::RecordBatch {
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data.clone())
            .expect("reader")
            .with_batch_size(1 << 20)
            .build()
            .expect("build");
    let batches: Vec<_> = reader.map(|b| b.expect("batch")).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat")
}

fn spilled_of(data: &Bytes) -> Option<columns::SlotMask> {
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data.clone())
            .expect("reader");
    columns::spilled(reader.metadata())
}

#[test]
fn dedicated_values_round_trip_in_their_places() {
    let input = traces_with_dedicated_keys(3, 200);
    let block = encode(
        &input,
        BlockEncoderOptions {
            row_group_spans: 40,
            batch_spans: 23,
            ..Default::default()
        },
    );
    assert_eq!(block.meta.total_spans, span_total(&input) as u64);
    assert_eq!(block.meta.version, "tc2");
    assert_reads_back(&block, &input);
    // Values went to the columns, and the wrong types and repeats to the list (spilled).
    let batch = first_batch(&block.data);
    for key in [
        "http.url",
        "http.method",
        "http.status_code",
        "db.statement",
        "server.port",
    ] {
        let s = columns::slot(key.as_bytes()).expect("dedicated");
        let column = batch.column(schema::dedicated_column(s));
        assert!(
            column.len() - column.null_count() > 50,
            "{key} column nearly empty"
        );
    }
    let spilled = spilled_of(&block.data).expect("tc2 block");
    assert_ne!(
        spilled & (1 << columns::slot(b"http.status_code").unwrap()),
        0
    );
    assert_eq!(spilled & (1 << columns::slot(b"http.route").unwrap()), 0);
}

#[test]
fn well_typed_dedicated_keys_stay_out_of_the_list() {
    let mut input = traces(5, 60);
    for (_, rs) in &mut input {
        for (i, span) in rs
            .iter_mut()
            .flat_map(|rs| &mut rs.scope_spans)
            .flat_map(|ss| &mut ss.spans)
            .enumerate()
        {
            span.attributes.insert(
                i % (span.attributes.len() + 1),
                kv(
                    "http.url",
                    Some(Value::StringValue(format!("https://a/{i}"))),
                ),
            );
            span.attributes.push(kv(
                "http.status_code",
                Some(Value::IntValue(200 + i as i64)),
            ));
        }
    }
    let block = encode(&input, BlockEncoderOptions::default());
    assert_reads_back(&block, &input);
    assert_eq!(spilled_of(&block.data), Some(0));
    let batch = first_batch(&block.data);
    let list = batch.column(schema::col::ATTRIBUTES).as_list::<i32>();
    let keys = list
        .values()
        .as_struct()
        .column(schema::attr::KEY)
        .as_string::<i32>();
    assert!(
        keys.iter()
            .flatten()
            .all(|k| k != "http.url" && k != "http.status_code")
    );
    assert_eq!(
        batch
            .column(schema::dedicated_column(
                columns::slot(b"http.url").unwrap()
            ))
            .null_count(),
        0
    );
}

/// A `tc1` block written by the previous encoder (every attribute in the list, no dedicated
/// columns) still reads exactly.
#[test]
fn tc1_blocks_still_read() {
    let data = Bytes::from_static(include_bytes!("../testdata/tc1.parquet"));
    let input = traces_with_dedicated_keys(11, 40);
    let mut reader = BytesFileReader::new(data.clone());
    let metadata = block_on(load_block_metadata(&mut reader)).expect("tc1 metadata");
    assert_eq!(metadata.schema().fields().len(), schema::TC1_COLUMNS);
    assert_eq!(columns::spilled(metadata.metadata()), None);
    for (id, rs) in &input {
        let read = block_on(read_trace(
            BytesFileReader::new(data.clone()),
            &metadata,
            id,
        ))
        .expect("read")
        .unwrap_or_else(|| panic!("trace {} missing", hex::encode(id)));
        assert_eq!(normalize(&read.resource_spans), normalize(rs));
    }
}

#[test]
fn corrupt_layouts_are_errors_not_panics() {
    use arrow::array::{Array, ArrayRef, BinaryArray, DictionaryArray, Int32Array, StringArray};
    use std::sync::Arc;
    let layout = |bytes: &[u8]| -> ArrayRef {
        Arc::new(
            DictionaryArray::<arrow::datatypes::Int32Type>::try_new(
                Int32Array::from(vec![Some(0)]),
                Arc::new(BinaryArray::from(vec![bytes])),
            )
            .unwrap(),
        )
    };
    let columns: Vec<ArrayRef> = columns::DEDICATED
        .iter()
        .map(|d| -> ArrayRef {
            let url = (d.key == "http.url").then_some("https://x");
            match d.kind {
                columns::DedicatedKind::Text => Arc::new(StringArray::from(vec![url])),
                columns::DedicatedKind::Label => Arc::new(
                    DictionaryArray::<arrow::datatypes::Int32Type>::try_new(
                        Int32Array::from(vec![None::<i32>]),
                        Arc::new(StringArray::from(Vec::<&str>::new())),
                    )
                    .unwrap(),
                ),
                columns::DedicatedKind::Int => {
                    Arc::new(arrow::array::Int64Array::from(vec![None::<i64>]))
                }
            }
        })
        .collect();
    let refs: Vec<&dyn Array> = columns.iter().map(|c| c.as_ref()).collect();
    let generic = vec![kv("a", None)];
    // Position 1 of 2: fine. Position 5, a missing position, an extra one: corrupt.
    for (bytes, ok) in [
        (&[1u8][..], true),
        (&[5], false),
        (&[], false),
        (&[0, 0], false),
    ] {
        let layout = layout(bytes);
        let reader = columns::DedicatedColumnsReader::new(layout.as_ref(), &refs).unwrap();
        let merged = reader.merge(0, generic.clone());
        assert_eq!(merged.is_ok(), ok, "layout {bytes:?}: {merged:?}");
        if let Ok(m) = merged {
            assert_eq!(m[0].key, "a");
            assert_eq!(m[1].key, "http.url");
        }
    }
}
