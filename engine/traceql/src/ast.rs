//! The typed syntax tree of a TraceQL query (TEMPO-SPEC §3.2).
//!
//! The tree mirrors what Tempo's grammar accepts, with these normalisations the parser applies
//! (so two texts with the same meaning give equal trees):
//! * `{}` is `{ true }`; a parenthesised spanset expression is the expression itself;
//! * scoped and legacy intrinsics are one [`Intrinsic`] (`span:duration` = `duration`);
//! * a unary minus on a numeric literal is folded (`-1` is `Static::Int(-1)`), `nil = nil`
//!   and `nil != nil` are `false`, and constant `scalar` arithmetic outside spanset filters is
//!   folded as Tempo folds it (`2 / 6` is `0`);
//! * left-associative runs of one logical operator are n-ary ([`FieldExpr::Logical`],
//!   [`SpansetExpr::Logical`]) with left-fold semantics, so long `||` chains stay flat;
//! * a query that is one parenthesised pipeline is that pipeline; second stages after a
//!   parenthesised metrics pipeline join its own stages.
//!
//! [`std::fmt::Display`] (in `display.rs`) prints a canonical text with the fewest
//! parentheses that parse back to an equal tree; re-parsing it never needs deeper nesting than
//! the original text did, so it stays within the same depth limit (it may be longer than the
//! input: spaces are normalised). [`FieldExpr::tempo_string`] prints Tempo's `String()` form
//! instead (every compound operand in parentheses, strings in back quotes, Go duration and
//! float formats): Tempo shows that text in `by(...)` and aggregate labels and in validation
//! messages, so the engine uses it there.

mod display;
pub(crate) mod format;

pub use format::{format_duration, format_float};

/// A parsed query: what it computes and its `with(...)` hints.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub body: QueryBody,
    pub hints: Hints,
}

/// Search (spansets) or metrics (time series).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryBody {
    /// A spanset pipeline; the result is the surviving spansets of each trace.
    Search(Pipeline),
    /// A metrics query (TEMPO-SPEC §3.12).
    Metrics(MetricsExpr),
}

/// Stages separated by `|`; never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

/// One element of a [`Pipeline`].
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Spanset filters and their combinations.
    Spanset(SpansetExpr),
    /// `count() > 3`, `avg(duration) < 1s`, …
    ScalarFilter(ScalarFilter),
    /// `by(expr)`
    GroupBy(FieldExpr),
    /// `coalesce()`; never the first stage.
    Coalesce,
    /// `select(a, b, …)`
    Select(Vec<FieldRef>),
}

/// Spanset filters combined with spanset operators.
///
/// Invariant of parsed trees: the leaves of one expression are either all filters (a spanset
/// expression) or all parenthesised pipelines (Tempo's `spansetPipelineExpression`); the
/// latter occur only as the single stage of a query's top-level pipeline, and each such leaf
/// has at least two stages or a single stage that is not a spanset expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// `{ expr }`
    Filter(SpansetFilter),
    /// `( pipeline )`
    Pipeline(Box<Pipeline>),
    /// `A && B && …` or `A || B || …`: at least two operands, evaluated as a left fold.
    Logical {
        op: LogicalOp,
        operands: Vec<SpansetExpr>,
    },
    /// `A > B`, `A !>> B`, `A &~ B`, …
    Structural {
        op: StructuralOp,
        lhs: Box<SpansetExpr>,
        rhs: Box<SpansetExpr>,
    },
}

/// `{ expr }`; `{}` is `{ true }`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpansetFilter {
    pub expr: FieldExpr,
}

/// `&&` or `||`, between field expressions or between spansets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    And,
    Or,
}

/// The structural spanset operators and their negated (`!`) and union (`&`) forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructuralOp {
    /// `>`
    Child,
    /// `<`
    Parent,
    /// `>>`
    Descendant,
    /// `<<`
    Ancestor,
    /// `~`
    Sibling,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDescendant,
    /// `!<<`
    NotAncestor,
    /// `!~`
    NotSibling,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

/// `lhs op rhs` over aggregates and constants, e.g. `count() > 3`.
///
/// Parsed trees have at least one aggregate or scalar pipeline on one side; operands with
/// scalar pipelines (`({…} | count()) > 1`) occur only as a whole query.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    pub op: CmpOp,
    pub lhs: ScalarExpr,
    pub rhs: ScalarExpr,
}

/// Arithmetic over aggregates, scalar pipelines and numeric constants.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    Aggregate(Aggregate),
    /// A folded numeric constant (int, float or duration).
    Static(Static),
    /// `( pipeline | aggregate )`
    Pipeline(Box<ScalarPipeline>),
    Binary {
        op: ArithOp,
        lhs: Box<ScalarExpr>,
        rhs: Box<ScalarExpr>,
    },
}

/// `( pipeline | aggregate )`
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarPipeline {
    pub pipeline: Pipeline,
    pub aggregate: Aggregate,
}

