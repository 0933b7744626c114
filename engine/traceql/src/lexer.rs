//! The TraceQL tokenizer (TEMPO-SPEC §3.1), written by hand.
//!
//! It behaves like Tempo's lexer built on Go's `text/scanner`:
//! * whitespace is space, tab, CR and LF; `//` line and `/* */` block comments are skipped;
//! * numbers are decimal; a number immediately followed by digits, `.` and the duration unit
//!   letters (`n s u µ m h d w y`) is a duration if Prometheus' or Go's duration syntax accepts
//!   the whole run (`100ms`, `1h30m`, `1.5s`, `250us`, `1d`), otherwise a plain number;
//! * multi-character operators are matched greedily (`!>>` is one token);
//! * `span.`, `resource.`, `event.`, `link.`, `instrumentation.`, `parent.` and a bare `.`
//!   switch to *attribute mode*, which takes every character up to whitespace or one of
//!   `{ } ( ) = ~ ! < > & | ^ ,`, plus double-quoted segments with `\"` and `\\` escapes;
//! * `trace:`, `span:`, `event:`, `link:`, `instrumentation:` are intrinsic scope prefixes.
//!
//! The whole input is tokenized up front. A lexical error becomes a final
//! [`TokenKind::Error`] token, so the parser reports whichever error comes first in the text,
//! as Tempo's one-token-lookahead parser does. Every token carries its 1-based line and column
//! (counted in characters) and its byte offset.

mod duration;
mod literal;

use std::fmt;

pub use duration::parse_duration;

/// A keyword: a reserved identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    True,
    False,
    Nil,
    StatusOk,
    StatusError,
    StatusUnset,
    KindUnspecified,
    KindInternal,
    KindServer,
    KindClient,
    KindProducer,
    KindConsumer,
    Duration,
    ChildCount,
    Name,
    Status,
    StatusMessage,
    Kind,
    RootName,
    RootServiceName,
    RootService,
    TraceDuration,
    NestedSetLeft,
    NestedSetRight,
    NestedSetParent,
    Id,
    TraceId,
    SpanId,
    ParentId,
    TimeSinceStart,
    Version,
    Parent,
    Count,
    Avg,
    Max,
    Min,
    Sum,
    By,
    Coalesce,
    Select,
    Rate,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    AvgOverTime,
    SumOverTime,
    QuantileOverTime,
    HistogramOverTime,
    Compare,
    TopK,
    BottomK,
    With,
}

/// Every keyword with its spelling.
const KEYWORDS: &[(&str, Keyword)] = &[
    ("true", Keyword::True),
    ("false", Keyword::False),
    ("nil", Keyword::Nil),
    ("ok", Keyword::StatusOk),
    ("error", Keyword::StatusError),
    ("unset", Keyword::StatusUnset),
    ("unspecified", Keyword::KindUnspecified),
    ("internal", Keyword::KindInternal),
    ("server", Keyword::KindServer),
    ("client", Keyword::KindClient),
    ("producer", Keyword::KindProducer),
    ("consumer", Keyword::KindConsumer),
    ("duration", Keyword::Duration),
    ("childCount", Keyword::ChildCount),
    ("name", Keyword::Name),
    ("status", Keyword::Status),
    ("statusMessage", Keyword::StatusMessage),
    ("kind", Keyword::Kind),
    ("rootName", Keyword::RootName),
    ("rootServiceName", Keyword::RootServiceName),
    ("rootService", Keyword::RootService),
    ("traceDuration", Keyword::TraceDuration),
    ("nestedSetLeft", Keyword::NestedSetLeft),
    ("nestedSetRight", Keyword::NestedSetRight),
    ("nestedSetParent", Keyword::NestedSetParent),
    ("id", Keyword::Id),
    ("traceID", Keyword::TraceId),
    ("spanID", Keyword::SpanId),
    ("parentID", Keyword::ParentId),
    ("timeSinceStart", Keyword::TimeSinceStart),
    ("version", Keyword::Version),
    ("parent", Keyword::Parent),
    ("count", Keyword::Count),
    ("avg", Keyword::Avg),
    ("max", Keyword::Max),
    ("min", Keyword::Min),
    ("sum", Keyword::Sum),
    ("by", Keyword::By),
    ("coalesce", Keyword::Coalesce),
    ("select", Keyword::Select),
    ("rate", Keyword::Rate),
    ("count_over_time", Keyword::CountOverTime),
    ("min_over_time", Keyword::MinOverTime),
    ("max_over_time", Keyword::MaxOverTime),
    ("avg_over_time", Keyword::AvgOverTime),
    ("sum_over_time", Keyword::SumOverTime),
    ("quantile_over_time", Keyword::QuantileOverTime),
    ("histogram_over_time", Keyword::HistogramOverTime),
    ("compare", Keyword::Compare),
    ("topk", Keyword::TopK),
    ("bottomk", Keyword::BottomK),
    ("with", Keyword::With),
];

