//! A row-at-a-time TraceQL evaluator over the prost structs, written straight from
//! TEMPO-SPEC §3.4–3.8: the oracle the vectorized scan is checked against.
//!
//! Semantics: a missing value compares false for every operator (`=` and `!=` alike); values
//! of different types compare false; int, float and duration compare numerically with each
//! other (int against int exactly, otherwise as floats); strings order bytewise; booleans,
//! statuses and kinds support only `=` and `!=`; regexes are fully anchored; an unscoped
//! attribute is the span's when the span has the key, else the resource's; an array compares
//! true when any element does (`!=` / `!~`: when no element equals / matches); `&&`, `||` and `!`
//! inside a filter follow Kleene logic, and a filter keeps a span only when it is true.

use std::cmp::Ordering;

use regex::Regex;
use tracecore_proto::otlp::{KeyValue, Span, any_value::Value};

use super::super::RowValue;
use super::data::GenTrace;
use super::query::{Cond, Field, GenQuery, Lit, Op, Rel, Set, Stage};

/// One span of a trace with its resource and its parent's index.
struct RefSpan<'a> {
    span: &'a Span,
    resource: &'a [KeyValue],
    parent: Option<usize>,
}

/// A span set of a result: its attributes and sorted span IDs.
pub(super) type RefSet = (SetAttributes, Vec<[u8; 8]>);

/// The `by()` and aggregate attributes of a span set.
pub(super) type SetAttributes = Vec<(String, Option<RowValue>)>;

/// A value as the spec sees it; `Other` exists but compares with nothing.
#[derive(Debug)]
enum V {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Status(i32),
    Kind(i32),
    /// The scalar elements of an array (nested values are `Other`).
    Array(Vec<V>),
    Other,
}

fn spans_of(trace: &GenTrace) -> Vec<RefSpan<'_>> {
    let mut spans: Vec<RefSpan<'_>> = trace
        .resource_spans
        .iter()
        .flat_map(|rs| {
            let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            rs.scope_spans
                .iter()
                .flat_map(|ss| &ss.spans)
                .map(move |span| RefSpan {
                    span,
                    resource,
                    parent: None,
                })
        })
        .collect();
    for i in 0..spans.len() {
        let wanted = &spans[i].span.parent_span_id;
        if !wanted.is_empty() {
            spans[i].parent = spans.iter().position(|s| &s.span.span_id == wanted);
        }
    }
    spans
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<V> {
    let kv = attributes.iter().find(|kv| kv.key == key)?;
    Some(value(
        kv.value.as_ref().and_then(|v| v.value.as_ref()),
        true,
    ))
}

fn value(v: Option<&Value>, top: bool) -> V {
    match v {
        Some(Value::StringValue(s)) => V::Str(s.clone()),
        Some(Value::IntValue(i)) => V::Int(*i),
        Some(Value::DoubleValue(f)) => V::Float(*f),
        Some(Value::BoolValue(b)) => V::Bool(*b),
        Some(Value::ArrayValue(a)) if top => V::Array(
            a.values
                .iter()
                .map(|e| value(e.value.as_ref(), false))
                .collect(),
        ),
        _ => V::Other,
    }
}

