//! `-config.expand-env`: `${VAR}`, `${VAR:-default}` and `$VAR` substitution (envsubst semantics).

/// Replaces environment references in `text`. Unset variables become empty (or the default).
pub fn expand(text: &str) -> String {
    expand_with(text, |name| std::env::var(name).ok())
}

/// [`expand`] with an explicit lookup (for tests).
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(body) = after.strip_prefix('{') {
            if let Some(end) = body.find('}') {
                let inner = &body[..end];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                let value = lookup(name)
                    .filter(|v| !v.is_empty() || default.is_none())
                    .or_else(|| default.map(str::to_string))
                    .unwrap_or_default();
                out.push_str(&value);
                rest = &body[end + 1..];
                continue;
            }
        } else {
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len > 0 && !after.as_bytes()[0].is_ascii_digit() {
                out.push_str(&lookup(&after[..len]).unwrap_or_default());
                rest = &after[len..];
                continue;
            }
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_braced_default_and_bare_forms() {
        let env = |n: &str| match n {
            "A" => Some("alpha".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand_with("x ${A} y", env), "x alpha y");
        assert_eq!(expand_with("${B:-dflt}/${A:-no}", env), "dflt/alpha");
        assert_eq!(expand_with("${EMPTY:-d}", env), "d");
        assert_eq!(expand_with("$A-$B.", env), "alpha-.");
        assert_eq!(expand_with("cost $5 and $", env), "cost $5 and $");
    }
}