/// `count()`, `avg(e)`, `min(e)`, `max(e)`, `sum(e)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub op: AggregateOp,
    /// `None` exactly for `count()`.
    pub expr: Option<FieldExpr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateOp {
    Count,
    Avg,
    Min,
    Max,
    Sum,
}

/// An expression evaluated per span inside `{ }`, aggregates and `by()`.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    Static(Static),
    Intrinsic(Intrinsic),
    Attribute(Attribute),
    Unary {
        op: UnaryOp,
        expr: Box<FieldExpr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<FieldExpr>,
        rhs: Box<FieldExpr>,
    },
    /// At least two operands, evaluated as a left fold of the binary operator.
    Logical {
        op: LogicalOp,
        operands: Vec<FieldExpr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
    /// `e != nil`
    Exists,
    /// `e = nil`
    NotExists,
}

/// Binary operators of field expressions (logical ones are [`LogicalOp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl BinaryOp {
    /// A comparison or regex match (boolean result), not arithmetic.
    pub fn is_comparison(self) -> bool {
        !matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Mod
                | BinaryOp::Pow
        )
    }
}

/// Arithmetic between scalar expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// Comparisons of scalar filters and metrics filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// Arithmetic between metrics queries and numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    Int(i64),
    Float(f64),
    String(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(Status),
    Kind(SpanKind),
}

impl Static {
    /// Int, float or duration.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Static::Int(_) | Static::Float(_) | Static::Duration(_)
        )
    }

    /// The value as a float; durations count as nanoseconds (TEMPO-SPEC §3.4).
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Static::Int(i) | Static::Duration(i) => Some(i as f64),
            Static::Float(f) => Some(f),
            _ => None,
        }
    }
}

/// Span status keywords. TraceQL numbers them error=0, ok=1, unset=2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Error,
    Ok,
    Unset,
}

/// Span kind keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// Intrinsic fields (TEMPO-SPEC §3.5); scoped and legacy spellings map to the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intrinsic {
    /// `duration`, `span:duration`
    Duration,
    /// `name`, `span:name`
    Name,
    /// `status`, `span:status`
    Status,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `kind`, `span:kind`
    Kind,
    /// `span:childCount`
    ChildCount,
    /// `span:id`
    SpanId,
    /// `span:parentID`
    ParentId,
    /// `traceDuration`, `trace:duration`
    TraceDuration,
    /// `rootName`, `trace:rootName`
    TraceRootName,
    /// `rootServiceName`, `trace:rootService`
    TraceRootService,
    /// `trace:id`
    TraceId,
    /// `event:name`
    EventName,
    /// `event:timeSinceStart`
    EventTimeSinceStart,
    /// `link:traceID`
    LinkTraceId,
    /// `link:spanID`
    LinkSpanId,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
    /// `nestedSetLeft`
    NestedSetLeft,
    /// `nestedSetRight`
    NestedSetRight,
    /// `nestedSetParent`
    NestedSetParent,
    /// `parent` (parses; validation rejects it as unsupported)
    Parent,
}

impl Intrinsic {
    /// Tempo's canonical spelling: the legacy name where one exists, else the scoped name.
    pub fn as_str(self) -> &'static str {
        match self {
            Intrinsic::Duration => "duration",
            Intrinsic::Name => "name",
            Intrinsic::Status => "status",
            Intrinsic::StatusMessage => "statusMessage",
            Intrinsic::Kind => "kind",
            Intrinsic::ChildCount => "span:childCount",
            Intrinsic::SpanId => "span:id",
            Intrinsic::ParentId => "span:parentID",
            Intrinsic::TraceDuration => "traceDuration",
            Intrinsic::TraceRootName => "rootName",
            Intrinsic::TraceRootService => "rootServiceName",
            Intrinsic::TraceId => "trace:id",
            Intrinsic::EventName => "event:name",
            Intrinsic::EventTimeSinceStart => "event:timeSinceStart",
            Intrinsic::LinkTraceId => "link:traceID",
            Intrinsic::LinkSpanId => "link:spanID",
            Intrinsic::InstrumentationName => "instrumentation:name",
            Intrinsic::InstrumentationVersion => "instrumentation:version",
            Intrinsic::NestedSetLeft => "nestedSetLeft",
            Intrinsic::NestedSetRight => "nestedSetRight",
            Intrinsic::NestedSetParent => "nestedSetParent",
            Intrinsic::Parent => "parent",
        }
    }
}

/// Where an attribute is looked up (TEMPO-SPEC §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeScope {
    /// `.x`: span, then resource, then link, then event attributes.
    Unscoped,
    Span,
    Resource,
    Event,
    Link,
    Instrumentation,
}

/// A custom attribute such as `span.http.status_code` or `parent.resource.x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub scope: AttributeScope,
    /// `parent.` prefix (parses; validation rejects it as unsupported).
    pub parent: bool,
    pub name: String,
}

impl Attribute {
    pub fn new(scope: AttributeScope, name: impl Into<String>) -> Self {
        Attribute {
            scope,
            parent: false,
            name: name.into(),
        }
    }
}

