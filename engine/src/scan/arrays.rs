//! Array attribute values (TEMPO-SPEC §3.4): a comparison with an array holds when it holds
//! for **any** element (`=`, `=~`, `<`, …), and `!=` / `!~` hold when **no** element equals /
//! matches. An attribute's [`Values`] carries the scalar elements of its array rows as
//! [`ArrayElements`], owner-mapped to their rows like event values; rows holding scalars are
//! untouched. Arrays inside event and link attributes are not expanded (they compare with
//! nothing, as before).

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray, UInt32Array};
use arrow::compute::{and, filter, not, or};
use tracecore_proto::otlp::{AnyValue, ArrayValue, any_value};
use tracecore_traceql::BinaryOp;

use super::error::ScanError;
use super::matcher::Matcher;
use super::values::{Lane, Values};

/// The scalar elements of the array rows of a span-level value.
#[derive(Clone, Debug)]
pub(crate) struct ArrayElements {
    /// One row per element (string, int, float and bool lanes); `owners` maps each to its row.
    values: Values,
    /// Rows whose value is an array (empty ones included).
    rows: BooleanArray,
}

/// Collects array elements row by row.
pub(crate) struct ElementsBuilder {
    rows: Vec<bool>,
    owners: Vec<u32>,
    str: Vec<Option<String>>,
    int: Vec<Option<i64>>,
    float: Vec<Option<f64>>,
    boolean: Vec<Option<bool>>,
    any: bool,
}

impl ElementsBuilder {
    pub(crate) fn new(rows: usize) -> ElementsBuilder {
        ElementsBuilder {
            rows: vec![false; rows],
            owners: Vec::new(),
            str: Vec::new(),
            int: Vec::new(),
            float: Vec::new(),
            boolean: Vec::new(),
            any: false,
        }
    }

    /// Records `value` as the value of `row` when it is an array.
    pub(crate) fn push(&mut self, row: usize, value: &AnyValue) {
        if let Some(any_value::Value::ArrayValue(array)) = &value.value {
            self.push_array(row, array);
        }
    }

    fn push_array(&mut self, row: usize, array: &ArrayValue) {
        let Some(slot) = self.rows.get_mut(row) else {
            return;
        };
        *slot = true;
        self.any = true;
        for element in &array.values {
            use any_value::Value as V;
            let (s, i, f, b) = match &element.value {
                Some(V::StringValue(s)) => (Some(s.clone()), None, None, None),
                Some(V::IntValue(i)) => (None, Some(*i), None, None),
                Some(V::DoubleValue(f)) => (None, None, Some(*f), None),
                Some(V::BoolValue(b)) => (None, None, None, Some(*b)),
                // Nested arrays, maps and bytes equal no literal.
                _ => continue,
            };
            self.owners.push(row as u32);
            self.str.push(s);
            self.int.push(i);
            self.float.push(f);
            self.boolean.push(b);
        }
    }

    /// `None` when no row held an array.
    pub(crate) fn finish(self) -> Option<Arc<ArrayElements>> {
        if !self.any {
            return None;
        }
        let values = Values {
            str: Some(Lane::rows(Arc::new(StringArray::from(self.str)))),
            int: Some(Lane::rows(Arc::new(Int64Array::from(self.int)))),
            float: Some(Lane::rows(Arc::new(Float64Array::from(self.float)))),
            boolean: Some(Lane::rows(Arc::new(BooleanArray::from(self.boolean)))),
            owners: Some(Arc::new(UInt32Array::from(self.owners))),
            ..Values::default()
        };
        Some(Arc::new(ArrayElements {
            values,
            rows: BooleanArray::from(self.rows),
        }))
    }
}

