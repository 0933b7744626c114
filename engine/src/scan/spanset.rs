//! Per-trace spanset evaluation (TEMPO-SPEC §3.7–3.8): spanset `&&`/`||`, structural
//! relations over parent rows, pipelines, aggregates, `by()` and `coalesce()`.
//!
//! A spanset is a sorted list of batch rows of one trace plus its span-set attributes. Filter
//! leaves arrive as masks computed column-wise for the whole batch; this module only walks
//! the rows of traces that have a chance to match.

use std::collections::HashMap;

use arrow::array::BooleanArray;
use tracecore_traceql::{AggregateOp, CmpOp, Static, StructuralOp};

use super::error::ScanError;
use super::plan::{PlanExpr, PlanPipeline, PlanStage};
use super::row_value::RowValue;
use super::values::Values;

/// Span rows of one trace (sorted, unique) and the span set's attributes.
#[derive(Clone, Debug, Default)]
pub struct Spanset {
    pub rows: Vec<u32>,
    pub attributes: Vec<(String, Option<RowValue>)>,
}

/// What the per-trace evaluation reads: the batch-wide results of the plan's expressions.
pub(crate) struct TraceInputs<'a> {
    /// Row range of the trace in the batch.
    pub start: usize,
    pub end: usize,
    pub masks: &'a [Option<BooleanArray>],
    pub values: &'a [Option<Values>],
    /// Parent row per batch row.
    pub parents: &'a [Option<u32>],
}

const MULTIPLE_SPANSETS: &str = "spanset operators are not supported for multiple spansets per trace. consider using coalesce()";

