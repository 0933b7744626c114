//! The per-tenant overrides file (`overrides.per_tenant_override_config`):
//! `overrides: {<tenant>: <scoped block>, "*": <scoped block>}`.

use std::collections::BTreeMap;

use serde::Deserialize;
use tracecore_engine::TenantId;

use super::LimitsError;
use crate::config::overrides::LimitsSpec;

/// The tenant that matches every tenant without an entry of its own.
pub const WILDCARD_TENANT: &str = "*";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OverridesFile {
    overrides: Option<BTreeMap<String, LimitsSpec>>,
}

/// A parsed per-tenant file: entries by tenant (including `"*"`), and the keys it holds that
/// tracecore does not implement.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedOverrides {
    pub tenants: BTreeMap<String, LimitsSpec>,
    pub unknown_keys: Vec<String>,
}

/// Parses the text of the per-tenant file read from `path` (named in errors).
pub fn parse_overrides_file(path: &str, text: &str) -> Result<ParsedOverrides, LimitsError> {
    if text.trim().is_empty() {
        return Ok(ParsedOverrides::default());
    }
    let mut unknown_keys = Vec::new();
    let deserializer = yaml_serde::Deserializer::from_str(text);
    let file: OverridesFile = serde_ignored::deserialize(deserializer, |key| {
        // `?` marks the `Option` around the map; it is not part of the key.
        unknown_keys.push(key.to_string().replace(".?", ""));
    })
    .map_err(|e| LimitsError::Parse {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let tenants = file.overrides.unwrap_or_default();
    for tenant in tenants.keys() {
        if tenant != WILDCARD_TENANT
            && let Err(error) = TenantId::parse(tenant)
        {
            return Err(LimitsError::Parse {
                path: path.to_string(),
                message: error.to_string(),
            });
        }
    }
    Ok(ParsedOverrides {
        tenants,
        unknown_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tenants_and_the_wildcard_and_names_unknown_keys() {
        let parsed = parse_overrides_file(
            "o.yaml",
            r#"
overrides:
  "tenant-a":
    ingestion:
      rate_limit_bytes: 100
      burst_size_bytes: 200
    metrics_generator:
      processors: [span-metrics]
  "*":
    global:
      max_bytes_per_trace: 7
"#,
        )
        .unwrap();
        assert_eq!(parsed.tenants.len(), 2);
        assert_eq!(
            parsed.tenants["tenant-a"].ingestion.rate_limit_bytes,
            Some(100)
        );
        assert_eq!(parsed.tenants["*"].global.max_bytes_per_trace, Some(7));
        assert_eq!(
            parsed.unknown_keys,
            vec!["overrides.tenant-a.metrics_generator".to_string()]
        );
    }

    #[test]
    fn empty_files_have_no_overrides() {
        assert!(parse_overrides_file("o", "").unwrap().tenants.is_empty());
        assert!(
            parse_overrides_file("o", "overrides:\n")
                .unwrap()
                .tenants
                .is_empty()
        );
    }

    #[test]
    fn bad_files_are_errors_that_name_the_file() {
        for bad in [
            "overrides: [1, 2]",
            "overrides:\n  a:\n    ingestion:\n      rate_limit_bytes: lots\n",
            "overrides:\n  \"a/b\": {}\n",
            "overrides: {a: {ingestion: {rate_strategy: sometimes}}}",
        ] {
            let error = parse_overrides_file("per-tenant.yaml", bad).unwrap_err();
            assert!(error.to_string().contains("per-tenant.yaml"), "{error}");
        }
    }
}
