//! Canonical text of a query. Parsing the text gives back an equal tree (tested over the
//! corpus and random trees). Field expressions follow Tempo's `String()` conventions so that
//! `by(...)` labels and error messages read the same; the other levels print only the
//! parentheses precedence requires.

use std::fmt::{self, Display, Formatter, Write as _};

use super::format::{
    format_duration, format_float, format_metrics_number, quote_string, write_attribute_name,
};
use super::*;

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.body {
            QueryBody::Search(p) => write!(f, "{p}")?,
            QueryBody::Metrics(m) => write_metrics(m, true, f)?,
        }
        if !self.hints.hints.is_empty() {
            write!(f, " {}", self.hints)?;
        }
        Ok(())
    }
}

impl Display for Hints {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("with(")?;
        for (i, h) in self.hints.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", h.name, h.value)?;
        }
        f.write_char(')')
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spanset(e) => write!(f, "{e}"),
            Stage::ScalarFilter(s) => write!(f, "{s}"),
            Stage::GroupBy(e) => write!(f, "by({e})"),
            Stage::Coalesce => f.write_str("coalesce()"),
            Stage::Select(fields) => {
                f.write_str("select(")?;
                write_list(fields, f)?;
                f.write_char(')')
            }
        }
    }
}

fn write_list<T: Display>(items: &[T], f: &mut Formatter<'_>) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl SpansetExpr {
    fn precedence(&self) -> u8 {
        match self {
            SpansetExpr::Logical { .. } => 2,
            SpansetExpr::Structural { .. } => 3,
            SpansetExpr::Filter(_) | SpansetExpr::Pipeline(_) => u8::MAX,
        }
    }
}

fn write_spanset_operand(e: &SpansetExpr, parens: bool, f: &mut Formatter<'_>) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(filter) => write!(f, "{filter}"),
            SpansetExpr::Pipeline(p) => write!(f, "({p})"),
            SpansetExpr::Logical { op, operands } => {
                for (i, e) in operands.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {op} ")?;
                    }
                    let p = e.precedence();
                    write_spanset_operand(e, p < 2 || (i > 0 && p <= 2), f)?;
                }
                Ok(())
            }
            SpansetExpr::Structural { op, lhs, rhs } => {
                write_spanset_operand(lhs, lhs.precedence() < 3, f)?;
                write!(f, " {op} ")?;
                write_spanset_operand(rhs, rhs.precedence() <= 3, f)
            }
        }
    }
}

impl Display for SpansetFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{{ {} }}", self.expr)
    }
}

impl Display for LogicalOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogicalOp::And => "&&",
            LogicalOp::Or => "||",
        })
    }
}

impl StructuralOp {
    pub fn as_str(self) -> &'static str {
        match self {
            StructuralOp::Child => ">",
            StructuralOp::Parent => "<",
            StructuralOp::Descendant => ">>",
            StructuralOp::Ancestor => "<<",
            StructuralOp::Sibling => "~",
            StructuralOp::NotChild => "!>",
            StructuralOp::NotParent => "!<",
            StructuralOp::NotDescendant => "!>>",
            StructuralOp::NotAncestor => "!<<",
            StructuralOp::NotSibling => "!~",
            StructuralOp::UnionChild => "&>",
            StructuralOp::UnionParent => "&<",
            StructuralOp::UnionDescendant => "&>>",
            StructuralOp::UnionAncestor => "&<<",
            StructuralOp::UnionSibling => "&~",
        }
    }
}

impl Display for StructuralOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for ScalarFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op, self.rhs)
    }
}

impl ArithOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            ArithOp::Add | ArithOp::Sub => 4,
            ArithOp::Mul | ArithOp::Div | ArithOp::Mod => 5,
            ArithOp::Pow => 6,
        }
    }
}

impl Display for ArithOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ScalarExpr {
    fn precedence(&self) -> u8 {
        match self {
            ScalarExpr::Binary { op, .. } => op.precedence(),
            _ => u8::MAX,
        }
    }
}

impl Display for ScalarExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Aggregate(a) => write!(f, "{a}"),
            ScalarExpr::Static(s) => write_scalar_static(s, f),
            ScalarExpr::Pipeline(p) => write!(f, "({} | {})", p.pipeline, p.aggregate),
            ScalarExpr::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                let right_assoc = *op == ArithOp::Pow;
                let lp = lhs.precedence() < p || (right_assoc && lhs.precedence() == p);
                let rp = rhs.precedence() < p || (!right_assoc && rhs.precedence() == p);
                write_parens(lhs, lp, f)?;
                write!(f, " {op} ")?;
                write_parens(rhs, rp, f)
            }
        }
    }
}

