//! Semantic validation (TEMPO-SPEC §3.4, §3.8, §3.12, §3.13): what parses but Tempo refuses.
//!
//! The rules and messages are Tempo's `validate()` methods': static types of field
//! expressions (attributes are dynamic and match anything), operators per type, regex
//! literals, `= nil` on intrinsics, aggregates and `by()` that must reference the span,
//! metrics limits. Features Tempo parses but does not execute (the `parent` scope, scalar
//! filters other than `aggregate op constant`, too many metrics groupings) are
//! [`Error::Unsupported`]. Hints are not checked: unknown hints and values of the wrong type
//! are ignored, as in Tempo.
//!
//! Recursion follows the tree, whose height the parser caps.

use crate::ast::format::format_go_g;
use crate::ast::*;
use crate::error::Error;

/// Tempo's `maxGroupBys` for metrics `by(...)`.
pub const MAX_METRICS_GROUP_BYS: usize = 5;

/// Tempo's `maxCompareTopN`.
pub const MAX_COMPARE_TOP_N: i64 = 1000;

/// Checks a parsed query.
pub fn validate(query: &Query) -> Result<(), Error> {
    match &query.body {
        QueryBody::Search(p) => pipeline(p),
        QueryBody::Metrics(m) => metrics(m),
    }
}

/// The static type of an expression (Tempo's `StaticType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Nil,
    /// Decided per span.
    Attribute,
    Int,
    Float,
    String,
    Bool,
    Duration,
    Status,
    Kind,
}

impl Type {
    fn of(s: &Static) -> Type {
        match s {
            Static::Int(_) => Type::Int,
            Static::Float(_) => Type::Float,
            Static::String(_) => Type::String,
            Static::Bool(_) => Type::Bool,
            Static::Duration(_) => Type::Duration,
            Static::Status(_) => Type::Status,
            Static::Kind(_) => Type::Kind,
        }
    }

    fn of_intrinsic(i: Intrinsic) -> Type {
        match i {
            Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => {
                Type::Duration
            }
            Intrinsic::ChildCount
            | Intrinsic::NestedSetLeft
            | Intrinsic::NestedSetRight
            | Intrinsic::NestedSetParent => Type::Int,
            Intrinsic::Status => Type::Status,
            Intrinsic::Kind => Type::Kind,
            Intrinsic::Parent => Type::Nil,
            Intrinsic::Name
            | Intrinsic::StatusMessage
            | Intrinsic::SpanId
            | Intrinsic::ParentId
            | Intrinsic::TraceRootName
            | Intrinsic::TraceRootService
            | Intrinsic::TraceId
            | Intrinsic::EventName
            | Intrinsic::LinkTraceId
            | Intrinsic::LinkSpanId
            | Intrinsic::InstrumentationName
            | Intrinsic::InstrumentationVersion => Type::String,
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Duration)
    }

    /// Tempo's `isMatchingOperand`: can the two be combined by a binary operator at all.
    fn matches(self, other: Type) -> bool {
        self == Type::Attribute
            || other == Type::Attribute
            || self == other
            || (self.is_numeric() && other.is_numeric())
            || self == Type::Nil
            || other == Type::Nil
    }
}

/// Operators as the type rules see them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Arith,
    Equality,
    Order,
    Regex,
    Logical,
}

impl From<BinaryOp> for Op {
    fn from(op: BinaryOp) -> Self {
        match op {
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Mod
            | BinaryOp::Pow => Op::Arith,
            BinaryOp::Eq | BinaryOp::Neq => Op::Equality,
            BinaryOp::Lt | BinaryOp::Lte | BinaryOp::Gt | BinaryOp::Gte => Op::Order,
            BinaryOp::Regex | BinaryOp::NotRegex => Op::Regex,
        }
    }
}

impl Op {
    /// Tempo's `binaryTypeValid`.
    fn accepts(self, t: Type) -> bool {
        match t {
            Type::Attribute => true,
            Type::Bool => matches!(self, Op::Logical | Op::Equality),
            Type::Int | Type::Float | Type::Duration => {
                matches!(self, Op::Arith | Op::Equality | Op::Order)
            }
            Type::String => matches!(self, Op::Equality | Op::Order | Op::Regex),
            Type::Nil | Type::Status | Type::Kind => self == Op::Equality,
        }
    }

