//! Column-at-a-time TraceQL values: what one field expression evaluates to over a batch.
//!
//! A field's type is dynamic per span (an attribute may be a string on one span and an int on
//! the next), so a [`Values`] holds one Arrow array per type ("lane"), null where the row's
//! value has another type or is missing. A static operand is a lane of length 1 applied to
//! every row. Comparisons run the Arrow compare kernels lane against compatible lane and OR the
//! results: dictionary-encoded strings are compared once per dictionary value, numbers with
//! vectorized kernels. Missing values compare false (TEMPO-SPEC §3.4, nil), type mismatches
//! compare false (no coercion).
//!
//! Values of event and link fields live on the events' (links') rows; `owners` maps each to
//! its span row, and a comparison on them is true for a span when it is true for **any** of its
//! events (links), TEMPO-SPEC §3.6.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Datum, FixedSizeBinaryArray,
    Float64Array, Int32Array, Int64Array, Scalar, StringArray, UInt32Array,
};
use arrow::compute::kernels::cmp;
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Int32Type};
use tracecore_traceql::{BinaryOp, SpanKind, Static, Status};

use super::arrays::{self, ArrayElements};
use super::error::ScanError;
use super::matcher::Matcher;

/// One typed lane of a [`Values`].
#[derive(Clone, Debug)]
pub(crate) struct Lane {
    pub array: ArrayRef,
    /// The array has one element that applies to every row.
    pub scalar: bool,
}

impl Lane {
    pub fn rows(array: ArrayRef) -> Self {
        Lane {
            array,
            scalar: false,
        }
    }

    pub fn scalar(array: ArrayRef) -> Self {
        Lane {
            array,
            scalar: true,
        }
    }

    fn datum(&self) -> Box<dyn Datum + '_> {
        if self.scalar {
            Box::new(Scalar::new(self.array.clone()))
        } else {
            Box::new(&self.array)
        }
    }
}

/// The value of a field expression for every row of a batch (or of its events/links).
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    pub str: Option<Lane>,
    pub int: Option<Lane>,
    pub float: Option<Lane>,
    pub boolean: Option<Lane>,
    /// OTLP status code (0 unset, 1 ok, 2 error).
    pub status: Option<Lane>,
    /// OTLP span kind.
    pub kind: Option<Lane>,
    /// IDs (fixed-size or variable binary).
    pub bytes: Option<Lane>,
    /// Rows whose value exists but has no lane (arrays, maps, bytes attributes).
    pub present: Option<BooleanArray>,
    /// The int lane holds nanoseconds of a duration (shown as a Go duration).
    pub duration: bool,
    /// Event/link rows → span row; `None` for span-level values.
    pub owners: Option<Arc<UInt32Array>>,
    /// The elements of rows whose value is an array (span-level values only).
    pub elements: Option<Arc<ArrayElements>>,
}

/// TraceQL status keyword → OTLP code.
pub(crate) fn status_code(status: Status) -> i32 {
    match status {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error => 2,
    }
}

