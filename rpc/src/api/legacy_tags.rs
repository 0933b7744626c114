//! Tempo's legacy tag search (`tags=k=v k2="v 2"`, `minDuration`, `maxDuration`; TEMPO-SPEC
//! §1.5) translated into an equivalent TraceQL query: one spanset filter per pair, joined by
//! `&&` (every pair must match, each on any span), trace duration bounds as filters.

use tracecore_traceql::{
    Attribute, AttributeScope, BinaryOp, FieldExpr, Hints, Intrinsic, LogicalOp, Pipeline, Query,
    QueryBody, SpansetExpr, SpansetFilter, Stage, Static, Status,
};

/// Keys matched by case-sensitive substring (Tempo's dedicated columns).
const SUBSTRING_KEYS: &[&str] = &[
    "service.name",
    "cluster",
    "namespace",
    "pod",
    "container",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "http.method",
    "http.url",
];

/// Parses logfmt `key=value` pairs (values may be double-quoted with `\"` escapes).
pub fn parse_logfmt(text: &str) -> Result<Vec<(String, String)>, String> {
    let bytes: Vec<char> = text.chars().collect();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != '=' && !bytes[i].is_whitespace() {
            if bytes[i] == '"' {
                return Err(format!("invalid tags: unexpected '\"' at pos {}", i + 1));
            }
            i += 1;
        }
        let key: String = bytes[start..i].iter().collect();
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == '=' {
            i += 1;
            if i < bytes.len() && bytes[i] == '"' {
                i += 1;
                let mut closed = false;
                while i < bytes.len() {
                    match bytes[i] {
                        '\\' if i + 1 < bytes.len() => {
                            value.push(bytes[i + 1]);
                            i += 2;
                        }
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        c => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                if !closed {
                    return Err(format!(
                        "invalid tags: unterminated quoted value at pos {}",
                        i + 1
                    ));
                }
            } else {
                while i < bytes.len() && !bytes[i].is_whitespace() {
                    value.push(bytes[i]);
                    i += 1;
                }
            }
        }
        if key.is_empty() {
            return Err(format!("invalid tags: unexpected '=' at pos {}", start + 1));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(format!("invalid tags: tag {key} has been set twice"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn substring(field: FieldExpr, value: &str) -> FieldExpr {
    FieldExpr::Binary {
        op: BinaryOp::Regex,
        lhs: Box::new(field),
        rhs: Box::new(FieldExpr::Static(Static::String(format!(
            ".*{}.*",
            regex::escape(value)
        )))),
    }
}

fn equals(field: FieldExpr, value: Static) -> FieldExpr {
    FieldExpr::Binary {
        op: BinaryOp::Eq,
        lhs: Box::new(field),
        rhs: Box::new(FieldExpr::Static(value)),
    }
}

fn condition(key: &str, value: &str) -> FieldExpr {
    let unscoped = || FieldExpr::Attribute(Attribute::new(AttributeScope::Unscoped, key));
    match key {
        "name" => substring(FieldExpr::Intrinsic(Intrinsic::Name), value),
        "root.name" => substring(FieldExpr::Intrinsic(Intrinsic::TraceRootName), value),
        "root.service.name" => substring(FieldExpr::Intrinsic(Intrinsic::TraceRootService), value),
        "status.code" => {
            let status = match value {
                "ok" => Some(Status::Ok),
                "error" => Some(Status::Error),
                "unset" => Some(Status::Unset),
                _ => None,
            };
            match status {
                Some(s) => equals(FieldExpr::Intrinsic(Intrinsic::Status), Static::Status(s)),
                None => FieldExpr::Static(Static::Bool(false)),
            }
        }
        "http.status_code" => match value.parse::<i64>() {
            Ok(code) => equals(unscoped(), Static::Int(code)),
            Err(_) => equals(unscoped(), Static::String(value.to_owned())),
        },
        k if SUBSTRING_KEYS.contains(&k) => substring(unscoped(), value),
        _ => equals(unscoped(), Static::String(value.to_owned())),
    }
}

/// The TraceQL query equivalent to a tag search. Durations are in nanoseconds, 0 = no bound.
pub fn to_query(pairs: &[(String, String)], min_duration: i64, max_duration: i64) -> Query {
    let mut filters: Vec<SpansetExpr> = pairs
        .iter()
        .map(|(k, v)| {
            SpansetExpr::Filter(SpansetFilter {
                expr: condition(k, v),
            })
        })
        .collect();
    let trace_duration = |op, nanos| {
        SpansetExpr::Filter(SpansetFilter {
            expr: FieldExpr::Binary {
                op,
                lhs: Box::new(FieldExpr::Intrinsic(Intrinsic::TraceDuration)),
                rhs: Box::new(FieldExpr::Static(Static::Duration(nanos))),
            },
        })
    };
    if min_duration > 0 {
        filters.push(trace_duration(BinaryOp::Gte, min_duration));
    }
    if max_duration > 0 {
        filters.push(trace_duration(BinaryOp::Lte, max_duration));
    }
    let expr = match filters.len() {
        0 => SpansetExpr::Filter(SpansetFilter {
            expr: FieldExpr::Static(Static::Bool(true)),
        }),
        1 => filters.remove(0),
        _ => SpansetExpr::Logical {
            op: LogicalOp::And,
            operands: filters,
        },
    };
    Query {
        body: QueryBody::Search(Pipeline {
            stages: vec![Stage::Spanset(expr)],
        }),
        hints: Hints::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_pairs_quotes_and_errors() {
        assert_eq!(
            parse_logfmt(r#"service.name=cart  http.url="/a b\"c""#).expect("parses"),
            vec![
                ("service.name".to_owned(), "cart".to_owned()),
                ("http.url".to_owned(), "/a b\"c".to_owned()),
            ]
        );
        assert_eq!(
            parse_logfmt("a=1 a=2").expect_err("duplicate"),
            "invalid tags: tag a has been set twice"
        );
        assert!(parse_logfmt("a=\"open").is_err());
        assert!(parse_logfmt("=x").is_err());
    }

    #[test]
    fn tags_become_traceql() {
        let q = to_query(
            &[
                ("service.name".into(), "cart".into()),
                ("http.status_code".into(), "500".into()),
                ("team".into(), "a.b".into()),
            ],
            1_000_000,
            0,
        );
        assert_eq!(
            q.to_string(),
            "{ .service.name =~ `.*cart.*` } && { .http.status_code = 500 } && { .team = `a.b` } && { traceDuration >= 1ms }"
        );
        assert_eq!(to_query(&[], 0, 0).to_string(), "{ true }");
    }
}