    /// Whether the result is a boolean (else it has the operands' type).
    fn is_boolean(self) -> bool {
        self != Op::Arith
    }
}

fn invalid(message: String) -> Error {
    Error::Validation(message)
}

/// Both operand checks of a binary operation; `node` renders the operation for messages.
fn check_operands(op: Op, l: Type, r: Type, node: impl FnOnce() -> String) -> Result<(), Error> {
    if !l.matches(r) {
        return Err(invalid(format!(
            "binary operations must operate on the same type: {}",
            node()
        )));
    }
    if !op.accepts(l) || !op.accepts(r) {
        return Err(invalid(format!(
            "illegal operation for the given types: {}",
            node()
        )));
    }
    Ok(())
}

/// The checked type of a field expression and whether it references the span.
fn field(e: &FieldExpr) -> Result<(Type, bool), Error> {
    match e {
        FieldExpr::Static(s) => Ok((Type::of(s), false)),
        FieldExpr::Intrinsic(i) => {
            if *i == Intrinsic::Parent {
                return Err(Error::Unsupported("intrinsic (parent)".into()));
            }
            Ok((Type::of_intrinsic(*i), true))
        }
        FieldExpr::Attribute(a) => {
            attribute(a)?;
            Ok((Type::Attribute, true))
        }
        FieldExpr::Unary { op, expr } => {
            let (t, refs) = field(expr)?;
            if *op == UnaryOp::NotExists {
                match expr.as_ref() {
                    FieldExpr::Intrinsic(i) => {
                        return Err(invalid(format!(
                            "{i}=nil is not valid because intrinsics cannot be nil"
                        )));
                    }
                    FieldExpr::Attribute(a) if is_service_name(a) => {
                        return Err(invalid(format!(
                            "{a}=nil is not valid because resource.service.name cannot be nil"
                        )));
                    }
                    _ => {}
                }
            }
            let result = match op {
                UnaryOp::Exists | UnaryOp::NotExists => Type::Bool,
                UnaryOp::Neg | UnaryOp::Not => t,
            };
            let valid = t == Type::Attribute
                || match op {
                    UnaryOp::Neg => t.is_numeric(),
                    UnaryOp::Not => t == Type::Bool,
                    UnaryOp::Exists | UnaryOp::NotExists => true,
                };
            if !valid {
                return Err(invalid(format!(
                    "illegal operation for the given type: {}",
                    e.tempo_string()
                )));
            }
            Ok((result, refs))
        }
        FieldExpr::Binary { op, lhs, rhs } => {
            let (lt, lrefs) = field(lhs)?;
            let (rt, rrefs) = field(rhs)?;
            let class = Op::from(*op);
            check_operands(class, lt, rt, || e.tempo_string())?;
            if class == Op::Regex {
                match rhs.as_ref() {
                    FieldExpr::Static(Static::String(pattern)) => {
                        if regex::Regex::new(pattern).is_err() {
                            let rhs = rhs.tempo_string();
                            return Err(invalid(format!("invalid regex: {rhs}")));
                        }
                    }
                    _ => {
                        let rhs = rhs.tempo_string();
                        return Err(invalid(format!("invalid type for =~ or !~: {rhs}")));
                    }
                }
            }
            let t = if class.is_boolean() {
                Type::Bool
            } else if lt != Type::Attribute {
                lt
            } else {
                rt
            };
            Ok((t, lrefs || rrefs))
        }
        FieldExpr::Logical { op, operands } => {
            let mut refs = false;
            let mut types = Vec::with_capacity(operands.len());
            for operand in operands {
                let (t, r) = field(operand)?;
                types.push(t);
                refs |= r;
            }
            // a left fold: the running result of `a && b` is a boolean
            let mut acc = types.first().copied().unwrap_or(Type::Bool);
            for (i, &t) in types.iter().enumerate().skip(1) {
                check_operands(Op::Logical, acc, t, || {
                    FieldExpr::Logical {
                        op: *op,
                        operands: operands[..=i].to_vec(),
                    }
                    .tempo_string()
                })?;
                acc = Type::Bool;
            }
            Ok((Type::Bool, refs))
        }
    }
}

fn is_service_name(a: &Attribute) -> bool {
    a.scope == AttributeScope::Resource && !a.parent && a.name == "service.name"
}

fn attribute(a: &Attribute) -> Result<(), Error> {
    if a.parent {
        return Err(Error::Unsupported("parent".into()));
    }
    Ok(())
}

