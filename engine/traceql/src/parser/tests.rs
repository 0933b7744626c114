use crate::ast::*;
use crate::{Error, ParseOptions, parse, parse_with_options};

fn query(src: &str) -> Query {
    match parse(src) {
        Ok(q) => q,
        Err(e) => panic!("{src}: {e}"),
    }
}

/// The single spanset filter expression of `{ … }`.
fn filter(src: &str) -> FieldExpr {
    match query(src).body {
        QueryBody::Search(p) => match p.stages.as_slice() {
            [Stage::Spanset(SpansetExpr::Filter(f))] => f.expr.clone(),
            other => panic!("{src}: not one filter: {other:?}"),
        },
        other => panic!("{src}: {other:?}"),
    }
}

fn spansets(src: &str) -> SpansetExpr {
    match query(src).body {
        QueryBody::Search(p) => match p.stages.as_slice() {
            [Stage::Spanset(e)] => e.clone(),
            other => panic!("{src}: {other:?}"),
        },
        other => panic!("{src}: {other:?}"),
    }
}

fn err(src: &str) -> (u32, u32, String) {
    match parse(src) {
        Err(Error::Parse(e)) => (e.line, e.col, e.message),
        other => panic!("{src}: expected a parse error, got {other:?}"),
    }
}

fn attr(name: &str) -> FieldExpr {
    FieldExpr::Attribute(Attribute::new(AttributeScope::Unscoped, name))
}

fn int(i: i64) -> FieldExpr {
    FieldExpr::Static(Static::Int(i))
}

fn bin(op: BinaryOp, l: FieldExpr, r: FieldExpr) -> FieldExpr {
    FieldExpr::Binary {
        op,
        lhs: Box::new(l),
        rhs: Box::new(r),
    }
}

fn logical(op: LogicalOp, operands: Vec<FieldExpr>) -> FieldExpr {
    FieldExpr::Logical { op, operands }
}

fn unary(op: UnaryOp, e: FieldExpr) -> FieldExpr {
    FieldExpr::Unary {
        op,
        expr: Box::new(e),
    }
}

fn f(src: &str) -> SpansetExpr {
    SpansetExpr::Filter(SpansetFilter {
        expr: filter(&format!("{{ {src} }}")),
    })
}

#[test]
fn and_or_share_one_level_and_associate_left() {
    use BinaryOp::Eq;
    let eq = |a: &str, v| bin(Eq, attr(a), int(v));
    // `a || b && c` is `(a || b) && c`
    assert_eq!(
        filter("{ .a = 1 || .b = 2 && .c = 3 }"),
        logical(
            LogicalOp::And,
            vec![
                logical(LogicalOp::Or, vec![eq("a", 1), eq("b", 2)]),
                eq("c", 3)
            ]
        )
    );
    // same run of one operator is flat
    assert_eq!(
        filter("{ .a = 1 || .b = 2 || .c = 3 }"),
        logical(LogicalOp::Or, vec![eq("a", 1), eq("b", 2), eq("c", 3)])
    );
    // between spansets too
    assert_eq!(
        spansets("{ .a = 1 } && { .b = 2 } || { .c = 3 }"),
        SpansetExpr::Logical {
            op: LogicalOp::Or,
            operands: vec![
                SpansetExpr::Logical {
                    op: LogicalOp::And,
                    operands: vec![f(".a = 1"), f(".b = 2")]
                },
                f(".c = 3")
            ]
        }
    );
    // explicit grouping on the right stays nested
    assert_eq!(
        spansets("{ .a = 1 } && ({ .b = 2 } || { .c = 3 })"),
        SpansetExpr::Logical {
            op: LogicalOp::And,
            operands: vec![
                f(".a = 1"),
                SpansetExpr::Logical {
                    op: LogicalOp::Or,
                    operands: vec![f(".b = 2"), f(".c = 3")]
                }
            ]
        }
    );
}

