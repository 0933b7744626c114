//! Late materialization for block scans: the filter conditions of a query are evaluated first
//! on just the columns they read, and a row group where none of them holds for any span is
//! never decoded further.
//!
//! Sound because a query whose pipeline starts with a spanset filter can only return traces
//! in which some filter condition matched a span (the same rule `search_batch` uses per
//! trace). The caller keeps whole traces together: a row group that shares a trace with a
//! selected neighbour is read too (see `straddling`).

use arrow::array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::schema::types::SchemaDescriptor;
use tracecore_traceql::{
    Attribute, AttributeScope, FieldExpr, FieldRef, Intrinsic, Static, UnaryOp,
};

use super::batch::SpanBatch;
use super::eval;
use super::plan::{PlanStage, SearchPlan, field_refs};
use crate::block::dedicated;
use crate::block::layout::BlockLayout;
use crate::block::schema::{
    ATTRIBUTE_CHILDREN, attr, col, dedicated_column, project, project_attribute_children,
};

/// The prefilter of a plan: the columns its filter leaves read.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Sorted, with the generic attribute list and the `resource` column where leaves read
    /// them.
    columns: Vec<usize>,
    /// The leaves read only dedicated span attributes: blocks whose list holds none of them
    /// are prefiltered without the list.
    list_optional: bool,
    /// The only resource attribute the leaves read is `service.name`: blocks whose
    /// `service_name` column is exact are prefiltered without the `resource` column.
    resource_optional: bool,
    /// The fields of attribute list entries the leaves need (`attr` indices), when not all:
    /// a comparison with a string literal needs only keys and strings (and `other`, for
    /// arrays).
    attribute_children: Option<Vec<usize>>,
    /// Per filter leaf: its index in `SearchPlan::exprs` and the columns it alone reads
    /// (sorted), before any block-dependent skipping.
    pub(crate) leaf_columns: Vec<(usize, Vec<usize>)>,
}

impl Prefilter {
    /// `None` when the plan cannot be prefiltered (its pipeline does not start with a filter).
    pub(crate) fn new(plan: &SearchPlan) -> Option<Prefilter> {
        if !matches!(plan.pipeline.stages.first(), Some(PlanStage::Spanset(_))) {
            return None;
        }
        let mut resource_optional = true;
        let mut per_leaf = Vec::new();
        for (i, (expr, &leaf)) in plan.exprs.iter().zip(&plan.leaves).enumerate() {
            if leaf {
                let mut columns = Vec::new();
                leaf_columns(expr, &mut columns, &mut resource_optional);
                columns.sort_unstable();
                columns.dedup();
                per_leaf.push((i, columns));
            }
        }
        if per_leaf.is_empty() {
            return None;
        }
        let mut columns: Vec<usize> = per_leaf.iter().flat_map(|(_, c)| c.clone()).collect();
        columns.sort_unstable();
        columns.dedup();
        let mut children = vec![attr::KEY, attr::OTHER];
        let all_known = plan
            .exprs
            .iter()
            .zip(&plan.leaves)
            .filter(|(_, leaf)| **leaf)
            .all(|(expr, _)| needed_children(expr, &mut children));
        children.sort_unstable();
        children.dedup();
        let attribute_children =
            (all_known && children.len() < ATTRIBUTE_CHILDREN.len()).then_some(children);
        Some(Prefilter {
            columns,
            list_optional: plan.lists_only_dedicated(),
            resource_optional,
            attribute_children,
            leaf_columns: per_leaf,
        })
    }
}

impl SearchPlan {
    /// The columns to evaluate the query's filter conditions alone in a block of `layout`;
    /// `None` when there is no such prefilter or it would read as much as the scan itself.
    pub fn prefilter_columns(&self, layout: &BlockLayout) -> Option<Vec<usize>> {
        let prefilter = self.prefilter.as_ref()?;
        let columns = self.prefilter_kept(layout, &prefilter.columns);
        (columns.len() < self.block_columns(layout).len()).then_some(columns)
    }

    /// `columns` without those the prefilter of a block of `layout` leaves out.
    pub(crate) fn prefilter_kept(&self, layout: &BlockLayout, columns: &[usize]) -> Vec<usize> {
        let Some(prefilter) = self.prefilter.as_ref() else {
            return columns.to_vec();
        };
        let skip_list = prefilter.list_optional && self.skips_list(layout.spilled);
        let skip_resource = prefilter.resource_optional && layout.exact_service_names;
        columns
            .iter()
            .copied()
            .filter(|&c| !(skip_list && c == col::ATTRIBUTES))
            .filter(|&c| !(skip_resource && c == col::RESOURCE))
            .collect()
    }

