//! Hand-written Pratt parser with Tempo's precedence and associativity (TEMPO-SPEC §3.3).
//!
//! From lowest to highest: `|`; `&&` `||`; comparisons and structural operators; `+` `-`;
//! `*` `/` `%`; `^` (right-associative). All other binary operators are left-associative.
//! Prefix `-` and `!` in field expressions bind like Tempo's yacc rules: their operand takes
//! everything tighter than `+`/`-` (`-a * b` is `-(a * b)`, `!a = b` is `(!a) = b`), while a
//! unary minus on a constant outside spanset filters binds tightest.
//!
//! This file holds the cursor, the limits and everything inside `{ }`: field expressions,
//! attribute and intrinsic references, aggregates. `top.rs` parses the levels outside braces
//! (pipelines, spanset operators, scalar filters, metrics); `metrics.rs` the metrics
//! functions, second stages and constant folding.
//!
//! Hostile input: recursion depth and tree height are both capped by
//! [`ParseOptions::max_depth`], so neither parsing nor the recursive walks over the tree
//! (printing, validation, drop) can exhaust the stack. Errors carry the line and column of the
//! offending token.

mod metrics;
mod top;

use crate::ast::*;
use crate::error::ParseError;
use crate::lexer::{Keyword, Pos, ScopeColon, ScopeDot, Token, TokenKind};

/// Tempo's default `max_query_expression_size_bytes`.
pub const DEFAULT_MAX_QUERY_BYTES: usize = 128 * 1024;

/// Deepest nesting accepted, counted both as parser recursion and as tree height.
pub const DEFAULT_MAX_DEPTH: u32 = 256;

/// Limits applied while parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Longer queries are refused before lexing (`Error::TooLarge`).
    pub max_query_bytes: usize,
    /// Deeper nesting (parentheses, operator chains that are not flattened) is a parse error.
    pub max_depth: u32,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_query_bytes: DEFAULT_MAX_QUERY_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

pub(crate) type PResult<T> = Result<T, ParseError>;

/// Binding powers shared by all levels.
pub(crate) mod prec {
    pub const PIPE: u8 = 1;
    pub const LOGICAL: u8 = 2;
    pub const COMPARE: u8 = 3;
    pub const ADD: u8 = 4;
    pub const MUL: u8 = 5;
    pub const POW: u8 = 6;
}

pub(crate) struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: u32,
    max_depth: u32,
    /// Open parentheses around the current position at the query level.
    paren_depth: u32,
}

impl Parser {
    pub(crate) fn new(mut tokens: Vec<Token>, max_depth: u32) -> Self {
        // the lexer always ends with Eof or Error; keep `token()` total regardless
        if tokens.is_empty() {
            let pos = Pos {
                line: 1,
                col: 1,
                offset: 0,
            };
            tokens.push(Token {
                kind: TokenKind::Eof,
                pos,
            });
        }
        Parser {
            tokens,
            at: 0,
            depth: 0,
            max_depth,
            paren_depth: 0,
        }
    }

    fn token(&self, index: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[index.min(last)]
    }

    fn peek(&self) -> &TokenKind {
        &self.token(self.at).kind
    }

    fn nth(&self, n: usize) -> &TokenKind {
        &self.token(self.at + n).kind
    }

    fn pos(&self) -> Pos {
        self.token(self.at).pos
    }

    fn advance(&mut self) {
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.peek() == kind {
            self.advance();
            true
        } else {
            false
        }
    }

    /// `syntax error: unexpected X` for the token at `index` (or the lexer's own message).
    fn unexpected_at(&self, index: usize, expecting: Option<&str>) -> ParseError {
        let tok = self.token(index);
        let message = match (&tok.kind, expecting) {
            (TokenKind::Error(m), _) => m.clone(),
            (k, None) => format!("syntax error: unexpected {k}"),
            (k, Some(e)) => format!("syntax error: unexpected {k}, expecting {e}"),
        };
        ParseError::new(tok.pos.line, tok.pos.col, message)
    }

    fn unexpected(&self) -> ParseError {
        self.unexpected_at(self.at, None)
    }

    fn unexpected_expecting(&self, expecting: &str) -> ParseError {
        self.unexpected_at(self.at, Some(expecting))
    }

