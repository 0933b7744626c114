//! The search plan of a TraceQL query: which columns to read, which span-level expressions to
//! evaluate vectorized per batch (filter leaves, aggregate and grouping inputs, result
//! attributes), and the spanset program that runs per trace over their results.

use tracecore_traceql::{
    AggregateOp, Attribute, AttributeScope, CmpOp, FieldExpr, FieldRef, Intrinsic, Pipeline, Query,
    QueryBody, ScalarExpr, SpansetExpr, Stage, Static, StructuralOp,
};

use super::error::ScanError;
use super::eval::Regexes;
use super::prefilter::Prefilter;
use crate::block::dedicated::{self, SlotMask};
use crate::block::layout::BlockLayout;
use crate::block::schema::{col, dedicated_column};

/// A spanset expression with its filter leaves replaced by indices into [`SearchPlan::exprs`].
#[derive(Debug)]
pub(crate) enum PlanExpr {
    Leaf(usize),
    Pipeline(PlanPipeline),
    And(Vec<PlanExpr>),
    Or(Vec<PlanExpr>),
    Structural {
        op: StructuralOp,
        lhs: Box<PlanExpr>,
        rhs: Box<PlanExpr>,
    },
}

#[derive(Debug)]
pub(crate) enum PlanStage {
    Spanset(PlanExpr),
    Scalar {
        op: AggregateOp,
        /// Index into `exprs` of the aggregated field (`None` for `count()`).
        input: Option<usize>,
        cmp: CmpOp,
        value: Static,
        /// `count()`, `avg(duration)`: the span-set attribute name.
        label: String,
    },
    GroupBy {
        input: usize,
        label: String,
    },
    Coalesce,
    /// `select(...)` only adds result attributes (collected in `outputs`).
    Select,
}

#[derive(Debug)]
pub(crate) struct PlanPipeline {
    pub stages: Vec<PlanStage>,
}

/// An attribute shown on result spans: its bare key and the expression index.
#[derive(Debug)]
pub(crate) struct Output {
    pub key: String,
    pub expr: usize,
}

/// A compiled search query. Built once per request, evaluated on every batch.
#[derive(Debug)]
pub struct SearchPlan {
    pub(crate) pipeline: PlanPipeline,
    /// Span-level expressions evaluated per batch.
    pub(crate) exprs: Vec<FieldExpr>,
    /// Which of `exprs` are filter leaves (evaluated to masks).
    pub(crate) leaves: Vec<bool>,
    pub(crate) outputs: Vec<Output>,
    /// The query referenced the span name: results carry `name`.
    pub(crate) wants_name: bool,
    pub(crate) regexes: Regexes,
    columns: Vec<usize>,
    /// `columns` without `attributes`, when every span attribute the query reads is a
    /// dedicated one: then blocks whose list holds none of `dedicated_keys` skip the list.
    columns_without_list: Option<Vec<usize>>,
    dedicated_keys: SlotMask,
    pub(crate) prefilter: Option<Prefilter>,
    /// `with(most_recent=true)`.
    pub most_recent: bool,
}

/// Columns every search reads (result metadata, service stats, tree structure).
pub(crate) const BASE_COLUMNS: [usize; 13] = [
    col::TRACE_ID,
    col::TRACE_START_UNIX_NANO,
    col::TRACE_DURATION_NANO,
    col::ROOT_SERVICE_NAME,
    col::ROOT_SPAN_NAME,
    col::SPAN_ID,
    col::PARENT_INDEX,
    col::PARENT_SPAN_ID,
    col::START_OFFSET_NANO,
    col::DURATION_NANO,
    col::STATUS_CODE,
    col::SERVICE_NAME,
    col::RESOURCE,
];

