//! String literals and quoted attribute-name segments.
//!
//! Double-quoted strings take Go's escapes (`\a \b \f \n \r \t \v \\ \"`, three-digit octal,
//! `\xHH`, `\uHHHH`, `\UHHHHHHHH`) and may not span lines; back-quoted strings are raw and
//! drop carriage returns. Error texts are those of Go's scanner and `strconv.Unquote`, which
//! Tempo passes through. Unlike Go, the unescaped bytes must form valid UTF-8.

use super::Lexer;

const NOT_TERMINATED: &str = "literal not terminated";
const INVALID_ESCAPE: &str = "invalid char escape";
const INVALID_SYNTAX: &str = "invalid syntax";

/// A double-quoted string; the lexer is at the opening quote.
pub(super) fn lex_string(lx: &mut Lexer<'_>) -> Result<String, String> {
    lx.bump();
    let mut bytes = Vec::new();
    loop {
        let c = match lx.bump() {
            None | Some('\n') => return Err(NOT_TERMINATED.into()),
            Some('"') => break,
            Some(c) => c,
        };
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = lx.bump().ok_or_else(|| NOT_TERMINATED.to_string())?;
        match e {
            'a' => bytes.push(0x07),
            'b' => bytes.push(0x08),
            'f' => bytes.push(0x0c),
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'v' => bytes.push(0x0b),
            '\\' => bytes.push(b'\\'),
            '"' => bytes.push(b'"'),
            '0'..='7' => {
                let value = digits(lx, e, 8, 3)?;
                bytes.push(u8::try_from(value).map_err(|_| INVALID_SYNTAX.to_string())?);
            }
            'x' => {
                let first = lx.bump().ok_or_else(|| NOT_TERMINATED.to_string())?;
                let value = digits(lx, first, 16, 2)?;
                bytes.push(u8::try_from(value).map_err(|_| INVALID_SYNTAX.to_string())?);
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let first = lx.bump().ok_or_else(|| NOT_TERMINATED.to_string())?;
                let value = digits(lx, first, 16, n)?;
                let c = char::from_u32(value).ok_or_else(|| INVALID_SYNTAX.to_string())?;
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(INVALID_ESCAPE.into()),
        }
    }
    String::from_utf8(bytes).map_err(|_| "invalid UTF-8 in string literal".to_string())
}

/// `n` digits in `radix`, the first of which (`first`) is consumed already.
fn digits(lx: &mut Lexer<'_>, first: char, radix: u32, n: usize) -> Result<u32, String> {
    let mut value = first
        .to_digit(radix)
        .ok_or_else(|| INVALID_ESCAPE.to_string())?;
    for _ in 1..n {
        let d = lx
            .peek()
            .and_then(|c| c.to_digit(radix))
            .ok_or_else(|| INVALID_ESCAPE.to_string())?;
        lx.bump();
        value = value.saturating_mul(radix).saturating_add(d);
    }
    Ok(value)
}

/// A back-quoted raw string; the lexer is at the opening back quote.
pub(super) fn lex_raw_string(lx: &mut Lexer<'_>) -> Result<String, String> {
    lx.bump();
    let mut s = String::new();
    loop {
        match lx.bump() {
            None => return Err(NOT_TERMINATED.into()),
            Some('`') => return Ok(s),
            Some('\r') => {}
            Some(c) => s.push(c),
        }
    }
}

/// A double-quoted segment of an attribute name, appended to `name`; only `\"` and `\\` are
/// escapes. The lexer is at the opening quote.
pub(super) fn lex_quoted_attribute(lx: &mut Lexer<'_>, name: &mut String) -> Result<(), String> {
    lx.bump();
    loop {
        match lx.bump() {
            None => return Err("unexpected EOF, expecting \"".into()),
            Some('"') => return Ok(()),
            Some('\\') => match lx.peek() {
                Some(c @ ('"' | '\\')) => {
                    lx.bump();
                    name.push(c);
                }
                _ => return Err("invalid escape sequence".into()),
            },
            Some(c) => name.push(c),
        }
    }
}
