//! `/status/config`: the effective configuration with secrets replaced (RELIABILITY.md promise 7).

use super::Config;

/// Keys whose values never leave the process (RELIABILITY.md promise 7).
const SECRET_KEYS: &[&str] = &[
    "secret_key",
    "access_key",
    "session_token",
    "storage_account_key",
    "password",
    "token",
    "service_account",
];

/// The effective configuration as YAML with secret values replaced by `********`.
pub fn redacted_yaml(config: &Config) -> Result<String, String> {
    let mut value = yaml_serde::to_value(config).map_err(|e| e.to_string())?;
    redact(&mut value);
    yaml_serde::to_string(&value).map_err(|e| e.to_string())
}

fn redact(value: &mut yaml_serde::Value) {
    match value {
        yaml_serde::Value::Mapping(map) => {
            for (key, v) in map.iter_mut() {
                let secret = key
                    .as_str()
                    .is_some_and(|k| SECRET_KEYS.iter().any(|s| k.ends_with(s)));
                if secret && !v.is_null() && v.as_str() != Some("") {
                    *v = yaml_serde::Value::String("********".to_string());
                } else {
                    redact(v);
                }
            }
        }
        yaml_serde::Value::Sequence(seq) => seq.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_and_the_rest_kept() {
        let mut value: yaml_serde::Value =
            yaml_serde::from_str("s3:\n  access_key: AKIA\n  secret_key: hunter2\n  bucket: b\n")
                .unwrap();
        redact(&mut value);
        let text = yaml_serde::to_string(&value).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("AKIA"),
            "{text}"
        );
        assert!(text.contains("bucket: b"), "{text}");
        assert!(
            redacted_yaml(&Config::default())
                .unwrap()
                .contains("http_listen_port: 3200")
        );
    }
}
