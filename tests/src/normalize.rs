//! Span-for-span comparison of what was sent with what a query returned.
//!
//! A trace comes back regrouped (resources and scopes merged or split differently), reordered
//! (Tempo sorts spans by start time), with attributes in another order (Tempo moves well-known
//! attributes into dedicated columns and back). [`normalize`] flattens resource spans into one
//! self-contained, sorted record per span so two traces compare equal exactly when they hold the
//! same spans with the same content.
//!
//! Deliberately not compared, because Tempo's block schema does not keep them: span and link
//! `flags` and `schema_url`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tracecore_proto::otlp::{AnyValue, KeyValue, ResourceSpans, any_value::Value};

/// An attribute value with a total order (doubles by bit pattern).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Val {
    Empty,
    Str(String),
    Bool(bool),
    Int(i64),
    Double(u64),
    Bytes(Vec<u8>),
    Array(Vec<Val>),
    /// Kept in the order sent: a kvlist is a list.
    Kvlist(Vec<(String, Val)>),
}

pub type Attrs = Vec<(String, Val)>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NormEvent {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Attrs,
    pub dropped_attributes_count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NormLink {
    pub trace_id: String,
    pub span_id: String,
    pub trace_state: String,
    pub attributes: Attrs,
    pub dropped_attributes_count: u32,
}

/// One span with everything it inherits from its resource and scope. Field order is the sort
/// order: by trace, then span ID.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NormSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub trace_state: String,
    pub status_code: i32,
    pub status_message: String,
    pub attributes: Attrs,
    pub dropped_attributes_count: u32,
    pub events: Vec<NormEvent>,
    pub dropped_events_count: u32,
    pub links: Vec<NormLink>,
    pub dropped_links_count: u32,
    pub resource: Attrs,
    pub resource_dropped_attributes_count: u32,
    pub scope_name: String,
    pub scope_version: String,
    pub scope_attributes: Attrs,
}

fn val(v: Option<&AnyValue>) -> Val {
    match v.and_then(|a| a.value.as_ref()) {
        None => Val::Empty,
        Some(Value::StringValue(s)) => Val::Str(s.clone()),
        Some(Value::BoolValue(b)) => Val::Bool(*b),
        Some(Value::IntValue(i)) => Val::Int(*i),
        Some(Value::DoubleValue(d)) => Val::Double(d.to_bits()),
        Some(Value::BytesValue(b)) => Val::Bytes(b.clone()),
        Some(Value::ArrayValue(a)) => Val::Array(a.values.iter().map(|x| val(Some(x))).collect()),
        Some(Value::KvlistValue(l)) => Val::Kvlist(
            l.values
                .iter()
                .map(|kv| (kv.key.clone(), val(kv.value.as_ref())))
                .collect(),
        ),
    }
}

/// Attributes sorted by key (then value, for duplicate keys).
pub fn attrs(list: &[KeyValue]) -> Attrs {
    let mut out: Attrs = list
        .iter()
        .map(|kv| (kv.key.clone(), val(kv.value.as_ref())))
        .collect();
    out.sort();
    out
}

/// Every span of `resource_spans` as a [`NormSpan`], sorted.
pub fn normalize(resource_spans: &[ResourceSpans]) -> Vec<NormSpan> {
    let mut out = Vec::new();
    for rs in resource_spans {
        let (resource, resource_dropped) = rs.resource.as_ref().map_or((Vec::new(), 0), |r| {
            (attrs(&r.attributes), r.dropped_attributes_count)
        });
        for ss in &rs.scope_spans {
            let (scope_name, scope_version, scope_attributes) = ss.scope.as_ref().map_or_else(
                || (String::new(), String::new(), Vec::new()),
                |s| (s.name.clone(), s.version.clone(), attrs(&s.attributes)),
            );
            for s in &ss.spans {
                let mut events: Vec<NormEvent> = s
                    .events
                    .iter()
                    .map(|e| NormEvent {
                        time_unix_nano: e.time_unix_nano,
                        name: e.name.clone(),
                        attributes: attrs(&e.attributes),
                        dropped_attributes_count: e.dropped_attributes_count,
                    })
                    .collect();
                events.sort();
                let mut links: Vec<NormLink> = s
                    .links
                    .iter()
                    .map(|l| NormLink {
                        trace_id: hex::encode(&l.trace_id),
                        span_id: hex::encode(&l.span_id),
                        trace_state: l.trace_state.clone(),
                        attributes: attrs(&l.attributes),
                        dropped_attributes_count: l.dropped_attributes_count,
                    })
                    .collect();
                links.sort();
                let (status_code, status_message) = s
                    .status
                    .as_ref()
                    .map_or((0, String::new()), |st| (st.code, st.message.clone()));
                out.push(NormSpan {
                    trace_id: hex::encode(&s.trace_id),
                    span_id: hex::encode(&s.span_id),
                    parent_span_id: hex::encode(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: s.kind,
                    start_time_unix_nano: s.start_time_unix_nano,
                    end_time_unix_nano: s.end_time_unix_nano,
                    trace_state: s.trace_state.clone(),
                    status_code,
                    status_message,
                    attributes: attrs(&s.attributes),
                    dropped_attributes_count: s.dropped_attributes_count,
                    events,
                    dropped_events_count: s.dropped_events_count,
                    links,
                    dropped_links_count: s.dropped_links_count,
                    resource: resource.clone(),
                    resource_dropped_attributes_count: resource_dropped,
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    scope_attributes: scope_attributes.clone(),
                });
            }
        }
    }
    out.sort();
    out
}

/// Only the spans of one trace (hex ID) out of a normalized list.
pub fn of_trace(spans: &[NormSpan], trace_id_hex: &str) -> Vec<NormSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace_id_hex)
        .cloned()
        .collect()
}