fn field_ref(f: &FieldRef) -> Result<(), Error> {
    match f {
        FieldRef::Attribute(a) => attribute(a),
        FieldRef::Intrinsic(Intrinsic::Parent) => {
            Err(Error::Unsupported("intrinsic (parent)".into()))
        }
        FieldRef::Intrinsic(_) => Ok(()),
    }
}

fn spanset_filter(f: &SpansetFilter) -> Result<(), Error> {
    let (t, _) = field(&f.expr)?;
    if t != Type::Attribute && t != Type::Bool {
        return Err(invalid(format!(
            "span filter field expressions must resolve to a boolean: {{ {} }}",
            f.expr.tempo_string()
        )));
    }
    Ok(())
}

fn pipeline(p: &Pipeline) -> Result<(), Error> {
    p.stages.iter().try_for_each(stage)
}

fn stage(s: &Stage) -> Result<(), Error> {
    match s {
        Stage::Spanset(e) => spanset(e),
        Stage::ScalarFilter(f) => scalar_filter(f),
        Stage::GroupBy(e) => {
            // Tempo checks the reference before the expression itself
            if !references_span(e) {
                return Err(invalid(format!(
                    "grouping field expressions must reference the span: by({})",
                    e.tempo_string()
                )));
            }
            field(e).map(|_| ())
        }
        Stage::Coalesce => Ok(()),
        Stage::Select(fields) => fields.iter().try_for_each(field_ref),
    }
}

fn references_span(e: &FieldExpr) -> bool {
    match e {
        FieldExpr::Static(_) => false,
        FieldExpr::Intrinsic(_) | FieldExpr::Attribute(_) => true,
        FieldExpr::Unary { expr, .. } => references_span(expr),
        FieldExpr::Binary { lhs, rhs, .. } => references_span(lhs) || references_span(rhs),
        FieldExpr::Logical { operands, .. } => operands.iter().any(references_span),
    }
}

fn spanset(e: &SpansetExpr) -> Result<(), Error> {
    match e {
        SpansetExpr::Filter(f) => spanset_filter(f),
        SpansetExpr::Pipeline(p) => pipeline(p),
        SpansetExpr::Logical { operands, .. } => operands.iter().try_for_each(spanset),
        SpansetExpr::Structural { lhs, rhs, .. } => {
            spanset(lhs)?;
            spanset(rhs)
        }
    }
}

fn aggregate(a: &Aggregate) -> Result<Type, Error> {
    let Some(e) = &a.expr else {
        return Ok(Type::Int);
    };
    let (t, refs) = field(e)?;
    let text = || format!("{}({})", a.op, e.tempo_string());
    if t != Type::Attribute && !t.is_numeric() {
        return Err(invalid(format!(
            "aggregate field expressions must resolve to a number type: {}",
            text()
        )));
    }
    if !refs {
        return Err(invalid(format!(
            "aggregate field expressions must reference the span: {}",
            text()
        )));
    }
    Ok(t)
}

fn scalar(e: &ScalarExpr) -> Result<Type, Error> {
    match e {
        ScalarExpr::Aggregate(a) => aggregate(a),
        ScalarExpr::Static(s) => Ok(Type::of(s)),
        ScalarExpr::Pipeline(p) => {
            pipeline(&p.pipeline)?;
            aggregate(&p.aggregate)
        }
        ScalarExpr::Binary { lhs, rhs, .. } => {
            let lt = scalar(lhs)?;
            let rt = scalar(rhs)?;
            check_operands(Op::Arith, lt, rt, || e.to_string())?;
            Ok(if lt != Type::Attribute { lt } else { rt })
        }
    }
}

fn scalar_kind(e: &ScalarExpr) -> &'static str {
    match e {
        ScalarExpr::Aggregate(_) => "aggregate",
        ScalarExpr::Static(_) => "static",
        ScalarExpr::Pipeline(_) => "pipeline",
        ScalarExpr::Binary { .. } => "arithmetic",
    }
}