impl Keyword {
    /// The keyword spelled `word`, if any (case-sensitive).
    pub fn from_word(word: &str) -> Option<Keyword> {
        KEYWORDS.iter().find(|(w, _)| *w == word).map(|(_, k)| *k)
    }

    /// The keyword's spelling.
    pub fn as_str(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(w, _)| w)
    }
}

/// The scope of an attribute-mode prefix such as `span.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeDot {
    Span,
    Resource,
    Event,
    Link,
    Instrumentation,
    Parent,
}

impl ScopeDot {
    fn from_word(word: &str) -> Option<ScopeDot> {
        Some(match word {
            "span" => ScopeDot::Span,
            "resource" => ScopeDot::Resource,
            "event" => ScopeDot::Event,
            "link" => ScopeDot::Link,
            "instrumentation" => ScopeDot::Instrumentation,
            "parent" => ScopeDot::Parent,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeDot::Span => "span.",
            ScopeDot::Resource => "resource.",
            ScopeDot::Event => "event.",
            ScopeDot::Link => "link.",
            ScopeDot::Instrumentation => "instrumentation.",
            ScopeDot::Parent => "parent.",
        }
    }
}

/// The scope of an intrinsic prefix such as `span:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeColon {
    Trace,
    Span,
    Event,
    Link,
    Instrumentation,
}