impl ArrayElements {
    /// The elements of the array rows where `keep` is true.
    fn restrict(&self, keep: &BooleanArray) -> Result<ArrayElements, ScanError> {
        let owners = self
            .values
            .owners
            .as_ref()
            .ok_or(ScanError::Internal("array elements without owners"))?;
        let selected: BooleanArray = owners
            .values()
            .iter()
            .map(|&o| Some(keep.is_valid(o as usize) && keep.value(o as usize)))
            .collect();
        let lane = |l: &Option<Lane>| -> Result<Option<Lane>, ScanError> {
            l.as_ref()
                .map(|l| Ok(Lane::rows(filter(l.array.as_ref(), &selected)?)))
                .transpose()
        };
        let owners = filter(owners.as_ref(), &selected)?;
        let owners = owners
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or(ScanError::Internal("owners are not u32"))?
            .clone();
        Ok(ArrayElements {
            values: Values {
                str: lane(&self.values.str)?,
                int: lane(&self.values.int)?,
                float: lane(&self.values.float)?,
                boolean: lane(&self.values.boolean)?,
                owners: Some(Arc::new(owners)),
                ..Values::default()
            },
            rows: and(&self.rows, &super::values::null_to_false(keep))?,
        })
    }
}

/// The array elements of `coalesce(first, second)`: `first`'s, and `second`'s on the rows
/// where `first` has no value.
pub(crate) fn coalesce(
    use_first: &BooleanArray,
    first: Option<&Arc<ArrayElements>>,
    second: Option<&Arc<ArrayElements>>,
) -> Result<Option<Arc<ArrayElements>>, ScanError> {
    let second = match second {
        Some(s) => Some(s.restrict(&not(use_first)?)?),
        None => None,
    };
    Ok(match (first, second) {
        (None, None) => None,
        (Some(f), None) => Some(f.clone()),
        (None, Some(s)) => Some(Arc::new(s)),
        (Some(f), Some(s)) => Some(Arc::new(concat(f, &s)?)),
    })
}

fn concat(a: &ArrayElements, b: &ArrayElements) -> Result<ArrayElements, ScanError> {
    let lane = |x: &Option<Lane>, y: &Option<Lane>| -> Result<Option<Lane>, ScanError> {
        Ok(match (x, y) {
            (Some(x), Some(y)) => Some(Lane::rows(arrow::compute::concat(&[
                x.array.as_ref(),
                y.array.as_ref(),
            ])?)),
            _ => None,
        })
    };
    let owners = match (&a.values.owners, &b.values.owners) {
        (Some(x), Some(y)) => {
            let joined = arrow::compute::concat(&[x.as_ref() as &dyn Array, y.as_ref()])?;
            joined
                .as_any()
                .downcast_ref::<UInt32Array>()
                .ok_or(ScanError::Internal("owners are not u32"))?
                .clone()
        }
        _ => return Err(ScanError::Internal("array elements without owners")),
    };
    Ok(ArrayElements {
        values: Values {
            str: lane(&a.values.str, &b.values.str)?,
            int: lane(&a.values.int, &b.values.int)?,
            float: lane(&a.values.float, &b.values.float)?,
            boolean: lane(&a.values.boolean, &b.values.boolean)?,
            owners: Some(Arc::new(owners)),
            ..Values::default()
        },
        rows: or(&a.rows, &b.rows)?,
    })
}

/// Rows where `lhs op rhs` holds through an array element of one side against a static
/// other side; `None` when neither side has array rows.
pub(crate) fn compare(
    lhs: &Values,
    op: BinaryOp,
    rhs: &Values,
    rows: usize,
    regex: Option<&Matcher>,
) -> Result<Option<BooleanArray>, ScanError> {
    let (elements, op, literal) = match (&lhs.elements, &rhs.elements) {
        (Some(e), _) if rhs.is_static() => (e, op, rhs),
        (_, Some(e)) if lhs.is_static() => match super::prune::flip(op) {
            Some(op) => (e, op, lhs),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let (positive, negated) = match op {
        BinaryOp::Neq => (BinaryOp::Eq, true),
        BinaryOp::NotRegex => (BinaryOp::Regex, true),
        BinaryOp::Eq
        | BinaryOp::Lt
        | BinaryOp::Lte
        | BinaryOp::Gt
        | BinaryOp::Gte
        | BinaryOp::Regex => (op, false),
        _ => return Ok(None),
    };
    let any = elements.values.compare(positive, literal, rows, regex)?;
    Ok(Some(if negated {
        and(&elements.rows, &not(&any)?)?
    } else {
        any
    }))
}