impl TraceInputs<'_> {
    /// Runs the pipeline on the trace; the result is empty when the trace is not a hit.
    pub fn run(&self, pipeline: &PlanPipeline) -> Result<Vec<Spanset>, ScanError> {
        let all = Spanset {
            rows: (self.start as u32..self.end as u32).collect(),
            attributes: Vec::new(),
        };
        self.pipeline(pipeline, vec![all])
    }

    fn pipeline(&self, p: &PlanPipeline, input: Vec<Spanset>) -> Result<Vec<Spanset>, ScanError> {
        let mut sets = input;
        for stage in &p.stages {
            sets = match stage {
                PlanStage::Spanset(expr) => {
                    let mut out = Vec::new();
                    for set in sets {
                        for mut s in self.expr(expr, &set.rows)? {
                            let mut attributes = set.attributes.clone();
                            attributes.append(&mut s.attributes);
                            s.attributes = attributes;
                            out.push(s);
                        }
                    }
                    out
                }
                PlanStage::Scalar {
                    op,
                    input,
                    cmp,
                    value,
                    label,
                } => {
                    let mut out = Vec::new();
                    for mut set in sets {
                        let values = input.and_then(|i| self.values[i].as_ref());
                        if let Some(agg) = aggregate(*op, values, &set.rows)
                            && compare(&agg, *cmp, value)
                        {
                            set.attributes.push((label.clone(), Some(agg)));
                            out.push(set);
                        }
                    }
                    out
                }
                PlanStage::GroupBy { input, label } => {
                    let values = self.values[*input]
                        .as_ref()
                        .ok_or(ScanError::Internal("group-by input not evaluated"))?;
                    let mut out = Vec::new();
                    for set in sets {
                        let mut groups: Vec<(Option<RowValue>, Vec<u32>)> = Vec::new();
                        let mut index: HashMap<String, usize> = HashMap::new();
                        for &row in &set.rows {
                            let v = values.get_for_span(row as usize);
                            let key = v
                                .as_ref()
                                .map_or_else(|| "nil".to_owned(), RowValue::group_key);
                            let slot = *index.entry(key).or_insert_with(|| {
                                groups.push((v.clone(), Vec::new()));
                                groups.len() - 1
                            });
                            groups[slot].1.push(row);
                        }
                        for (v, rows) in groups {
                            let mut attributes = set.attributes.clone();
                            attributes.push((label.clone(), v));
                            out.push(Spanset { rows, attributes });
                        }
                    }
                    out
                }
                PlanStage::Coalesce => {
                    let mut rows: Vec<u32> = sets.into_iter().flat_map(|s| s.rows).collect();
                    rows.sort_unstable();
                    rows.dedup();
                    vec![Spanset {
                        rows,
                        attributes: Vec::new(),
                    }]
                }
                PlanStage::Select => sets,
            };
            sets.retain(|s| !s.rows.is_empty());
            if sets.is_empty() {
                break;
            }
        }
        Ok(sets)
    }

    fn expr(&self, e: &PlanExpr, input: &[u32]) -> Result<Vec<Spanset>, ScanError> {
        let single = |sets: Vec<Spanset>| -> Result<Vec<u32>, ScanError> {
            match sets.len() {
                0 => Ok(Vec::new()),
                1 => Ok(sets.into_iter().next().map(|s| s.rows).unwrap_or_default()),
                _ => Err(ScanError::Invalid(MULTIPLE_SPANSETS.into())),
            }
        };
        let rows = match e {
            PlanExpr::Leaf(i) => {
                let mask = self.masks[*i]
                    .as_ref()
                    .ok_or(ScanError::Internal("filter leaf not evaluated"))?;
                input
                    .iter()
                    .copied()
                    .filter(|&r| mask.value(r as usize))
                    .collect()
            }
            PlanExpr::Pipeline(p) => {
                return self.pipeline(
                    p,
                    vec![Spanset {
                        rows: input.to_vec(),
                        attributes: Vec::new(),
                    }],
                );
            }
            PlanExpr::And(parts) => {
                let mut union = Vec::new();
                for part in parts {
                    let rows = single(self.expr(part, input)?)?;
                    if rows.is_empty() {
                        return Ok(Vec::new());
                    }
                    union.extend(rows);
                }
                union
            }
            PlanExpr::Or(parts) => {
                let mut union = Vec::new();
                for part in parts {
                    union.extend(single(self.expr(part, input)?)?);
                }
                union
            }
            PlanExpr::Structural { op, lhs, rhs } => {
                let a = single(self.expr(lhs, input)?)?;
                let b = single(self.expr(rhs, input)?)?;
                self.structural(*op, &a, &b)
            }
        };
        let mut rows = rows;
        rows.sort_unstable();
        rows.dedup();
        Ok(if rows.is_empty() {
            Vec::new()
        } else {
            vec![Spanset {
                rows,
                attributes: Vec::new(),
            }]
        })
    }

    fn parent(&self, row: u32) -> Option<u32> {
        let p = self.parents[row as usize]?;
        ((self.start..self.end).contains(&(p as usize))).then_some(p)
    }

    fn local(&self, row: u32) -> usize {
        row as usize - self.start
    }

    /// Ancestors of `row`, nearest first (bounded by the trace size: cycles end the walk).
    fn ancestors(&self, row: u32) -> impl Iterator<Item = u32> + '_ {
        let limit = self.end - self.start;
        std::iter::successors(self.parent(row), move |&p| self.parent(p)).take(limit)
    }

    /// `A op B` (TEMPO-SPEC §3.7): the qualifying b's; union forms add the a's involved.
    fn structural(&self, op: StructuralOp, a: &[u32], b: &[u32]) -> Vec<u32> {
        use StructuralOp as S;
        let n = self.end - self.start;
        let mut in_a = vec![false; n];
        for &r in a {
            in_a[self.local(r)] = true;
        }
        let relation = match op {
            S::Child | S::NotChild | S::UnionChild => Relation::Child,
            S::Parent | S::NotParent | S::UnionParent => Relation::Parent,
            S::Descendant | S::NotDescendant | S::UnionDescendant => Relation::Descendant,
            S::Ancestor | S::NotAncestor | S::UnionAncestor => Relation::Ancestor,
            S::Sibling | S::NotSibling | S::UnionSibling => Relation::Sibling,
        };
        let negated = matches!(
            op,
            S::NotChild | S::NotParent | S::NotDescendant | S::NotAncestor | S::NotSibling
        );
        let union = matches!(
            op,
            S::UnionChild
                | S::UnionParent
                | S::UnionDescendant
                | S::UnionAncestor
                | S::UnionSibling
        );
        // Rows marked as the target of the relation from A's side.
        let mut marked = vec![false; n];
        let mut siblings_of_a: HashMap<u32, usize> = HashMap::new();
        match relation {
            Relation::Parent => {
                for &r in a {
                    if let Some(p) = self.parent(r) {
                        marked[self.local(p)] = true;
                    }
                }
            }
            Relation::Ancestor => {
                for &r in a {
                    for p in self.ancestors(r) {
                        marked[self.local(p)] = true;
                    }
                }
            }
            Relation::Sibling => {
                for &r in a {
                    if let Some(p) = self.parent(r) {
                        *siblings_of_a.entry(p).or_default() += 1;
                    }
                }
            }
            Relation::Child | Relation::Descendant => {}
        }
        let holds = |row: u32| -> bool {
            match relation {
                Relation::Child => self.parent(row).is_some_and(|p| in_a[self.local(p)]),
                Relation::Descendant => self.ancestors(row).any(|p| in_a[self.local(p)]),
                Relation::Parent | Relation::Ancestor => marked[self.local(row)],
                Relation::Sibling => self.parent(row).is_some_and(|p| {
                    let count = siblings_of_a.get(&p).copied().unwrap_or(0);
                    count > usize::from(in_a[self.local(row)])
                }),
            }
        };
        let qualifying: Vec<u32> = b.iter().copied().filter(|&r| holds(r) != negated).collect();
        if !union || qualifying.is_empty() {
            return qualifying;
        }
        let mut in_result = vec![false; n];
        for &r in &qualifying {
            in_result[self.local(r)] = true;
        }
        let mut out = qualifying.clone();
        for &ar in a {
            let involved = match relation {
                Relation::Child => qualifying.iter().any(|&q| self.parent(q) == Some(ar)),
                Relation::Parent => self.parent(ar).is_some_and(|p| in_result[self.local(p)]),
                Relation::Descendant => qualifying
                    .iter()
                    .any(|&q| self.ancestors(q).any(|p| p == ar)),
                Relation::Ancestor => self.ancestors(ar).any(|p| in_result[self.local(p)]),
                Relation::Sibling => self.parent(ar).is_some_and(|p| {
                    qualifying
                        .iter()
                        .any(|&q| q != ar && self.parent(q) == Some(p))
                }),
            };
            if involved {
                out.push(ar);
            }
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Relation {
    Child,
    Parent,
    Descendant,
    Ancestor,
    Sibling,
}

/// The aggregate of a span set; `None` when every input value is nil.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn aggregate(op: AggregateOp, values: Option<&Values>, rows: &[u32]) -> Option<RowValue> {
    if op == AggregateOp::Count {
        return Some(RowValue::Int(rows.len() as i64));
    }
    let values = values?;
    let mut nums: Vec<f64> = Vec::with_capacity(rows.len());
    let mut all_int = true;
    for &r in rows {
        if let Some(v) = values.get_for_span(r as usize)
            && let Some(f) = v.as_f64()
        {
            all_int &= !matches!(v, RowValue::Float(_));
            nums.push(f);
        }
    }
    if nums.is_empty() {
        return None;
    }
    let result = match op {
        AggregateOp::Sum => nums.iter().sum(),
        AggregateOp::Avg => nums.iter().sum::<f64>() / nums.len() as f64,
        AggregateOp::Min => nums.iter().copied().fold(f64::INFINITY, f64::min),
        AggregateOp::Max => nums.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        AggregateOp::Count => nums.len() as f64,
    };
    Some(if values.duration {
        RowValue::Duration(result.round() as i64)
    } else if all_int && op != AggregateOp::Avg {
        RowValue::Int(result as i64)
    } else {
        RowValue::Float(result)
    })
}

fn compare(agg: &RowValue, op: CmpOp, value: &Static) -> bool {
    let (Some(a), Some(b)) = (agg.as_f64(), value.as_f64()) else {
        return false;
    };
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Neq => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Lte => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Gte => a >= b,
    }
}
