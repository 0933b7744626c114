//! Dedicated span-attribute columns (`tc2`): well-known semantic-convention keys get a flat
//! column of their own, so a search on `span.http.url` or `span.http.status_code` decodes one
//! column instead of the whole attribute list.
//!
//! **Which attribute goes where.** For each span and each dedicated key K of kind T, the *first*
//! attribute of the span with key K goes to K's column when its value is a T (a string, or an
//! int). Every other attribute stays in the generic `attributes` list: other keys, a first K of
//! another type (or without a value), and every later K. Since TraceQL reads the first
//! attribute of a key, "K's column if set, else the first K of the list" is exactly the
//! span's attribute K.
//!
//! **Order.** `dedicated_layout` holds, for a span with at least one dedicated value, the
//! position each of them had in the span's attribute list (LEB128 varints, in column order);
//! the reader puts them back there, so the round trip stays exact. Spans of one kind share a
//! layout, so the dictionary column costs next to nothing.
//!
//! **Spills.** A block's Parquet metadata lists under [`SPILLED_KEY`] the dedicated keys that
//! occur in its generic list at all; a search on keys that never spilled skips the list.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, DictionaryArray, Int32Array, Int32Builder,
    Int64Array, Int64Builder, StringArray,
};
use arrow::datatypes::{DataType, Int32Type};
use tracecore_proto::otlp::{AnyValue, KeyValue, any_value::Value};

use super::attributes::downcast;
use super::columns::Interner;
use super::error::BlockError;
use super::nested::utf8;
use super::otlp::{AttrRec, AttrValue, Loc};
use super::wire::put_varint;

/// What a dedicated column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedicatedKind {
    /// String values, mostly distinct per span (URLs, statements): plain Utf8.
    Text,
    /// String values from a small set (methods, routes, systems): Dictionary(Int32, Utf8).
    Label,
    /// Int64 values.
    Int,
}

/// One dedicated column: the attribute key and its column name.
#[derive(Clone, Copy, Debug)]
pub struct DedicatedKey {
    pub key: &'static str,
    pub column: &'static str,
    pub kind: DedicatedKind,
}

const fn key(key: &'static str, column: &'static str, kind: DedicatedKind) -> DedicatedKey {
    DedicatedKey { key, column, kind }
}

/// Number of dedicated columns.
pub const COUNT: usize = 18;

/// The dedicated columns, in schema order (after `dedicated_layout`).
pub const DEDICATED: [DedicatedKey; COUNT] = {
    use DedicatedKind::*;
    [
        key("http.url", "attr_http_url", Text),
        key("url.full", "attr_url_full", Text),
        key("http.target", "attr_http_target", Text),
        key("db.statement", "attr_db_statement", Text),
        key("http.method", "attr_http_method", Label),
        key("http.request.method", "attr_http_request_method", Label),
        key("http.route", "attr_http_route", Label),
        key("server.address", "attr_server_address", Label),
        key("db.system", "attr_db_system", Label),
        key("db.name", "attr_db_name", Label),
        key("messaging.system", "attr_messaging_system", Label),
        key(
            "messaging.destination.name",
            "attr_messaging_destination_name",
            Label,
        ),
        key("rpc.service", "attr_rpc_service", Label),
        key("rpc.method", "attr_rpc_method", Label),
        key("error.type", "attr_error_type", Label),
        key("http.status_code", "attr_http_status_code", Int),
        key(
            "http.response.status_code",
            "attr_http_response_status_code",
            Int,
        ),
        key("server.port", "attr_server_port", Int),
    ]
};

/// Parquet key-value metadata key: comma-separated dedicated keys found in the generic list.
pub const SPILLED_KEY: &str = "tracecore.dedicated.spilled";

