//! Late materialization for block scans: the filter conditions of a query are evaluated first
//! on just the columns they read, and a row group where none of them holds for any span is
//! never decoded further.
//!
//! Sound because a query whose pipeline starts with a spanset filter can only return traces
//! in which some filter condition matched a span (the same rule `search_batch` uses per
//! trace). The caller keeps whole traces together: a row group that shares a trace with a
//! selected neighbour is read too (see `straddling`).

use arrow::array::RecordBatch;
use tracecore_traceql::{Attribute, AttributeScope, FieldExpr, FieldRef, Intrinsic};

use super::batch::SpanBatch;
use super::eval;
use super::plan::{PlanStage, SearchPlan, field_refs};
use crate::block::dedicated::{self, SlotMask};
use crate::block::schema::{col, dedicated_column};

/// The prefilter of a plan: the columns its filter leaves read.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// With the generic attribute list.
    columns: Vec<usize>,
    /// Without it (blocks whose list holds none of the dedicated keys read), when the leaves
    /// read only dedicated span attributes.
    columns_without_list: Option<Vec<usize>>,
}

impl Prefilter {
    /// `None` when the plan cannot be prefiltered (its pipeline does not start with a filter).
    pub(crate) fn new(plan: &SearchPlan) -> Option<Prefilter> {
        if !matches!(plan.pipeline.stages.first(), Some(PlanStage::Spanset(_))) {
            return None;
        }
        let mut columns = Vec::new();
        let mut any_leaf = false;
        for (expr, &leaf) in plan.exprs.iter().zip(&plan.leaves) {
            if leaf {
                any_leaf = true;
                leaf_columns(expr, &mut columns);
            }
        }
        if !any_leaf {
            return None;
        }
        columns.sort_unstable();
        columns.dedup();
        let columns_without_list = plan.lists_only_dedicated().then(|| {
            columns
                .iter()
                .copied()
                .filter(|&c| c != col::ATTRIBUTES)
                .collect()
        });
        Some(Prefilter {
            columns,
            columns_without_list,
        })
    }

    fn columns(&self, skip_list: bool) -> &[usize] {
        match (&self.columns_without_list, skip_list) {
            (Some(c), true) => c,
            _ => &self.columns,
        }
    }
}

impl SearchPlan {
    /// The columns to evaluate the query's filter conditions alone in a block whose list
    /// holds the dedicated keys `spilled` (`None`: `tc1`); `None` when there is no such
    /// prefilter or it would read as much as the scan itself.
    pub fn prefilter_columns(&self, spilled: Option<SlotMask>) -> Option<&[usize]> {
        let prefilter = self.prefilter.as_ref()?;
        let columns = prefilter.columns(self.skips_list(spilled));
        (columns.len() < self.block_columns(spilled).len()).then_some(columns)
    }

    /// Whether some filter condition holds for some span of `batch`, a batch read with
    /// [`Self::prefilter_columns`]. Errs on the side of `true`: a condition that cannot be
    /// evaluated on these columns means "read the row group".
    pub fn prefilter_matches(&self, batch: RecordBatch) -> bool {
        let batch = SpanBatch::rows_only(batch);
        self.exprs
            .iter()
            .zip(&self.leaves)
            .filter(|(_, leaf)| **leaf)
            .any(
                |(expr, _)| match eval::filter_mask(&batch, expr, &self.regexes) {
                    Ok(mask) => mask.true_count() > 0,
                    Err(e) => {
                        debug_assert!(e.is_client_error(), "prefilter cannot evaluate: {e}");
                        true
                    }
                },
            )
    }
}

/// Appends every top-level column a filter leaf reads (nothing implied, unlike the scan's
/// base columns).
fn leaf_columns(expr: &FieldExpr, columns: &mut Vec<usize>) {
    // Intrinsics that need the trace structure (trace ranges, parent rows).
    const TREE: [usize; 3] = [col::TRACE_ID, col::PARENT_INDEX, col::PARENT_SPAN_ID];
    let mut refs = Vec::new();
    field_refs(expr, &mut refs);
    for r in refs {
        match r {
            FieldRef::Intrinsic(i) => match i {
                Intrinsic::Duration => columns.push(col::DURATION_NANO),
                Intrinsic::TraceDuration => columns.push(col::TRACE_DURATION_NANO),
                Intrinsic::Name => columns.push(col::NAME),
                Intrinsic::StatusMessage => columns.push(col::STATUS_MESSAGE),
                Intrinsic::Status => columns.push(col::STATUS_CODE),
                Intrinsic::Kind => columns.push(col::KIND),
                Intrinsic::SpanId => columns.push(col::SPAN_ID),
                Intrinsic::TraceId => columns.push(col::TRACE_ID),
                Intrinsic::TraceRootName => {
                    columns.push(col::ROOT_SPAN_NAME);
                    columns.extend(TREE);
                }
                Intrinsic::TraceRootService => {
                    columns.push(col::ROOT_SERVICE_NAME);
                    columns.extend(TREE);
                }
                Intrinsic::ParentId => {
                    columns.push(col::SPAN_ID);
                    columns.extend(TREE);
                }
                Intrinsic::ChildCount
                | Intrinsic::NestedSetLeft
                | Intrinsic::NestedSetRight
                | Intrinsic::NestedSetParent
                | Intrinsic::Parent => columns.extend(TREE),
                Intrinsic::EventName | Intrinsic::EventTimeSinceStart => {
                    columns.push(col::EVENTS);
                }
                Intrinsic::LinkSpanId | Intrinsic::LinkTraceId => columns.push(col::LINKS),
                Intrinsic::InstrumentationName | Intrinsic::InstrumentationVersion => {
                    columns.push(col::SCOPE);
                }
            },
            FieldRef::Attribute(Attribute { scope, name, .. }) => {
                let span = |columns: &mut Vec<usize>| {
                    columns.push(col::ATTRIBUTES);
                    if let Some(s) = dedicated::slot(name.as_bytes()) {
                        columns.push(dedicated_column(s));
                    }
                };
                match scope {
                    AttributeScope::Span => span(columns),
                    AttributeScope::Resource => {
                        columns.extend([col::RESOURCE, col::SERVICE_NAME]);
                    }
                    AttributeScope::Unscoped => {
                        span(columns);
                        columns.extend([col::RESOURCE, col::SERVICE_NAME]);
                    }
                    AttributeScope::Event => columns.push(col::EVENTS),
                    AttributeScope::Link => columns.push(col::LINKS),
                    AttributeScope::Instrumentation => columns.push(col::SCOPE),
                }
            }
        }
    }
}
