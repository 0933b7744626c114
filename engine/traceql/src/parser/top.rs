//! The levels outside `{ }`: pipelines, spanset operators, scalar filters, metrics queries
//! and hints (Tempo's `root`, `spansetPipeline`, `spansetPipelineExpression`, `scalarFilter`,
//! `scalarPipelineExpressionFilter`, `metricsExpression` rules).
//!
//! One Pratt loop parses all of them. Each partial result is a [`Term`] that remembers which
//! grammar category it belongs to, and every operator checks the categories of its operands,
//! so the accepted language is exactly Tempo's: `{a} && ({b} | {c})` or `{} | rate() * 2` are
//! syntax errors, as in Tempo.

use super::{PResult, Parser, prec};
use crate::ast::*;
use crate::lexer::{Keyword, TokenKind};

/// A partial parse at the query level. Small (the kind is boxed) because terms live in the
/// frames of the recursive descent.
pub(super) struct Term {
    kind: Box<TermKind>,
    /// Index of the term's first token, for error messages.
    start: usize,
    /// Height of the tree inside.
    height: u32,
}

impl Term {
    fn new(kind: TermKind, start: usize, height: u32) -> Self {
        Term {
            kind: Box::new(kind),
            start,
            height,
        }
    }
}

enum TermKind {
    /// Spanset filters and operators; `pipes` when the leaves are parenthesised pipelines.
    Spansets { expr: SpansetExpr, pipes: bool },
    /// An unparenthesised pipeline (or a lone `by()`, `select()`, `coalesce()`).
    Pipeline(Pipeline),
    /// A folded numeric constant.
    Const(Static),
    /// Arithmetic containing an aggregate.
    Scalar(ScalarExpr),
    /// Arithmetic over parenthesised scalar pipelines.
    ScalarPipes(ScalarExpr),
    /// `pipeline | aggregate` that must be closed by `)`.
    PendingScalar(Pipeline, Aggregate),
    /// `count() > 2`: a pipeline stage.
    ScalarFilter(ScalarFilter),
    /// `({…} | count()) > 2`: only a whole query.
    ScalarPipesFilter(ScalarFilter),
    /// A metrics function right after `|`.
    MetricsFn(MetricsFunction),
    Metrics {
        expr: MetricsExpr,
        state: MetricsState,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MetricsState {
    /// `pipeline | fn …` without parentheses: takes second stages, no arithmetic.
    Open,
    /// Parenthesised or arithmetic: takes arithmetic; second stages only at the top.
    Wrapped,
    /// Second stages applied at the top: takes more second stages only.
    Staged,
}

#[derive(Clone, Copy)]
enum SpansetOp {
    Logical(LogicalOp),
    Structural(StructuralOp),
}

impl Parser {
    /// The whole query: expression, hints, end of input.
    pub(crate) fn query(&mut self) -> PResult<Query> {
        let term = self.top(0, false)?;
        let body = self.finish(term)?;
        let mut hints = Hints::default();
        while self.peek() == &TokenKind::Keyword(Keyword::With) {
            // Tempo keeps the last `with(...)` clause
            hints = self.hints()?;
        }
        if self.peek() != &TokenKind::Eof {
            return Err(self.unexpected());
        }
        Ok(Query { body, hints })
    }

    fn finish(&self, term: Term) -> PResult<QueryBody> {
        let single = |stage| Pipeline {
            stages: vec![stage],
        };
        Ok(match *term.kind {
            TermKind::Spansets {
                expr: SpansetExpr::Pipeline(p),
                pipes: true,
            } => QueryBody::Search(*p),
            TermKind::Spansets { expr, .. } => QueryBody::Search(single(Stage::Spanset(expr))),
            TermKind::Pipeline(p) => QueryBody::Search(p),
            TermKind::ScalarFilter(f) | TermKind::ScalarPipesFilter(f) => {
                QueryBody::Search(single(Stage::ScalarFilter(f)))
            }
            TermKind::Metrics { expr, .. } => QueryBody::Metrics(expr),
            TermKind::Const(_)
            | TermKind::Scalar(_)
            | TermKind::ScalarPipes(_)
            | TermKind::PendingScalar(..)
            | TermKind::MetricsFn(_) => return Err(self.unexpected()),
        })
    }

    /// `with(name = value, …)`; the cursor is at `with`.
    fn hints(&mut self) -> PResult<Hints> {
        self.advance();
        self.expect(&TokenKind::LParen)?;
        let mut hints = Vec::new();
        loop {
            let TokenKind::Ident(name) = self.peek() else {
                return Err(self.unexpected_expecting("IDENTIFIER"));
            };
            let name = name.clone();
            self.advance();
            self.expect(&TokenKind::Eq)?;
            let Some(value) = self.static_value()? else {
                return Err(self.unexpected());
            };
            hints.push(Hint { name, value });
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        self.expect(&TokenKind::RParen)?;
        Ok(Hints { hints })
    }

    // The functions from here to `arithmetic` form the recursion cycles of the query level;
    // they keep only small values in their frames and build results in helpers.

    /// A query-level expression with operators binding at least `min`. `after_pipe` allows
    /// the elements that only follow `|` (`coalesce()`, metrics functions).
    fn top(&mut self, min: u8, after_pipe: bool) -> PResult<Term> {
        self.enter()?;
        let r = self.top_inner(min, after_pipe);
        self.leave();
        r
    }

    fn top_inner(&mut self, min: u8, after_pipe: bool) -> PResult<Term> {
        let mut lhs = self.top_prefix(after_pipe)?;
        if matches!(*lhs.kind, TermKind::MetricsFn(_)) {
            return Ok(lhs);
        }
        while let Some(bp) = top_precedence(self.peek()) {
            if bp < min {
                break;
            }
            lhs = self.top_infix(lhs, bp)?;
            self.check_height(lhs.height)?;
        }
        Ok(lhs)
    }

    fn top_prefix(&mut self, after_pipe: bool) -> PResult<Term> {
        match self.peek() {
            TokenKind::LParen => self.parenthesised(),
            TokenKind::LBrace => self.filter_term(),
            TokenKind::Integer(_)
            | TokenKind::Float(_)
            | TokenKind::Duration(_)
            | TokenKind::Sub => {
                let start = self.at;
                Ok(Term::new(TermKind::Const(self.const_prefix()?), start, 1))
            }
            TokenKind::Keyword(k) => {
                let k = *k;
                self.keyword_term(k, after_pipe)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn parenthesised(&mut self) -> PResult<Term> {
        self.advance();
        self.paren_depth += 1;
        let inner = self.top(0, false)?;
        self.expect(&TokenKind::RParen)?;
        self.paren_depth -= 1;
        self.close_paren(inner)
    }

    fn top_infix(&mut self, lhs: Term, bp: u8) -> PResult<Term> {
        let spansets = matches!(*lhs.kind, TermKind::Spansets { .. });
        match self.peek() {
            TokenKind::Pipe => self.pipe(lhs),
            TokenKind::And => self.spanset_op(lhs, bp, SpansetOp::Logical(LogicalOp::And)),
            TokenKind::Or => self.spanset_op(lhs, bp, SpansetOp::Logical(LogicalOp::Or)),
            TokenKind::Gt if spansets => {
                self.spanset_op(lhs, bp, SpansetOp::Structural(StructuralOp::Child))
            }
            TokenKind::Lt if spansets => {
                self.spanset_op(lhs, bp, SpansetOp::Structural(StructuralOp::Parent))
            }
            TokenKind::Eq => self.comparison(lhs, CmpOp::Eq),
            TokenKind::Neq => self.comparison(lhs, CmpOp::Neq),
            TokenKind::Lt => self.comparison(lhs, CmpOp::Lt),
            TokenKind::Lte => self.comparison(lhs, CmpOp::Lte),
            TokenKind::Gt => self.comparison(lhs, CmpOp::Gt),
            TokenKind::Gte => self.comparison(lhs, CmpOp::Gte),
            TokenKind::Add => self.arithmetic(lhs, bp, ArithOp::Add),
            TokenKind::Sub => self.arithmetic(lhs, bp, ArithOp::Sub),
            TokenKind::Mul => self.arithmetic(lhs, bp, ArithOp::Mul),
            TokenKind::Div => self.arithmetic(lhs, bp, ArithOp::Div),
            TokenKind::Mod => self.arithmetic(lhs, bp, ArithOp::Mod),
            TokenKind::Pow => self.arithmetic(lhs, bp, ArithOp::Pow),
            kind => match structural_op(kind) {
                Some(op) => self.spanset_op(lhs, bp, SpansetOp::Structural(op)),
                None => Err(self.unexpected()),
            },
        }
    }

    /// `lhs | element`, or `metrics | topk(k)`.
    fn pipe(&mut self, lhs: Term) -> PResult<Term> {
        if let TermKind::Metrics { state, .. } = *lhs.kind
            && self.stages_allowed(state)
        {
            return self.topk_stage(lhs);
        }
        if !matches!(
            *lhs.kind,
            TermKind::Spansets { pipes: false, .. }
                | TermKind::Pipeline(_)
                | TermKind::ScalarFilter(_)
        ) {
            return Err(self.unexpected());
        }
        self.advance();
        let rhs = self.top(prec::LOGICAL, true)?;
        self.combine_pipe(lhs, rhs)
    }

    /// Spanset operators: both sides spanset expressions, or both parenthesised pipelines.
    fn spanset_op(&mut self, lhs: Term, bp: u8, op: SpansetOp) -> PResult<Term> {
        if !matches!(*lhs.kind, TermKind::Spansets { .. }) {
            return Err(self.unexpected());
        }
        self.advance();
        let rhs = self.top(bp + 1, false)?;
        self.combine_spansets(lhs, op, rhs)
    }

    /// `scalar cmp scalar` (a scalar filter) or `metrics cmp number` (a second stage).
    fn comparison(&mut self, lhs: Term, op: CmpOp) -> PResult<Term> {
        if let TermKind::Metrics { state, .. } = *lhs.kind {
            if !self.stages_allowed(state) {
                return Err(self.unexpected());
            }
            self.advance();
            let value = self.metrics_filter_value()?;
            return Ok(self.add_stage(lhs, SecondStage::Filter { op, value }));
        }
        if !matches!(
            *lhs.kind,
            TermKind::Const(_) | TermKind::Scalar(_) | TermKind::ScalarPipes(_)
        ) {
            return Err(self.unexpected());
        }
        self.advance();
        let rhs = self.top(prec::COMPARE + 1, false)?;
        self.combine_comparison(lhs, op, rhs)
    }

    /// Arithmetic between constants, aggregates, scalar pipelines or metrics queries.
    fn arithmetic(&mut self, lhs: Term, bp: u8, op: ArithOp) -> PResult<Term> {
        let accepted = match *lhs.kind {
            TermKind::Const(_) | TermKind::Scalar(_) | TermKind::ScalarPipes(_) => true,
            TermKind::Metrics {
                state: MetricsState::Wrapped,
                ..
            } => math_op(op).is_some(),
            _ => false,
        };
        if !accepted {
            return Err(self.unexpected());
        }
        let op_at = self.at;
        self.advance();
        let next = if op == ArithOp::Pow { bp } else { bp + 1 };
        let rhs = self.top(next, false)?;
        self.combine_arithmetic(lhs, op, op_at, rhs)
    }

    // Leaves and result builders (not on a recursion cycle).

    fn filter_term(&mut self) -> PResult<Term> {
        let start = self.at;
        let (filter, h) = self.spanset_filter()?;
        let expr = SpansetExpr::Filter(filter);
        Ok(Term::new(
            TermKind::Spansets { expr, pipes: false },
            start,
            h + 1,
        ))
    }

    fn keyword_term(&mut self, k: Keyword, after_pipe: bool) -> PResult<Term> {
        let start = self.at;
        let single = |stage| {
            TermKind::Pipeline(Pipeline {
                stages: vec![stage],
            })
        };
        let (kind, height) = match k {
            Keyword::Count | Keyword::Avg | Keyword::Min | Keyword::Max | Keyword::Sum => {
                let op = match k {
                    Keyword::Count => AggregateOp::Count,
                    Keyword::Avg => AggregateOp::Avg,
                    Keyword::Min => AggregateOp::Min,
                    Keyword::Max => AggregateOp::Max,
                    _ => AggregateOp::Sum,
                };
                let (a, h) = self.aggregate(op)?;
                (TermKind::Scalar(ScalarExpr::Aggregate(a)), h + 1)
            }
            Keyword::By => {
                self.advance();
                self.expect(&TokenKind::LParen)?;
                let (e, h) = self.field_expr(0)?;
                self.expect(&TokenKind::RParen)?;
                (single(Stage::GroupBy(e)), h + 2)
            }
            Keyword::Select => {
                self.advance();
                self.expect(&TokenKind::LParen)?;
                let fields = self.field_ref_list()?;
                self.expect(&TokenKind::RParen)?;
                (single(Stage::Select(fields)), 3)
            }
            Keyword::Coalesce if after_pipe => {
                self.advance();
                self.expect(&TokenKind::LParen)?;
                self.expect(&TokenKind::RParen)?;
                (single(Stage::Coalesce), 2)
            }
            _ if after_pipe && is_metrics_function(k) => {
                let (f, h) = self.metrics_function(k)?;
                (TermKind::MetricsFn(f), h)
            }
            _ => return Err(self.unexpected()),
        };
        Ok(Term::new(kind, start, height))
    }

    /// Re-categorises what stood between parentheses; the cursor is after `)`.
    #[inline(never)]
    fn close_paren(&self, inner: Term) -> PResult<Term> {
        let wrap = |p: Pipeline| TermKind::Spansets {
            expr: SpansetExpr::Pipeline(Box::new(p)),
            pipes: true,
        };
        let kind = match *inner.kind {
            TermKind::Pipeline(p) => wrap(p),
            TermKind::ScalarFilter(f) => wrap(Pipeline {
                stages: vec![Stage::ScalarFilter(f)],
            }),
            TermKind::PendingScalar(pipeline, aggregate) => {
                TermKind::ScalarPipes(ScalarExpr::Pipeline(Box::new(ScalarPipeline {
                    pipeline,
                    aggregate,
                })))
            }
            TermKind::Metrics {
                expr,
                state: MetricsState::Open | MetricsState::Wrapped,
            } => TermKind::Metrics {
                expr,
                state: MetricsState::Wrapped,
            },
            k @ (TermKind::Spansets { .. }
            | TermKind::Const(_)
            | TermKind::Scalar(_)
            | TermKind::ScalarPipes(_)) => k,
            TermKind::ScalarPipesFilter(_)
            | TermKind::MetricsFn(_)
            | TermKind::Metrics {
                state: MetricsState::Staged,
                ..
            } => return Err(self.unexpected_at(self.at - 1, None)),
        };
        Ok(Term::new(kind, inner.start, inner.height + 1))
    }

    /// `metrics | topk(k)`; the cursor is at `|`.
    fn topk_stage(&mut self, lhs: Term) -> PResult<Term> {
        self.advance();
        let stage = match self.peek() {
            TokenKind::Keyword(k @ (Keyword::TopK | Keyword::BottomK)) => {
                let k = *k;
                self.topk(k)?
            }
            _ => return Err(self.unexpected()),
        };
        Ok(self.add_stage(lhs, stage))
    }

    #[inline(never)]
    fn combine_pipe(&self, lhs: Term, rhs: Term) -> PResult<Term> {
        let height = lhs.height.max(rhs.height) + 1;
        let mut pipeline = match *lhs.kind {
            TermKind::Spansets { expr, .. } => Pipeline {
                stages: vec![Stage::Spanset(expr)],
            },
            TermKind::Pipeline(p) => p,
            TermKind::ScalarFilter(f) => Pipeline {
                stages: vec![Stage::ScalarFilter(f)],
            },
            _ => return Err(self.unexpected_at(lhs.start, None)),
        };
        let kind = match *rhs.kind {
            TermKind::MetricsFn(function) => TermKind::Metrics {
                expr: MetricsExpr::Query(Box::new(MetricsQuery {
                    pipeline,
                    function,
                    stages: Vec::new(),
                })),
                state: MetricsState::Open,
            },
            TermKind::Scalar(ScalarExpr::Aggregate(a)) => TermKind::PendingScalar(pipeline, a),
            TermKind::Spansets { expr, pipes: false } => {
                pipeline.stages.push(Stage::Spanset(expr));
                TermKind::Pipeline(pipeline)
            }
            TermKind::ScalarFilter(f) => {
                pipeline.stages.push(Stage::ScalarFilter(f));
                TermKind::Pipeline(pipeline)
            }
            TermKind::Pipeline(p) => {
                pipeline.stages.extend(p.stages);
                TermKind::Pipeline(pipeline)
            }
            // `{…} | avg(.a) + 1`: Tempo wants a comparison next
            TermKind::Const(_) | TermKind::Scalar(_) => return Err(self.unexpected()),
            _ => return Err(self.unexpected_at(rhs.start, None)),
        };
        Ok(Term::new(kind, lhs.start, height))
    }

    #[inline(never)]
    fn combine_spansets(&self, lhs: Term, op: SpansetOp, rhs: Term) -> PResult<Term> {
        let (TermKind::Spansets { expr: l, pipes }, TermKind::Spansets { expr: r, pipes: rp }) =
            (*lhs.kind, *rhs.kind)
        else {
            return Err(self.unexpected_at(rhs.start, Some("{ or (")));
        };
        if pipes != rp {
            return Err(self.unexpected_at(rhs.start, Some("{ or (")));
        }
        let mut height = lhs.height.max(rhs.height) + 1;
        let expr = match (op, l) {
            (
                SpansetOp::Logical(op),
                SpansetExpr::Logical {
                    op: lop,
                    mut operands,
                },
            ) if lop == op => {
                operands.push(r);
                height = lhs.height.max(rhs.height + 1);
                SpansetExpr::Logical { op, operands }
            }
            (SpansetOp::Logical(op), l) => SpansetExpr::Logical {
                op,
                operands: vec![l, r],
            },
            (SpansetOp::Structural(op), l) => SpansetExpr::Structural {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
        };
        Ok(Term::new(
            TermKind::Spansets { expr, pipes },
            lhs.start,
            height,
        ))
    }

    #[inline(never)]
    fn combine_comparison(&self, lhs: Term, op: CmpOp, rhs: Term) -> PResult<Term> {
        let height = lhs.height.max(rhs.height) + 1;
        let f = |lhs, rhs| ScalarFilter { op, lhs, rhs };
        let kind = match (*lhs.kind, *rhs.kind) {
            (TermKind::Scalar(l), TermKind::Scalar(r)) => TermKind::ScalarFilter(f(l, r)),
            (TermKind::Scalar(l), TermKind::Const(c)) => {
                TermKind::ScalarFilter(f(l, ScalarExpr::Static(c)))
            }
            (TermKind::Const(c), TermKind::Scalar(r)) => {
                TermKind::ScalarFilter(f(ScalarExpr::Static(c), r))
            }
            (TermKind::ScalarPipes(l), TermKind::ScalarPipes(r)) => {
                TermKind::ScalarPipesFilter(f(l, r))
            }
            (TermKind::ScalarPipes(l), TermKind::Const(c)) => {
                TermKind::ScalarPipesFilter(f(l, ScalarExpr::Static(c)))
            }
            // `3 = 2`: Tempo wants an aggregate and fails at what follows
            (_, TermKind::Const(_) | TermKind::Scalar(_) | TermKind::ScalarPipes(_)) => {
                return Err(self.unexpected());
            }
            _ => return Err(self.unexpected_at(rhs.start, None)),
        };
        Ok(Term::new(kind, lhs.start, height))
    }

    #[inline(never)]
    fn combine_arithmetic(&self, lhs: Term, op: ArithOp, op_at: usize, rhs: Term) -> PResult<Term> {
        let height = lhs.height.max(rhs.height) + 1;
        let bin = |l, r| ScalarExpr::Binary {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
        };
        let metrics = |expr| TermKind::Metrics {
            expr,
            state: MetricsState::Wrapped,
        };
        let kind = match (*lhs.kind, *rhs.kind, math_op(op)) {
            (TermKind::Const(l), TermKind::Const(r), Some(m)) => TermKind::Const(
                super::metrics::fold_const(m, l, r)
                    .map_err(|e| Self::error_at(self.token(op_at).pos, e))?,
            ),
            (TermKind::Const(l), TermKind::Scalar(r), _) => {
                TermKind::Scalar(bin(ScalarExpr::Static(l), r))
            }
            (TermKind::Scalar(l), TermKind::Scalar(r), _) => TermKind::Scalar(bin(l, r)),
            (TermKind::Scalar(l), TermKind::Const(r), _) => {
                TermKind::Scalar(bin(l, ScalarExpr::Static(r)))
            }
            (TermKind::ScalarPipes(l), TermKind::ScalarPipes(r), _) => {
                TermKind::ScalarPipes(bin(l, r))
            }
            (
                TermKind::Const(c),
                TermKind::Metrics {
                    expr,
                    state: MetricsState::Wrapped,
                },
                Some(op),
            ) => metrics(MetricsExpr::Scalar {
                op,
                value: self.metrics_scalar(&c, lhs.start)?,
                expr: Box::new(expr),
                scalar_on_left: true,
            }),
            (
                TermKind::Metrics { expr: l, .. },
                TermKind::Metrics {
                    expr: r,
                    state: MetricsState::Wrapped,
                },
                Some(op),
            ) => metrics(MetricsExpr::Math {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            }),
            (TermKind::Metrics { expr, .. }, TermKind::Const(c), Some(op)) => {
                metrics(MetricsExpr::Scalar {
                    op,
                    value: self.metrics_scalar(&c, rhs.start)?,
                    expr: Box::new(expr),
                    scalar_on_left: false,
                })
            }
            (_, TermKind::Const(_) | TermKind::Scalar(_) | TermKind::ScalarPipes(_), _) => {
                return Err(self.unexpected());
            }
            _ => return Err(self.unexpected_at(rhs.start, None)),
        };
        Ok(Term::new(kind, lhs.start, height))
    }

    /// Second stages apply to an unparenthesised metrics pipeline anywhere, and to any metrics
    /// expression at the top of the query.
    fn stages_allowed(&self, state: MetricsState) -> bool {
        match state {
            MetricsState::Open | MetricsState::Staged => true,
            MetricsState::Wrapped => self.paren_depth == 0,
        }
    }

    /// Appends a second stage; `lhs` is a metrics term whose state allows it.
    #[inline(never)]
    fn add_stage(&self, lhs: Term, stage: SecondStage) -> Term {
        let TermKind::Metrics { expr, state } = *lhs.kind else {
            return lhs;
        };
        let expr = match expr {
            MetricsExpr::Query(mut q) => {
                q.stages.push(stage);
                MetricsExpr::Query(q)
            }
            MetricsExpr::Staged { expr, mut stages } => {
                stages.push(stage);
                MetricsExpr::Staged { expr, stages }
            }
            expr => MetricsExpr::Staged {
                expr: Box::new(expr),
                stages: vec![stage],
            },
        };
        let state = match state {
            MetricsState::Open => MetricsState::Open,
            MetricsState::Wrapped | MetricsState::Staged => MetricsState::Staged,
        };
        Term::new(TermKind::Metrics { expr, state }, lhs.start, lhs.height + 1)
    }
}

fn math_op(op: ArithOp) -> Option<MathOp> {
    match op {
        ArithOp::Add => Some(MathOp::Add),
        ArithOp::Sub => Some(MathOp::Sub),
        ArithOp::Mul => Some(MathOp::Mul),
        ArithOp::Div => Some(MathOp::Div),
        ArithOp::Mod | ArithOp::Pow => None,
    }
}

fn top_precedence(kind: &TokenKind) -> Option<u8> {
    Some(match kind {
        TokenKind::Pipe => prec::PIPE,
        TokenKind::And | TokenKind::Or => prec::LOGICAL,
        TokenKind::Add | TokenKind::Sub => prec::ADD,
        TokenKind::Mul | TokenKind::Div | TokenKind::Mod => prec::MUL,
        TokenKind::Pow => prec::POW,
        TokenKind::Eq
        | TokenKind::Neq
        | TokenKind::Lt
        | TokenKind::Lte
        | TokenKind::Gt
        | TokenKind::Gte
        | TokenKind::Re => prec::COMPARE,
        k if structural_op(k).is_some() => prec::COMPARE,
        _ => return None,
    })
}

/// Structural operators other than `>` and `<` (which are comparisons too).
fn structural_op(kind: &TokenKind) -> Option<StructuralOp> {
    Some(match kind {
        TokenKind::Desc => StructuralOp::Descendant,
        TokenKind::Ance => StructuralOp::Ancestor,
        TokenKind::Sibl => StructuralOp::Sibling,
        TokenKind::NotChild => StructuralOp::NotChild,
        TokenKind::NotParent => StructuralOp::NotParent,
        TokenKind::NotDesc => StructuralOp::NotDescendant,
        TokenKind::NotAnce => StructuralOp::NotAncestor,
        TokenKind::Nre => StructuralOp::NotSibling,
        TokenKind::UnionChild => StructuralOp::UnionChild,
        TokenKind::UnionParent => StructuralOp::UnionParent,
        TokenKind::UnionDesc => StructuralOp::UnionDescendant,
        TokenKind::UnionAnce => StructuralOp::UnionAncestor,
        TokenKind::UnionSibl => StructuralOp::UnionSibling,
        _ => return None,
    })
}

fn is_metrics_function(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::Rate
            | Keyword::CountOverTime
            | Keyword::MinOverTime
            | Keyword::MaxOverTime
            | Keyword::AvgOverTime
            | Keyword::SumOverTime
            | Keyword::QuantileOverTime
            | Keyword::HistogramOverTime
            | Keyword::Compare
    )
}
