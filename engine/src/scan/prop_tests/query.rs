//! Random TraceQL queries from a grammar subset, kept as a small tree of their own (so the
//! reference evaluator does not depend on the parser) and printed as query text.

use std::fmt;

use rand::Rng;
use rand::rngs::StdRng;

use super::data::{EVENT_NAMES, FLOATS, INTS, KEYS, NAMES, SERVICES, STRINGS};

#[derive(Clone, Debug)]
pub(super) enum Field {
    Name,
    Duration,
    Status,
    Kind,
    StatusMessage,
    EventName,
    Span(&'static str),
    Resource(&'static str),
    Unscoped(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Clone, Debug)]
pub(super) enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nanoseconds and the text written.
    Duration(i64, &'static str),
    /// OTLP status code.
    Status(i32),
    /// OTLP span kind.
    Kind(i32),
}

#[derive(Clone, Debug)]
pub(super) enum Cond {
    True,
    Cmp(Field, Op, Lit),
    Regex(Field, bool, &'static str),
    /// `f != nil` (true) or `f = nil` (false).
    Exists(Field, bool),
    /// A bare attribute used as a boolean.
    Bare(Field),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rel {
    Child,
    Parent,
    Descendant,
    Ancestor,
    Sibling,
}

#[derive(Clone, Debug)]
pub(super) enum Set {
    Filter(Cond),
    And(Box<Set>, Box<Set>),
    Or(Box<Set>, Box<Set>),
    /// Relation, negated (`!>` …), lhs, rhs.
    Structural(Rel, bool, Box<Set>, Box<Set>),
}

#[derive(Clone, Debug)]
pub(super) enum Stage {
    ByService,
    Count(Op, i64),
    Filter(Cond),
}

#[derive(Clone, Debug)]
pub(super) struct GenQuery {
    pub first: Set,
    pub stages: Vec<Stage>,
}

const PATTERNS: &[&str] = &[
    ".*cart.*",
    "GET.*",
    "GET",
    "[a-z]+",
    "(db|cart).*",
    ".*",
    "",
    "c.*k",
    "fron.*",
    "2.*",
    "line.break",
];
const DURATIONS: &[(i64, &str)] = &[
    (0, "0s"),
    (1, "1ns"),
    (1_000, "1us"),
    (1_000_000, "1ms"),
    (100_000_000, "100ms"),
    (200_000_000, "200ms"),
    (1_000_000_000, "1s"),
    (1_500_000_000, "1.5s"),
];
const OPS: &[Op] = &[Op::Eq, Op::Neq, Op::Lt, Op::Lte, Op::Gt, Op::Gte];

fn pick<T: Copy>(rng: &mut StdRng, pool: &[T]) -> T {
    pool[rng.random_range(0..pool.len())]
}

fn any_literal(rng: &mut StdRng) -> Lit {
    match rng.random_range(0..6) {
        0 | 1 => Lit::Str(pick(rng, STRINGS).into()),
        2 => Lit::Int(pick(rng, INTS)),
        3 => Lit::Float(pick(rng, FLOATS)),
        4 => Lit::Bool(rng.random_bool(0.5)),
        _ => {
            let (ns, text) = pick(rng, DURATIONS);
            Lit::Duration(ns, text)
        }
    }
}

fn attribute_field(rng: &mut StdRng) -> Field {
    let key = pick(rng, KEYS);
    match rng.random_range(0..3) {
        0 => Field::Span(key),
        1 => Field::Resource(key),
        _ => Field::Unscoped(key),
    }
}

fn comparison(rng: &mut StdRng) -> Cond {
    match rng.random_range(0..12) {
        0 => Cond::Cmp(
            Field::Name,
            pick(rng, OPS),
            Lit::Str(pick(rng, NAMES).into()),
        ),
        1 => {
            let lit = match rng.random_range(0..3) {
                0 => Lit::Int(pick(rng, INTS)),
                1 => Lit::Float(pick(rng, FLOATS)),
                _ => {
                    let (ns, text) = pick(rng, DURATIONS);
                    Lit::Duration(ns, text)
                }
            };
            Cond::Cmp(Field::Duration, pick(rng, OPS), lit)
        }
        2 => Cond::Cmp(
            Field::Status,
            pick(rng, &[Op::Eq, Op::Neq]),
            Lit::Status(rng.random_range(0..3)),
        ),
        3 => Cond::Cmp(
            Field::Kind,
            pick(rng, &[Op::Eq, Op::Neq]),
            Lit::Kind(rng.random_range(0..6)),
        ),
        4 => Cond::Cmp(
            Field::StatusMessage,
            pick(rng, OPS),
            Lit::Str(pick(rng, &["", "boom", "timeout", "c"]).into()),
        ),
        5 => Cond::Cmp(
            Field::EventName,
            pick(rng, &[Op::Eq, Op::Neq]),
            Lit::Str(pick(rng, EVENT_NAMES).into()),
        ),
        6 => {
            let field = match rng.random_range(0..4) {
                0 => Field::Name,
                1 => Field::StatusMessage,
                2 => Field::Resource("service.name"),
                _ => attribute_field(rng),
            };
            Cond::Regex(field, rng.random_bool(0.3), pick(rng, PATTERNS))
        }
        7 => Cond::Exists(attribute_field(rng), rng.random_bool(0.7)),
        8 => Cond::Bare(attribute_field(rng)),
        9 => Cond::Cmp(
            Field::Resource("service.name"),
            pick(rng, &[Op::Eq, Op::Neq]),
            Lit::Str(pick(rng, SERVICES).into()),
        ),
        _ => Cond::Cmp(attribute_field(rng), pick(rng, OPS), any_literal(rng)),
    }
}

fn cond(rng: &mut StdRng, depth: u32) -> Cond {
    if depth == 0 || rng.random_bool(0.55) {
        return comparison(rng);
    }
    match rng.random_range(0..3) {
        0 => Cond::And(
            Box::new(cond(rng, depth - 1)),
            Box::new(cond(rng, depth - 1)),
        ),
        1 => Cond::Or(
            Box::new(cond(rng, depth - 1)),
            Box::new(cond(rng, depth - 1)),
        ),
        _ => Cond::Not(Box::new(cond(rng, depth - 1))),
    }
}

fn filter(rng: &mut StdRng) -> Cond {
    if rng.random_bool(0.08) {
        Cond::True
    } else {
        cond(rng, 2)
    }
}

fn set(rng: &mut StdRng, depth: u32) -> Set {
    if depth == 0 || rng.random_bool(0.45) {
        return Set::Filter(filter(rng));
    }
    let (a, b) = (Box::new(set(rng, depth - 1)), Box::new(set(rng, depth - 1)));
    match rng.random_range(0..4) {
        0 => Set::And(a, b),
        1 => Set::Or(a, b),
        _ => {
            let rel = pick(
                rng,
                &[
                    Rel::Child,
                    Rel::Parent,
                    Rel::Descendant,
                    Rel::Ancestor,
                    Rel::Sibling,
                ],
            );
            Set::Structural(rel, rng.random_bool(0.3), a, b)
        }
    }
}

pub(super) fn random_query(rng: &mut StdRng) -> GenQuery {
    if rng.random_bool(0.05) {
        return GenQuery {
            first: Set::Filter(Cond::True),
            stages: vec![Stage::Count(Op::Gt, rng.random_range(0..8))],
        };
    }
    let first = set(rng, 2);
    let mut stages = Vec::new();
    if rng.random_bool(0.2) {
        stages.push(Stage::ByService);
    }
    if rng.random_bool(0.1) {
        stages.push(Stage::Filter(filter(rng)));
    }
    if rng.random_bool(0.2) {
        stages.push(Stage::Count(pick(rng, OPS), rng.random_range(0..5)));
    }
    GenQuery { first, stages }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Name => f.write_str("name"),
            Field::Duration => f.write_str("duration"),
            Field::Status => f.write_str("status"),
            Field::Kind => f.write_str("kind"),
            Field::StatusMessage => f.write_str("statusMessage"),
            Field::EventName => f.write_str("event:name"),
            Field::Span(k) => write!(f, "span.{k}"),
            Field::Resource(k) => write!(f, "resource.{k}"),
            Field::Unscoped(k) => write!(f, ".{k}"),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Neq => "!=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Gt => ">",
            Op::Gte => ">=",
        })
    }
}

/// A string literal; `\n` is written escaped.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\n', "\\n"))
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Str(s) => f.write_str(&quoted(s)),
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Float(x) => write!(f, "{x:?}"),
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Duration(_, text) => f.write_str(text),
            Lit::Status(code) => f.write_str(["unset", "ok", "error"][*code as usize]),
            Lit::Kind(kind) => f.write_str(
                [
                    "unspecified",
                    "internal",
                    "server",
                    "client",
                    "producer",
                    "consumer",
                ][*kind as usize],
            ),
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::True => f.write_str("true"),
            Cond::Cmp(field, op, lit) => write!(f, "{field} {op} {lit}"),
            Cond::Regex(field, negated, p) => {
                let op = if *negated { "!~" } else { "=~" };
                write!(f, "{field} {op} {}", quoted(p))
            }
            Cond::Exists(field, true) => write!(f, "{field} != nil"),
            Cond::Exists(field, false) => write!(f, "{field} = nil"),
            Cond::Bare(field) => write!(f, "{field}"),
            Cond::And(a, b) => write!(f, "({a} && {b})"),
            Cond::Or(a, b) => write!(f, "({a} || {b})"),
            Cond::Not(a) => write!(f, "!({a})"),
        }
    }
}

impl fmt::Display for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Set::Filter(Cond::True) => f.write_str("{ }"),
            Set::Filter(c) => write!(f, "{{ {c} }}"),
            Set::And(a, b) => write!(f, "({a} && {b})"),
            Set::Or(a, b) => write!(f, "({a} || {b})"),
            Set::Structural(rel, negated, a, b) => {
                let op = match rel {
                    Rel::Child => ">",
                    Rel::Parent => "<",
                    Rel::Descendant => ">>",
                    Rel::Ancestor => "<<",
                    Rel::Sibling => "~",
                };
                let not = if *negated { "!" } else { "" };
                write!(f, "({a} {not}{op} {b})")
            }
        }
    }
}

impl fmt::Display for GenQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        for stage in &self.stages {
            match stage {
                Stage::ByService => f.write_str(" | by(resource.service.name)")?,
                Stage::Count(op, n) => write!(f, " | count() {op} {n}")?,
                Stage::Filter(Cond::True) => f.write_str(" | { }")?,
                Stage::Filter(c) => write!(f, " | {{ {c} }}")?,
            }
        }
        Ok(())
    }
}