/// TraceQL kind keyword → OTLP kind.
pub(crate) fn kind_code(kind: SpanKind) -> i32 {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

impl Values {
    /// A static operand.
    pub fn from_static(value: &Static) -> Values {
        let mut v = Values::default();
        match value {
            Static::Int(i) => v.int = Some(Lane::scalar(Arc::new(Int64Array::from(vec![*i])))),
            Static::Duration(d) => {
                v.int = Some(Lane::scalar(Arc::new(Int64Array::from(vec![*d]))));
                v.duration = true;
            }
            Static::Float(f) => {
                v.float = Some(Lane::scalar(Arc::new(Float64Array::from(vec![*f]))));
            }
            Static::String(s) => {
                v.str = Some(Lane::scalar(Arc::new(StringArray::from(vec![s.as_str()]))));
            }
            Static::Bool(b) => {
                v.boolean = Some(Lane::scalar(Arc::new(BooleanArray::from(vec![*b]))));
            }
            Static::Status(s) => {
                v.status = Some(Lane::scalar(Arc::new(Int32Array::from(vec![status_code(
                    *s,
                )]))));
            }
            Static::Kind(k) => {
                v.kind = Some(Lane::scalar(Arc::new(Int32Array::from(vec![kind_code(
                    *k,
                )]))));
            }
        }
        v
    }

    /// A boolean per row (span level).
    pub fn from_mask(mask: BooleanArray) -> Values {
        Values {
            boolean: Some(Lane::rows(Arc::new(mask))),
            ..Values::default()
        }
    }

    /// True when every lane is a scalar (or absent).
    pub fn is_static(&self) -> bool {
        self.lanes().all(|l| l.scalar) && self.present.is_none()
    }

    fn lanes(&self) -> impl Iterator<Item = &Lane> {
        [
            &self.str,
            &self.int,
            &self.float,
            &self.boolean,
            &self.status,
            &self.kind,
            &self.bytes,
        ]
        .into_iter()
        .flatten()
    }

    /// Rows (or event/link rows) this value is defined over; `None` when static.
    fn len(&self) -> Option<usize> {
        self.lanes()
            .find(|l| !l.scalar)
            .map(|l| l.array.len())
            .or_else(|| self.present.as_ref().map(Array::len))
    }

    /// Selects rows `indices` of every non-scalar lane (broadcasts span values to events).
    fn take_rows(&self, indices: &UInt32Array) -> Result<Values, ScanError> {
        let pick = |lane: &Option<Lane>| -> Result<Option<Lane>, ScanError> {
            lane.as_ref()
                .map(|l| {
                    if l.scalar {
                        Ok(l.clone())
                    } else {
                        Ok(Lane::rows(take(l.array.as_ref(), indices, None)?))
                    }
                })
                .transpose()
        };
        Ok(Values {
            str: pick(&self.str)?,
            int: pick(&self.int)?,
            float: pick(&self.float)?,
            boolean: pick(&self.boolean)?,
            status: pick(&self.status)?,
            kind: pick(&self.kind)?,
            bytes: pick(&self.bytes)?,
            present: self
                .present
                .as_ref()
                .map(|p| take(p, indices, None).map(|a| a.as_boolean().clone()))
                .transpose()?,
            duration: self.duration,
            owners: None,
            elements: None,
        })
    }

    /// True per row where a value exists (`!= nil`), reduced to span rows.
    pub fn exists(&self, rows: usize) -> Result<BooleanArray, ScanError> {
        let len = self.len().unwrap_or(rows);
        let mut out = if self.is_static() {
            BooleanArray::from(vec![self.lanes().next().is_some(); len])
        } else {
            let mut acc = self
                .present
                .clone()
                .unwrap_or_else(|| BooleanArray::from(vec![false; len]));
            for lane in self.lanes() {
                if lane.scalar {
                    return Ok(BooleanArray::from(vec![true; rows]));
                }
                let valid = arrow::compute::is_not_null(lane.array.as_ref())?;
                acc = arrow::compute::or(&acc, &valid)?;
            }
            acc
        };
        if let Some(owners) = &self.owners {
            out = any_by_owner(&out, owners, rows);
        }
        Ok(out)
    }

    /// Evaluates `self op other` for every span row; missing values and type mismatches are
    /// false. `op` is a comparison or regex operator.
    pub fn compare(
        &self,
        op: BinaryOp,
        other: &Values,
        rows: usize,
        regex: Option<&Matcher>,
    ) -> Result<BooleanArray, ScanError> {
        // Bring both sides to the same row space.
        let (lhs, rhs, owners) = match (&self.owners, &other.owners) {
            (None, None) => (self.clone(), other.clone(), None),
            (Some(o), None) => {
                let r = if other.is_static() {
                    other.clone()
                } else {
                    other.take_rows(o)?
                };
                (self.clone(), r, Some(o.clone()))
            }
            (None, Some(o)) => {
                let l = if self.is_static() {
                    self.clone()
                } else {
                    self.take_rows(o)?
                };
                (l, other.clone(), Some(o.clone()))
            }
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => {
                (self.clone(), other.clone(), Some(a.clone()))
            }
            (Some(_), Some(_)) => return Ok(BooleanArray::from(vec![false; rows])),
        };
        let len = owners
            .as_ref()
            .map_or(rows, |_| lhs.len().or(rhs.len()).unwrap_or(0));
        let matched = compare_lanes(op, &lhs, &rhs, len, regex)?;
        let out = match owners {
            Some(owners) => any_by_owner(&matched, &owners, rows),
            None => matched,
        };
        Ok(match arrays::compare(self, op, other, rows, regex)? {
            Some(through_elements) => arrow::compute::or(&out, &through_elements)?,
            None => out,
        })
    }

    /// The boolean lane as a per-row mask (null where not a boolean), span level.
    pub fn as_bool(&self, rows: usize) -> Result<BooleanArray, ScanError> {
        match &self.boolean {
            Some(lane) if lane.scalar => {
                let b = lane.array.as_boolean();
                let v = b.is_valid(0).then(|| b.value(0));
                Ok(BooleanArray::from(vec![v; rows]))
            }
            Some(lane) => {
                let mask = lane.array.as_boolean().clone();
                Ok(match &self.owners {
                    Some(owners) => any_by_owner(&null_to_false(&mask), owners, rows),
                    None => mask,
                })
            }
            None => Ok(BooleanArray::new_null(rows)),
        }
    }
}

/// Span rows where any of their event/link rows is true.
pub(crate) fn any_by_owner(mask: &BooleanArray, owners: &UInt32Array, rows: usize) -> BooleanArray {
    let mut out = BooleanBufferBuilder::new(rows);
    out.append_n(rows, false);
    let mask = null_to_false(mask);
    for i in mask.values().set_indices() {
        let owner = owners.value(i) as usize;
        if owner < rows {
            out.set_bit(owner, true);
        }
    }
    BooleanArray::new(out.finish(), None)
}

fn broadcast(result: BooleanArray, len: usize) -> BooleanArray {
    if result.len() == 1 && len != 1 {
        let v = result.is_valid(0) && result.value(0);
        BooleanArray::from(vec![v; len])
    } else {
        result
    }
}

fn run_cmp(op: BinaryOp, a: &Lane, b: &Lane, len: usize) -> Result<BooleanArray, ScanError> {
    let (l, r) = (a.datum(), b.datum());
    let (l, r) = (l.as_ref(), r.as_ref());
    let out = match op {
        BinaryOp::Eq => cmp::eq(l, r)?,
        BinaryOp::Neq => cmp::neq(l, r)?,
        BinaryOp::Lt => cmp::lt(l, r)?,
        BinaryOp::Lte => cmp::lt_eq(l, r)?,
        BinaryOp::Gt => cmp::gt(l, r)?,
        BinaryOp::Gte => cmp::gt_eq(l, r)?,
        _ => return Ok(BooleanArray::from(vec![false; len])),
    };
    Ok(broadcast(null_to_false(&out), len))
}

fn to_float(lane: &Lane) -> Result<Lane, ScanError> {
    Ok(Lane {
        array: cast(lane.array.as_ref(), &DataType::Float64)?,
        scalar: lane.scalar,
    })
}

fn compare_lanes(
    op: BinaryOp,
    lhs: &Values,
    rhs: &Values,
    len: usize,
    regex: Option<&Matcher>,
) -> Result<BooleanArray, ScanError> {
    if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) {
        let (Some(lane), Some(regex)) = (&lhs.str, regex) else {
            return Ok(BooleanArray::from(vec![false; len]));
        };
        let negate = op == BinaryOp::NotRegex;
        if !lane.scalar
            && let Some(strings) = lane.array.as_string_opt::<i32>()
            && let Some(out) = regex.match_column(strings, negate)
        {
            return Ok(out);
        }
        let out = string_predicate(lane, len, |s| regex.is_match(s) != negate)?;
        return Ok(out);
    }
    let mut parts: Vec<BooleanArray> = Vec::new();
    let ordered = matches!(
        op,
        BinaryOp::Lt | BinaryOp::Lte | BinaryOp::Gt | BinaryOp::Gte
    );
    if let (Some(a), Some(b)) = (&lhs.str, &rhs.str) {
        parts.push(run_cmp(op, a, b, len)?);
    }
    if let (Some(a), Some(b)) = (&lhs.int, &rhs.int) {
        parts.push(run_cmp(op, a, b, len)?);
    }
    if let (Some(a), Some(b)) = (&lhs.float, &rhs.float) {
        parts.push(run_cmp(op, a, b, len)?);
    }
    if let (Some(a), Some(b)) = (&lhs.int, &rhs.float) {
        parts.push(run_cmp(op, &to_float(a)?, b, len)?);
    }
    if let (Some(a), Some(b)) = (&lhs.float, &rhs.int) {
        parts.push(run_cmp(op, a, &to_float(b)?, len)?);
    }
    if !ordered {
        for (a, b) in [
            (&lhs.boolean, &rhs.boolean),
            (&lhs.status, &rhs.status),
            (&lhs.kind, &rhs.kind),
            (&lhs.bytes, &rhs.bytes),
        ] {
            if let (Some(a), Some(b)) = (a, b) {
                parts.push(run_cmp(op, a, b, len)?);
            }
        }
        // An ID column against a hex string literal.
        if let (Some(ids), Some(text)) = (&lhs.bytes, &rhs.str)
            && text.scalar
        {
            parts.push(compare_id(op, ids, text, len)?);
        }
        if let (Some(text), Some(ids)) = (&lhs.str, &rhs.bytes)
            && text.scalar
        {
            parts.push(compare_id(op, ids, text, len)?);
        }
    }
    let mut acc = match parts.pop() {
        Some(first) => first,
        None => return Ok(BooleanArray::from(vec![false; len])),
    };
    for p in parts {
        acc = arrow::compute::or(&acc, &p)?;
    }
    Ok(acc)
}