fn scalar_filter(f: &ScalarFilter) -> Result<(), Error> {
    let lt = scalar(&f.lhs)?;
    let rt = scalar(&f.rhs)?;
    let class = match f.op {
        CmpOp::Eq | CmpOp::Neq => Op::Equality,
        _ => Op::Order,
    };
    check_operands(class, lt, rt, || f.to_string())?;
    // only `aggregate op constant` is executed
    if !matches!(f.lhs, ScalarExpr::Aggregate(_)) {
        return Err(Error::Unsupported(format!(
            "scalar filter lhs of type ({})",
            scalar_kind(&f.lhs)
        )));
    }
    if !matches!(f.rhs, ScalarExpr::Static(_)) {
        return Err(Error::Unsupported(format!(
            "scalar filter rhs of type ({})",
            scalar_kind(&f.rhs)
        )));
    }
    Ok(())
}

fn metrics(m: &MetricsExpr) -> Result<(), Error> {
    let mut queries = Vec::new();
    let mut stages = Vec::new();
    collect(m, &mut queries, &mut stages);
    for q in &queries {
        pipeline(&q.pipeline)?;
        metrics_function(&q.function)?;
        stages.extend(&q.stages);
    }
    for s in stages {
        if let SecondStage::TopK(k) | SecondStage::BottomK(k) = s
            && *k <= 0
        {
            return Err(invalid("limit must be greater than 0".into()));
        }
    }
    let bare = matches!(m, MetricsExpr::Query(q) if q.stages.is_empty());
    let compare = queries
        .iter()
        .any(|q| matches!(q.function.op, MetricsOp::Compare { .. }));
    if compare && !bare {
        return Err(invalid(
            "`compare()` cannot be used with second stage functions".into(),
        ));
    }
    Ok(())
}

/// The metrics queries of an expression in text order, and the stages outside them.
fn collect<'a>(
    m: &'a MetricsExpr,
    queries: &mut Vec<&'a MetricsQuery>,
    stages: &mut Vec<&'a SecondStage>,
) {
    match m {
        MetricsExpr::Query(q) => queries.push(q),
        MetricsExpr::Math { lhs, rhs, .. } => {
            collect(lhs, queries, stages);
            collect(rhs, queries, stages);
        }
        MetricsExpr::Scalar { expr, .. } => collect(expr, queries, stages),
        MetricsExpr::Staged { expr, stages: s } => {
            collect(expr, queries, stages);
            stages.extend(s);
        }
    }
}

fn metrics_function(f: &MetricsFunction) -> Result<(), Error> {
    let groups = f.by.len();
    let too_many = |limit_reached: bool| {
        if limit_reached {
            Err(Error::Unsupported(format!(
                "metrics group by {groups} values"
            )))
        } else {
            Ok(())
        }
    };
    match &f.op {
        MetricsOp::Rate | MetricsOp::CountOverTime => too_many(groups > MAX_METRICS_GROUP_BYS)?,
        MetricsOp::MinOverTime(a) | MetricsOp::MaxOverTime(a) | MetricsOp::SumOverTime(a) => {
            field_ref(a)?;
            too_many(groups > MAX_METRICS_GROUP_BYS)?;
        }
        // these reserve one label for the bucket or use `avg` bookkeeping
        MetricsOp::AvgOverTime(a) | MetricsOp::HistogramOverTime(a) => {
            field_ref(a)?;
            too_many(groups >= MAX_METRICS_GROUP_BYS)?;
        }
        MetricsOp::QuantileOverTime { field, quantiles } => {
            field_ref(field)?;
            too_many(groups >= MAX_METRICS_GROUP_BYS)?;
            if let Some(q) = quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                return Err(invalid(format!(
                    "quantile must be between 0 and 1: {}",
                    format_go_g(*q)
                )));
            }
        }
        MetricsOp::Compare {
            filter,
            top_n,
            start_ns,
            end_ns,
        } => {
            spanset_filter(filter)?;
            if *top_n <= 0 || *top_n > MAX_COMPARE_TOP_N {
                return Err(invalid(format!(
                    "compare() top number of values must be an integer between 1 and {MAX_COMPARE_TOP_N}"
                )));
            }
            if *start_ns != 0 || *end_ns != 0 {
                if *start_ns <= 0 || *end_ns <= 0 {
                    return Err(invalid(
                        "compare() timestamps must be positive integer unix nanoseconds".into(),
                    ));
                }
                if end_ns <= start_ns {
                    return Err(invalid(
                        "compare() end timestamp must be greater than start timestamp".into(),
                    ));
                }
            }
        }
    }
    f.by.iter().try_for_each(field_ref)
}

#[cfg(test)]
mod tests;