/// The values of `field` on a span: none (missing), one, or one per event.
fn values(s: &RefSpan<'_>, field: &Field) -> Vec<V> {
    let span = s.span;
    let one = |v: Option<V>| v.into_iter().collect();
    match field {
        Field::Name => vec![V::Str(span.name.clone())],
        Field::Duration => {
            let d = span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano);
            vec![V::Int(i64::try_from(d).unwrap_or(i64::MAX))]
        }
        Field::Status => vec![V::Status(span.status.as_ref().map_or(0, |s| s.code))],
        Field::Kind => vec![V::Kind(span.kind)],
        Field::StatusMessage => vec![V::Str(
            span.status
                .as_ref()
                .map(|s| s.message.clone())
                .unwrap_or_default(),
        )],
        Field::EventName => span.events.iter().map(|e| V::Str(e.name.clone())).collect(),
        Field::Span(k) => one(attribute(&span.attributes, k)),
        Field::Resource(k) => one(attribute(s.resource, k)),
        Field::Unscoped(k) => {
            one(attribute(&span.attributes, k).or_else(|| attribute(s.resource, k)))
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn compare(v: &V, op: Op, lit: &Lit) -> bool {
    if let V::Array(elements) = v {
        // Any element satisfies; `!=`: no element equals.
        return match op {
            Op::Neq => !elements.iter().any(|e| compare(e, Op::Eq, lit)),
            _ => elements.iter().any(|e| compare(e, op, lit)),
        };
    }
    let ordering = match (v, lit) {
        (V::Str(a), Lit::Str(b)) => a.as_str().cmp(b.as_str()),
        (V::Int(a), Lit::Int(b) | Lit::Duration(b, _)) => a.cmp(b),
        (V::Int(a), Lit::Float(b)) => match (*a as f64).partial_cmp(b) {
            Some(o) => o,
            None => return false,
        },
        (V::Float(a), Lit::Int(b) | Lit::Duration(b, _)) => match a.partial_cmp(&(*b as f64)) {
            Some(o) => o,
            None => return false,
        },
        (V::Float(a), Lit::Float(b)) => match a.partial_cmp(b) {
            Some(o) => o,
            None => return false,
        },
        (V::Bool(a), Lit::Bool(b)) => return equality(a == b, op),
        (V::Status(a), Lit::Status(b)) | (V::Kind(a), Lit::Kind(b)) => {
            return equality(a == b, op);
        }
        _ => return false,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Neq => ordering != Ordering::Equal,
        Op::Lt => ordering == Ordering::Less,
        Op::Lte => ordering != Ordering::Greater,
        Op::Gt => ordering == Ordering::Greater,
        Op::Gte => ordering != Ordering::Less,
    }
}

fn equality(equal: bool, op: Op) -> bool {
    match op {
        Op::Eq => equal,
        Op::Neq => !equal,
        _ => false,
    }
}

fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?s:{pattern})$")).expect("test patterns compile")
}

/// Kleene truth of a filter condition on one span (`None`: not a boolean / unknown).
fn truth(s: &RefSpan<'_>, c: &Cond) -> Option<bool> {
    Some(match c {
        Cond::True => true,
        Cond::Cmp(field, op, lit) => values(s, field).iter().any(|v| compare(v, *op, lit)),
        Cond::Regex(field, negated, pattern) => {
            let re = anchored(pattern);
            let matches = |v: &V| matches!(v, V::Str(text) if re.is_match(text));
            values(s, field).iter().any(|v| match v {
                V::Str(text) => re.is_match(text) != *negated,
                V::Array(elements) => elements.iter().any(matches) != *negated,
                _ => false,
            })
        }
        Cond::Exists(field, exists) => values(s, field).is_empty() != *exists,
        Cond::Bare(field) => match values(s, field).first() {
            Some(V::Bool(b)) => *b,
            _ => return None,
        },
        Cond::And(a, b) => match (truth(s, a), truth(s, b)) {
            (Some(false), _) | (_, Some(false)) => false,
            (Some(true), Some(true)) => true,
            _ => return None,
        },
        Cond::Or(a, b) => match (truth(s, a), truth(s, b)) {
            (Some(true), _) | (_, Some(true)) => true,
            (Some(false), Some(false)) => false,
            _ => return None,
        },
        Cond::Not(a) => !truth(s, a)?,
    })
}