fn write_parens(e: &impl Display, parens: bool, f: &mut Formatter<'_>) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

/// A folded constant where only numbers are allowed (`minInt` is not).
fn write_scalar_static(s: &Static, f: &mut Formatter<'_>) -> fmt::Result {
    match s {
        Static::Int(i64::MIN) => f.write_str("(-9223372036854775807 - 1)"),
        s => write!(f, "{s}"),
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.op)?;
        if let Some(e) = &self.expr {
            write!(f, "{e}")?;
        }
        f.write_char(')')
    }
}

impl Display for AggregateOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AggregateOp::Count => "count",
            AggregateOp::Avg => "avg",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Sum => "sum",
        })
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        })
    }
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Regex => "=~",
            BinaryOp::NotRegex => "!~",
        }
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Binding power of a field expression as the parser sees it (higher binds tighter).
fn field_precedence(e: &FieldExpr) -> u8 {
    match e {
        FieldExpr::Logical { .. } => 2,
        FieldExpr::Unary {
            op: UnaryOp::Exists | UnaryOp::NotExists,
            ..
        } => 3,
        FieldExpr::Binary { op, .. } => binary_precedence(*op),
        // prefix operators and literals: see `right_open`
        FieldExpr::Unary { .. }
        | FieldExpr::Static(_)
        | FieldExpr::Intrinsic(_)
        | FieldExpr::Attribute(_) => u8::MAX,
    }
}

fn binary_precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Eq
        | BinaryOp::Neq
        | BinaryOp::Lt
        | BinaryOp::Lte
        | BinaryOp::Gt
        | BinaryOp::Gte
        | BinaryOp::Regex
        | BinaryOp::NotRegex => 3,
        BinaryOp::Add | BinaryOp::Sub => 4,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
        BinaryOp::Pow => 6,
    }
}

/// Prefix `-`/`!` (and a negative literal, which reads back as one) take as their operand
/// everything that binds at least as tight as `*`, so they need parentheses when such an
/// operator follows them.
fn right_open(e: &FieldExpr) -> bool {
    match e {
        FieldExpr::Unary {
            op: UnaryOp::Neg | UnaryOp::Not,
            ..
        } => true,
        FieldExpr::Static(s) => s.as_f64().is_some_and(|v| v.is_sign_negative()),
        _ => false,
    }
}

/// Writes `e` with the fewest parentheses that parse back to the same tree. `min` is the
/// binding power its position requires; `follow` that of the operator printed after it
/// (0 for none). Parsing the result never recurses deeper than parsing the original text.
fn write_field(e: &FieldExpr, min: u8, follow: u8, f: &mut Formatter<'_>) -> fmt::Result {
    let parens = field_precedence(e) < min || (follow >= 5 && right_open(e));
    let follow = if parens { 0 } else { follow };
    if parens {
        f.write_char('(')?;
    }
    match e {
        FieldExpr::Static(s) => write!(f, "{s}")?,
        FieldExpr::Intrinsic(i) => f.write_str(i.as_str())?,
        FieldExpr::Attribute(a) => write!(f, "{a}")?,
        FieldExpr::Unary { op, expr } => match op {
            UnaryOp::Neg | UnaryOp::Not => {
                f.write_char(if *op == UnaryOp::Neg { '-' } else { '!' })?;
                write_field(expr, 5, follow, f)?;
            }
            UnaryOp::Exists | UnaryOp::NotExists => {
                write_field(expr, 3, 3, f)?;
                f.write_str(if *op == UnaryOp::Exists {
                    " != nil"
                } else {
                    " = nil"
                })?;
            }
        },
        FieldExpr::Binary { op, lhs, rhs } => {
            let p = binary_precedence(*op);
            let (lmin, rmin) = if *op == BinaryOp::Pow {
                (p + 1, p)
            } else {
                (p, p + 1)
            };
            write_field(lhs, lmin, p, f)?;
            write!(f, " {op} ")?;
            write_field(rhs, rmin, follow, f)?;
        }
        FieldExpr::Logical { op, operands } => {
            let last = operands.len().saturating_sub(1);
            for (i, operand) in operands.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                let min = if i == 0 { 2 } else { 3 };
                write_field(operand, min, if i == last { follow } else { 2 }, f)?;
            }
        }
    }
    if parens {
        f.write_char(')')?;
    }
    Ok(())
}