/// The dedicated slot of an attribute key.
// PERFORMANCE-CRITICAL: once per attribute written; a match on byte strings compiles to a
// length switch and a few compares (kept equal to `DEDICATED` by a test).
pub fn slot(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"http.url" => 0,
        b"url.full" => 1,
        b"http.target" => 2,
        b"db.statement" => 3,
        b"http.method" => 4,
        b"http.request.method" => 5,
        b"http.route" => 6,
        b"server.address" => 7,
        b"db.system" => 8,
        b"db.name" => 9,
        b"messaging.system" => 10,
        b"messaging.destination.name" => 11,
        b"rpc.service" => 12,
        b"rpc.method" => 13,
        b"error.type" => 14,
        b"http.status_code" => 15,
        b"http.response.status_code" => 16,
        b"server.port" => 17,
        _ => return None,
    })
}

/// The Arrow type of a dedicated column.
pub fn data_type(kind: DedicatedKind) -> DataType {
    match kind {
        DedicatedKind::Text => DataType::Utf8,
        DedicatedKind::Label => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        DedicatedKind::Int => DataType::Int64,
    }
}

/// A bit per dedicated slot.
pub type SlotMask = u32;

const _: () = assert!(COUNT <= SlotMask::BITS as usize);

/// Parses [`SPILLED_KEY`]'s value into a mask (unknown keys are ignored).
pub fn parse_spilled(value: &str) -> SlotMask {
    value
        .split(',')
        .filter_map(|k| slot(k.as_bytes()))
        .fold(0, |mask, s| mask | (1 << s))
}

/// Formats a mask as [`SPILLED_KEY`]'s value.
pub fn format_spilled(mask: SlotMask) -> String {
    (0..COUNT)
        .filter(|s| mask & (1 << s) != 0)
        .map(|s| DEDICATED[s].key)
        .collect::<Vec<_>>()
        .join(",")
}

/// The dedicated keys a block's generic list holds, from its Parquet metadata; `None` for a
/// block without dedicated columns (`tc1`: every attribute is in the list).
pub fn spilled(metadata: &parquet::file::metadata::ParquetMetaData) -> Option<SlotMask> {
    let file = metadata.file_metadata();
    if file.schema_descr().root_schema().get_fields().len() < super::schema::col::COUNT {
        return None;
    }
    let value = file
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == SPILLED_KEY))
        .and_then(|kv| kv.value.as_deref())
        .unwrap_or("");
    Some(parse_spilled(value))
}

enum ColumnBuilder {
    Text(BinaryBuilder),
    Label(Interner, Int32Builder),
    Int(Int64Builder),
}

/// Splits each span's attributes between the dedicated columns and the generic list, and
/// builds the dedicated columns and `dedicated_layout` of one batch.
pub(crate) struct DedicatedColumnsBuilder {
    columns: Vec<ColumnBuilder>,
    layouts: Interner,
    layout_keys: Int32Builder,
    /// Per slot, the current row's value: (position in the span's list, value).
    row: [Option<(u32, AttrValue)>; COUNT],
    layout: Vec<u8>,
    spilled: SlotMask,
}

impl DedicatedColumnsBuilder {
    pub(crate) fn new() -> Self {
        DedicatedColumnsBuilder {
            columns: DEDICATED
                .iter()
                .map(|d| match d.kind {
                    DedicatedKind::Text => ColumnBuilder::Text(BinaryBuilder::new()),
                    DedicatedKind::Label => {
                        ColumnBuilder::Label(Interner::default(), Int32Builder::new())
                    }
                    DedicatedKind::Int => ColumnBuilder::Int(Int64Builder::new()),
                })
                .collect(),
            layouts: Interner::default(),
            layout_keys: Int32Builder::new(),
            row: [None; COUNT],
            layout: Vec::new(),
            spilled: 0,
        }
    }

