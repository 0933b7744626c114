use super::*;

fn kinds(src: &str) -> Vec<TokenKind> {
    tokenize(src).into_iter().map(|t| t.kind).collect()
}

fn one(src: &str) -> TokenKind {
    let mut k = kinds(src);
    assert_eq!(k.len(), 2, "{src}: {k:?}");
    assert_eq!(k[1], TokenKind::Eof, "{src}");
    k.swap_remove(0)
}

#[test]
fn durations_with_every_unit() {
    let cases: &[(&str, i64)] = &[
        ("7ns", 7),
        ("5us", 5_000),
        ("5µs", 5_000),
        ("3ms", 3_000_000),
        ("2s", 2_000_000_000),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("5m", 300_000_000_000),
        ("2h", 7_200_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1h0m0s", 3_600_000_000_000),
        ("1d", 86_400_000_000_000),
        ("1w", 604_800_000_000_000),
        ("1y", 31_536_000_000_000_000),
        ("1.5µs", 1_500),
    ];
    for &(src, nanos) in cases {
        assert_eq!(one(src), TokenKind::Duration(nanos), "{src}");
    }
}

#[test]
fn numbers() {
    assert_eq!(one("42"), TokenKind::Integer(42));
    assert_eq!(one("007"), TokenKind::Integer(7));
    assert_eq!(one("1.5"), TokenKind::Float(1.5));
    assert_eq!(one(".5"), TokenKind::Float(0.5));
    assert_eq!(one("1."), TokenKind::Float(1.0));
    assert_eq!(one("1e3"), TokenKind::Float(1000.0));
    assert_eq!(one("1e+06"), TokenKind::Float(1e6));
    assert_eq!(one("2.5E-3"), TokenKind::Float(0.0025));
    assert_eq!(one("9223372036854775807"), TokenKind::Integer(i64::MAX));
    assert_eq!(
        kinds("9223372036854775808")[0],
        TokenKind::Error(
            "strconv.Atoi: parsing \"9223372036854775808\": value out of range".into()
        )
    );
    assert_eq!(
        kinds("1e400")[0],
        TokenKind::Error("strconv.ParseFloat: parsing \"1e400\": value out of range".into())
    );
    assert_eq!(
        kinds("1e")[0],
        TokenKind::Error("exponent has no digits".into())
    );
    // a number followed by letters that are no duration: number, then identifier
    assert_eq!(
        kinds("1ms2"),
        vec![
            TokenKind::Integer(1),
            TokenKind::Ident("ms2".into()),
            TokenKind::Eof
        ]
    );
    assert_eq!(
        kinds("3foo")[..2],
        [TokenKind::Integer(3), TokenKind::Ident("foo".into())]
    );
    // a space ends the number: `5 m` is not a duration
    assert_eq!(
        kinds("5 m")[..2],
        [TokenKind::Integer(5), TokenKind::Ident("m".into())]
    );
}

#[test]
fn strings_and_escapes() {
    assert_eq!(one(r#""a\"b\n""#), TokenKind::String("a\"b\n".into()));
    assert_eq!(
        one(r#""\a\b\f\n\r\t\v\\""#),
        TokenKind::String("\x07\x08\x0c\n\r\t\x0b\\".into())
    );
    assert_eq!(
        one(r#""\101\x42\u0043\U00000044""#),
        TokenKind::String("ABCD".into())
    );
    assert_eq!(one(r#""\u00e9""#), TokenKind::String("é".into()));
    assert_eq!(one(r#""\xc3\xa9""#), TokenKind::String("é".into()));
    assert_eq!(
        one("`raw \\n \"x\"`"),
        TokenKind::String("raw \\n \"x\"".into())
    );
    assert_eq!(one("`a\r\nb`"), TokenKind::String("a\nb".into()));
    assert_eq!(one("\"\""), TokenKind::String(String::new()));
    let err = |src: &str| kinds(src).into_iter().next();
    assert_eq!(
        err(r#""\q""#),
        Some(TokenKind::Error("invalid char escape".into()))
    );
    assert_eq!(
        err(r#""\'""#),
        Some(TokenKind::Error("invalid char escape".into()))
    );
    assert_eq!(
        err(r#""\x4""#),
        Some(TokenKind::Error("invalid char escape".into()))
    );
    assert_eq!(
        err(r#""\400""#),
        Some(TokenKind::Error("invalid syntax".into()))
    );
    assert_eq!(
        err(r#""\ud800""#),
        Some(TokenKind::Error("invalid syntax".into()))
    );
    assert_eq!(
        err(r#""\xff""#),
        Some(TokenKind::Error("invalid UTF-8 in string literal".into()))
    );
    assert_eq!(
        err("\"abc"),
        Some(TokenKind::Error("literal not terminated".into()))
    );
    assert_eq!(
        err("\"a\nb\""),
        Some(TokenKind::Error("literal not terminated".into()))
    );
    assert_eq!(
        err("`abc"),
        Some(TokenKind::Error("literal not terminated".into()))
    );
}

#[test]
fn operators_are_greedy() {
    use TokenKind as T;
    let k =
        kinds("= != =~ !~ > >= < <= + - * / % ^ && || ! | >> << ~ !> !< !>> !<< &> &< &>> &<< &~");
    assert_eq!(
        k,
        vec![
            T::Eq,
            T::Neq,
            T::Re,
            T::Nre,
            T::Gt,
            T::Gte,
            T::Lt,
            T::Lte,
            T::Add,
            T::Sub,
            T::Mul,
            T::Div,
            T::Mod,
            T::Pow,
            T::And,
            T::Or,
            T::Not,
            T::Pipe,
            T::Desc,
            T::Ance,
            T::Sibl,
            T::NotChild,
            T::NotParent,
            T::NotDesc,
            T::NotAnce,
            T::UnionChild,
            T::UnionParent,
            T::UnionDesc,
            T::UnionAnce,
            T::UnionSibl,
            T::Eof
        ]
    );
    assert_eq!(
        kinds("{a}!>>{b}")[3..5],
        [TokenKind::NotDesc, TokenKind::LBrace]
    );
    assert_eq!(kinds(">>=")[..2], [TokenKind::Desc, TokenKind::Eq]);
    assert_eq!(kinds("& x")[0], TokenKind::Invalid('&'));
}

#[test]
fn attributes() {
    use TokenKind as T;
    let name = |s: &str| T::AttrName(s.to_string());
    assert_eq!(kinds(".a"), vec![T::Dot, name("a"), T::Eof]);
    assert_eq!(
        kinds("span.http.status_code"),
        vec![
            T::ScopeDot(ScopeDot::Span),
            name("http.status_code"),
            T::Eof
        ]
    );
    assert_eq!(
        kinds("resource.service.name"),
        vec![
            T::ScopeDot(ScopeDot::Resource),
            name("service.name"),
            T::Eof
        ]
    );
    for (src, scope) in [
        ("event.x", ScopeDot::Event),
        ("link.x", ScopeDot::Link),
        ("instrumentation.x", ScopeDot::Instrumentation),
        ("parent.x", ScopeDot::Parent),
    ] {
        assert_eq!(
            kinds(src),
            vec![T::ScopeDot(scope), name("x"), T::Eof],
            "{src}"
        );
    }
    assert_eq!(
        kinds("parent.span.foo"),
        vec![
            T::ScopeDot(ScopeDot::Parent),
            T::ScopeDot(ScopeDot::Span),
            name("foo"),
            T::Eof
        ]
    );
    assert_eq!(
        kinds("parent.resource.foo")[1],
        T::ScopeDot(ScopeDot::Resource)
    );
    // names take dashes, slashes, colons, `*`, `+`, digits and Unicode
    assert_eq!(kinds(".a-b/c:d*2+1%é")[1], name("a-b/c:d*2+1%é"));
    // terminators
    assert_eq!(kinds(".a=1")[..3], [T::Dot, name("a"), T::Eq]);
    assert_eq!(kinds(".a}")[2], T::RBrace);
    assert_eq!(kinds(".a^2")[2], T::Pow);
    // quoted segments anywhere in a name
    assert_eq!(kinds(r#"."a b""#)[1], name("a b"));
    assert_eq!(kinds(r#"span.a."b c""#)[1], name("a.b c"));
    assert_eq!(kinds(r#"."a\"b\\c""#)[1], name("a\"b\\c"));
    assert_eq!(kinds(r#".x"""#)[1], name("x"));
    assert_eq!(
        kinds(r#".""#)[1],
        T::Error("unexpected EOF, expecting \"".into())
    );
    assert_eq!(
        kinds(r#"."\n""#)[1],
        T::Error("invalid escape sequence".into())
    );
    // no name: the parser reports the missing identifier
    assert_eq!(kinds(". foo")[..2], [T::Dot, T::Ident("foo".into())]);
    assert_eq!(kinds("span.")[..2], [T::ScopeDot(ScopeDot::Span), T::Eof]);
    // `.` before a digit is a number, and `trace.` is no scope
    assert_eq!(kinds(".5")[0], T::Float(0.5));
    assert_eq!(kinds("trace.a")[..2], [T::Ident("trace".into()), T::Dot]);
}

#[test]
fn intrinsic_scopes_and_keywords() {
    use TokenKind as T;
    assert_eq!(
        kinds("span:duration trace:id event:name link:traceID instrumentation:version"),
        vec![
            T::ScopeColon(ScopeColon::Span),
            T::Keyword(Keyword::Duration),
            T::ScopeColon(ScopeColon::Trace),
            T::Keyword(Keyword::Id),
            T::ScopeColon(ScopeColon::Event),
            T::Keyword(Keyword::Name),
            T::ScopeColon(ScopeColon::Link),
            T::Keyword(Keyword::TraceId),
            T::ScopeColon(ScopeColon::Instrumentation),
            T::Keyword(Keyword::Version),
            T::Eof
        ]
    );
    for (word, kw) in KEYWORDS {
        assert_eq!(one(word), T::Keyword(*kw), "{word}");
        assert_eq!(Keyword::from_word(word), Some(*kw));
        assert_eq!(kw.as_str(), *word);
    }
    assert_eq!(one("minInt"), T::Ident("minInt".into()));
    assert_eq!(one("Status"), T::Ident("Status".into()));
}

#[test]
fn comments_and_positions() {
    let toks = tokenize("{ .a = 1 } // trailing\n/* block\n */ && {\n  true }");
    let at: Vec<(u32, u32)> = toks.iter().map(|t| (t.pos.line, t.pos.col)).collect();
    assert_eq!(
        at,
        vec![
            (1, 1),
            (1, 3),
            (1, 4),
            (1, 6),
            (1, 8),
            (1, 10),
            (3, 5),
            (3, 8),
            (4, 3),
            (4, 8),
            (4, 9)
        ]
    );
    // columns count characters, not bytes
    let toks = tokenize("{ .é = \"ü\" }");
    assert_eq!(toks[3].pos.col, 6);
    assert_eq!(toks[4].pos.col, 8);
    assert_eq!(toks[5].pos.col, 12);
    assert_eq!(
        kinds("/* open")[0],
        TokenKind::Error("comment not terminated".into())
    );
}