impl SearchPlan {
    /// Plans a parsed and validated query. Metrics queries are refused.
    pub fn new(query: &Query) -> Result<SearchPlan, ScanError> {
        let QueryBody::Search(pipeline) = &query.body else {
            return Err(ScanError::Unsupported(
                "metrics queries on the search endpoint".into(),
            ));
        };
        let mut plan = SearchPlan {
            pipeline: PlanPipeline { stages: Vec::new() },
            exprs: Vec::new(),
            leaves: Vec::new(),
            outputs: Vec::new(),
            wants_name: false,
            regexes: Regexes::default(),
            columns: BASE_COLUMNS.to_vec(),
            columns_without_list: None,
            dedicated_keys: 0,
            prefilter: None,
            most_recent: query.hints.get_bool("most_recent", false).unwrap_or(false),
        };
        plan.pipeline = plan.pipeline(pipeline)?;
        for i in 0..plan.exprs.len() {
            let expr = plan.exprs[i].clone();
            plan.regexes.collect(&expr)?;
            plan.add_columns(&expr);
        }
        plan.columns.sort_unstable();
        plan.columns.dedup();
        plan.plan_list_skipping();
        plan.prefilter = Prefilter::new(&plan);
        Ok(plan)
    }

    /// Top-level column indices (`block::schema::col`) the plan reads.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The columns to read from a block of `layout`.
    pub fn block_columns(&self, layout: &BlockLayout) -> &[usize] {
        match &self.columns_without_list {
            Some(columns) if self.skips_list(layout.spilled) => columns,
            _ => &self.columns,
        }
    }

    /// Every span attribute the query reads is a dedicated one.
    pub(crate) fn lists_only_dedicated(&self) -> bool {
        self.columns_without_list.is_some()
    }

    /// A block whose list holds the dedicated keys `spilled` can be read without the list.
    pub(crate) fn skips_list(&self, spilled: Option<SlotMask>) -> bool {
        self.columns_without_list.is_some()
            && spilled.is_some_and(|spilled| spilled & self.dedicated_keys == 0)
    }

    fn plan_list_skipping(&mut self) {
        let mut refs = Vec::new();
        for expr in &self.exprs {
            field_refs(expr, &mut refs);
        }
        let mut keys: SlotMask = 0;
        for r in &refs {
            if let FieldRef::Attribute(a) = r
                && matches!(a.scope, AttributeScope::Span | AttributeScope::Unscoped)
            {
                match dedicated::slot(a.name.as_bytes()) {
                    Some(s) if !a.parent => keys |= 1 << s,
                    _ => return,
                }
            }
        }
        if keys != 0 {
            self.dedicated_keys = keys;
            self.columns_without_list = Some(
                self.columns
                    .iter()
                    .copied()
                    .filter(|&c| c != col::ATTRIBUTES)
                    .collect(),
            );
        }
    }

    fn add_expr(&mut self, expr: FieldExpr, leaf: bool) -> usize {
        self.exprs.push(expr);
        self.leaves.push(leaf);
        self.exprs.len() - 1
    }

    fn pipeline(&mut self, p: &Pipeline) -> Result<PlanPipeline, ScanError> {
        let mut stages = Vec::with_capacity(p.stages.len());
        for stage in &p.stages {
            stages.push(match stage {
                Stage::Spanset(e) => PlanStage::Spanset(self.spanset(e)?),
                Stage::ScalarFilter(f) => {
                    let (ScalarExpr::Aggregate(agg), ScalarExpr::Static(value)) = (&f.lhs, &f.rhs)
                    else {
                        return Err(ScanError::Unsupported(format!("scalar filter {f}")));
                    };
                    let input = agg.expr.clone().map(|e| self.add_expr(e, false));
                    PlanStage::Scalar {
                        op: agg.op,
                        input,
                        cmp: f.op,
                        value: value.clone(),
                        label: agg.to_string(),
                    }
                }
                Stage::GroupBy(e) => {
                    let label = format!("by({})", e.tempo_string());
                    PlanStage::GroupBy {
                        input: self.add_expr(e.clone(), false),
                        label,
                    }
                }
                Stage::Coalesce => PlanStage::Coalesce,
                Stage::Select(fields) => {
                    for f in fields {
                        self.add_output(f);
                    }
                    PlanStage::Select
                }
            });
        }
        Ok(PlanPipeline { stages })
    }