    /// Appends one span's row: its dedicated values here, every other attribute to `generic`
    /// (in order).
    // PERFORMANCE-CRITICAL: once per span; one key match per attribute, no allocation.
    pub(crate) fn append_row<'a>(
        &mut self,
        attributes: &[AttrRec],
        bytes: &impl Fn(Loc) -> &'a [u8],
        mut generic: impl FnMut(&AttrRec),
    ) {
        let mut seen: SlotMask = 0;
        let mut any = false;
        for (position, attribute) in attributes.iter().enumerate() {
            if let Some(s) = slot(bytes(attribute.key)) {
                let bit = 1 << s;
                let first = seen & bit == 0;
                seen |= bit;
                let fits = matches!(
                    (DEDICATED[s].kind, attribute.value),
                    (
                        DedicatedKind::Text | DedicatedKind::Label,
                        AttrValue::Str(_)
                    ) | (DedicatedKind::Int, AttrValue::Int(_))
                );
                if first && fits {
                    self.row[s] = Some((position as u32, attribute.value));
                    any = true;
                    continue;
                }
                self.spilled |= bit;
            }
            generic(attribute);
        }
        self.layout.clear();
        for (s, column) in self.columns.iter_mut().enumerate() {
            let value = self.row[s].take();
            if let Some((position, _)) = value {
                put_varint(u64::from(position), &mut self.layout);
            }
            match (column, value.map(|(_, v)| v)) {
                (ColumnBuilder::Text(b), Some(AttrValue::Str(v))) => b.append_value(bytes(v)),
                (ColumnBuilder::Text(b), _) => b.append_null(),
                (ColumnBuilder::Label(dict, keys), Some(AttrValue::Str(v))) => {
                    keys.append_value(dict.intern(bytes(v)));
                }
                (ColumnBuilder::Label(_, keys), _) => keys.append_null(),
                (ColumnBuilder::Int(b), Some(AttrValue::Int(v))) => b.append_value(v),
                (ColumnBuilder::Int(b), _) => b.append_null(),
            }
        }
        if any {
            let key = self.layouts.intern(&self.layout);
            self.layout_keys.append_value(key);
        } else {
            self.layout_keys.append_null();
        }
    }

    /// Dedicated keys that went to the generic list in any batch so far.
    pub(crate) fn spilled(&self) -> SlotMask {
        self.spilled
    }

    /// Bytes of values buffered (to bound batch size).
    pub(crate) fn value_bytes(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match c {
                ColumnBuilder::Text(b) => b.values_slice().len(),
                ColumnBuilder::Label(dict, _) => dict.value_bytes(),
                ColumnBuilder::Int(_) => 0,
            })
            .sum()
    }

    /// `dedicated_layout` followed by the dedicated columns of the batch; resets the builders.
    pub(crate) fn finish(&mut self) -> Result<Vec<ArrayRef>, BlockError> {
        let mut out = Vec::with_capacity(COUNT + 1);
        out.push(self.layouts.finish_binary(&mut self.layout_keys)?);
        for column in &mut self.columns {
            out.push(match column {
                ColumnBuilder::Text(b) => utf8(b.finish())?,
                ColumnBuilder::Label(dict, keys) => dict.finish_utf8(keys)?,
                ColumnBuilder::Int(b) => Arc::new(b.finish()),
            });
        }
        Ok(out)
    }
}

/// Read access to one dedicated column.
enum ColumnReader<'a> {
    Text(&'a StringArray),
    Label(&'a Int32Array, &'a StringArray),
    Int(&'a Int64Array),
}

impl ColumnReader<'_> {
    fn value(&self, row: usize) -> Option<Value> {
        match self {
            ColumnReader::Text(a) => a
                .is_valid(row)
                .then(|| Value::StringValue(a.value(row).to_owned())),
            ColumnReader::Label(keys, values) => keys
                .is_valid(row)
                .then(|| values.value(keys.value(row) as usize))
                .map(|v| Value::StringValue(v.to_owned())),
            ColumnReader::Int(a) => a.is_valid(row).then(|| Value::IntValue(a.value(row))),
        }
    }
}

/// Puts the dedicated values of a row back into its attribute list (the by-ID read side).
pub(crate) struct DedicatedColumnsReader<'a> {
    layout_keys: &'a Int32Array,
    layouts: &'a BinaryArray,
    columns: Vec<ColumnReader<'a>>,
}