/// `Ok` when `actual` holds exactly the spans of `expected`; otherwise a report of missing,
/// unexpected, duplicated and differing spans (field by field).
pub fn compare_spans(expected: &[ResourceSpans], actual: &[ResourceSpans]) -> Result<(), String> {
    compare_normalized(&normalize(expected), &normalize(actual))
}

pub fn compare_normalized(expected: &[NormSpan], actual: &[NormSpan]) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let key = |s: &NormSpan| (s.trace_id.clone(), s.span_id.clone(), s.kind);
    let mut exp: BTreeMap<_, Vec<&NormSpan>> = BTreeMap::new();
    for s in expected {
        exp.entry(key(s)).or_default().push(s);
    }
    let mut act: BTreeMap<_, Vec<&NormSpan>> = BTreeMap::new();
    for s in actual {
        act.entry(key(s)).or_default().push(s);
    }
    let mut report = format!("expected {} spans, got {}\n", expected.len(), actual.len());
    let mut shown = 0;
    for (k, e) in &exp {
        if shown >= 20 {
            report.push_str("...\n");
            break;
        }
        match act.get(k) {
            None => {
                let _ = writeln!(report, "missing span {} ({:?})", k.1, e[0].name);
                shown += 1;
            }
            Some(a) if a.len() != e.len() => {
                let _ = writeln!(
                    report,
                    "span {} appears {} times, expected {}",
                    k.1,
                    a.len(),
                    e.len()
                );
                shown += 1;
            }
            Some(a) if a != e => {
                let _ = writeln!(
                    report,
                    "span {} ({:?}) differs:\n{}",
                    k.1,
                    e[0].name,
                    field_diff(e[0], a[0])
                );
                shown += 1;
            }
            Some(_) => {}
        }
    }
    for (k, a) in &act {
        if shown >= 20 {
            break;
        }
        if !exp.contains_key(k) {
            let _ = writeln!(
                report,
                "unexpected span {} ({:?}) of trace {}",
                k.1, a[0].name, k.0
            );
            shown += 1;
        }
    }
    Err(report)
}

fn field_diff(e: &NormSpan, a: &NormSpan) -> String {
    let mut out = String::new();
    macro_rules! cmp {
        ($($f:ident),*) => {$(
            if e.$f != a.$f {
                let _ = writeln!(out, "  {}:\n    sent:     {:?}\n    returned: {:?}", stringify!($f), e.$f, a.$f);
            }
        )*};
    }
    cmp!(
        parent_span_id,
        name,
        start_time_unix_nano,
        end_time_unix_nano,
        trace_state,
        status_code,
        status_message,
        dropped_attributes_count,
        events,
        dropped_events_count,
        links,
        dropped_links_count,
        resource,
        resource_dropped_attributes_count,
        scope_name,
        scope_version,
        scope_attributes
    );
    if e.attributes != a.attributes {
        let sent: BTreeMap<_, _> = e.attributes.iter().cloned().collect();
        let got: BTreeMap<_, _> = a.attributes.iter().cloned().collect();
        for (k, v) in &sent {
            match got.get(k) {
                None => {
                    let _ = writeln!(out, "  attribute {k:?} missing (sent {v:?})");
                }
                Some(g) if g != v => {
                    let _ = writeln!(out, "  attribute {k:?}: sent {v:?}, returned {g:?}");
                }
                _ => {}
            }
        }
        for (k, g) in &got {
            if !sent.contains_key(k) {
                let _ = writeln!(out, "  attribute {k:?} not sent but returned as {g:?}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use tracecore_benches::tracegen::{TraceGenerator, merge_resource_spans};

    use super::*;

    #[test]
    fn regrouping_and_reordering_compare_equal() {
        let mut generator = TraceGenerator::new(1);
        let (a, ra) = generator.next_trace();
        let (_, rb) = generator.next_trace();
        let sent: Vec<_> = ra.iter().chain(&rb).cloned().collect();
        // Split every scope into single-span groups, reverse everything, shuffle attributes.
        let mut regrouped = Vec::new();
        for rs in sent.iter().rev() {
            for ss in rs.scope_spans.iter().rev() {
                for span in ss.spans.iter().rev() {
                    let mut span = span.clone();
                    span.attributes.reverse();
                    span.flags = 0;
                    let mut ss2 = ss.clone();
                    ss2.spans = vec![span];
                    let mut rs2 = rs.clone();
                    rs2.scope_spans = vec![ss2];
                    rs2.schema_url.clear();
                    regrouped.push(rs2);
                }
            }
        }
        compare_spans(&sent, &regrouped).unwrap();
        compare_spans(&sent, &merge_resource_spans(regrouped.clone())).unwrap();

        // A changed attribute, a missing span and a duplicate are all reported.
        let mut broken = regrouped.clone();
        broken[0].scope_spans[0].spans[0].attributes[0].value = None;
        let report = compare_spans(&sent, &broken).unwrap_err();
        assert!(report.contains("attribute"), "{report}");
        let mut missing = regrouped.clone();
        missing.remove(3);
        assert!(
            compare_spans(&sent, &missing)
                .unwrap_err()
                .contains("missing span")
        );
        let mut dup = regrouped.clone();
        dup.push(regrouped[0].clone());
        assert!(
            compare_spans(&sent, &dup)
                .unwrap_err()
                .contains("appears 2 times")
        );
        assert_eq!(of_trace(&normalize(&sent), &hex::encode(a)), normalize(&ra));
    }
}