    /// [`Self::prefilter_columns`] as a projection of a block with `schema`: of the attribute
    /// list only the entry fields the conditions compare.
    pub fn prefilter_mask(
        &self,
        layout: &BlockLayout,
        schema: &SchemaDescriptor,
    ) -> Option<ProjectionMask> {
        let columns = self.prefilter_columns(layout)?;
        let prefilter = self.prefilter.as_ref()?;
        Some(match &prefilter.attribute_children {
            Some(children) if columns.contains(&col::ATTRIBUTES) => {
                project_attribute_children(schema, &columns, children)
            }
            _ => project(schema, columns),
        })
    }

    /// The prefilter reads only some fields of attribute list entries.
    #[cfg(test)]
    pub(crate) fn prefilter_narrows_attributes(&self) -> bool {
        self.prefilter
            .as_ref()
            .is_some_and(|p| p.attribute_children.is_some())
    }

    /// Whether some filter condition holds for some span of `batch`, a batch read with
    /// [`Self::prefilter_columns`]. Errs on the side of `true`: a condition that cannot be
    /// evaluated on these columns means "read the row group".
    pub fn prefilter_matches(&self, batch: RecordBatch) -> bool {
        let batch = SpanBatch::rows_only(batch);
        (0..self.exprs.len())
            .filter(|&i| self.leaves[i])
            .any(|i| self.leaf_matches(&batch, i))
    }

    /// Whether the filter leaf `exprs[expr]` holds for some row of `batch` (`true` when it
    /// cannot be evaluated on these columns).
    pub(crate) fn leaf_matches(&self, batch: &SpanBatch, expr: usize) -> bool {
        match eval::filter_mask(batch, &self.exprs[expr], &self.regexes) {
            Ok(mask) => mask.true_count() > 0,
            Err(e) => {
                debug_assert!(e.is_client_error(), "prefilter cannot evaluate: {e}");
                true
            }
        }
    }
}

/// Appends every top-level column a filter leaf reads (nothing implied, unlike the scan's
/// base columns).
/// Adds to `children` the attribute entry fields (`attr` indices) `expr` compares; `false`
/// when it may need any of them (arithmetic on attributes, attribute against attribute).
fn needed_children(expr: &FieldExpr, children: &mut Vec<usize>) -> bool {
    let reads_list =
        |a: &Attribute| matches!(a.scope, AttributeScope::Span | AttributeScope::Unscoped);
    match expr {
        FieldExpr::Binary { op, lhs, rhs } if op.is_comparison() => {
            match (lhs.as_ref(), rhs.as_ref()) {
                (FieldExpr::Attribute(a), FieldExpr::Static(value))
                | (FieldExpr::Static(value), FieldExpr::Attribute(a)) => {
                    if reads_list(a) {
                        children.extend_from_slice(match value {
                            Static::String(_) => &[attr::STR],
                            Static::Int(_) | Static::Float(_) | Static::Duration(_) => {
                                &[attr::INT, attr::DOUBLE]
                            }
                            Static::Bool(_) => &[attr::BOOL],
                            Static::Status(_) | Static::Kind(_) => &[],
                        });
                    }
                    true
                }
                (l, r) => {
                    no_list_operand(l, &reads_list)
                        && no_list_operand(r, &reads_list)
                        && needed_children(l, children)
                        && needed_children(r, children)
                }
            }
        }
        FieldExpr::Unary {
            op: UnaryOp::Exists | UnaryOp::NotExists,
            expr,
        } if matches!(expr.as_ref(), FieldExpr::Attribute(_)) => true,
        FieldExpr::Unary { expr, .. } => needed_children(expr, children),
        FieldExpr::Logical { operands, .. } => {
            operands.iter().all(|o| needed_children(o, children))
        }
        // A bare attribute is a boolean condition.
        FieldExpr::Attribute(a) => {
            if reads_list(a) {
                children.push(attr::BOOL);
            }
            true
        }
        FieldExpr::Binary { lhs, rhs, .. } => {
            no_list_operand(lhs, &reads_list) && no_list_operand(rhs, &reads_list)
        }
        FieldExpr::Static(_) | FieldExpr::Intrinsic(_) => true,
    }
}

/// `expr` reads no attribute from the list (directly or inside arithmetic).
fn no_list_operand(expr: &FieldExpr, reads_list: &impl Fn(&Attribute) -> bool) -> bool {
    let mut refs = Vec::new();
    field_refs(expr, &mut refs);
    !refs
        .iter()
        .any(|r| matches!(r, FieldRef::Attribute(a) if reads_list(a)))
}

/// Clears `resource_optional` when a leaf reads a resource attribute other than
/// `service.name`.
fn leaf_columns(expr: &FieldExpr, columns: &mut Vec<usize>, resource_optional: &mut bool) {
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
            FieldRef::Attribute(Attribute {
                scope,
                name,
                parent,
            }) => {
                if matches!(scope, AttributeScope::Resource | AttributeScope::Unscoped)
                    && (name != "service.name" || parent)
                {
                    *resource_optional = false;
                }
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