/// Compares an ID lane with a hex literal: decoded, left-padded with zeros to the ID width.
fn compare_id(
    op: BinaryOp,
    ids: &Lane,
    text: &Lane,
    len: usize,
) -> Result<BooleanArray, ScanError> {
    let literal = text.array.as_string::<i32>().value(0);
    let width = match ids.array.data_type() {
        DataType::FixedSizeBinary(w) => Some(*w as usize),
        _ => None,
    };
    let Some(decoded) = decode_hex_id(literal, width) else {
        // Not an ID at all: `=` is false for every span, `!=` true for those with an ID.
        return Ok(match op {
            BinaryOp::Neq => null_to_false(&arrow::compute::is_not_null(ids.array.as_ref())?),
            _ => BooleanArray::from(vec![false; len]),
        });
    };
    let scalar: ArrayRef = match width {
        Some(w) => Arc::new(
            FixedSizeBinaryArray::try_from_iter(std::iter::once(decoded.as_slice()))
                .map_err(ScanError::Arrow)
                .and_then(|a| {
                    if a.value_length() as usize == w {
                        Ok(a)
                    } else {
                        Err(ScanError::Internal("id width"))
                    }
                })?,
        ),
        None => Arc::new(arrow::array::BinaryArray::from(vec![decoded.as_slice()])),
    };
    run_cmp(op, ids, &Lane::scalar(scalar), len)
}