impl<'a> DedicatedColumnsReader<'a> {
    /// `columns`: `dedicated_layout` then the dedicated columns, as [`DedicatedColumnsBuilder`]
    /// writes them.
    pub(crate) fn new(
        layout: &'a dyn Array,
        columns: &[&'a dyn Array],
    ) -> Result<Self, BlockError> {
        let layout: &DictionaryArray<Int32Type> = downcast(layout, "dedicated_layout")?;
        let layouts: &BinaryArray = downcast(layout.values().as_ref(), "dedicated_layout")?;
        if columns.len() != COUNT {
            return Err(BlockError::Corrupt(format!(
                "{} dedicated columns, expected {COUNT}",
                columns.len()
            )));
        }
        let columns = columns
            .iter()
            .zip(DEDICATED)
            .map(|(array, d)| {
                Ok(match d.kind {
                    DedicatedKind::Text => ColumnReader::Text(downcast(*array, d.column)?),
                    DedicatedKind::Label => {
                        let dict: &DictionaryArray<Int32Type> = downcast(*array, d.column)?;
                        ColumnReader::Label(
                            dict.keys(),
                            downcast(dict.values().as_ref(), d.column)?,
                        )
                    }
                    DedicatedKind::Int => ColumnReader::Int(downcast(*array, d.column)?),
                })
            })
            .collect::<Result<Vec<_>, BlockError>>()?;
        Ok(DedicatedColumnsReader {
            layout_keys: layout.keys(),
            layouts,
            columns,
        })
    }

    /// Row `row`'s full attribute list from its generic part.
    pub(crate) fn merge(
        &self,
        row: usize,
        generic: Vec<KeyValue>,
    ) -> Result<Vec<KeyValue>, BlockError> {
        if self.layout_keys.is_null(row) {
            return Ok(generic);
        }
        let corrupt = |what: &str| BlockError::Corrupt(format!("dedicated_layout: {what}"));
        let layout_key = self.layout_keys.value(row) as usize;
        if layout_key >= self.layouts.len() {
            return Err(corrupt("key out of range"));
        }
        let mut layout = self.layouts.value(layout_key);
        let mut placed: Vec<(usize, KeyValue)> = Vec::new();
        for (s, column) in self.columns.iter().enumerate() {
            if let Some(value) = column.value(row) {
                let position = read_varint(&mut layout).ok_or_else(|| corrupt("truncated"))?;
                placed.push((
                    position,
                    KeyValue {
                        key: DEDICATED[s].key.to_owned(),
                        value: Some(AnyValue { value: Some(value) }),
                    },
                ));
            }
        }
        if !layout.is_empty() {
            return Err(corrupt("more positions than values"));
        }
        placed.sort_unstable_by_key(|(p, _)| *p);
        let total = generic.len() + placed.len();
        let mut out = Vec::with_capacity(total);
        let mut generic = generic.into_iter();
        let mut placed = placed.into_iter().peekable();
        for position in 0..total {
            match placed.next_if(|(p, _)| *p == position) {
                Some((_, kv)) => out.push(kv),
                None => out.push(
                    generic
                        .next()
                        .ok_or_else(|| corrupt("position out of range"))?,
                ),
            }
        }
        if placed.next().is_some() {
            return Err(corrupt("position out of range"));
        }
        Ok(out)
    }
}

fn read_varint(bytes: &mut &[u8]) -> Option<usize> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return usize::try_from(value).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_matches_the_table() {
        for (s, d) in DEDICATED.iter().enumerate() {
            assert_eq!(slot(d.key.as_bytes()), Some(s), "{}", d.key);
            assert_eq!(d.column, format!("attr_{}", d.key.replace('.', "_")));
        }
        assert_eq!(slot(b"http.urls"), None);
        assert_eq!(slot(b""), None);
    }

    #[test]
    fn spilled_round_trips() {
        let mask = (1 << 0) | (1 << 15) | (1 << 17);
        assert_eq!(
            format_spilled(mask),
            "http.url,http.status_code,server.port"
        );
        assert_eq!(parse_spilled(&format_spilled(mask)), mask);
        assert_eq!(parse_spilled(""), 0);
        assert_eq!(parse_spilled("unknown,http.url"), 1);
    }

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 20] {
            let mut buf = Vec::new();
            put_varint(v, &mut buf);
            let mut slice = buf.as_slice();
            assert_eq!(read_varint(&mut slice), Some(v as usize));
            assert!(slice.is_empty());
        }
        assert_eq!(read_varint(&mut [0x80u8].as_slice()), None);
    }
}
