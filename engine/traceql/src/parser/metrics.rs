//! Metrics functions, second stages, field lists and constant `scalar` arithmetic.

use super::{PResult, Parser, negate, prec};
use crate::ast::*;
use crate::lexer::{Keyword, TokenKind};

impl Parser {
    /// A constant operand: a number, `-constant` or `( constant expression )`. Unary minus
    /// binds tightest here, unlike inside spanset filters.
    pub(super) fn const_prefix(&mut self) -> PResult<Static> {
        self.enter()?;
        let r = self.const_prefix_inner();
        self.leave();
        r
    }

    fn const_prefix_inner(&mut self) -> PResult<Static> {
        match self.peek() {
            TokenKind::Sub => {
                self.advance();
                Ok(negate(self.const_prefix()?))
            }
            TokenKind::LParen => {
                self.advance();
                let v = self.const_expr(0)?;
                self.expect(&TokenKind::RParen)?;
                Ok(v)
            }
            _ => self.number(),
        }
    }

    /// An integer, float or duration literal.
    fn number(&mut self) -> PResult<Static> {
        let value = match self.peek() {
            TokenKind::Integer(i) => Static::Int(*i),
            TokenKind::Float(f) => Static::Float(*f),
            TokenKind::Duration(d) => Static::Duration(*d),
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(value)
    }

    /// Constant arithmetic with `+ - * /`, folded as Tempo folds it.
    pub(super) fn const_expr(&mut self, min: u8) -> PResult<Static> {
        self.enter()?;
        let r = self.const_expr_inner(min);
        self.leave();
        r
    }

    fn const_expr_inner(&mut self, min: u8) -> PResult<Static> {
        let mut lhs = self.const_prefix()?;
        while let Some((bp, op)) = const_infix(self.peek()) {
            if bp < min {
                break;
            }
            let pos = self.pos();
            self.advance();
            let rhs = self.const_expr(bp + 1)?;
            lhs = fold_const(op, lhs, rhs).map_err(|e| Self::error_at(pos, e))?;
        }
        Ok(lhs)
    }

    /// The number of a metrics comparison stage; durations count in seconds.
    pub(super) fn metrics_filter_value(&mut self) -> PResult<f64> {
        let value = self.const_expr(0)?;
        #[allow(clippy::cast_precision_loss)]
        Ok(match value {
            Static::Duration(d) => d as f64 / 1e9,
            v => v.as_f64().unwrap_or(f64::NAN),
        })
    }

    /// A number in arithmetic with a metrics query; durations are refused.
    pub(super) fn metrics_scalar(&self, value: &Static, at: usize) -> PResult<f64> {
        match value {
            Static::Duration(_) => Err(Self::error_at(
                self.token(at).pos,
                "duration cannot be used as a scalar operand in metric arithmetic",
            )),
            v => Ok(v.as_f64().unwrap_or(f64::NAN)),
        }
    }

    /// `topk(k)` / `bottomk(k)`; the cursor is at the keyword.
    pub(super) fn topk(&mut self, keyword: Keyword) -> PResult<SecondStage> {
        self.advance();
        self.expect(&TokenKind::LParen)?;
        let TokenKind::Integer(k) = *self.peek() else {
            return Err(self.unexpected_expecting("INTEGER"));
        };
        self.advance();
        self.expect(&TokenKind::RParen)?;
        Ok(if keyword == Keyword::TopK {
            SecondStage::TopK(k)
        } else {
            SecondStage::BottomK(k)
        })
    }

    /// One or more attribute or intrinsic references separated by commas.
    pub(super) fn field_ref_list(&mut self) -> PResult<Vec<FieldRef>> {
        let mut fields = vec![self.required_field_ref()?];
        while self.eat(&TokenKind::Comma) {
            fields.push(self.required_field_ref()?);
        }
        Ok(fields)
    }

    fn required_field_ref(&mut self) -> PResult<FieldRef> {
        match self.field_ref()? {
            Some(f) => Ok(f),
            None => Err(self.unexpected()),
        }
    }

    /// A first-stage metrics function with its optional `by(...)`; the cursor is at its name.
    pub(super) fn metrics_function(&mut self, keyword: Keyword) -> PResult<(MetricsFunction, u32)> {
        self.advance();
        self.expect(&TokenKind::LParen)?;
        let mut height = 2;
        let op = match keyword {
            Keyword::Rate => MetricsOp::Rate,
            Keyword::CountOverTime => MetricsOp::CountOverTime,
            Keyword::MinOverTime => MetricsOp::MinOverTime(self.required_field_ref()?),
            Keyword::MaxOverTime => MetricsOp::MaxOverTime(self.required_field_ref()?),
            Keyword::AvgOverTime => MetricsOp::AvgOverTime(self.required_field_ref()?),
            Keyword::SumOverTime => MetricsOp::SumOverTime(self.required_field_ref()?),
            Keyword::HistogramOverTime => MetricsOp::HistogramOverTime(self.required_field_ref()?),
            Keyword::QuantileOverTime => {
                let field = self.required_field_ref()?;
                self.expect(&TokenKind::Comma)?;
                let mut quantiles = vec![self.quantile()?];
                while self.eat(&TokenKind::Comma) {
                    quantiles.push(self.quantile()?);
                }
                MetricsOp::QuantileOverTime { field, quantiles }
            }
            _ => {
                if self.peek() != &TokenKind::LBrace {
                    return Err(self.unexpected_expecting("{"));
                }
                let (filter, h) = self.spanset_filter()?;
                height = h + 1;
                let mut args = [10, 0, 0];
                if self.eat(&TokenKind::Comma) {
                    args[0] = self.integer()?;
                    if self.eat(&TokenKind::Comma) {
                        args[1] = self.integer()?;
                        self.expect(&TokenKind::Comma)?;
                        args[2] = self.integer()?;
                    }
                }
                self.expect(&TokenKind::RParen)?;
                let [top_n, start_ns, end_ns] = args;
                let op = MetricsOp::Compare {
                    filter,
                    top_n,
                    start_ns,
                    end_ns,
                };
                return Ok((MetricsFunction { op, by: Vec::new() }, height));
            }
        };
        self.expect(&TokenKind::RParen)?;
        let mut by = Vec::new();
        if self.eat(&TokenKind::Keyword(Keyword::By)) {
            self.expect(&TokenKind::LParen)?;
            by = self.field_ref_list()?;
            self.expect(&TokenKind::RParen)?;
        }
        Ok((MetricsFunction { op, by }, height))
    }

    fn integer(&mut self) -> PResult<i64> {
        let TokenKind::Integer(i) = *self.peek() else {
            return Err(self.unexpected_expecting("INTEGER"));
        };
        self.advance();
        Ok(i)
    }

    /// A quantile: an integer or float literal.
    #[allow(clippy::cast_precision_loss)]
    fn quantile(&mut self) -> PResult<f64> {
        let q = match *self.peek() {
            TokenKind::Integer(i) => i as f64,
            TokenKind::Float(f) => f,
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(q)
    }
}

fn const_infix(kind: &TokenKind) -> Option<(u8, MathOp)> {
    Some(match kind {
        TokenKind::Add => (prec::ADD, MathOp::Add),
        TokenKind::Sub => (prec::ADD, MathOp::Sub),
        TokenKind::Mul => (prec::MUL, MathOp::Mul),
        TokenKind::Div => (prec::MUL, MathOp::Div),
        _ => return None,
    })
}

/// Folds `lhs op rhs` of constant `scalar`s as Tempo does at parse time: durations are
/// refused, two integers stay an integer (`1/2` is `0`, overflow wraps as in Go), anything
/// else is a float. A float result that is not finite is refused (Tempo would carry `+Inf`).
pub(crate) fn fold_const(op: MathOp, lhs: Static, rhs: Static) -> Result<Static, String> {
    if matches!(lhs, Static::Duration(_)) || matches!(rhs, Static::Duration(_)) {
        return Err("duration cannot be used in scalar arithmetic".into());
    }
    if let (Static::Int(l), Static::Int(r)) = (&lhs, &rhs) {
        let (l, r) = (*l, *r);
        return Ok(Static::Int(match op {
            MathOp::Add => l.wrapping_add(r),
            MathOp::Sub => l.wrapping_sub(r),
            MathOp::Mul => l.wrapping_mul(r),
            MathOp::Div if r == 0 => return Err("division by zero".into()),
            MathOp::Div => l.wrapping_div(r),
        }));
    }
    let (Some(l), Some(r)) = (lhs.as_f64(), rhs.as_f64()) else {
        return Err("scalar arithmetic needs numbers".into());
    };
    let v = match op {
        MathOp::Add => l + r,
        MathOp::Sub => l - r,
        MathOp::Mul => l * r,
        MathOp::Div => l / r,
    };
    if !v.is_finite() {
        return Err(format!(
            "scalar arithmetic result is not a finite number: {} {op} {}",
            lhs, rhs
        ));
    }
    Ok(Static::Float(v))
}