impl ScopeColon {
    fn from_word(word: &str) -> Option<ScopeColon> {
        Some(match word {
            "trace" => ScopeColon::Trace,
            "span" => ScopeColon::Span,
            "event" => ScopeColon::Event,
            "link" => ScopeColon::Link,
            "instrumentation" => ScopeColon::Instrumentation,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeColon::Trace => "trace:",
            ScopeColon::Span => "span:",
            ScopeColon::Event => "event:",
            ScopeColon::Link => "link:",
            ScopeColon::Instrumentation => "instrumentation:",
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~` (regex non-match between fields, not-sibling between spansets)
    Nre,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `!`
    Not,
    /// `|`
    Pipe,
    /// `>>`
    Desc,
    /// `<<`
    Ance,
    /// `~`
    Sibl,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDesc,
    /// `!<<`
    NotAnce,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDesc,
    /// `&<<`
    UnionAnce,
    /// `&~`
    UnionSibl,
    Integer(i64),
    Float(f64),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A string literal, unescaped.
    String(String),
    /// An identifier that is not a keyword.
    Ident(String),
    Keyword(Keyword),
    /// A bare `.` that starts an unscoped attribute.
    Dot,
    /// `span.`, `resource.`, … : starts a scoped attribute.
    ScopeDot(ScopeDot),
    /// `trace:`, `span:`, … : prefixes a scoped intrinsic.
    ScopeColon(ScopeColon),
    /// An attribute name read in attribute mode (quotes removed, escapes resolved).
    AttrName(String),
    /// A character that starts no token.
    Invalid(char),
    /// A lexical error; always the last token.
    Error(String),
    /// End of input; always the last token unless an error came first.
    Eof,
}

impl TokenKind {
    /// The operator's spelling, if this is an operator or punctuation token.
    pub fn symbol(&self) -> Option<&'static str> {
        Some(match self {
            TokenKind::LBrace => "{",
            TokenKind::RBrace => "}",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::Comma => ",",
            TokenKind::Eq => "=",
            TokenKind::Neq => "!=",
            TokenKind::Re => "=~",
            TokenKind::Nre => "!~",
            TokenKind::Gt => ">",
            TokenKind::Gte => ">=",
            TokenKind::Lt => "<",
            TokenKind::Lte => "<=",
            TokenKind::Add => "+",
            TokenKind::Sub => "-",
            TokenKind::Mul => "*",
            TokenKind::Div => "/",
            TokenKind::Mod => "%",
            TokenKind::Pow => "^",
            TokenKind::And => "&&",
            TokenKind::Or => "||",
            TokenKind::Not => "!",
            TokenKind::Pipe => "|",
            TokenKind::Desc => ">>",
            TokenKind::Ance => "<<",
            TokenKind::Sibl => "~",
            TokenKind::NotChild => "!>",
            TokenKind::NotParent => "!<",
            TokenKind::NotDesc => "!>>",
            TokenKind::NotAnce => "!<<",
            TokenKind::UnionChild => "&>",
            TokenKind::UnionParent => "&<",
            TokenKind::UnionDesc => "&>>",
            TokenKind::UnionAnce => "&<<",
            TokenKind::UnionSibl => "&~",
            TokenKind::Dot => ".",
            _ => return None,
        })
    }
}

/// How a token is named in `syntax error: unexpected …` messages (Tempo's names).
impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.symbol() {
            return f.write_str(s);
        }
        match self {
            TokenKind::Integer(_) => f.write_str("INTEGER"),
            TokenKind::Float(_) => f.write_str("FLOAT"),
            TokenKind::Duration(_) => f.write_str("DURATION"),
            TokenKind::String(_) => f.write_str("STRING"),
            TokenKind::Ident(_) | TokenKind::AttrName(_) => f.write_str("IDENTIFIER"),
            TokenKind::Keyword(k) => f.write_str(k.as_str()),
            TokenKind::ScopeDot(s) => f.write_str(s.as_str()),
            TokenKind::ScopeColon(s) => f.write_str(s.as_str()),
            TokenKind::Invalid(c) => write!(f, "character {c:?}"),
            TokenKind::Error(m) => f.write_str(m),
            TokenKind::Eof => f.write_str("$end"),
            _ => f.write_str("?"),
        }
    }
}

/// Where a token starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// Byte offset into the query.
    pub offset: u32,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
}

/// Splits `src` into tokens. The result always ends with [`TokenKind::Eof`] or, after a
/// lexical error, with [`TokenKind::Error`].
pub fn tokenize(src: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        src,
        at: 0,
        line: 1,
        col: 1,
        tokens: Vec::with_capacity(src.len() / 3 + 2),
    };
    lexer.run();
    lexer.tokens
}

/// Characters that end an attribute name outside quotes (besides whitespace).
fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ','
        )
}

/// Whether an attribute name can be written without quotes after a scope prefix.
pub fn is_plain_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| is_attribute_char(c) && c != '"')
}

fn is_duration_char(c: char) -> bool {
    matches!(c, 'n' | 's' | 'u' | 'm' | 'h' | 'µ' | 'd' | 'w' | 'y') || c.is_numeric() || c == '.'
}

struct Lexer<'a> {
    src: &'a str,
    at: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.at..].chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.src[self.at..].chars().nth(n)
    }

    fn rest(&self) -> &str {
        &self.src[self.at..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
            offset: u32::try_from(self.at).unwrap_or(u32::MAX),
        }
    }

    fn push(&mut self, kind: TokenKind, pos: Pos) {
        self.tokens.push(Token { kind, pos });
    }

    fn run(&mut self) {
        loop {
            if let Err((msg, pos)) = self.skip_trivia() {
                self.push(TokenKind::Error(msg), pos);
                return;
            }
            let pos = self.pos();
            let Some(c) = self.peek() else {
                self.push(TokenKind::Eof, pos);
                return;
            };
            let kind = match self.next_token(c, pos) {
                Ok(Some(kind)) => kind,
                // the token (and any attribute name after it) was pushed already
                Ok(None) => continue,
                Err(msg) => {
                    self.push(TokenKind::Error(msg), pos);
                    return;
                }
            };
            self.push(kind, pos);
        }
    }

    /// Skips whitespace and comments; an unterminated block comment is an error.
    fn skip_trivia(&mut self) -> Result<(), (String, Pos)> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r') => {
                    self.bump();
                }
                Some('/') if self.peek_nth(1) == Some('/') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                Some('/') if self.peek_nth(1) == Some('*') => {
                    let pos = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(("comment not terminated".into(), pos)),
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Lexes one token starting with `c`. `Ok(None)` means the token was pushed already.
    fn next_token(&mut self, c: char, pos: Pos) -> Result<Option<TokenKind>, String> {
        let kind = match c {
            '{' => self.single(TokenKind::LBrace),
            '}' => self.single(TokenKind::RBrace),
            '(' => self.single(TokenKind::LParen),
            ')' => self.single(TokenKind::RParen),
            ',' => self.single(TokenKind::Comma),
            '+' => self.single(TokenKind::Add),
            '-' => self.single(TokenKind::Sub),
            '*' => self.single(TokenKind::Mul),
            '/' => self.single(TokenKind::Div),
            '%' => self.single(TokenKind::Mod),
            '^' => self.single(TokenKind::Pow),
            '~' => self.single(TokenKind::Sibl),
            '"' => TokenKind::String(literal::lex_string(self)?),
            '`' => TokenKind::String(literal::lex_raw_string(self)?),
            '0'..='9' => self.number()?,
            '.' if self.peek_nth(1).is_some_and(|d| d.is_ascii_digit()) => self.number()?,
            '.' => {
                self.bump();
                self.push(TokenKind::Dot, pos);
                self.attribute(false)?;
                return Ok(None);
            }
            '=' | '!' | '>' | '<' | '&' | '|' => self.operator(),
            c if c == '_' || c.is_alphabetic() => return self.word(pos),
            c => self.single(TokenKind::Invalid(c)),
        };
        Ok(Some(kind))
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        kind
    }

    /// The longest operator starting at the current position.
    fn operator(&mut self) -> TokenKind {
        const OPERATORS: &[(&str, TokenKind)] = &[
            ("!>>", TokenKind::NotDesc),
            ("!<<", TokenKind::NotAnce),
            ("&>>", TokenKind::UnionDesc),
            ("&<<", TokenKind::UnionAnce),
            ("!=", TokenKind::Neq),
            ("!~", TokenKind::Nre),
            ("!>", TokenKind::NotChild),
            ("!<", TokenKind::NotParent),
            ("=~", TokenKind::Re),
            (">=", TokenKind::Gte),
            (">>", TokenKind::Desc),
            ("<=", TokenKind::Lte),
            ("<<", TokenKind::Ance),
            ("&&", TokenKind::And),
            ("&>", TokenKind::UnionChild),
            ("&<", TokenKind::UnionParent),
            ("&~", TokenKind::UnionSibl),
            ("||", TokenKind::Or),
            ("=", TokenKind::Eq),
            ("!", TokenKind::Not),
            (">", TokenKind::Gt),
            ("<", TokenKind::Lt),
            ("|", TokenKind::Pipe),
        ];
        for (spelling, kind) in OPERATORS {
            if self.rest().starts_with(spelling) {
                for _ in 0..spelling.len() {
                    self.bump();
                }
                return kind.clone();
            }
        }
        // only a lone `&` gets here
        let c = self.bump().unwrap_or('&');
        TokenKind::Invalid(c)
    }

    /// An identifier, keyword, or scope prefix (`span.` / `span:`).
    fn word(&mut self, pos: Pos) -> Result<Option<TokenKind>, String> {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == '_' || c.is_alphanumeric() {
                self.bump();
            } else {
                break;
            }
        }
        let word = &self.src[start..self.at];
        match self.peek() {
            Some('.') => {
                if let Some(scope) = ScopeDot::from_word(word) {
                    self.bump();
                    self.push(TokenKind::ScopeDot(scope), pos);
                    self.attribute(scope == ScopeDot::Parent)?;
                    return Ok(None);
                }
            }
            Some(':') => {
                if let Some(scope) = ScopeColon::from_word(word) {
                    self.bump();
                    return Ok(Some(TokenKind::ScopeColon(scope)));
                }
            }
            _ => {}
        }
        Ok(Some(match Keyword::from_word(word) {
            Some(k) => TokenKind::Keyword(k),
            None => TokenKind::Ident(word.to_owned()),
        }))
    }