    fn spanset(&mut self, e: &SpansetExpr) -> Result<PlanExpr, ScanError> {
        Ok(match e {
            SpansetExpr::Filter(f) => {
                let mut refs = Vec::new();
                field_refs(&f.expr, &mut refs);
                for r in refs {
                    self.add_output(&r);
                }
                PlanExpr::Leaf(self.add_expr(f.expr.clone(), true))
            }
            SpansetExpr::Pipeline(p) => PlanExpr::Pipeline(self.pipeline(p)?),
            SpansetExpr::Logical { op, operands } => {
                let parts = operands
                    .iter()
                    .map(|o| self.spanset(o))
                    .collect::<Result<Vec<_>, _>>()?;
                match op {
                    tracecore_traceql::LogicalOp::And => PlanExpr::And(parts),
                    tracecore_traceql::LogicalOp::Or => PlanExpr::Or(parts),
                }
            }
            SpansetExpr::Structural { op, lhs, rhs } => PlanExpr::Structural {
                op: *op,
                lhs: Box::new(self.spanset(lhs)?),
                rhs: Box::new(self.spanset(rhs)?),
            },
        })
    }

    /// Registers a field shown on result spans (TEMPO-SPEC §3.9): the name goes to `name`;
    /// durations, IDs and trace-level intrinsics are not shown.
    fn add_output(&mut self, field: &FieldRef) {
        let key = match field {
            FieldRef::Intrinsic(Intrinsic::Name) => {
                self.wants_name = true;
                return;
            }
            FieldRef::Intrinsic(
                Intrinsic::Duration
                | Intrinsic::TraceDuration
                | Intrinsic::TraceRootName
                | Intrinsic::TraceRootService
                | Intrinsic::TraceId
                | Intrinsic::SpanId
                | Intrinsic::Parent,
            ) => return,
            FieldRef::Intrinsic(i) => i.as_str().to_owned(),
            FieldRef::Attribute(a) if a.parent => return,
            FieldRef::Attribute(a) => a.name.clone(),
        };
        if self.outputs.iter().any(|o| o.key == key) {
            return;
        }
        let expr = self.add_expr(FieldExpr::from(field.clone()), false);
        self.outputs.push(Output { key, expr });
    }

    fn add_columns(&mut self, expr: &FieldExpr) {
        columns_for(expr, &mut self.columns);
        if self.wants_name {
            self.columns.push(col::NAME);
        }
    }
}

/// Appends the top-level columns `expr` reads (beyond [`BASE_COLUMNS`]).
pub(crate) fn columns_for(expr: &FieldExpr, columns: &mut Vec<usize>) {
    let mut refs = Vec::new();
    field_refs(expr, &mut refs);
    for r in refs {
        let needed: &[usize] = match r {
            FieldRef::Intrinsic(i) => match i {
                Intrinsic::Name => &[col::NAME],
                Intrinsic::Kind => &[col::KIND],
                Intrinsic::StatusMessage => &[col::STATUS_MESSAGE],
                Intrinsic::EventName | Intrinsic::EventTimeSinceStart => &[col::EVENTS],
                Intrinsic::LinkSpanId | Intrinsic::LinkTraceId => &[col::LINKS],
                Intrinsic::InstrumentationName | Intrinsic::InstrumentationVersion => &[col::SCOPE],
                _ => &[],
            },
            FieldRef::Attribute(Attribute { scope, name, .. }) => match scope {
                AttributeScope::Span | AttributeScope::Unscoped => {
                    if let Some(s) = dedicated::slot(name.as_bytes()) {
                        columns.push(dedicated_column(s));
                    }
                    &[col::ATTRIBUTES]
                }
                AttributeScope::Resource => &[],
                AttributeScope::Event => &[col::EVENTS],
                AttributeScope::Link => &[col::LINKS],
                AttributeScope::Instrumentation => &[col::SCOPE],
            },
        };
        columns.extend_from_slice(needed);
    }
}

/// Every intrinsic and attribute `expr` references.
pub(crate) fn field_refs(expr: &FieldExpr, out: &mut Vec<FieldRef>) {
    match expr {
        FieldExpr::Static(_) => {}
        FieldExpr::Intrinsic(i) => out.push(FieldRef::Intrinsic(*i)),
        FieldExpr::Attribute(a) => out.push(FieldRef::Attribute(a.clone())),
        FieldExpr::Unary { expr, .. } => field_refs(expr, out),
        FieldExpr::Binary { lhs, rhs, .. } => {
            field_refs(lhs, out);
            field_refs(rhs, out);
        }
        FieldExpr::Logical { operands, .. } => {
            for o in operands {
                field_refs(o, out);
            }
        }
    }
}
