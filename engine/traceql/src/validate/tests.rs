use crate::{Error, parse, validate};

fn check(src: &str) -> Result<(), Error> {
    match parse(src) {
        Ok(q) => validate(&q),
        Err(e) => panic!("{src}: does not parse: {e}"),
    }
}

fn message(src: &str) -> String {
    match check(src) {
        Err(Error::Validation(m)) => m,
        other => panic!("{src}: expected a validation error, got {other:?}"),
    }
}

fn unsupported(src: &str) -> String {
    match check(src) {
        Err(Error::Unsupported(m)) => m,
        other => panic!("{src}: expected an unsupported error, got {other:?}"),
    }
}

#[test]
fn filters_must_be_boolean() {
    assert_eq!(
        message("{ 1 + 1 }"),
        "span filter field expressions must resolve to a boolean: { 1 + 1 }"
    );
    assert_eq!(
        message("{ duration }"),
        "span filter field expressions must resolve to a boolean: { duration }"
    );
    assert_eq!(
        message("{ .a + 1 }"),
        "span filter field expressions must resolve to a boolean: { .a + 1 }",
        "arithmetic on an attribute takes the other side's type"
    );
    // attributes are dynamic: `{ .a }` keeps spans where .a is true
    assert!(check("{ .a }").is_ok());
    assert!(check("{ .a + .b }").is_ok());
    assert!(check("{}").is_ok());
}

#[test]
fn operand_types() {
    assert_eq!(
        message("{ name = 1s }"),
        "binary operations must operate on the same type: name = 1s"
    );
    assert_eq!(
        message("{ span:id = 1 }"),
        "binary operations must operate on the same type: span:id = 1"
    );
    assert_eq!(
        message("{ status = 1 }"),
        "binary operations must operate on the same type: status = 1"
    );
    assert_eq!(
        message("{ kind > server }"),
        "illegal operation for the given types: kind > server"
    );
    assert_eq!(
        message("{ true > false }"),
        "illegal operation for the given types: true > false"
    );
    assert_eq!(
        message("{ name + `x` = `y` }"),
        "illegal operation for the given types: name + `x`"
    );
    // numbers and durations mix; attributes match anything
    for ok in [
        "{ duration > 1 }",
        "{ span.retries > 1s }",
        "{ 1 * 1h = 1 }",
        "{ .a = `x` && .b = 1 }",
        "{ span.foo = 1s }",
        "{ name > `a` }",
        "{ statusMessage =~ `.*timeout.*` }",
        "{ event:timeSinceStart > 2ms }",
        "{ span:childCount >= 2 }",
        "{ trace:id = `0af7651916cd43dd8448eb211c80319c` }",
        "{ .a != nil && duration > 1s }",
    ] {
        assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
    }
}

#[test]
fn logical_chains_check_each_step() {
    assert_eq!(
        message("{ .a || .b || 1 }"),
        "binary operations must operate on the same type: (.a || .b) || 1"
    );
    // an int matches an attribute, but `&&` does not take ints
    assert_eq!(
        message("{ 1 && .a }"),
        "illegal operation for the given types: 1 && .a"
    );
}

#[test]
fn unary_operators() {
    assert_eq!(
        message("{ -name = `x` }"),
        "illegal operation for the given type: -name"
    );
    assert_eq!(
        message("{ !1 = 1 }"),
        "illegal operation for the given type: !1"
    );
    assert!(check("{ -duration < -1s }").is_ok());
    assert!(check("{ !(.a = 1) }").is_ok());
    assert!(check("{ !.a }").is_ok());
}

#[test]
fn nil_rules() {
    assert_eq!(
        message("{ span:status = nil }"),
        "status=nil is not valid because intrinsics cannot be nil"
    );
    assert_eq!(
        message("{ trace:rootService = nil }"),
        "rootServiceName=nil is not valid because intrinsics cannot be nil"
    );
    assert_eq!(
        message("{ resource.service.name = nil }"),
        "resource.service.name=nil is not valid because resource.service.name cannot be nil"
    );
    // existence of intrinsics and of other attributes is fine
    assert!(check("{ name != nil }").is_ok());
    assert!(check("{ span.service.name = nil }").is_ok());
    assert!(check("{ .service.name = nil }").is_ok());
}

#[test]
fn regexes() {
    assert_eq!(message("{ .a =~ `(` }"), "invalid regex: `(`");
    assert_eq!(message("{ .a !~ `[a-` }"), "invalid regex: `[a-`");
    assert_eq!(message("{ .a =~ .b }"), "invalid type for =~ or !~: .b");
    assert_eq!(
        message("{ .a =~ 1 }"),
        "illegal operation for the given types: .a =~ 1"
    );
    assert!(check("{ .a =~ `GET /api/.*` && name !~ `^health` }").is_ok());
    // a pattern whose compiled program is too large is refused, not compiled forever
    assert!(message("{ .a =~ `(a{1000}){1000}` }").starts_with("invalid regex"));
}

