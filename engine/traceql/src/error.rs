//! Errors of the TraceQL front end. Every error is the client's fault (HTTP 400 / gRPC
//! `InvalidArgument`); mapping to statuses happens only in `rpc`.

use std::fmt;

/// What kind of failure an [`Error`] is, so the facade can answer with the right status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The query is malformed, semantically invalid, unsupported or too large.
    InvalidArgument,
}

/// A failure to turn query text into a valid [`crate::Query`].
///
/// `Display` renders the exact text Tempo answers with: `invalid TraceQL query: <detail>` for
/// parse, validation and unsupported-feature errors, and Tempo's size-limit sentence for
/// [`Error::TooLarge`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The query text is longer than the configured maximum.
    #[error(
        "TraceQL expression exceeds the configured maximum size of {limit} bytes, reduce the query expression size or contact your system administrator"
    )]
    TooLarge { size: usize, limit: usize },
    /// The text is not a TraceQL query (lexing, grammar, depth limit, constant folding).
    #[error("invalid TraceQL query: {0}")]
    Parse(#[from] ParseError),
    /// The query parses but breaks a semantic rule (types, regexes, limits).
    #[error("invalid TraceQL query: {0}")]
    Validation(String),
    /// The query parses and type-checks but uses a feature Tempo does not execute.
    #[error("invalid TraceQL query: {0} not yet supported")]
    Unsupported(String),
}

impl Error {
    /// The kind used to choose a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TooLarge { .. }
            | Error::Parse(_)
            | Error::Validation(_)
            | Error::Unsupported(_) => ErrorKind::InvalidArgument,
        }
    }

    /// The message without the `invalid TraceQL query: ` prefix.
    pub fn detail(&self) -> String {
        match self {
            Error::TooLarge { .. } => self.to_string(),
            Error::Parse(e) => e.to_string(),
            Error::Validation(m) => m.clone(),
            Error::Unsupported(f) => format!("{f} not yet supported"),
        }
    }
}

/// A syntax error with the 1-based line and column (in characters) of the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: u32, col: u32, message: impl Into<String>) -> Self {
        ParseError {
            line,
            col,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "parse error at line {}, col {}: {}",
            self.line, self.col, self.message
        )
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_tempo() {
        let e = Error::Parse(ParseError::new(1, 3, "syntax error: unexpected IDENTIFIER"));
        assert_eq!(
            e.to_string(),
            "invalid TraceQL query: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"
        );
        assert_eq!(
            Error::Unsupported("parent".into()).to_string(),
            "invalid TraceQL query: parent not yet supported"
        );
        assert_eq!(
            Error::TooLarge { size: 10, limit: 5 }.to_string(),
            "TraceQL expression exceeds the configured maximum size of 5 bytes, reduce the query expression size or contact your system administrator"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.detail(),
            "parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"
        );
    }
}
