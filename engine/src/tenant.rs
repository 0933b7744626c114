//! Tenant IDs: validated before they touch any path or map (RELIABILITY.md promise 4).

use std::fmt;
use std::sync::Arc;

use crate::error::EngineError;

/// The tenant every request belongs to when multitenancy is off.
pub const SINGLE_TENANT: &str = "single-tenant";

/// Longest accepted tenant ID, in bytes.
pub const MAX_TENANT_ID_BYTES: usize = 150;

/// A validated tenant ID: 1–150 bytes of `[A-Za-z0-9!-_.*'()]`, never `.` or `..`.
///
/// Cheap to clone (shared string), safe to use as a path component.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// Validates `raw` with Tempo's rules.
    pub fn parse(raw: &str) -> Result<TenantId, EngineError> {
        let invalid = |reason| EngineError::InvalidTenant {
            tenant: raw.chars().take(MAX_TENANT_ID_BYTES + 10).collect(),
            reason,
        };
        if raw.is_empty() {
            return Err(invalid("tenant id is empty"));
        }
        if raw.len() > MAX_TENANT_ID_BYTES {
            return Err(invalid("tenant id is longer than 150 bytes"));
        }
        if raw == "." || raw == ".." {
            return Err(invalid("tenant id must not be '.' or '..'"));
        }
        if !raw.bytes().all(is_allowed_byte) {
            return Err(invalid(
                "tenant id may only contain A-Z a-z 0-9 and !-_.*'()",
            ));
        }
        Ok(TenantId(Arc::from(raw)))
    }

    /// The tenant of single-tenant mode.
    pub fn single() -> TenantId {
        TenantId(Arc::from(SINGLE_TENANT))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_allowed_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'-' | b'_' | b'.' | b'*' | b'\'' | b'(' | b')')
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tempo_tenant_ids() {
        for ok in [
            "a",
            "single-tenant",
            "team_1.prod",
            "x!*'()",
            &"a".repeat(150),
        ] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_path_tricks_and_odd_characters() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            "é",
            "a|b",
            &"a".repeat(151),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }
}