#[test]
fn aggregates_and_grouping() {
    assert_eq!(
        message("{ } | avg(name) > 1"),
        "aggregate field expressions must resolve to a number type: avg(name)"
    );
    assert_eq!(
        message("sum(3) > 1"),
        "aggregate field expressions must reference the span: sum(3)"
    );
    assert_eq!(
        message("{ } | by(1 + 2)"),
        "grouping field expressions must reference the span: by(1 + 2)"
    );
    assert_eq!(
        message("{ } | by(name + 1)"),
        "binary operations must operate on the same type: name + 1"
    );
    for ok in [
        "{ } | count() > 1",
        "{ } | avg(.a) > 1.5",
        "{ } | max(duration) >= 1s",
        "{ } | sum(span.bytes * 8) > 1000",
        "{ } | by(resource.service.name) | count() > 2",
        "{ } | by(name = `x`)",
        "{ } | select(span.a, resource.b, duration, trace:id)",
        "{ } | coalesce()",
    ] {
        assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
    }
}

#[test]
fn unsupported_features() {
    assert_eq!(unsupported("{ parent.a = 1 }"), "parent");
    assert_eq!(unsupported("{ parent }"), "intrinsic (parent)");
    assert_eq!(unsupported("{ } | select(parent.span.a)"), "parent");
    assert_eq!(
        unsupported("count() > count()"),
        "scalar filter rhs of type (aggregate)"
    );
    assert_eq!(
        unsupported("count() + 1 > 2"),
        "scalar filter lhs of type (arithmetic)"
    );
    assert_eq!(
        unsupported("2 < count()"),
        "scalar filter lhs of type (static)"
    );
    assert_eq!(
        unsupported("({ .a } | count()) > 1"),
        "scalar filter lhs of type (pipeline)"
    );
    assert_eq!(
        check("{ parent.a = 1 }").map_err(|e| e.to_string()),
        Err("invalid TraceQL query: parent not yet supported".into())
    );
}

#[test]
fn metrics_rules() {
    assert_eq!(
        message("{} | rate() | topk(0)"),
        "limit must be greater than 0"
    );
    assert_eq!(
        message("{} | quantile_over_time(duration, 0.5, 1.5)"),
        "quantile must be between 0 and 1: 1.5"
    );
    assert_eq!(
        message("{} | compare({ status = error }, 0)"),
        "compare() top number of values must be an integer between 1 and 1000"
    );
    assert_eq!(
        message("{} | compare({ status = error }, 1001)"),
        "compare() top number of values must be an integer between 1 and 1000"
    );
    assert_eq!(
        message("{} | compare({ status = error }, 10, 0, 5)"),
        "compare() timestamps must be positive integer unix nanoseconds"
    );
    assert_eq!(
        message("{} | compare({ status = error }, 10, 5, 5)"),
        "compare() end timestamp must be greater than start timestamp"
    );
    assert_eq!(
        message("{} | compare({ 1 })"),
        "span filter field expressions must resolve to a boolean: { 1 }"
    );
    assert_eq!(
        message("({} | compare({ status = error })) * 2"),
        "`compare()` cannot be used with second stage functions"
    );
    assert_eq!(
        unsupported("{} | rate() by (.a, .b, .c, .d, .e, .f)"),
        "metrics group by 6 values"
    );
    assert_eq!(
        unsupported("{} | histogram_over_time(duration) by (.a, .b, .c, .d, .e)"),
        "metrics group by 5 values"
    );
    assert_eq!(
        message("{ .a = 1 } | { 1 + 1 } | rate()"),
        "span filter field expressions must resolve to a boolean: { 1 + 1 }"
    );
    for ok in [
        "{} | rate() by (.a, .b, .c, .d, .e)",
        "{} | quantile_over_time(duration, 0, 0.5, 1) by (.a, .b, .c, .d)",
        "{} | compare({ status = error }, 100, 1700000000000000000, 1700000060000000000)",
        "{} | histogram_over_time(span.bytes)",
        "({} | rate()) / ({ status = error } | rate()) * 100 > 5 | topk(3)",
    ] {
        assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
    }
}

#[test]
fn hints_are_not_checked() {
    assert!(check("{ } with(unknown=1, sample=`not a number`, most_recent=3)").is_ok());
}
