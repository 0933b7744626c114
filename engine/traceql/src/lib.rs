//! # tracecore-traceql — the TraceQL front end
//!
//! Owns everything between a query string and a checked syntax tree, for the whole language
//! of TEMPO-SPEC §3 (search and metrics queries):
//!
//! * [`lexer`]: hand-written tokenizer (durations, strings, attribute names, operators), tokens
//!   with line and column;
//! * [`parser`]: hand-written Pratt parser with Tempo's precedence and associativity;
//! * [`ast`]: the typed tree and its canonical text (`Display`);
//! * [`mod@validate`]: Tempo's semantic rules and messages.
//!
//! Place in the read path: `rpc` receives `q`, calls [`parse_and_validate`] and answers
//! 400 with the error's `Display` text on failure; the planner (later in this crate) and the
//! engine's scans consume the [`Query`].
//!
//! ## Invariants
//! * Errors, never panics, for any input: the size limit (128 KiB by default, Tempo's
//!   `max_query_expression_size_bytes`) is checked before lexing, and recursion depth and
//!   tree height are capped ([`ParseOptions::max_depth`]), so deep nesting cannot overflow
//!   the stack in the parser or in later walks over the tree.
//! * `parse(q.to_string()) == q` for every parsed `q` under the same depth limit: the printed
//!   form is canonical (spacing is normalised, so it can be longer than the input).
//! * Error texts are Tempo's: `invalid TraceQL query: parse error at line L, col C: …`, the
//!   validation message, or `… not yet supported`.
//! * No dependency on arrow, parquet or tokio.
//!
//! ## Entry points
//! [`parse`] / [`parse_with_options`] (text → [`Query`], limits applied), [`fn@validate`]
//! (Tempo's semantic rules), [`parse_and_validate`] (both; also `str::parse::<Query>()`).
//! [`lexer::tokenize`] exposes the tokens with positions (for editors and autocomplete).

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod validate;

pub use ast::*;
pub use error::{Error, ErrorKind, ParseError};
pub use parser::{DEFAULT_MAX_DEPTH, DEFAULT_MAX_QUERY_BYTES, ParseOptions};

/// Parses a query with the default limits. The result is not validated.
pub fn parse(query: &str) -> Result<Query, Error> {
    parse_with_options(query, &ParseOptions::default())
}

/// Parses a query with explicit limits. The result is not validated.
pub fn parse_with_options(query: &str, options: &ParseOptions) -> Result<Query, Error> {
    if query.len() > options.max_query_bytes {
        return Err(Error::TooLarge {
            size: query.len(),
            limit: options.max_query_bytes,
        });
    }
    let tokens = lexer::tokenize(query);
    parser::Parser::new(tokens, options.max_depth)
        .query()
        .map_err(Error::Parse)
}

/// Checks the semantic rules Tempo applies after parsing.
pub fn validate(query: &Query) -> Result<(), Error> {
    validate::validate(query)
}

/// Parses and validates: what the API does with a `q` parameter.
pub fn parse_and_validate(query: &str) -> Result<Query, Error> {
    let q = parse(query)?;
    validate(&q)?;
    Ok(q)
}

impl std::str::FromStr for Query {
    type Err = Error;

    /// Parses and validates.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_and_validate(s)
    }
}