impl Display for FieldExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_field(self, 0, 0, f)
    }
}

/// A field expression in Tempo's `String()` form: every operand that is not a literal or a
/// field in parentheses (`by((3 * .a) - 2)`). Tempo shows this text in `by()` and aggregate
/// labels and in validation messages; it is for display, not for parsing back.
pub struct TempoText<'a>(pub &'a FieldExpr);

impl FieldExpr {
    /// Tempo's `String()` of this expression.
    pub fn tempo_string(&self) -> String {
        TempoText(self).to_string()
    }
}

impl Display for TempoText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let operand = |e: &FieldExpr, f: &mut Formatter<'_>| match e {
            FieldExpr::Static(_) | FieldExpr::Intrinsic(_) | FieldExpr::Attribute(_) => {
                write!(f, "{}", TempoText(e))
            }
            _ => write!(f, "({})", TempoText(e)),
        };
        match self.0 {
            FieldExpr::Static(s) => write!(f, "{s}"),
            FieldExpr::Intrinsic(i) => f.write_str(i.as_str()),
            FieldExpr::Attribute(a) => write!(f, "{a}"),
            FieldExpr::Unary { op, expr } => match op {
                UnaryOp::Neg | UnaryOp::Not => {
                    f.write_char(if *op == UnaryOp::Neg { '-' } else { '!' })?;
                    operand(expr, f)
                }
                UnaryOp::Exists | UnaryOp::NotExists => {
                    operand(expr, f)?;
                    f.write_str(if *op == UnaryOp::Exists {
                        " != nil"
                    } else {
                        " = nil"
                    })
                }
            },
            FieldExpr::Binary { op, lhs, rhs } => {
                operand(lhs, f)?;
                write!(f, " {op} ")?;
                operand(rhs, f)
            }
            FieldExpr::Logical { op, operands } => {
                // Tempo's tree is binary and left-nested: ((a || b) || c) || d
                for _ in 2..operands.len() {
                    f.write_char('(')?;
                }
                for (i, e) in operands.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {op} ")?;
                    }
                    operand(e, f)?;
                    if i > 0 && i + 1 < operands.len() {
                        f.write_char(')')?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Static::Int(i64::MIN) => f.write_str("minInt"),
            Static::Int(i) => write!(f, "{i}"),
            Static::Float(v) => f.write_str(&format_float(*v)),
            Static::String(s) => quote_string(s, f),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Duration(d) => f.write_str(&format_duration(*d)),
            Static::Status(s) => write!(f, "{s}"),
            Static::Kind(k) => write!(f, "{k}"),
        }
    }
}

impl Display for Status {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Error => "error",
            Status::Ok => "ok",
            Status::Unset => "unset",
        })
    }
}

impl Display for SpanKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        })
    }
}

impl Display for Intrinsic {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.parent {
            f.write_str("parent.")?;
        }
        let scope = match self.scope {
            AttributeScope::Unscoped => "",
            AttributeScope::Span => "span.",
            AttributeScope::Resource => "resource.",
            AttributeScope::Event => "event.",
            AttributeScope::Link => "link.",
            AttributeScope::Instrumentation => "instrumentation.",
        };
        if !self.parent && self.scope == AttributeScope::Unscoped {
            f.write_char('.')?;
        }
        f.write_str(scope)?;
        // `.5x` would lex as a number; `parent.span.x` as a parent span attribute
        let needs_quotes = match (self.parent, self.scope) {
            (false, AttributeScope::Unscoped) => {
                self.name.starts_with(|c: char| c.is_ascii_digit())
            }
            (true, AttributeScope::Unscoped) => {
                self.name.starts_with("span.") || self.name.starts_with("resource.")
            }
            _ => false,
        };
        write_attribute_name(&self.name, needs_quotes, f)
    }
}

impl Display for FieldRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Intrinsic(i) => f.write_str(i.as_str()),
            FieldRef::Attribute(a) => write!(f, "{a}"),
        }
    }
}

impl Display for MathOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
        })
    }
}

impl MathOp {
    fn precedence(self) -> u8 {
        match self {
            MathOp::Add | MathOp::Sub => 4,
            MathOp::Mul | MathOp::Div => 5,
        }
    }
}

