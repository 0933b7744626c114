//! Vectorized evaluation of TraceQL field expressions over a [`SpanBatch`].
//!
//! Leaves load as [`Values`] (one lane per type); comparisons and regex matches become
//! boolean masks through Arrow kernels; `&&`, `||` and `!` combine masks (Kleene logic,
//! so a missing boolean attribute stays unknown and drops the span). Arithmetic is rare in
//! filters and runs row by row over the numeric lanes.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Float64Array, Int64Array};
use arrow::compute::kernels::boolean::{and_kleene, not, or_kleene};
use tracecore_traceql::{BinaryOp, FieldExpr, LogicalOp, UnaryOp};

use super::batch::SpanBatch;
use super::error::ScanError;
use super::fields;
use super::matcher::Matcher;
use super::row_value::RowValue;
use super::values::{Lane, Values, null_to_false};

/// Compiled regexes of a query, keyed by pattern (compiled once per query, fully anchored).
#[derive(Debug, Default)]
pub(crate) struct Regexes(HashMap<String, Matcher>);

impl Regexes {
    /// Compiles every regex literal in `expr`.
    pub(crate) fn collect(&mut self, expr: &FieldExpr) -> Result<(), ScanError> {
        match expr {
            FieldExpr::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex)
                    && let FieldExpr::Static(tracecore_traceql::Static::String(p)) = rhs.as_ref()
                    && !self.0.contains_key(p)
                {
                    self.0.insert(p.clone(), Matcher::new(p)?);
                }
                self.collect(lhs)?;
                self.collect(rhs)
            }
            FieldExpr::Unary { expr, .. } => self.collect(expr),
            FieldExpr::Logical { operands, .. } => {
                operands.iter().try_for_each(|o| self.collect(o))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn get(&self, expr: &FieldExpr) -> Option<&Matcher> {
        match expr {
            FieldExpr::Static(tracecore_traceql::Static::String(p)) => self.0.get(p),
            _ => None,
        }
    }
}

/// Evaluates `expr` to per-span values.
pub(crate) fn evaluate(
    batch: &SpanBatch,
    expr: &FieldExpr,
    regexes: &Regexes,
) -> Result<Values, ScanError> {
    let rows = batch.rows();
    Ok(match expr {
        FieldExpr::Static(s) => Values::from_static(s),
        FieldExpr::Intrinsic(i) => fields::intrinsic(batch, *i)?,
        FieldExpr::Attribute(a) => fields::attribute(batch, a)?,
        FieldExpr::Unary { op, expr } => {
            let inner = evaluate(batch, expr, regexes)?;
            match op {
                UnaryOp::Exists => Values::from_mask(inner.exists(rows)?),
                UnaryOp::NotExists => Values::from_mask(not(&inner.exists(rows)?)?),
                UnaryOp::Not => Values::from_mask(not(&inner.as_bool(rows)?)?),
                UnaryOp::Neg => arithmetic(
                    rows,
                    BinaryOp::Sub,
                    &Values::from_static(&tracecore_traceql::Static::Int(0)),
                    &inner,
                )?,
            }
        }
        FieldExpr::Logical { op, operands } => {
            let mut acc: Option<BooleanArray> = None;
            for operand in operands {
                let mask = evaluate(batch, operand, regexes)?.as_bool(rows)?;
                acc = Some(match (acc, op) {
                    (None, _) => mask,
                    (Some(a), LogicalOp::And) => and_kleene(&a, &mask)?,
                    (Some(a), LogicalOp::Or) => or_kleene(&a, &mask)?,
                });
            }
            Values::from_mask(acc.unwrap_or_else(|| BooleanArray::from(vec![true; rows])))
        }
        FieldExpr::Binary { op, lhs, rhs } => {
            let l = evaluate(batch, lhs, regexes)?;
            let r = evaluate(batch, rhs, regexes)?;
            match op {
                BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Mod
                | BinaryOp::Pow => arithmetic(rows, *op, &l, &r)?,
                _ => {
                    if l.is_static() && r.is_static() && l.owners.is_none() && r.owners.is_none() {
                        // Constant comparisons (`{ 1 = 1 }`): one row, broadcast.
                        let one = l.compare(*op, &r, 1, regexes.get(rhs))?;
                        let v = one.is_valid(0) && one.value(0);
                        Values::from_mask(BooleanArray::from(vec![v; rows]))
                    } else {
                        Values::from_mask(l.compare(*op, &r, rows, regexes.get(rhs))?)
                    }
                }
            }
        }
    })
}

/// The rows where `expr` is true (missing and non-boolean values are false).
pub(crate) fn filter_mask(
    batch: &SpanBatch,
    expr: &FieldExpr,
    regexes: &Regexes,
) -> Result<BooleanArray, ScanError> {
    let v = evaluate(batch, expr, regexes)?;
    Ok(null_to_false(&v.as_bool(batch.rows())?))
}

enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Values, row: usize) -> Option<Num> {
    let at = if v.is_static() { 0 } else { row };
    match v.get(at)? {
        RowValue::Int(i) | RowValue::Duration(i) => Some(Num::Int(i)),
        RowValue::Float(f) => Some(Num::Float(f)),
        _ => None,
    }
}

#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn arithmetic(rows: usize, op: BinaryOp, l: &Values, r: &Values) -> Result<Values, ScanError> {
    if l.owners.is_some() || r.owners.is_some() {
        return Err(ScanError::Unsupported(
            "arithmetic on event or link fields".into(),
        ));
    }
    let n = if l.is_static() && r.is_static() {
        1
    } else {
        rows
    };
    let mut ints: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut floats: Vec<Option<f64>> = Vec::with_capacity(n);
    for row in 0..n {
        let (int, float) = match (num(l, row), num(r, row)) {
            (Some(Num::Int(a)), Some(Num::Int(b))) => (
                match op {
                    BinaryOp::Add => a.checked_add(b),
                    BinaryOp::Sub => a.checked_sub(b),
                    BinaryOp::Mul => a.checked_mul(b),
                    BinaryOp::Div => a.checked_div(b),
                    BinaryOp::Mod => a.checked_rem(b),
                    _ => u32::try_from(b).ok().and_then(|b| a.checked_pow(b)),
                },
                None,
            ),
            (Some(a), Some(b)) => {
                let f = |n: Num| match n {
                    Num::Int(i) => i as f64,
                    Num::Float(f) => f,
                };
                let (a, b) = (f(a), f(b));
                let v = match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Mod => a % b,
                    _ => a.powf(b),
                };
                (None, Some(v))
            }
            _ => (None, None),
        };
        ints.push(int);
        floats.push(float);
    }
    let lane = |array| {
        if n == 1 {
            Lane::scalar(array)
        } else {
            Lane::rows(array)
        }
    };
    Ok(Values {
        int: Some(lane(Arc::new(Int64Array::from(ints)))),
        float: Some(lane(Arc::new(Float64Array::from(floats)))),
        duration: l.duration || r.duration,
        ..Values::default()
    })
}
