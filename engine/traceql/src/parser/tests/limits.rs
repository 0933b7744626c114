//! Hostile input: size and depth limits, long flat chains, mutated queries.

use super::*;

fn nested_parens(depth: usize) -> String {
    format!("{{ {}.a = 1{} }}", "(".repeat(depth), ")".repeat(depth))
}

/// Runs `f` on a thread with a small stack, to prove that limits hold with room to spare.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .expect("spawn");
    match handle.join() {
        Ok(v) => v,
        Err(_) => panic!("thread panicked"),
    }
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    on_small_stack(|| {
        let deep = nested_parens(10_000);
        let e = err(&deep);
        assert!(e.2.contains("maximum depth of 256"), "{e:?}");
        for src in [
            format!("{}{{ .a }}{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("{{ {}.a }}", "!".repeat(10_000)),
            format!("{{ {}.a }}", "-".repeat(10_000)),
            format!("{{ .a{} }}", " ^ 2".repeat(10_000)),
            format!("{{ .a{} }}", " + 1".repeat(10_000)),
            format!("{}{{ .a }}", "{ .a } > ".repeat(5_000)),
            format!("count() > {}1{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("{}1{} * ({{}} | rate())", "-".repeat(10_000), ""),
            format!("{{ .a = 1 {} }}", "|| .b = 2 && .c = 3 ".repeat(5_000)),
        ] {
            match parse(&src) {
                Err(Error::Parse(e)) => assert!(e.message.contains("maximum depth"), "{e}"),
                other => panic!("{}: {other:?}", &src[..40]),
            }
        }
        // just under the limit, deep trees still parse, print, validate, clone and drop on
        // a small stack
        for src in [
            nested_parens(250),
            format!("{{ {}.a }}", "!".repeat(248)),
            format!("{{ .a{} = 1 }}", " ^ 2".repeat(248)),
            format!("{{ .a{} > 1 }}", " + 1".repeat(248)),
            format!("{}{{ .a }}", "{ .a } > ".repeat(248)),
            format!("{{ .a {} }}", "|| .b && .c ".repeat(120)),
            format!("count(){} > 1", " + 1".repeat(248)),
            format!("({{}} | rate()){}", " * 2".repeat(248)),
        ] {
            let q = query(&src);
            assert_eq!(query(&q.to_string()), q.clone(), "{}", &src[..20]);
            let _ = crate::validate(&q);
            let _ = format!("{q:?}");
        }
    });
}

#[test]
fn long_flat_or_chains_are_fine() {
    on_small_stack(|| {
        // 2,600 trace IDs OR-ed together fit in 128 KiB and stay one flat node
        let ids: Vec<String> = (0..2_600)
            .map(|i| format!("trace:id = \"{i:032x}\""))
            .collect();
        let src = format!("{{ {} }}", ids.join(" || "));
        assert!(src.len() < crate::DEFAULT_MAX_QUERY_BYTES);
        let q = query(&src);
        let FieldExpr::Logical { operands, .. } = filter(&src) else {
            panic!()
        };
        assert_eq!(operands.len(), 2_600);
        // the canonical text can be longer than the input, so reparse without the size cap
        let unbounded = ParseOptions {
            max_query_bytes: usize::MAX,
            ..ParseOptions::default()
        };
        assert_eq!(
            parse_with_options(&q.to_string(), &unbounded).ok(),
            Some(q.clone())
        );
        crate::validate(&q).expect("valid");
        // the same at the spanset level
        let spansets: Vec<String> = (0..2_000).map(|i| format!("{{ .id = {i} }}")).collect();
        let q = query(&spansets.join(" || "));
        assert_eq!(query(&q.to_string()), q);
    });
}

#[test]
fn size_limit() {
    let big = format!("{{ .a = \"{}\" }}", "x".repeat(200 * 1024));
    match parse(&big) {
        Err(e @ Error::TooLarge { .. }) => assert_eq!(
            e.to_string(),
            "TraceQL expression exceeds the configured maximum size of 131072 bytes, reduce the query expression size or contact your system administrator"
        ),
        other => panic!("{other:?}"),
    }
    let exactly = format!("{{ .a = \"{}\" }}", "x".repeat(131_072 - 11));
    assert_eq!(exactly.len(), 131_072);
    assert!(parse(&exactly).is_ok());
    let tiny = ParseOptions {
        max_query_bytes: 8,
        max_depth: 2,
    };
    assert!(matches!(
        parse_with_options("{ .a = 1 }", &tiny),
        Err(Error::TooLarge { .. })
    ));
    let shallow = ParseOptions {
        max_query_bytes: 1024,
        max_depth: 3,
    };
    assert!(parse_with_options("{ .a }", &shallow).is_ok());
    assert!(parse_with_options("{ ((.a)) }", &shallow).is_err());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // a cheap deterministic fuzz: mutate valid queries byte-wise and parse the results
    let seeds = [
        "{ .a = 1 && span.b =~ \"x.*\" } >> { kind = server } | count() > 2 | by(.c)",
        "({} | rate() by (name)) * 2 + ({} | quantile_over_time(duration, .9)) | topk(3) with(sample=0.5)",
        "{ ...\"a\\\"b\" != nil || parent.span.x > -1.5e3 } !~ { event:name = `e` } | select(.x)",
        "max(duration) > 3s | { status = error || .http.status = 500 } | coalesce()",
    ];
    let alphabet: Vec<char> =
        "{}()[],.=!~<>&|^+-*/%\"`\\ \n\tabcdefghijklmnopqrstuvwxyz0123456789:_µé"
            .chars()
            .collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for _ in 0..3_000 {
            let mut c = chars.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % c.len();
                let r = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 => c[i] = r,
                    1 => c.insert(i, r),
                    _ => {
                        c.remove(i);
                    }
                }
                if c.is_empty() {
                    c.push('{');
                }
            }
            let src: String = c.into_iter().collect();
            if let Ok(q) = parse(&src) {
                let printed = q.to_string();
                assert_eq!(
                    parse(&printed).ok(),
                    Some(q.clone()),
                    "{src:?} -> {printed:?}"
                );
                let _ = crate::validate(&q);
            }
        }
    }
}