impl MetricsExpr {
    fn precedence(&self) -> u8 {
        match self {
            MetricsExpr::Math { op, .. } | MetricsExpr::Scalar { op, .. } => op.precedence(),
            MetricsExpr::Query(_) | MetricsExpr::Staged { .. } => u8::MAX,
        }
    }
}

impl Display for MetricsExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_metrics(self, true, f)
    }
}

/// `top`: the expression is the whole query, so a metrics pipeline needs no parentheses.
fn write_metrics(e: &MetricsExpr, top: bool, f: &mut Formatter<'_>) -> fmt::Result {
    let operand = |e: &MetricsExpr, parens: bool, f: &mut Formatter<'_>| {
        if parens {
            f.write_char('(')?;
            write_metrics(e, false, f)?;
            f.write_char(')')
        } else {
            write_metrics(e, false, f)
        }
    };
    match e {
        MetricsExpr::Query(q) if top => write!(f, "{q}"),
        MetricsExpr::Query(q) => write!(f, "({q})"),
        MetricsExpr::Math { op, lhs, rhs } => {
            let p = op.precedence();
            operand(lhs, lhs.precedence() < p, f)?;
            write!(f, " {op} ")?;
            operand(rhs, rhs.precedence() <= p, f)
        }
        MetricsExpr::Scalar {
            op,
            value,
            expr,
            scalar_on_left,
        } => {
            let p = op.precedence();
            if *scalar_on_left {
                write!(f, "{} {op} ", format_metrics_number(*value))?;
                operand(expr, expr.precedence() <= p, f)
            } else {
                operand(expr, expr.precedence() < p, f)?;
                write!(f, " {op} {}", format_metrics_number(*value))
            }
        }
        MetricsExpr::Staged { expr, stages } => {
            write_metrics(expr, false, f)?;
            stages.iter().try_for_each(|s| write!(f, "{s}"))
        }
    }
}

impl Display for MetricsQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} | {}", self.pipeline, self.function)?;
        self.stages.iter().try_for_each(|s| write!(f, "{s}"))
    }
}

impl Display for MetricsFunction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.op)?;
        if !self.by.is_empty() {
            f.write_str(" by (")?;
            write_list(&self.by, f)?;
            f.write_char(')')?;
        }
        Ok(())
    }
}

impl MetricsOp {
    pub fn name(&self) -> &'static str {
        match self {
            MetricsOp::Rate => "rate",
            MetricsOp::CountOverTime => "count_over_time",
            MetricsOp::MinOverTime(_) => "min_over_time",
            MetricsOp::MaxOverTime(_) => "max_over_time",
            MetricsOp::AvgOverTime(_) => "avg_over_time",
            MetricsOp::SumOverTime(_) => "sum_over_time",
            MetricsOp::QuantileOverTime { .. } => "quantile_over_time",
            MetricsOp::HistogramOverTime(_) => "histogram_over_time",
            MetricsOp::Compare { .. } => "compare",
        }
    }
}

impl Display for MetricsOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name())?;
        match self {
            MetricsOp::Rate | MetricsOp::CountOverTime => {}
            MetricsOp::MinOverTime(a)
            | MetricsOp::MaxOverTime(a)
            | MetricsOp::AvgOverTime(a)
            | MetricsOp::SumOverTime(a)
            | MetricsOp::HistogramOverTime(a) => write!(f, "{a}")?,
            MetricsOp::QuantileOverTime { field, quantiles } => {
                write!(f, "{field}")?;
                for q in quantiles {
                    write!(f, ", {}", format_float(*q))?;
                }
            }
            MetricsOp::Compare {
                filter,
                top_n,
                start_ns,
                end_ns,
            } => {
                write!(f, "{filter}")?;
                if *start_ns != 0 || *end_ns != 0 {
                    write!(f, ", {top_n}, {start_ns}, {end_ns}")?;
                } else if *top_n != 10 {
                    write!(f, ", {top_n}")?;
                }
            }
        }
        f.write_char(')')
    }
}

impl Display for SecondStage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SecondStage::TopK(k) => write!(f, " | topk({k})"),
            SecondStage::BottomK(k) => write!(f, " | bottomk({k})"),
            SecondStage::Filter { op, value } => {
                write!(f, " {op} {}", format_metrics_number(*value))
            }
        }
    }
}