fn related(spans: &[RefSpan<'_>], rel: Rel, a: usize, b: usize) -> bool {
    let is_ancestor = |anc: usize, mut of: usize| {
        let mut steps = 0;
        while let Some(p) = spans[of].parent {
            if p == anc {
                return true;
            }
            of = p;
            steps += 1;
            if steps > spans.len() {
                return false;
            }
        }
        false
    };
    match rel {
        Rel::Child => spans[b].parent == Some(a),
        Rel::Parent => spans[a].parent == Some(b),
        Rel::Descendant => is_ancestor(a, b),
        Rel::Ancestor => is_ancestor(b, a),
        Rel::Sibling => a != b && spans[a].parent.is_some() && spans[a].parent == spans[b].parent,
    }
}

/// The spans of `input` the spanset expression yields (empty: no span set).
fn eval_set(spans: &[RefSpan<'_>], set: &Set, input: &[usize]) -> Vec<usize> {
    let mut out = match set {
        Set::Filter(c) => input
            .iter()
            .copied()
            .filter(|&i| truth(&spans[i], c) == Some(true))
            .collect(),
        Set::And(a, b) => {
            let (a, b) = (eval_set(spans, a, input), eval_set(spans, b, input));
            if a.is_empty() || b.is_empty() {
                Vec::new()
            } else {
                [a, b].concat()
            }
        }
        Set::Or(a, b) => [eval_set(spans, a, input), eval_set(spans, b, input)].concat(),
        Set::Structural(rel, negated, a, b) => {
            let lhs = eval_set(spans, a, input);
            eval_set(spans, b, input)
                .into_iter()
                .filter(|&y| lhs.iter().any(|&x| related(spans, *rel, x, y)) != *negated)
                .collect()
        }
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn service_value(s: &RefSpan<'_>) -> Option<RowValue> {
    match attribute(s.resource, "service.name")? {
        V::Str(v) => Some(RowValue::Str(v)),
        V::Int(i) => Some(RowValue::Int(i)),
        V::Float(f) => Some(RowValue::Float(f)),
        V::Bool(b) => Some(RowValue::Bool(b)),
        _ => None,
    }
}

/// The span sets `query` yields on `trace`, each with sorted span IDs, sorted; empty when the
/// trace is not a hit.
pub(super) fn evaluate(trace: &GenTrace, query: &GenQuery) -> Vec<RefSet> {
    let spans = spans_of(trace);
    let all: Vec<usize> = (0..spans.len()).collect();
    let first = eval_set(&spans, &query.first, &all);
    let mut sets: Vec<(SetAttributes, Vec<usize>)> = Vec::new();
    if !first.is_empty() {
        sets.push((Vec::new(), first));
    }
    for stage in &query.stages {
        let mut next = Vec::new();
        for (attributes, rows) in sets {
            match stage {
                Stage::ByService => {
                    let mut groups: Vec<(Option<RowValue>, Vec<usize>)> = Vec::new();
                    for i in rows {
                        let v = service_value(&spans[i]);
                        match groups.iter_mut().find(|(g, _)| *g == v) {
                            Some((_, members)) => members.push(i),
                            None => groups.push((v, vec![i])),
                        }
                    }
                    for (v, members) in groups {
                        let mut attributes = attributes.clone();
                        attributes.push(("by(resource.service.name)".to_owned(), v));
                        next.push((attributes, members));
                    }
                }
                Stage::Count(op, n) => {
                    let count = rows.len() as i64;
                    if compare(&V::Int(count), *op, &Lit::Int(*n)) {
                        let mut attributes = attributes;
                        attributes.push(("count()".to_owned(), Some(RowValue::Int(count))));
                        next.push((attributes, rows));
                    }
                }
                Stage::Filter(c) => {
                    let kept = eval_set(&spans, &Set::Filter(c.clone()), &rows);
                    if !kept.is_empty() {
                        next.push((attributes, kept));
                    }
                }
            }
        }
        sets = next;
    }
    let mut out: Vec<RefSet> = sets
        .into_iter()
        .map(|(attributes, rows)| {
            let mut ids: Vec<[u8; 8]> = rows
                .iter()
                .map(|&i| {
                    <[u8; 8]>::try_from(spans[i].span.span_id.as_slice()).expect("8-byte IDs")
                })
                .collect();
            ids.sort_unstable();
            (attributes, ids)
        })
        .collect();
    sort_sets(&mut out);
    out
}

/// Orders span sets independently of evaluation order.
pub(super) fn sort_sets(sets: &mut [RefSet]) {
    sets.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)))
    });
}
