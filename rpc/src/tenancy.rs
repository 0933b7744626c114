//! Which tenant a request belongs to (`X-Scope-OrgID`), validated before it touches anything.

use tracecore_engine::TenantId;

/// The header (HTTP) and metadata key (gRPC, lowercase) carrying the tenant.
pub const ORG_ID_HEADER: &str = "x-scope-orgid";

/// Why no tenant could be established.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Multitenancy is on and the request named no tenant (Tempo answers 401 `no org id`).
    #[error("no org id")]
    Missing,
    /// The header is present but not a valid tenant ID (400).
    #[error("{0}")]
    Invalid(String),
}

/// Resolves the tenant of a request from the raw header values it carried.
pub fn resolve_tenant<'a>(
    multitenancy: bool,
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Result<TenantId, TenantError> {
    if !multitenancy {
        return Ok(TenantId::single());
    }
    let first = values.next().ok_or(TenantError::Missing)?;
    if values.next().is_some() {
        return Err(TenantError::Invalid(
            "more than one X-Scope-OrgID header".to_string(),
        ));
    }
    let text = std::str::from_utf8(first)
        .map_err(|_| TenantError::Invalid("X-Scope-OrgID is not valid utf-8".to_string()))?
        .trim();
    if text.is_empty() {
        return Err(TenantError::Missing);
    }
    if text.contains('|') {
        return Err(TenantError::Invalid(format!(
            "multi-tenant queries are not supported yet: {text:?}"
        )));
    }
    TenantId::parse(text).map_err(|e| TenantError::Invalid(e.to_string()))
}

/// Resolves the tenant from HTTP headers.
pub fn tenant_from_headers(
    multitenancy: bool,
    headers: &http::HeaderMap,
) -> Result<TenantId, TenantError> {
    resolve_tenant(
        multitenancy,
        headers.get_all(ORG_ID_HEADER).iter().map(|v| v.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_tenant_mode_ignores_the_header() {
        let t = resolve_tenant(false, [b"x".as_slice()].into_iter()).unwrap();
        assert_eq!(t.as_str(), "single-tenant");
    }

    #[test]
    fn multitenant_mode_requires_a_valid_header() {
        assert!(matches!(
            resolve_tenant(true, std::iter::empty()),
            Err(TenantError::Missing)
        ));
        assert!(matches!(
            resolve_tenant(true, [b"../x".as_slice()].into_iter()),
            Err(TenantError::Invalid(_))
        ));
        assert_eq!(
            resolve_tenant(true, [b"team-a".as_slice()].into_iter())
                .unwrap()
                .as_str(),
            "team-a"
        );
    }
}
