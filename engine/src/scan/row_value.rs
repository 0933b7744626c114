//! One row's value out of a [`Values`]: for grouping keys, aggregates and the attributes a
//! search result shows.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};

use super::values::{Lane, Values};

/// A single typed value (TEMPO-SPEC §4.4 rendering is done by the API layer).
#[derive(Clone, Debug, PartialEq)]
pub enum RowValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// OTLP status code.
    Status(i32),
    /// OTLP span kind.
    Kind(i32),
    /// An ID, shown as hex.
    Bytes(Vec<u8>),
}

impl RowValue {
    /// The value as a number, for aggregates.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            RowValue::Int(i) | RowValue::Duration(i) => Some(i as f64),
            RowValue::Float(f) => Some(f),
            _ => None,
        }
    }

    /// A key that groups equal values (floats by bits).
    pub fn group_key(&self) -> String {
        match self {
            RowValue::Str(s) => format!("s{s}"),
            RowValue::Int(i) => format!("i{i}"),
            RowValue::Float(f) => format!("f{}", f.to_bits()),
            RowValue::Bool(b) => format!("b{b}"),
            RowValue::Duration(d) => format!("d{d}"),
            RowValue::Status(s) => format!("S{s}"),
            RowValue::Kind(k) => format!("K{k}"),
            RowValue::Bytes(b) => format!("x{}", hex::encode(b)),
        }
    }
}

fn lane_index(lane: &Lane, row: usize) -> usize {
    if lane.scalar { 0 } else { row }
}

fn str_at(lane: &Lane, row: usize) -> Option<String> {
    let i = lane_index(lane, row);
    let array = lane.array.as_ref();
    match array.data_type() {
        DataType::Dictionary(_, _) => {
            let dict = array.as_dictionary::<Int32Type>();
            if dict.is_null(i) {
                return None;
            }
            let key = dict.keys().value(i) as usize;
            let values = dict.values().as_string_opt::<i32>()?;
            (key < values.len() && values.is_valid(key)).then(|| values.value(key).to_owned())
        }
        _ => {
            let strings = array.as_string_opt::<i32>()?;
            strings.is_valid(i).then(|| strings.value(i).to_owned())
        }
    }
}

fn bytes_at(lane: &Lane, row: usize) -> Option<Vec<u8>> {
    let i = lane_index(lane, row);
    let array = lane.array.as_ref();
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::FixedSizeBinary(_) => Some(array.as_fixed_size_binary().value(i).to_vec()),
        DataType::Binary => Some(array.as_binary::<i32>().value(i).to_vec()),
        _ => None,
    }
}

impl Values {
    /// The value at span (or event/link) row `row`, `None` when missing.
    pub(crate) fn get(&self, row: usize) -> Option<RowValue> {
        if let Some(lane) = &self.str
            && let Some(s) = str_at(lane, row)
        {
            return Some(RowValue::Str(s));
        }
        if let Some(lane) = &self.int {
            let a = lane.array.as_primitive::<Int64Type>();
            let i = lane_index(lane, row);
            if a.is_valid(i) {
                let v = a.value(i);
                return Some(if self.duration {
                    RowValue::Duration(v)
                } else {
                    RowValue::Int(v)
                });
            }
        }
        if let Some(lane) = &self.float {
            let a = lane.array.as_primitive::<Float64Type>();
            let i = lane_index(lane, row);
            if a.is_valid(i) {
                return Some(RowValue::Float(a.value(i)));
            }
        }
        if let Some(lane) = &self.boolean {
            let a = lane.array.as_boolean();
            let i = lane_index(lane, row);
            if a.is_valid(i) {
                return Some(RowValue::Bool(a.value(i)));
            }
        }
        for (lane, wrap) in [
            (&self.status, RowValue::Status as fn(i32) -> RowValue),
            (&self.kind, RowValue::Kind),
        ] {
            if let Some(lane) = lane {
                let a = lane.array.as_primitive::<Int32Type>();
                let i = lane_index(lane, row);
                if a.is_valid(i) {
                    return Some(wrap(a.value(i)));
                }
            }
        }
        if let Some(lane) = &self.bytes {
            return bytes_at(lane, row).map(RowValue::Bytes);
        }
        None
    }

    /// The value for span row `row`: for event/link values the first of the span's.
    pub(crate) fn get_for_span(&self, row: usize) -> Option<RowValue> {
        match &self.owners {
            None => self.get(row),
            Some(owners) => {
                let at = owners.values().partition_point(|&o| (o as usize) < row);
                (at..owners.len())
                    .take_while(|&i| owners.value(i) as usize == row)
                    .find_map(|i| self.get(i))
            }
        }
    }
}