/// An attribute or intrinsic, as listed in `select()`, metrics `by()` and metrics functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    Intrinsic(Intrinsic),
    Attribute(Attribute),
}

impl From<FieldRef> for FieldExpr {
    fn from(f: FieldRef) -> Self {
        match f {
            FieldRef::Intrinsic(i) => FieldExpr::Intrinsic(i),
            FieldRef::Attribute(a) => FieldExpr::Attribute(a),
        }
    }
}

/// A metrics query: metrics pipelines combined with arithmetic, plus second stages.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsExpr {
    /// `pipeline | function [second stages]`
    Query(Box<MetricsQuery>),
    /// `(A) op (B)`
    Math {
        op: MathOp,
        lhs: Box<MetricsExpr>,
        rhs: Box<MetricsExpr>,
    },
    /// `(A) op 2` or `2 op (A)`; the number is never a duration.
    Scalar {
        op: MathOp,
        value: f64,
        expr: Box<MetricsExpr>,
        scalar_on_left: bool,
    },
    /// Second stages applied to a `Math` or `Scalar` expression (only at the top).
    Staged {
        expr: Box<MetricsExpr>,
        stages: Vec<SecondStage>,
    },
}

/// `pipeline | function [second stages]`
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub pipeline: Pipeline,
    pub function: MetricsFunction,
    pub stages: Vec<SecondStage>,
}

/// A first-stage metrics function and its `by(...)` grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsFunction {
    pub op: MetricsOp,
    /// Always empty for `compare()`.
    pub by: Vec<FieldRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricsOp {
    Rate,
    CountOverTime,
    MinOverTime(FieldRef),
    MaxOverTime(FieldRef),
    AvgOverTime(FieldRef),
    SumOverTime(FieldRef),
    QuantileOverTime {
        field: FieldRef,
        quantiles: Vec<f64>,
    },
    HistogramOverTime(FieldRef),
    /// `compare({filter}, topN=10, start=0, end=0)`
    Compare {
        filter: SpansetFilter,
        top_n: i64,
        start_ns: i64,
        end_ns: i64,
    },
}

/// Evaluated on the final series, left to right.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondStage {
    TopK(i64),
    BottomK(i64),
    /// `> 10`, `<= 1s`: durations are converted to seconds.
    Filter {
        op: CmpOp,
        value: f64,
    },
}

/// Hints of the query's (last) `with(...)` clause.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hints {
    pub hints: Vec<Hint>,
}

/// `name = value`
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub name: String,
    pub value: Static,
}

/// Hints honoured without the tenant's `read.unsafe_query_hints` (TEMPO-SPEC §3.10).
pub const SAFE_HINTS: &[&str] = &[
    "sample",
    "trace_sample",
    "span_sample",
    "exemplars",
    "most_recent",
    "extrapolate",
];

impl Hints {
    /// The first hint called `name` whose value satisfies `pick`, honouring unsafe hints only
    /// when `allow_unsafe`. Unknown hints and values of the wrong type are ignored, as in Tempo.
    fn find<T>(
        &self,
        name: &str,
        allow_unsafe: bool,
        pick: impl Fn(&Static) -> Option<T>,
    ) -> Option<T> {
        if !allow_unsafe && !SAFE_HINTS.contains(&name) {
            return None;
        }
        self.hints
            .iter()
            .filter(|h| h.name == name)
            .find_map(|h| pick(&h.value))
    }

    pub fn get_bool(&self, name: &str, allow_unsafe: bool) -> Option<bool> {
        self.find(name, allow_unsafe, |v| match v {
            Static::Bool(b) => Some(*b),
            _ => None,
        })
    }

    pub fn get_int(&self, name: &str, allow_unsafe: bool) -> Option<i64> {
        self.find(name, allow_unsafe, |v| match v {
            Static::Int(i) => Some(*i),
            _ => None,
        })
    }

    /// A float hint; an integer value is accepted when no float is given.
    #[allow(clippy::cast_precision_loss)]
    pub fn get_float(&self, name: &str, allow_unsafe: bool) -> Option<f64> {
        self.find(name, allow_unsafe, |v| match v {
            Static::Float(f) => Some(*f),
            _ => None,
        })
        .or_else(|| self.get_int(name, allow_unsafe).map(|i| i as f64))
    }

    /// Nanoseconds.
    pub fn get_duration(&self, name: &str, allow_unsafe: bool) -> Option<i64> {
        self.find(name, allow_unsafe, |v| match v {
            Static::Duration(d) => Some(*d),
            _ => None,
        })
    }

    pub fn get_string(&self, name: &str, allow_unsafe: bool) -> Option<&str> {
        if !allow_unsafe && !SAFE_HINTS.contains(&name) {
            return None;
        }
        self.hints
            .iter()
            .filter(|h| h.name == name)
            .find_map(|h| match &h.value {
                Static::String(s) => Some(s.as_str()),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests;