#[test]
fn structural_binds_tighter_than_logical() {
    // `{a} && {b} > {c}` is `{a} && ({b} > {c})`
    assert_eq!(
        spansets("{ .a } && { .b } > { .c }"),
        SpansetExpr::Logical {
            op: LogicalOp::And,
            operands: vec![
                f(".a"),
                SpansetExpr::Structural {
                    op: StructuralOp::Child,
                    lhs: Box::new(f(".b")),
                    rhs: Box::new(f(".c"))
                }
            ]
        }
    );
    // structural operators associate left
    let e = spansets("{ .a } >> { .b } !< { .c }");
    let SpansetExpr::Structural { op, lhs, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(op, StructuralOp::NotParent);
    assert!(matches!(
        *lhs,
        SpansetExpr::Structural {
            op: StructuralOp::Descendant,
            ..
        }
    ));
    for (src, op) in [
        (">", StructuralOp::Child),
        ("<", StructuralOp::Parent),
        (">>", StructuralOp::Descendant),
        ("<<", StructuralOp::Ancestor),
        ("~", StructuralOp::Sibling),
        ("!>", StructuralOp::NotChild),
        ("!<", StructuralOp::NotParent),
        ("!>>", StructuralOp::NotDescendant),
        ("!<<", StructuralOp::NotAncestor),
        ("!~", StructuralOp::NotSibling),
        ("&>", StructuralOp::UnionChild),
        ("&<", StructuralOp::UnionParent),
        ("&>>", StructuralOp::UnionDescendant),
        ("&<<", StructuralOp::UnionAncestor),
        ("&~", StructuralOp::UnionSibling),
    ] {
        let e = spansets(
            &format!("{{a}}{src}{{b}}")
                .replace("{a}", "{ .a }")
                .replace("{b}", "{ .b }"),
        );
        assert!(
            matches!(e, SpansetExpr::Structural { op: o, .. } if o == op),
            "{src}"
        );
    }
}

#[test]
fn arithmetic_precedence() {
    use BinaryOp::*;
    // `*` over `+`, comparison below both
    assert_eq!(
        filter("{ .a + .b * 2 = 7 }"),
        bin(Eq, bin(Add, attr("a"), bin(Mul, attr("b"), int(2))), int(7))
    );
    // `-` and `/` associate left
    assert_eq!(
        filter("{ .a - 1 - 2 > .b / 3 / 4 }"),
        bin(
            Gt,
            bin(Sub, bin(Sub, attr("a"), int(1)), int(2)),
            bin(Div, bin(Div, attr("b"), int(3)), int(4))
        )
    );
    // `^` associates right and binds tightest
    assert_eq!(
        filter("{ .a ^ 2 ^ 3 * 4 = 1 }"),
        bin(
            Eq,
            bin(Mul, bin(Pow, attr("a"), bin(Pow, int(2), int(3))), int(4)),
            int(1)
        )
    );
    // unary minus takes everything tighter than `+`
    assert_eq!(
        filter("{ -.a * .b + 1 = 0 }"),
        bin(
            Eq,
            bin(
                Add,
                unary(UnaryOp::Neg, bin(Mul, attr("a"), attr("b"))),
                int(1)
            ),
            int(0)
        )
    );
    // `!a = b` is `(!a) = b`; `!a * b` is `!(a * b)`
    assert_eq!(
        filter("{ !.a = .b }"),
        bin(Eq, unary(UnaryOp::Not, attr("a")), attr("b"))
    );
    assert_eq!(
        filter("{ !.a * .b }"),
        unary(UnaryOp::Not, bin(Mul, attr("a"), attr("b")))
    );
    // comparison chains associate left
    assert_eq!(
        filter("{ .a = .b = true }"),
        bin(
            Eq,
            bin(Eq, attr("a"), attr("b")),
            FieldExpr::Static(Static::Bool(true))
        )
    );
    // `%` sits with `*`
    assert_eq!(
        filter("{ .a % 2 + 1 = 1 }"),
        bin(Eq, bin(Add, bin(Mod, attr("a"), int(2)), int(1)), int(1))
    );
}

#[test]
fn literals_and_negative_numbers() {
    assert_eq!(filter("{ .a > -1 }"), bin(BinaryOp::Gt, attr("a"), int(-1)));
    assert_eq!(
        filter("{ .a > -1.5 }"),
        bin(
            BinaryOp::Gt,
            attr("a"),
            FieldExpr::Static(Static::Float(-1.5))
        )
    );
    assert_eq!(
        filter("{ duration > -(1s) }"),
        bin(
            BinaryOp::Gt,
            FieldExpr::Intrinsic(Intrinsic::Duration),
            FieldExpr::Static(Static::Duration(-1_000_000_000))
        )
    );
    assert_eq!(
        filter("{ .a = minInt }"),
        bin(BinaryOp::Eq, attr("a"), int(i64::MIN))
    );
    assert_eq!(
        filter("{ .a = maxInt }"),
        bin(BinaryOp::Eq, attr("a"), int(i64::MAX))
    );
    assert_eq!(filter("{}"), FieldExpr::Static(Static::Bool(true)));
    assert_eq!(
        filter("{ status = error && kind = server }"),
        logical(
            LogicalOp::And,
            vec![
                bin(
                    BinaryOp::Eq,
                    FieldExpr::Intrinsic(Intrinsic::Status),
                    FieldExpr::Static(Static::Status(Status::Error))
                ),
                bin(
                    BinaryOp::Eq,
                    FieldExpr::Intrinsic(Intrinsic::Kind),
                    FieldExpr::Static(Static::Kind(SpanKind::Server))
                )
            ]
        )
    );
    assert_eq!(
        filter(r#"{ .a = "x\ty" && .b = `raw\n` }"#),
        logical(
            LogicalOp::And,
            vec![
                bin(
                    BinaryOp::Eq,
                    attr("a"),
                    FieldExpr::Static(Static::String("x\ty".into()))
                ),
                bin(
                    BinaryOp::Eq,
                    attr("b"),
                    FieldExpr::Static(Static::String("raw\\n".into()))
                )
            ]
        )
    );
}

#[test]
fn nil_comparisons() {
    assert_eq!(filter("{ .a != nil }"), unary(UnaryOp::Exists, attr("a")));
    assert_eq!(filter("{ nil = .a }"), unary(UnaryOp::NotExists, attr("a")));
    assert_eq!(
        filter("{ nil != nil }"),
        FieldExpr::Static(Static::Bool(false))
    );
    assert_eq!(
        filter("{ nil = nil }"),
        FieldExpr::Static(Static::Bool(false))
    );
    // `.a != nil && .b` is `(.a != nil) && .b`
    assert_eq!(
        filter("{ .a != nil && .b }"),
        logical(
            LogicalOp::And,
            vec![unary(UnaryOp::Exists, attr("a")), attr("b")]
        )
    );
    assert_eq!(err("{ nil }").2, "syntax error: unexpected }");
    // after `nil` only `=` or `!=` may follow, as in Tempo's grammar
    assert_eq!(err("{ .a + nil }").2, "syntax error: unexpected }");
    assert_eq!(err("{ (nil) = .a }").2, "syntax error: unexpected )");
    assert_eq!(err("{ !nil }").2, "syntax error: unexpected }");
}

#[test]
fn intrinsics_scoped_and_legacy_are_one() {
    let pairs = [
        ("span:duration", "duration"),
        ("span:name", "name"),
        ("span:status", "status"),
        ("span:statusMessage", "statusMessage"),
        ("span:kind", "kind"),
        ("trace:duration", "traceDuration"),
        ("trace:rootName", "rootName"),
        ("trace:rootService", "rootServiceName"),
    ];
    for (scoped, legacy) in pairs {
        assert_eq!(
            filter(&format!("{{ {scoped} != nil }}")),
            filter(&format!("{{ {legacy} != nil }}")),
            "{scoped}"
        );
    }
    // `span: duration` (space after the colon) is accepted, as by Tempo's lexer
    assert_eq!(
        filter("{ span: duration > 1s }"),
        filter("{ duration > 1s }")
    );
    // `.name` is the attribute, not the intrinsic
    assert_eq!(filter("{ .name }"), attr("name"));
    for bad in [
        "{ trace:status = error }",
        "{ span:rootName = `x` }",
        "{ event:duration > 1s }",
        "{ childCount > 1 }",
        "{ id = `x` }",
        "{ link:id = `x` }",
    ] {
        assert!(err(bad).2.starts_with("syntax error: unexpected"), "{bad}");
    }
}

#[test]
fn attribute_scopes() {
    let cases = [
        ("{ .a }", AttributeScope::Unscoped, false, "a"),
        ("{ span.a.b }", AttributeScope::Span, false, "a.b"),
        (
            "{ resource.service.name }",
            AttributeScope::Resource,
            false,
            "service.name",
        ),
        (
            "{ event.exception.type }",
            AttributeScope::Event,
            false,
            "exception.type",
        ),
        ("{ link.x }", AttributeScope::Link, false, "x"),
        (
            "{ instrumentation.x }",
            AttributeScope::Instrumentation,
            false,
            "x",
        ),
        ("{ parent.x }", AttributeScope::Unscoped, true, "x"),
        ("{ parent.span.x }", AttributeScope::Span, true, "x"),
        ("{ parent.resource.x }", AttributeScope::Resource, true, "x"),
        (r#"{ ."a b" }"#, AttributeScope::Unscoped, false, "a b"),
        (
            r#"{ span.a."b c".d }"#,
            AttributeScope::Span,
            false,
            "a.b c.d",
        ),
        (
            r#"{ parent."span.x" }"#,
            AttributeScope::Unscoped,
            true,
            "span.x",
        ),
    ];
    for (src, scope, parent, name) in cases {
        assert_eq!(
            filter(src),
            FieldExpr::Attribute(Attribute {
                scope,
                parent,
                name: name.into()
            }),
            "{src}"
        );
    }
}

#[test]
fn error_positions_and_messages() {
    let cases: &[(&str, (u32, u32, &str))] = &[
        (
            "{ .a } | { .b",
            (1, 14, "syntax error: unexpected $end, expecting }"),
        ),
        (
            "{ .a | .b }",
            (1, 6, "syntax error: unexpected |, expecting }"),
        ),
        (
            "({ .a } | { .b }",
            (1, 17, "syntax error: unexpected $end, expecting )"),
        ),
        (
            "({ .a } | { .b }) + ({ .a } | { .b })",
            (1, 19, "syntax error: unexpected +"),
        ),
        ("by(.a) && { .b }", (1, 8, "syntax error: unexpected &&")),
        ("by()", (1, 4, "syntax error: unexpected )")),
        ("coalesce()", (1, 1, "syntax error: unexpected coalesce")),
        ("{ true } &&", (1, 12, "syntax error: unexpected $end")),
        (
            "count(",
            (1, 7, "syntax error: unexpected $end, expecting )"),
        ),
        (
            "count(avg)",
            (1, 7, "syntax error: unexpected avg, expecting )"),
        ),
        ("wharblgarbl", (1, 1, "syntax error: unexpected IDENTIFIER")),
        ("{ 2 <> 3}", (1, 6, "syntax error: unexpected >")),
        ("{ + }", (1, 3, "syntax error: unexpected +")),
        (
            "{ . foo }",
            (
                1,
                3,
                "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER",
            ),
        ),
        (
            "{ parent. }",
            (
                1,
                3,
                "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER or resource. or span.",
            ),
        ),
        (
            "{ .foo .bar }",
            (1, 8, "syntax error: unexpected ., expecting }"),
        ),
        (".3foo", (1, 3, "syntax error: unexpected IDENTIFIER")),
        (r#"{ ."foo }"#, (1, 3, "unexpected EOF, expecting \"")),
        ("{} | topk(10)", (1, 6, "syntax error: unexpected topk")),
        (
            "{} | rate() | topk(-1)",
            (1, 20, "syntax error: unexpected -, expecting INTEGER"),
        ),
        (
            "{} > 10",
            (1, 6, "syntax error: unexpected INTEGER, expecting { or ("),
        ),
        ("{ foo = 1 }", (1, 3, "unknown identifier: foo")),
        ("", (1, 1, "syntax error: unexpected $end")),
        (
            "{ .a = 1 }\n  && { .b = \"x }",
            (2, 13, "literal not terminated"),
        ),
        (
            "{ .a = 1 }\n\n   | count( > 1",
            (3, 13, "syntax error: unexpected >, expecting )"),
        ),
        ("{ .a = \"\\q\" }", (1, 8, "invalid char escape")),
        (
            "{ .a = 1 } with(sample=0.1) | { .b }",
            (1, 29, "syntax error: unexpected |"),
        ),
        (
            "{ .a = 1 } with()",
            (1, 17, "syntax error: unexpected ), expecting IDENTIFIER"),
        ),
        ("{ .a = 1 } with(x=y)", (1, 19, "unknown identifier: y")),
    ];
    for &(src, (line, col, msg)) in cases {
        assert_eq!(err(src), (line, col, msg.to_string()), "{src:?}");
    }
    // an earlier syntax error wins over a later lexical one
    assert_eq!(err("{ .a = = \"\\q\" }").2, "syntax error: unexpected =");
}

#[test]
fn pipelines_and_stages() {
    let q = query("{ .a } | by(.b) | count() > 2 | coalesce() | select(.c, span:id) | { .d }");
    let QueryBody::Search(p) = q.body else {
        panic!()
    };
    assert_eq!(p.stages.len(), 6);
    assert!(matches!(p.stages[1], Stage::GroupBy(_)));
    assert!(matches!(p.stages[2], Stage::ScalarFilter(_)));
    assert!(matches!(p.stages[3], Stage::Coalesce));
    assert!(matches!(p.stages[4], Stage::Select(ref s) if s.len() == 2));
    // `|` is the loosest operator
    let QueryBody::Search(p) = query("{ .a } | { .b } && { .c }").body else {
        panic!()
    };
    assert!(matches!(
        p.stages[1],
        Stage::Spanset(SpansetExpr::Logical { .. })
    ));
    // a parenthesised pipeline alone is the pipeline itself
    assert_eq!(query("({ .a } | { .b })"), query("{ .a } | { .b }"));
    assert_eq!(query("(count() > 1)"), query("count() > 1"));
    // pipelines combined by spanset operators
    let e = spansets("({ .a } | count() > 1) && ({ .b } | by(.c))");
    let SpansetExpr::Logical { operands, .. } = e else {
        panic!()
    };
    assert!(
        operands
            .iter()
            .all(|o| matches!(o, SpansetExpr::Pipeline(_)))
    );
    // mixing bare filters and pipelines is Tempo's syntax error
    assert!(parse("{ .a } && ({ .b } | { .c })").is_err());
    assert!(parse("({ .a } | { .b }) | { .c }").is_err());
}

#[test]
fn scalar_constants_fold_like_tempo() {
    let rhs = |src: &str| match query(src).body {
        QueryBody::Search(p) => match &p.stages[0] {
            Stage::ScalarFilter(f) => f.rhs.clone(),
            s => panic!("{s:?}"),
        },
        b => panic!("{b:?}"),
    };
    assert_eq!(
        rhs("count() > 1 + 2 * 3"),
        ScalarExpr::Static(Static::Int(7))
    );
    assert_eq!(rhs("count() > 2 / 6"), ScalarExpr::Static(Static::Int(0)));
    assert_eq!(
        rhs("count() > 1.0 / 4"),
        ScalarExpr::Static(Static::Float(0.25))
    );
    assert_eq!(
        rhs("count() > -(2 - 5)"),
        ScalarExpr::Static(Static::Int(3))
    );
    assert_eq!(
        rhs("avg(duration) > -1s"),
        ScalarExpr::Static(Static::Duration(-1_000_000_000))
    );
    assert_eq!(
        err("count() > 1s * 2").2,
        "duration cannot be used in scalar arithmetic"
    );
    assert_eq!(err("count() > 1 / 0").2, "division by zero");
    assert!(err("count() > 1.0 / 0").2.contains("not a finite number"));
    // aggregate arithmetic keeps its shape
    assert_eq!(
        rhs("count() > avg(.a) * 2"),
        ScalarExpr::Binary {
            op: ArithOp::Mul,
            lhs: Box::new(ScalarExpr::Aggregate(Aggregate {
                op: AggregateOp::Avg,
                expr: Some(attr("a"))
            })),
            rhs: Box::new(ScalarExpr::Static(Static::Int(2)))
        }
    );
}

#[test]
fn metrics_queries() {
    let m = |src: &str| match query(src).body {
        QueryBody::Metrics(m) => m,
        b => panic!("{src}: {b:?}"),
    };
    let MetricsExpr::Query(q) =
        m("{ .a } | quantile_over_time(duration, 0.5, 1) by (span.x, name) | topk(3) > 2s")
    else {
        panic!()
    };
    assert_eq!(q.function.by.len(), 2);
    assert_eq!(
        q.function.op,
        MetricsOp::QuantileOverTime {
            field: FieldRef::Intrinsic(Intrinsic::Duration),
            quantiles: vec![0.5, 1.0]
        }
    );
    assert_eq!(
        q.stages,
        vec![
            SecondStage::TopK(3),
            SecondStage::Filter {
                op: CmpOp::Gt,
                value: 2.0
            }
        ]
    );
    // second stages after a parenthesised pipeline join the pipeline's own
    assert_eq!(m("({} | rate()) > 10"), m("{} | rate() > 10"));
    // math: `*` binds tighter than `+`, the whole expression takes the stages
    let e = m("({} | rate()) + ({} | count_over_time()) * 2 | topk(5)");
    let MetricsExpr::Staged { expr, stages } = e else {
        panic!()
    };
    assert_eq!(stages, vec![SecondStage::TopK(5)]);
    let MetricsExpr::Math {
        op: MathOp::Add,
        rhs,
        ..
    } = *expr
    else {
        panic!()
    };
    assert!(matches!(
        *rhs,
        MetricsExpr::Scalar {
            op: MathOp::Mul,
            scalar_on_left: false,
            ..
        }
    ));
    // scalars fold before meeting a metrics query
    let MetricsExpr::Scalar {
        value,
        scalar_on_left,
        ..
    } = m("1 + 2 * 3 - ({} | rate())")
    else {
        panic!()
    };
    assert_eq!((value, scalar_on_left), (7.0, true));
    let MetricsExpr::Query(q) = m("{} | compare({ status = error }, 5, 100, 200)") else {
        panic!()
    };
    assert!(matches!(
        q.function.op,
        MetricsOp::Compare {
            top_n: 5,
            start_ns: 100,
            end_ns: 200,
            ..
        }
    ));
    for bad in [
        "{} | rate() * 2",
        "({} | rate()) % 2",
        "({} | rate()) * 1s",
        "{} | rate() | by(.a)",
        "{} | rate() by ()",
        "{} | compare({}, 1, 2)",
        "{} | compare({ .a } && { .b })",
        "(({} | rate()) > 2)",
        "rate()",
        "{} | rate() | { .a }",
        "{} | quantile_over_time(duration)",
        "{} | min_over_time(1 + .a)",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn hints() {
    let q =
        query("{ .a } with(sample=0.1, most_recent=true, job_size=5, skip=`x,y`, d=1m, k=server)");
    let h = &q.hints;
    assert_eq!(h.hints.len(), 6);
    assert_eq!(h.get_float("sample", false), Some(0.1));
    assert_eq!(h.get_bool("most_recent", false), Some(true));
    assert_eq!(
        h.get_int("job_size", false),
        None,
        "unsafe hints need the override"
    );
    assert_eq!(h.get_int("job_size", true), Some(5));
    assert_eq!(h.get_float("job_size", true), Some(5.0));
    assert_eq!(h.get_string("skip", true), Some("x,y"));
    assert_eq!(h.get_duration("d", true), Some(60_000_000_000));
    assert_eq!(h.get_bool("sample", false), None, "wrong type is ignored");
    // the last clause wins
    let q = query("{ .a } with(a=1) with(b=2)");
    assert_eq!(q.hints.hints.len(), 1);
    assert_eq!(q.hints.hints[0].name, "b");
}

mod limits;
