//! The golden TraceQL corpus: every line of `tests/corpus/*.txt` is a query.
//!
//! * `valid.txt`: parses, validates, and its canonical text parses back to an equal tree
//!   (and prints identically again);
//! * `parse_error.txt`: fails to parse (`Error::Parse`);
//! * `validation_error.txt`: parses, then fails validation (`Error::Validation`, or
//!   `Error::Unsupported` when the expectation starts with `unsupported: `).
//!
//! A line may end with ` ==> text`: the error message must contain `text`.
//! `tests/corpus/outcomes.golden` records the canonical text or the full error of every line;
//! after reviewing a change, regenerate it with
//! `TRACEQL_BLESS=1 cargo test -p tracecore-traceql --test corpus`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use tracecore_traceql::{Error, ParseOptions, parse, parse_with_options, validate};

/// Checks one case; `Ok` holds the outcome recorded in the golden file.
type Check = fn(&Case) -> Result<String, String>;

struct Case {
    file: &'static str,
    line: usize,
    query: String,
    expect: Option<String>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn load(file: &'static str) -> Vec<Case> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let (query, expect) = match l.split_once(" ==> ") {
                Some((q, e)) => (q.to_string(), Some(e.trim_end().to_string())),
                None => (l.to_string(), None),
            };
            Case {
                file,
                line: i + 1,
                query,
                expect,
            }
        })
        .collect()
}

fn unbounded() -> ParseOptions {
    ParseOptions {
        max_query_bytes: usize::MAX,
        ..ParseOptions::default()
    }
}

/// The canonical text of a valid case, or the failure (as an error string).
fn check_valid(c: &Case) -> Result<String, String> {
    let q = parse(&c.query).map_err(|e| format!("does not parse: {e}"))?;
    validate(&q).map_err(|e| format!("does not validate: {e}"))?;
    let text = q.to_string();
    let again = parse_with_options(&text, &unbounded())
        .map_err(|e| format!("canonical text {text:?} does not parse: {e}"))?;
    if again != q {
        return Err(format!(
            "canonical text {text:?} parses to a different tree"
        ));
    }
    if again.to_string() != text {
        return Err(format!("canonical text {text:?} is not stable"));
    }
    Ok(text)
}

fn check_parse_error(c: &Case) -> Result<String, String> {
    match parse(&c.query) {
        Err(e @ Error::Parse(_)) => {
            let text = e.to_string();
            if !text.starts_with("invalid TraceQL query: parse error at line ") {
                return Err(format!("unexpected error format: {text}"));
            }
            expect_fragment(c, &text)?;
            Ok(text)
        }
        Err(e) => Err(format!("wrong error class: {e}")),
        Ok(q) => Err(format!("parsed as {q}")),
    }
}

fn check_validation_error(c: &Case) -> Result<String, String> {
    let q = parse(&c.query).map_err(|e| format!("does not parse: {e}"))?;
    let err = match validate(&q) {
        Ok(()) => return Err(format!("validated: {q}")),
        Err(e) => e,
    };
    let text = err.to_string();
    let want_unsupported = c
        .expect
        .as_deref()
        .is_some_and(|e| e.starts_with("unsupported: "));
    match (&err, want_unsupported) {
        (Error::Unsupported(_), true) | (Error::Validation(_), false) => {}
        _ => return Err(format!("wrong error class: {err:?}")),
    }
    if !text.starts_with("invalid TraceQL query: ") {
        return Err(format!("unexpected error format: {text}"));
    }
    expect_fragment(c, &text)?;
    Ok(text)
}

fn expect_fragment(c: &Case, message: &str) -> Result<(), String> {
    let Some(expect) = &c.expect else {
        return Ok(());
    };
    let fragment = expect.strip_prefix("unsupported: ").unwrap_or(expect);
    if message.contains(fragment) {
        Ok(())
    } else {
        Err(format!("message {message:?} lacks {fragment:?}"))
    }
}

#[test]
fn corpus() {
    let files: [(&'static str, Check); 3] = [
        ("valid.txt", check_valid),
        ("parse_error.txt", check_parse_error),
        ("validation_error.txt", check_validation_error),
    ];
    let mut failures = Vec::new();
    let mut golden = String::new();
    let mut seen = HashSet::new();
    let mut total = 0;
    for (file, check) in files {
        let cases = load(file);
        assert!(
            cases.len() >= 100,
            "{file} has only {} queries",
            cases.len()
        );
        total += cases.len();
        let _ = writeln!(golden, "# {file}");
        for c in &cases {
            if !seen.insert(c.query.clone()) {
                failures.push(format!(
                    "{}:{}: duplicate query {:?}",
                    c.file, c.line, c.query
                ));
            }
            match check(c) {
                Ok(outcome) => {
                    let _ = writeln!(golden, "{:?} -> {:?}", c.query, outcome);
                }
                Err(why) => failures.push(format!("{}:{}: {:?}: {why}", c.file, c.line, c.query)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 500, "corpus has {total} queries");

    let golden_path = corpus_dir().join("outcomes.golden");
    if std::env::var_os("TRACEQL_BLESS").is_some() {
        std::fs::write(&golden_path, &golden).expect("writing outcomes.golden");
        return;
    }
    let recorded = std::fs::read_to_string(&golden_path).unwrap_or_default();
    if recorded != golden {
        let first = recorded
            .lines()
            .zip(golden.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("recorded: {a}\n     now: {b}"))
            .unwrap_or_else(|| "the files differ in length".into());
        panic!(
            "tests/corpus/outcomes.golden is out of date (review, then rerun with TRACEQL_BLESS=1)\n{first}"
        );
    }
}
