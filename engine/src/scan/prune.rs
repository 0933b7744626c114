//! Block pruning from the tag index: a block is skipped when its index proves that no span
//! can satisfy the conditions every match needs — e.g. `resource.service.name = "x"` when no
//! resource of the block has that service, or `span.http.status_code >= 500` when its status
//! codes are all below. Conservative: anything the index cannot decide (intrinsics other than
//! `name`, event/link fields, arithmetic, negation, names with dropped values) may match.

use tracecore_traceql::{BinaryOp, FieldExpr, LogicalOp, Static, StructuralOp, UnaryOp};

use super::eval::Regexes;
use super::plan::{PlanExpr, PlanPipeline, PlanStage, SearchPlan};
use super::tags::indexed_places;
use crate::block::tag_index::{BlockTagIndex, IndexedValues};

/// Value ranges of a row group (or block) for the numeric intrinsics the statistics cover.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntrinsicRanges {
    /// `duration_nano` min/max.
    pub duration: Option<(u64, u64)>,
    /// `trace_duration_nano` min/max.
    pub trace_duration: Option<(u64, u64)>,
}

impl SearchPlan {
    /// False only when the statistics prove that no span of the row group can match (span or
    /// trace duration conditions every match needs are outside the ranges).
    pub fn may_match_ranges(&self, ranges: &IntrinsicRanges) -> bool {
        let ctx = RangeCtx {
            exprs: &self.exprs,
            ranges,
        };
        ctx.pipeline(&self.pipeline)
    }

    /// False only when the block's tag index proves that no trace of the block can match.
    pub fn may_match(&self, index: &BlockTagIndex) -> bool {
        let ctx = Ctx {
            exprs: &self.exprs,
            regexes: &self.regexes,
            index,
        };
        ctx.pipeline(&self.pipeline)
    }
}

struct Ctx<'a> {
    exprs: &'a [FieldExpr],
    regexes: &'a Regexes,
    index: &'a BlockTagIndex,
}

impl Ctx<'_> {
    fn pipeline(&self, p: &PlanPipeline) -> bool {
        match p.stages.first() {
            Some(PlanStage::Spanset(e)) => self.spanset(e),
            _ => true,
        }
    }

    fn spanset(&self, e: &PlanExpr) -> bool {
        match e {
            PlanExpr::Leaf(i) => self.exprs.get(*i).is_none_or(|f| self.field(f)),
            PlanExpr::Pipeline(p) => self.pipeline(p),
            PlanExpr::And(parts) => parts.iter().all(|p| self.spanset(p)),
            PlanExpr::Or(parts) => parts.iter().any(|p| self.spanset(p)),
            PlanExpr::Structural { op, lhs, rhs } => {
                let negated = matches!(
                    op,
                    StructuralOp::NotChild
                        | StructuralOp::NotParent
                        | StructuralOp::NotDescendant
                        | StructuralOp::NotAncestor
                        | StructuralOp::NotSibling
                );
                self.spanset(rhs) && (negated || self.spanset(lhs))
            }
        }
    }

    /// Whether some span of the block may make `f` true.
    fn field(&self, f: &FieldExpr) -> bool {
        match f {
            FieldExpr::Logical {
                op: LogicalOp::And,
                operands,
            } => operands.iter().all(|o| self.field(o)),
            FieldExpr::Logical {
                op: LogicalOp::Or,
                operands,
            } => operands.iter().any(|o| self.field(o)),
            FieldExpr::Unary {
                op: UnaryOp::Exists,
                expr,
            } => match self.lists(expr) {
                Some(Some(lists)) => !lists.is_empty(),
                _ => true,
            },
            FieldExpr::Binary { op, lhs, rhs } => {
                let (field, literal, op) = match (lhs.as_ref(), rhs.as_ref()) {
                    (field, FieldExpr::Static(s)) => (field, s, *op),
                    (FieldExpr::Static(s), field) => match flip(*op) {
                        Some(op) => (field, s, op),
                        None => return true,
                    },
                    _ => return true,
                };
                match self.lists(field) {
                    Some(Some(lists)) => {
                        let regex = self.regexes.get(rhs);
                        lists.iter().any(|v| any_satisfies(v, op, literal, regex))
                    }
                    _ => true,
                }
            }
            _ => true,
        }
    }

    /// `Some(Some(lists))`: the complete value lists of `field` (empty: no span has it);
    /// `Some(None)`: indexed but incomplete; `None`: not indexed.
    #[allow(clippy::option_option)]
    fn lists(&self, field: &FieldExpr) -> Option<Option<Vec<&IndexedValues>>> {
        let places = indexed_places(field)?;
        let mut lists = Vec::new();
        for (scope, name) in places {
            match self.index.values(scope, name) {
                Some(v) if !v.complete => return Some(None),
                Some(v) => lists.push(v),
                None => {}
            }
        }
        Some(Some(lists))
    }
}

