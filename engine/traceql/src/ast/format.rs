//! Go-compatible spellings of literals, so printed queries and labels read as Tempo's do.

use std::fmt::Write as _;

use crate::lexer::is_plain_attribute_name;

/// A float as Tempo prints a float literal: Go's shortest `%g` (`1.5`, `1e+06`, `1e-05`), with
/// `.0` appended when the text would read as an integer.
pub fn format_float(f: f64) -> String {
    let mut s = format_go_g(f);
    if f.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub(crate) fn format_go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: `-1.2345e6`
    let e = format!("{f:e}");
    let (neg, e) = match e.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, e.as_str()),
    };
    let (mantissa, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        return out;
    }
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let dp = exp + 1; // digits before the decimal point
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        for _ in 0..dp - nd {
            out.push('0');
        }
    } else {
        let split = usize::try_from(dp).unwrap_or(0);
        out.push_str(&digits[..split]);
        out.push('.');
        out.push_str(&digits[split..]);
    }
    out
}

/// A number in metrics second stages and scalar arithmetic: integers without a fraction.
pub(crate) fn format_metrics_number(v: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    format_go_g(v)
}

/// A duration as Go's `time.Duration.String()`: `1h0m0s`, `1.5s`, `100ms`, `250µs`, `7ns`.
pub fn format_duration(nanos: i64) -> String {
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            1..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        let frac = fraction(&mut u, prec);
        let _ = write!(out, "{u}{frac}{unit}");
    } else {
        let frac = fraction(&mut u, 9);
        let secs = u % 60;
        let minutes = u / 60;
        if minutes > 0 {
            let hours = minutes / 60;
            if hours > 0 {
                let _ = write!(out, "{hours}h");
            }
            let _ = write!(out, "{}m", minutes % 60);
        }
        let _ = write!(out, "{secs}{frac}s");
    }
    if nanos < 0 {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` (left in `v`) and its fraction `.ddd` without trailing zeros.
fn fraction(v: &mut u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let mut frac = *v % scale;
    *v /= scale;
    if frac == 0 {
        return String::new();
    }
    let mut width = prec;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    format!(".{frac:0width$}", width = width as usize)
}

/// A string literal: in back quotes like Tempo, or Go-escaped double quotes when the text
/// holds a back quote or a carriage return (which raw strings cannot keep).
pub(crate) fn quote_string(s: &str, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    if !s.contains(['`', '\r']) {
        return write!(out, "`{s}`");
    }
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c.is_control() => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// An attribute name after its scope prefix, quoted when it would not lex back unchanged.
pub(crate) fn write_attribute_name(
    name: &str,
    needs_quotes: bool,
    out: &mut impl std::fmt::Write,
) -> std::fmt::Result {
    if !needs_quotes && is_plain_attribute_name(name) {
        return out.write_str(name);
    }
    out.write_char('"')?;
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e300, "1e+300"),
            (123.456, "123.456"),
        ];
        for &(f, s) in cases {
            assert_eq!(format_float(f), s, "{f}");
            assert_eq!(s.parse::<f64>().ok(), Some(f), "{s} round-trips");
        }
        assert_eq!(format_metrics_number(10.0), "10");
        assert_eq!(format_metrics_number(-3.0), "-3");
        assert_eq!(format_metrics_number(0.5), "0.5");
    }

    #[test]
    fn durations_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (7, "7ns"),
            (1_500, "1.5µs"),
            (250_000, "250µs"),
            (100_000_000, "100ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (90_500_000_000, "1m30.5s"),
            (3_600_000_000_000, "1h0m0s"),
            (86_400_000_000_000, "24h0m0s"),
            (-1_500_000_000, "-1.5s"),
            (1_000_000_001, "1.000000001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
        ];
        for &(d, s) in cases {
            assert_eq!(format_duration(d), s);
            assert_eq!(
                crate::lexer::parse_duration(s.trim_start_matches('-')),
                Some(d.abs()),
                "{s} parses back"
            );
        }
    }

    #[test]
    fn strings_and_names() {
        let q = |s: &str| {
            let mut out = String::new();
            quote_string(s, &mut out).map(|()| out)
        };
        assert_eq!(q("a\"b").ok().as_deref(), Some("`a\"b`"));
        assert_eq!(q("a`b\r").ok().as_deref(), Some("\"a`b\\r\""));
        let n = |s: &str, force: bool| {
            let mut out = String::new();
            write_attribute_name(s, force, &mut out).map(|()| out)
        };
        assert_eq!(
            n("http.status_code", false).ok().as_deref(),
            Some("http.status_code")
        );
        assert_eq!(n("a b", false).ok().as_deref(), Some("\"a b\""));
        assert_eq!(n("a\"\\", false).ok().as_deref(), Some("\"a\\\"\\\\\""));
        assert_eq!(n("", false).ok().as_deref(), Some("\"\""));
        assert_eq!(n("1x", true).ok().as_deref(), Some("\"1x\""));
    }
}
