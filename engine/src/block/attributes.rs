//! The typed `attributes` list column: `KeyValue`s ⇄ `List<Struct{key, str, int, double, bool, other}>`.
//!
//! See the schema docs in [`super::schema`] for which field carries which `AnyValue` kind.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, BooleanBuilder, Float64Array,
    Float64Builder, Int64Array, Int64Builder, ListArray, StringArray, StructArray,
};
use prost::Message as _;
use tracecore_proto::otlp::{AnyValue, KeyValue, any_value::Value};

use super::error::BlockError;
use super::nested::{finish_list, push_list_end, utf8};
use super::otlp::{AttrRec, AttrValue, Loc};
use super::schema::{attr, attribute_fields};

/// Builds the `attributes` column of one batch.
pub(crate) struct AttributeColumnBuilder {
    offsets: Vec<i32>,
    /// Entries of the row being appended.
    row_entries: usize,
    /// Utf8 children built as binary, validated once per batch (see [`utf8`]).
    key: BinaryBuilder,
    str_value: BinaryBuilder,
    int_value: Int64Builder,
    double_value: Float64Builder,
    bool_value: BooleanBuilder,
    other: BinaryBuilder,
}

impl AttributeColumnBuilder {
    pub(crate) fn new() -> Self {
        AttributeColumnBuilder {
            offsets: vec![0],
            row_entries: 0,
            key: BinaryBuilder::new(),
            str_value: BinaryBuilder::new(),
            int_value: Int64Builder::new(),
            double_value: Float64Builder::new(),
            bool_value: BooleanBuilder::new(),
            other: BinaryBuilder::new(),
        }
    }

    /// Appends one entry to the current row (see [`Self::end_row`]), whose bytes `bytes`
    /// resolves.
    // PERFORMANCE-CRITICAL: once per attribute; byte copies into the builders only, no
    // allocation but builder growth.
    pub(crate) fn append_entry<'a>(&mut self, attr: &AttrRec, bytes: &impl Fn(Loc) -> &'a [u8]) {
        self.key.append_value(bytes(attr.key));
        let (mut s, mut i, mut d, mut b, mut o) = (false, false, false, false, false);
        match attr.value {
            AttrValue::Str(v) => {
                self.str_value.append_value(bytes(v));
                s = true;
            }
            AttrValue::Int(v) => {
                self.int_value.append_value(v);
                i = true;
            }
            AttrValue::Double(v) => {
                self.double_value.append_value(v);
                d = true;
            }
            AttrValue::Bool(v) => {
                self.bool_value.append_value(v);
                b = true;
            }
            AttrValue::Other(v) => {
                self.other.append_value(bytes(v));
                o = true;
            }
            AttrValue::Absent => {}
        }
        if !s {
            self.str_value.append_null();
        }
        if !i {
            self.int_value.append_null();
        }
        if !d {
            self.double_value.append_null();
        }
        if !b {
            self.bool_value.append_null();
        }
        if !o {
            self.other.append_null();
        }
        self.row_entries += 1;
    }

    /// Ends the current row (the entries appended since the last call).
    pub(crate) fn end_row(&mut self) {
        push_list_end(&mut self.offsets, self.row_entries);
        self.row_entries = 0;
    }

    /// Bytes of string/binary values buffered so far (to bound batch size).
    pub(crate) fn value_bytes(&self) -> usize {
        self.key.values_slice().len()
            + self.str_value.values_slice().len()
            + self.other.values_slice().len()
    }

    /// Finishes the batch's column and resets the builder.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let children: Vec<ArrayRef> = vec![
            utf8(self.key.finish())?,
            utf8(self.str_value.finish())?,
            Arc::new(self.int_value.finish()),
            Arc::new(self.double_value.finish()),
            Arc::new(self.bool_value.finish()),
            Arc::new(self.other.finish()),
        ];
        finish_list(attribute_fields(), children, &mut self.offsets)
    }
}

/// Read access to a decoded `attributes` column.
pub(crate) struct AttributeColumnReader<'a> {
    list: &'a ListArray,
    key: &'a StringArray,
    str_value: &'a StringArray,
    int_value: &'a Int64Array,
    double_value: &'a Float64Array,
    bool_value: &'a BooleanArray,
    other: &'a BinaryArray,
}

impl<'a> AttributeColumnReader<'a> {
    pub(crate) fn new(column: &'a dyn Array) -> Result<Self, BlockError> {
        let list: &ListArray = downcast(column, "attributes")?;
        let entries: &StructArray = downcast(list.values().as_ref(), "attributes")?;
        if entries.num_columns() != attribute_fields().len() {
            return Err(BlockError::Corrupt(format!(
                "attributes entries have {} fields, expected {}",
                entries.num_columns(),
                attribute_fields().len()
            )));
        }
        Ok(AttributeColumnReader {
            list,
            key: downcast(entries.column(attr::KEY).as_ref(), "attributes.key")?,
            str_value: downcast(entries.column(attr::STR).as_ref(), "attributes.str")?,
            int_value: downcast(entries.column(attr::INT).as_ref(), "attributes.int")?,
            double_value: downcast(entries.column(attr::DOUBLE).as_ref(), "attributes.double")?,
            bool_value: downcast(entries.column(attr::BOOL).as_ref(), "attributes.bool")?,
            other: downcast(entries.column(attr::OTHER).as_ref(), "attributes.other")?,
        })
    }

    /// The attributes of row `row`.
    pub(crate) fn row(&self, row: usize) -> Result<Vec<KeyValue>, BlockError> {
        let offsets = self.list.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let mut out = Vec::with_capacity(end - start);
        for i in start..end {
            let value = if self.str_value.is_valid(i) {
                Some(Value::StringValue(self.str_value.value(i).to_owned()))
            } else if self.int_value.is_valid(i) {
                Some(Value::IntValue(self.int_value.value(i)))
            } else if self.double_value.is_valid(i) {
                Some(Value::DoubleValue(self.double_value.value(i)))
            } else if self.bool_value.is_valid(i) {
                Some(Value::BoolValue(self.bool_value.value(i)))
            } else {
                None
            };
            let value = match value {
                Some(v) => Some(AnyValue { value: Some(v) }),
                None if self.other.is_valid(i) => {
                    Some(AnyValue::decode(self.other.value(i)).map_err(|source| {
                        BlockError::Protobuf {
                            column: "attributes.other",
                            source,
                        }
                    })?)
                }
                None => None,
            };
            out.push(KeyValue {
                key: self.key.value(i).to_owned(),
                value,
            });
        }
        Ok(out)
    }
}

/// Downcasts a column, reporting a type mismatch as a corrupt block instead of panicking.
pub(crate) fn downcast<'a, T: 'static>(
    array: &'a dyn Array,
    column: &str,
) -> Result<&'a T, BlockError> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        BlockError::Corrupt(format!(
            "column {column} has type {}, not the block schema's type",
            array.data_type()
        ))
    })
}