/// Hex text → bytes, left-padded to `width` when given (Tempo's ID rules: short IDs are
/// zero-padded on the left).
pub(crate) fn decode_hex_id(text: &str, width: Option<usize>) -> Option<Vec<u8>> {
    let mut digits = text.trim().to_ascii_lowercase();
    if digits.is_empty() {
        return None;
    }
    if digits.len() % 2 == 1 {
        digits.insert(0, '0');
    }
    let mut bytes = hex::decode(&digits).ok()?;
    if let Some(w) = width {
        // Leading zero bytes beyond the width are harmless; more significant bytes are not.
        while bytes.len() > w && bytes.first() == Some(&0) {
            bytes.remove(0);
        }
        if bytes.len() > w {
            return None;
        }
        let mut padded = vec![0u8; w - bytes.len()];
        padded.extend_from_slice(&bytes);
        bytes = padded;
    }
    Some(bytes)
}

/// Evaluates `predicate` on a string lane; for a dictionary-encoded lane once per dictionary
/// value. Null strings are false.
pub(crate) fn string_predicate(
    lane: &Lane,
    len: usize,
    predicate: impl Fn(&str) -> bool,
) -> Result<BooleanArray, ScanError> {
    let array = lane.array.as_ref();
    let per_value = |values: &dyn Array| -> Result<Vec<bool>, ScanError> {
        let strings = values
            .as_string_opt::<i32>()
            .ok_or(ScanError::Internal("string lane is not Utf8"))?;
        Ok((0..strings.len())
            .map(|i| strings.is_valid(i) && predicate(strings.value(i)))
            .collect())
    };
    let out = match array.data_type() {
        DataType::Dictionary(_, _) => {
            let dict = array.as_dictionary::<Int32Type>();
            let verdicts = per_value(dict.values().as_ref())?;
            let keys = dict.keys();
            BooleanArray::from_iter((0..keys.len()).map(|i| {
                Some(keys.is_valid(i) && verdicts.get(keys.value(i) as usize) == Some(&true))
            }))
        }
        _ => BooleanArray::from(per_value(array)?),
    };
    Ok(broadcast(out, len))
}

/// `mask` with nulls turned into false.
pub(crate) fn null_to_false(mask: &BooleanArray) -> BooleanArray {
    match mask.nulls() {
        None => mask.clone(),
        Some(nulls) => BooleanArray::new(mask.values() & nulls.inner(), None),
    }
}
