//! Tempo-style command-line flags: `-config.file=x`, `-config.file x`, `--target=all`, `-flag`.

use std::collections::BTreeMap;

/// Parsed flags (name without dashes → value; booleans given bare get "true").
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags {
    values: BTreeMap<String, String>,
}

/// Flags that take a value from the next argument when written without `=`.
const VALUE_FLAGS: &[&str] = &[
    "config.file",
    "target",
    "server.http-listen-port",
    "storage.trace.backend",
    "storage.trace.local.path",
    "storage.trace.wal.path",
    "http-api-prefix",
];
/// Flags that are booleans.
const BOOL_FLAGS: &[&str] = &[
    "config.expand-env",
    "config.verify",
    "multitenancy.enabled",
    "auth.enabled",
    "version",
    "help",
    "h",
];

impl Flags {
    /// Parses `args` (without the program name).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, String> {
        let mut values = BTreeMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(format!("unexpected argument {arg:?}: flags start with -"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None if BOOL_FLAGS.contains(&body) => (body.to_string(), "true".to_string()),
                None if VALUE_FLAGS.contains(&body) => {
                    let v = args
                        .next()
                        .ok_or_else(|| format!("flag -{body} needs a value"))?;
                    (body.to_string(), v)
                }
                None => return Err(format!("unknown flag -{body}")),
            };
            if !VALUE_FLAGS.contains(&name.as_str()) && !BOOL_FLAGS.contains(&name.as_str()) {
                return Err(format!("unknown flag -{name}"));
            }
            values.insert(name, value);
        }
        Ok(Flags { values })
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A boolean flag (`-x`, `-x=true`, `-x=false`).
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(other) => Err(format!("flag -{name} wants true or false, got {other:?}")),
        }
    }
}

/// The usage text of `-help`.
pub const USAGE: &str = "usage: tracecore [-config.file=<path>] [-config.expand-env] [-config.verify] \
[-target=all] [-multitenancy.enabled] [-server.http-listen-port=<port>] \
[-storage.trace.local.path=<dir>] [-storage.trace.wal.path=<dir>] [-version]";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, String> {
        Flags::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_style_flags() {
        let f = parse(&[
            "-config.file=/etc/tempo.yaml",
            "--target",
            "all",
            "-config.expand-env",
        ])
        .unwrap();
        assert_eq!(f.get("config.file"), Some("/etc/tempo.yaml"));
        assert_eq!(f.get("target"), Some("all"));
        assert!(f.bool("config.expand-env").unwrap());
        assert!(!f.bool("multitenancy.enabled").unwrap());
    }

    #[test]
    fn unknown_and_incomplete_flags_are_errors() {
        assert!(parse(&["-nope"]).is_err());
        assert!(parse(&["-config.file"]).is_err());
        assert!(parse(&["stray"]).is_err());
        assert!(
            parse(&["-config.expand-env=maybe"])
                .unwrap()
                .bool("config.expand-env")
                .is_err()
        );
    }
}