    /// Attribute mode after `.` or a scope prefix. Pushes an optional `span.`/`resource.`
    /// sub-scope (after `parent.`) and the name, if any. An error in a quoted segment is
    /// reported at the scope prefix, as Tempo does.
    fn attribute(&mut self, after_parent: bool) -> Result<(), String> {
        if after_parent {
            for (prefix, scope) in [("span.", ScopeDot::Span), ("resource.", ScopeDot::Resource)] {
                if self.rest().starts_with(prefix) {
                    let pos = self.pos();
                    for _ in 0..prefix.len() {
                        self.bump();
                    }
                    self.push(TokenKind::ScopeDot(scope), pos);
                    break;
                }
            }
        }
        let pos = self.pos();
        let mut name = String::new();
        let mut consumed = false;
        while let Some(c) = self.peek() {
            if c == '"' {
                literal::lex_quoted_attribute(self, &mut name)?;
            } else if is_attribute_char(c) {
                name.push(c);
                self.bump();
            } else {
                break;
            }
            consumed = true;
        }
        if consumed {
            self.push(TokenKind::AttrName(name), pos);
        }
        Ok(())
    }

    /// A number, or a duration when unit characters follow without a space.
    fn number(&mut self) -> Result<TokenKind, String> {
        let start = self.at;
        let mut is_float = false;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() == Some('.') {
            is_float = true;
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            is_float = true;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err("exponent has no digits".into());
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let text = &self.src[start..self.at];

        // a duration: the number plus the run of digits, dots and unit letters after it
        let suffix_len: usize = self
            .rest()
            .chars()
            .take_while(|&c| is_duration_char(c))
            .map(char::len_utf8)
            .sum();
        if suffix_len > 0 {
            let candidate = &self.src[start..self.at + suffix_len];
            if let Some(nanos) = parse_duration(candidate) {
                let end = self.at + suffix_len;
                while self.at < end {
                    self.bump();
                }
                return Ok(TokenKind::Duration(nanos));
            }
        }

        if is_float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(TokenKind::Float(f)),
                Ok(_) => Err(format!(
                    "strconv.ParseFloat: parsing {text:?}: value out of range"
                )),
                Err(_) => Err(format!(
                    "strconv.ParseFloat: parsing {text:?}: invalid syntax"
                )),
            }
        } else {
            text.parse::<i64>()
                .map(TokenKind::Integer)
                .map_err(|_| format!("strconv.Atoi: parsing {text:?}: value out of range"))
        }
    }
}

#[cfg(test)]
mod tests;