/// `lit op field` as `field op' lit`.
pub(crate) fn flip(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::Neq => BinaryOp::Neq,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        _ => return None,
    })
}

fn ordered<T: PartialOrd>(op: BinaryOp, a: &T, b: &T) -> bool {
    match op {
        BinaryOp::Eq => a == b,
        BinaryOp::Neq => a != b,
        BinaryOp::Lt => a < b,
        BinaryOp::Lte => a <= b,
        BinaryOp::Gt => a > b,
        BinaryOp::Gte => a >= b,
        // Not a comparison this module decides.
        _ => true,
    }
}

/// Whether some value of `v` satisfies `value op literal` (TraceQL types: no coercion
/// between strings and numbers; ints, floats and durations compare numerically).
#[allow(clippy::cast_precision_loss)]
fn any_satisfies(
    v: &IndexedValues,
    op: BinaryOp,
    literal: &Static,
    regex: Option<&super::matcher::Matcher>,
) -> bool {
    // Values of other kinds include arrays, which compare element by element: not indexed.
    if v.other {
        return true;
    }
    match (op, literal) {
        (BinaryOp::Regex | BinaryOp::NotRegex, Static::String(_)) => match regex {
            Some(re) => v
                .strings
                .iter()
                .any(|s| re.is_match(s) != (op == BinaryOp::NotRegex)),
            None => true,
        },
        (BinaryOp::Regex | BinaryOp::NotRegex, _) => true,
        (_, Static::String(lit)) => v
            .strings
            .iter()
            .any(|s| ordered(op, &s.as_str(), &lit.as_str())),
        (_, Static::Int(i) | Static::Duration(i)) => {
            v.ints.iter().any(|x| ordered(op, x, i))
                || v.floats.iter().any(|x| ordered(op, x, &(*i as f64)))
        }
        (_, Static::Float(f)) => {
            v.ints.iter().any(|x| ordered(op, &(*x as f64), f))
                || v.floats.iter().any(|x| ordered(op, x, f))
        }
        (BinaryOp::Eq | BinaryOp::Neq, Static::Bool(b)) => {
            v.bools.iter().any(|x| ordered(op, x, b))
        }
        (_, Static::Bool(_)) => false,
        // Status and kind literals never equal an attribute value.
        (_, Static::Status(_) | Static::Kind(_)) => false,
    }
}

struct RangeCtx<'a> {
    exprs: &'a [FieldExpr],
    ranges: &'a IntrinsicRanges,
}

impl RangeCtx<'_> {
    fn pipeline(&self, p: &PlanPipeline) -> bool {
        match p.stages.first() {
            Some(PlanStage::Spanset(e)) => self.spanset(e),
            _ => true,
        }
    }

    fn spanset(&self, e: &PlanExpr) -> bool {
        match e {
            PlanExpr::Leaf(i) => self.exprs.get(*i).is_none_or(|f| self.field(f)),
            PlanExpr::Pipeline(p) => self.pipeline(p),
            PlanExpr::Or(parts) => parts.iter().any(|p| self.spanset(p)),
            // A trace may straddle row groups: spanset `&&` and relations could need rows of
            // a pruned group, so only span-local conditions prune.
            PlanExpr::And(_) | PlanExpr::Structural { .. } => true,
        }
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn field(&self, f: &FieldExpr) -> bool {
        match f {
            FieldExpr::Logical {
                op: LogicalOp::And,
                operands,
            } => operands.iter().all(|o| self.field(o)),
            FieldExpr::Logical {
                op: LogicalOp::Or,
                operands,
            } => operands.iter().any(|o| self.field(o)),
            FieldExpr::Binary { op, lhs, rhs } => {
                let (intrinsic, literal, op) = match (lhs.as_ref(), rhs.as_ref()) {
                    (FieldExpr::Intrinsic(i), FieldExpr::Static(s)) => (*i, s, *op),
                    (FieldExpr::Static(s), FieldExpr::Intrinsic(i)) => match flip(*op) {
                        Some(op) => (*i, s, op),
                        None => return true,
                    },
                    _ => return true,
                };
                let range = match intrinsic {
                    tracecore_traceql::Intrinsic::Duration => self.ranges.duration,
                    tracecore_traceql::Intrinsic::TraceDuration => self.ranges.trace_duration,
                    _ => return true,
                };
                let Some((min, max)) = range else {
                    return true;
                };
                let Some(lit) = literal.as_f64() else {
                    return true;
                };
                let (min, max) = (min as f64, max as f64);
                match op {
                    BinaryOp::Gt => max > lit,
                    BinaryOp::Gte => max >= lit,
                    BinaryOp::Lt => min < lit,
                    BinaryOp::Lte => min <= lit,
                    BinaryOp::Eq => min <= lit && lit <= max,
                    BinaryOp::Neq => !(min == lit && max == lit),
                    _ => true,
                }
            }
            _ => true,
        }
    }
}