    fn error_at(pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError::new(pos.line, pos.col, message)
    }

    fn expect(&mut self, kind: &TokenKind) -> PResult<()> {
        if self.eat(kind) {
            Ok(())
        } else {
            let what = kind.symbol().unwrap_or("?");
            Err(self.unexpected_expecting(what))
        }
    }

    fn too_deep(&self) -> ParseError {
        Self::error_at(
            self.pos(),
            format!(
                "expression nesting exceeds the maximum depth of {}",
                self.max_depth
            ),
        )
    }

    /// Enters one level of recursion; pair with [`Parser::leave`].
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= self.max_depth {
            return Err(self.too_deep());
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn check_height(&self, height: u32) -> PResult<()> {
        if height > self.max_depth {
            Err(self.too_deep())
        } else {
            Ok(())
        }
    }

    // ---------------------------------------------------------------------------------------
    // Field expressions
    // ---------------------------------------------------------------------------------------

    /// A field expression and its tree height; operators binding at least `min`.
    ///
    /// The functions on a recursion cycle (`field_expr`, `field_expr_inner`, `field_prefix`,
    /// `nil_comparison`) keep only small values in their frames and build nodes in helpers,
    /// so deep nesting costs little stack even in unoptimised builds.
    pub(crate) fn field_expr(&mut self, min: u8) -> PResult<(FieldExpr, u32)> {
        self.enter()?;
        let r = self.field_expr_inner(min);
        self.leave();
        r
    }

    fn field_expr_inner(&mut self, min: u8) -> PResult<(FieldExpr, u32)> {
        let mut lhs = self.field_prefix()?;
        while let Some((bp, op)) = field_infix(self.peek()) {
            if bp < min {
                break;
            }
            self.advance();
            lhs = if matches!(op, FieldInfix::Binary(BinaryOp::Eq | BinaryOp::Neq))
                && self.peek() == &TokenKind::Keyword(Keyword::Nil)
            {
                // `e = nil` / `e != nil`: nil binds tightest, the loop goes on after it
                self.advance();
                exists(op, lhs)
            } else {
                let next = if matches!(op, FieldInfix::Binary(BinaryOp::Pow)) {
                    bp
                } else {
                    bp + 1
                };
                let rhs = self.field_expr(next)?;
                combine_field(op, lhs, rhs)
            };
            self.check_height(lhs.1)?;
        }
        Ok(lhs)
    }

    fn field_prefix(&mut self) -> PResult<(FieldExpr, u32)> {
        match self.peek() {
            TokenKind::LParen => {
                self.advance();
                let inner = self.field_expr(0)?;
                self.expect(&TokenKind::RParen)?;
                Ok(inner)
            }
            TokenKind::Sub | TokenKind::Not => {
                let op = if self.peek() == &TokenKind::Sub {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                self.advance();
                let operand = self.field_expr(prec::MUL)?;
                Ok(prefix_operator(op, operand))
            }
            TokenKind::Keyword(Keyword::Nil) => self.nil_comparison(),
            _ => self.field_leaf(),
        }
    }

    /// A literal, intrinsic or attribute.
    fn field_leaf(&mut self) -> PResult<(FieldExpr, u32)> {
        if let Some(s) = self.static_value()? {
            return Ok((FieldExpr::Static(s), 1));
        }
        match self.field_ref()? {
            Some(f) => Ok((f.into(), 1)),
            None => Err(self.unexpected()),
        }
    }

    /// `nil = e`, `nil != e`, `nil = nil`, `nil != nil`; the cursor is at `nil`.
    fn nil_comparison(&mut self) -> PResult<(FieldExpr, u32)> {
        self.advance();
        let op = match self.peek() {
            TokenKind::Eq => FieldInfix::Binary(BinaryOp::Eq),
            TokenKind::Neq => FieldInfix::Binary(BinaryOp::Neq),
            _ => return Err(self.unexpected()),
        };
        self.advance();
        if self.eat(&TokenKind::Keyword(Keyword::Nil)) {
            return Ok((FieldExpr::Static(Static::Bool(false)), 1));
        }
        let operand = self.field_expr(prec::ADD)?;
        Ok(exists(op, operand))
    }

    /// A literal, or `None` if the current token starts none. Identifiers other than
    /// `minInt` and `maxInt` are errors, as in Tempo.
    pub(crate) fn static_value(&mut self) -> PResult<Option<Static>> {
        let value = match self.peek() {
            TokenKind::String(s) => Static::String(s.clone()),
            TokenKind::Integer(i) => Static::Int(*i),
            TokenKind::Float(f) => Static::Float(*f),
            TokenKind::Duration(d) => Static::Duration(*d),
            TokenKind::Ident(word) => match word.as_str() {
                "minInt" => Static::Int(i64::MIN),
                "maxInt" => Static::Int(i64::MAX),
                _ => {
                    return Err(Self::error_at(
                        self.pos(),
                        format!("unknown identifier: {word}"),
                    ));
                }
            },
            TokenKind::Keyword(k) => match k {
                Keyword::True => Static::Bool(true),
                Keyword::False => Static::Bool(false),
                Keyword::StatusOk => Static::Status(Status::Ok),
                Keyword::StatusError => Static::Status(Status::Error),
                Keyword::StatusUnset => Static::Status(Status::Unset),
                Keyword::KindUnspecified => Static::Kind(SpanKind::Unspecified),
                Keyword::KindInternal => Static::Kind(SpanKind::Internal),
                Keyword::KindServer => Static::Kind(SpanKind::Server),
                Keyword::KindClient => Static::Kind(SpanKind::Client),
                Keyword::KindProducer => Static::Kind(SpanKind::Producer),
                Keyword::KindConsumer => Static::Kind(SpanKind::Consumer),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.advance();
        Ok(Some(value))
    }

    /// An intrinsic or attribute reference, or `None` if the current token starts none.
    pub(crate) fn field_ref(&mut self) -> PResult<Option<FieldRef>> {
        let kind = self.peek().clone();
        let intrinsic = match kind {
            TokenKind::Keyword(k) => match legacy_intrinsic(k) {
                Some(i) => i,
                None => return Ok(None),
            },
            TokenKind::ScopeColon(scope) => {
                self.advance();
                let TokenKind::Keyword(k) = self.peek() else {
                    return Err(self.unexpected());
                };
                match scoped_intrinsic(scope, *k) {
                    Some(i) => i,
                    None => return Err(self.unexpected()),
                }
            }
            TokenKind::Dot => return self.attribute(AttributeScope::Unscoped, false).map(Some),
            TokenKind::ScopeDot(scope) => {
                let scope = match scope {
                    ScopeDot::Span => AttributeScope::Span,
                    ScopeDot::Resource => AttributeScope::Resource,
                    ScopeDot::Event => AttributeScope::Event,
                    ScopeDot::Link => AttributeScope::Link,
                    ScopeDot::Instrumentation => AttributeScope::Instrumentation,
                    ScopeDot::Parent => return self.parent_attribute().map(Some),
                };
                return self.attribute(scope, false).map(Some);
            }
            _ => return Ok(None),
        };
        self.advance();
        Ok(Some(FieldRef::Intrinsic(intrinsic)))
    }

    /// The name after a scope prefix; the cursor is at the prefix.
    fn attribute(&mut self, scope: AttributeScope, parent: bool) -> PResult<FieldRef> {
        let prefix = self.at;
        self.advance();
        let TokenKind::AttrName(name) = self.peek() else {
            if let TokenKind::Error(_) = self.peek() {
                return Err(self.unexpected());
            }
            let tok = self.token(prefix);
            return Err(Self::error_at(
                tok.pos,
                "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER",
            ));
        };
        let attribute = Attribute {
            scope,
            parent,
            name: name.clone(),
        };
        self.advance();
        Ok(FieldRef::Attribute(attribute))
    }

    /// `parent.x`, `parent.span.x`, `parent.resource.x`; the cursor is at `parent.`.
    fn parent_attribute(&mut self) -> PResult<FieldRef> {
        let scope = match self.nth(1) {
            TokenKind::ScopeDot(ScopeDot::Span) => AttributeScope::Span,
            TokenKind::ScopeDot(ScopeDot::Resource) => AttributeScope::Resource,
            TokenKind::AttrName(_) => return self.attribute(AttributeScope::Unscoped, true),
            TokenKind::Error(_) => return Err(self.unexpected_at(self.at + 1, None)),
            _ => {
                return Err(Self::error_at(
                    self.pos(),
                    "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER or resource. or span.",
                ));
            }
        };
        self.advance();
        self.attribute(scope, true)
    }

    /// `count()`, `avg(e)`, … ; the cursor is at the keyword.
    pub(crate) fn aggregate(&mut self, op: AggregateOp) -> PResult<(Aggregate, u32)> {
        self.advance();
        self.expect(&TokenKind::LParen)?;
        if op == AggregateOp::Count {
            self.expect(&TokenKind::RParen)?;
            return Ok((Aggregate { op, expr: None }, 1));
        }
        let (e, h) = self.field_expr(0)?;
        self.expect(&TokenKind::RParen)?;
        Ok((Aggregate { op, expr: Some(e) }, h + 1))
    }

    /// `{ }` or `{ expr }`; the cursor is at `{`.
    pub(crate) fn spanset_filter(&mut self) -> PResult<(SpansetFilter, u32)> {
        self.advance();
        if self.eat(&TokenKind::RBrace) {
            let expr = FieldExpr::Static(Static::Bool(true));
            return Ok((SpansetFilter { expr }, 2));
        }
        let (expr, h) = self.field_expr(0)?;
        self.expect(&TokenKind::RBrace)?;
        Ok((SpansetFilter { expr }, h + 1))
    }
}

#[derive(Clone, Copy)]
enum FieldInfix {
    Logical(LogicalOp),
    Binary(BinaryOp),
}

/// `lhs op rhs` with heights; a run of one logical operator stays one n-ary node.
#[inline(never)]
fn combine_field(op: FieldInfix, lhs: (FieldExpr, u32), rhs: (FieldExpr, u32)) -> (FieldExpr, u32) {
    let ((mut l, lh), (r, rh)) = (lhs, rhs);
    match op {
        FieldInfix::Logical(op) => match &mut l {
            FieldExpr::Logical { op: lop, operands } if *lop == op => {
                operands.push(r);
                (l, lh.max(rh + 1))
            }
            _ => (
                FieldExpr::Logical {
                    op,
                    operands: vec![l, r],
                },
                lh.max(rh) + 1,
            ),
        },
        FieldInfix::Binary(op) => (
            FieldExpr::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            lh.max(rh) + 1,
        ),
    }
}

/// `e != nil` (`op` is `!=`) or `e = nil`.
#[inline(never)]
fn exists(op: FieldInfix, operand: (FieldExpr, u32)) -> (FieldExpr, u32) {
    let op = if matches!(op, FieldInfix::Binary(BinaryOp::Eq)) {
        UnaryOp::NotExists
    } else {
        UnaryOp::Exists
    };
    let (e, h) = operand;
    (
        FieldExpr::Unary {
            op,
            expr: Box::new(e),
        },
        h + 1,
    )
}

/// `-e` (folded on numeric literals) or `!e`.
#[inline(never)]
fn prefix_operator(op: UnaryOp, operand: (FieldExpr, u32)) -> (FieldExpr, u32) {
    match operand {
        (FieldExpr::Static(s), h) if op == UnaryOp::Neg && s.is_numeric() => {
            (FieldExpr::Static(negate(s)), h)
        }
        (e, h) => (
            FieldExpr::Unary {
                op,
                expr: Box::new(e),
            },
            h + 1,
        ),
    }
}

fn field_infix(kind: &TokenKind) -> Option<(u8, FieldInfix)> {
    use FieldInfix::{Binary, Logical};
    Some(match kind {
        TokenKind::And => (prec::LOGICAL, Logical(LogicalOp::And)),
        TokenKind::Or => (prec::LOGICAL, Logical(LogicalOp::Or)),
        TokenKind::Eq => (prec::COMPARE, Binary(BinaryOp::Eq)),
        TokenKind::Neq => (prec::COMPARE, Binary(BinaryOp::Neq)),
        TokenKind::Lt => (prec::COMPARE, Binary(BinaryOp::Lt)),
        TokenKind::Lte => (prec::COMPARE, Binary(BinaryOp::Lte)),
        TokenKind::Gt => (prec::COMPARE, Binary(BinaryOp::Gt)),
        TokenKind::Gte => (prec::COMPARE, Binary(BinaryOp::Gte)),
        TokenKind::Re => (prec::COMPARE, Binary(BinaryOp::Regex)),
        TokenKind::Nre => (prec::COMPARE, Binary(BinaryOp::NotRegex)),
        TokenKind::Add => (prec::ADD, Binary(BinaryOp::Add)),
        TokenKind::Sub => (prec::ADD, Binary(BinaryOp::Sub)),
        TokenKind::Mul => (prec::MUL, Binary(BinaryOp::Mul)),
        TokenKind::Div => (prec::MUL, Binary(BinaryOp::Div)),
        TokenKind::Mod => (prec::MUL, Binary(BinaryOp::Mod)),
        TokenKind::Pow => (prec::POW, Binary(BinaryOp::Pow)),
        _ => return None,
    })
}

/// Unary minus on a numeric literal, as Tempo folds it (integers wrap like Go's).
pub(crate) fn negate(s: Static) -> Static {
    match s {
        Static::Int(i) => Static::Int(i.wrapping_neg()),
        Static::Float(f) => Static::Float(-f),
        Static::Duration(d) => Static::Duration(d.wrapping_neg()),
        other => other,
    }
}

/// Intrinsics usable without a scope (`duration`, `name`, …).
fn legacy_intrinsic(k: Keyword) -> Option<Intrinsic> {
    Some(match k {
        Keyword::Duration => Intrinsic::Duration,
        Keyword::Name => Intrinsic::Name,
        Keyword::Status => Intrinsic::Status,
        Keyword::StatusMessage => Intrinsic::StatusMessage,
        Keyword::Kind => Intrinsic::Kind,
        Keyword::Parent => Intrinsic::Parent,
        Keyword::RootName => Intrinsic::TraceRootName,
        Keyword::RootServiceName => Intrinsic::TraceRootService,
        Keyword::TraceDuration => Intrinsic::TraceDuration,
        Keyword::NestedSetLeft => Intrinsic::NestedSetLeft,
        Keyword::NestedSetRight => Intrinsic::NestedSetRight,
        Keyword::NestedSetParent => Intrinsic::NestedSetParent,
        _ => return None,
    })
}

/// The intrinsics each `scope:` prefix offers (TEMPO-SPEC §3.5); other pairs do not parse.
fn scoped_intrinsic(scope: ScopeColon, k: Keyword) -> Option<Intrinsic> {
    Some(match (scope, k) {
        (ScopeColon::Trace, Keyword::Duration) => Intrinsic::TraceDuration,
        (ScopeColon::Trace, Keyword::RootName) => Intrinsic::TraceRootName,
        (ScopeColon::Trace, Keyword::RootService) => Intrinsic::TraceRootService,
        (ScopeColon::Trace, Keyword::Id) => Intrinsic::TraceId,
        (ScopeColon::Span, Keyword::Duration) => Intrinsic::Duration,
        (ScopeColon::Span, Keyword::Name) => Intrinsic::Name,
        (ScopeColon::Span, Keyword::Kind) => Intrinsic::Kind,
        (ScopeColon::Span, Keyword::Status) => Intrinsic::Status,
        (ScopeColon::Span, Keyword::StatusMessage) => Intrinsic::StatusMessage,
        (ScopeColon::Span, Keyword::Id) => Intrinsic::SpanId,
        (ScopeColon::Span, Keyword::ParentId) => Intrinsic::ParentId,
        (ScopeColon::Span, Keyword::ChildCount) => Intrinsic::ChildCount,
        (ScopeColon::Event, Keyword::Name) => Intrinsic::EventName,
        (ScopeColon::Event, Keyword::TimeSinceStart) => Intrinsic::EventTimeSinceStart,
        (ScopeColon::Link, Keyword::TraceId) => Intrinsic::LinkTraceId,
        (ScopeColon::Link, Keyword::SpanId) => Intrinsic::LinkSpanId,
        (ScopeColon::Instrumentation, Keyword::Name) => Intrinsic::InstrumentationName,
        (ScopeColon::Instrumentation, Keyword::Version) => Intrinsic::InstrumentationVersion,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
