//! Configuration: Tempo's `tempo.yaml` section and key names for everything tracecore implements.
//!
//! Loading order, as Tempo does it: defaults → YAML file (optionally with `${VAR}` expansion) →
//! command-line flags. A key we do not implement is named in a start-up warning, never ignored
//! silently. Without a file the embedded default runs: local storage under `./data`, OTLP on
//! 4317/4318, the API on 3200, a single tenant.

pub mod expand_env;
pub mod overrides;
pub mod redact;
pub mod schema;

use std::path::Path;

pub use overrides::{LimitsSpec, OverridesConfig, RateStrategy};
pub use redact::redacted_yaml;
pub use schema::*;

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A loaded configuration and the keys it contained that tracecore does not implement.
pub struct LoadedConfig {
    pub config: Config,
    pub unknown_keys: Vec<String>,
}

/// Loads `path` (or the embedded default when `None`).
pub fn load(path: Option<&Path>, expand_env: bool) -> Result<LoadedConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(LoadedConfig {
            config: Config::default(),
            unknown_keys: Vec::new(),
        });
    };
    let raw = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let text = if expand_env {
        expand_env::expand(&raw)
    } else {
        raw
    };
    parse(&text).map_err(|message| ConfigError::Parse {
        path: path.display().to_string(),
        message,
    })
}

/// Parses YAML text into a config, collecting unknown keys.
pub fn parse(text: &str) -> Result<LoadedConfig, String> {
    if text.trim().is_empty() {
        return Ok(LoadedConfig {
            config: Config::default(),
            unknown_keys: Vec::new(),
        });
    }
    let mut unknown_keys = Vec::new();
    let deserializer = yaml_serde::Deserializer::from_str(text);
    let config: Config = serde_ignored::deserialize(deserializer, |path| {
        unknown_keys.push(path.to_string());
    })
    .map_err(|e| e.to_string())?;
    Ok(LoadedConfig {
        config,
        unknown_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_embedded_default() {
        let loaded = parse("").unwrap();
        assert_eq!(loaded.config.server.http_listen_port, 3200);
        assert!(loaded.unknown_keys.is_empty());
    }

    #[test]
    fn memory_budgets_default_from_max_head_bytes_and_can_be_set() {
        let engine = parse("engine:\n  max_head_bytes: 1000\n")
            .unwrap()
            .config
            .engine_config();
        assert_eq!(
            (engine.max_memory_bytes, engine.max_head_bytes_per_tenant),
            (4000, 1000)
        );
        let yaml = "engine:\n  max_memory_bytes: 5000\n  max_head_bytes_per_tenant: 300\n";
        let engine = parse(yaml).unwrap().config.engine_config();
        assert_eq!(
            (engine.max_memory_bytes, engine.max_head_bytes_per_tenant),
            (5000, 300)
        );
        let zero = parse("engine:\n  max_memory_bytes: 0\n").unwrap().config;
        assert!(zero.validate().is_err());
    }

    #[test]
    fn tempo_keys_are_read_and_unknown_keys_are_named() {
        let yaml = r#"
multitenancy_enabled: true
server:
  http_listen_port: 3300
  grpc_server_max_recv_msg_size: 100
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "127.0.0.1:5317"
        http:
          endpoint: "127.0.0.1:5318"
ingester:
  trace_idle_period: 7s
  max_block_bytes: 1000
  lifecycler:
    ring:
      replication_factor: 3
storage:
  trace:
    backend: local
    local:
      path: /tmp/blocks
    wal:
      path: /tmp/wal
      sync: never
"#;
        let loaded = parse(yaml).unwrap();
        let c = &loaded.config;
        assert!(c.multitenancy_enabled);
        assert_eq!(c.server.http_listen_port, 3300);
        let otlp = c.distributor.receivers.otlp.as_ref().unwrap();
        assert_eq!(
            otlp.protocols.grpc.as_ref().unwrap().endpoint,
            "127.0.0.1:5317"
        );
        assert_eq!(c.ingester.trace_idle_period.0.as_secs(), 7);
        assert_eq!(c.ingester.max_block_bytes, 1000);
        assert_eq!(c.storage.trace.wal.sync, WalSyncSetting::Never);
        assert_eq!(
            loaded.unknown_keys,
            vec![
                "server.grpc_server_max_recv_msg_size".to_string(),
                "ingester.lifecycler".to_string()
            ]
        );
    }

    #[test]
    fn jaeger_and_zipkin_receivers_take_defaults_when_present_but_empty() {
        let yaml = r#"
distributor:
  receivers:
    jaeger:
      protocols:
        grpc:
        thrift_http:
        thrift_compact:
        thrift_binary:
    zipkin:
"#;
        let loaded = parse(yaml).unwrap();
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
        let receivers = &loaded.config.distributor.receivers;
        assert!(receivers.otlp.is_none(), "otlp runs only when configured");
        let jaeger = &receivers.jaeger.as_ref().unwrap().protocols;
        assert_eq!(jaeger.grpc.as_ref().unwrap().endpoint, "0.0.0.0:14250");
        assert_eq!(
            jaeger.thrift_http.as_ref().unwrap().endpoint,
            "0.0.0.0:14268"
        );
        assert_eq!(
            jaeger.thrift_compact.as_ref().unwrap().endpoint,
            "0.0.0.0:6831"
        );
        assert_eq!(
            jaeger.thrift_binary.as_ref().unwrap().endpoint,
            "0.0.0.0:6832"
        );
        assert_eq!(jaeger.thrift_compact.as_ref().unwrap().workers, 10);
        assert_eq!(receivers.zipkin.as_ref().unwrap().endpoint, "0.0.0.0:9411");
        loaded.config.validate().unwrap();
    }

    #[test]
    fn jaeger_and_zipkin_endpoints_are_read_and_absent_protocols_stay_off() {
        let yaml = r#"
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
    jaeger:
      protocols:
        thrift_http:
          endpoint: "127.0.0.1:24268"
          max_request_body_size: 1000
        thrift_binary:
          endpoint: "127.0.0.1:7832"
          workers: 3
          queue_size: 1000
    zipkin:
      endpoint: "127.0.0.1:19411"
"#;
        let loaded = parse(yaml).unwrap();
        let receivers = &loaded.config.distributor.receivers;
        let otlp = receivers.otlp.as_ref().unwrap();
        assert_eq!(
            otlp.protocols.grpc.as_ref().unwrap().endpoint,
            "0.0.0.0:4317"
        );
        assert!(otlp.protocols.http.is_none());
        let jaeger = &receivers.jaeger.as_ref().unwrap().protocols;
        assert!(jaeger.grpc.is_none() && jaeger.thrift_compact.is_none());
        let http = jaeger.thrift_http.as_ref().unwrap();
        assert_eq!(http.endpoint, "127.0.0.1:24268");
        assert_eq!(http.max_request_body_size, 1000);
        let binary = jaeger.thrift_binary.as_ref().unwrap();
        assert_eq!(
            (binary.endpoint.as_str(), binary.workers),
            ("127.0.0.1:7832", 3)
        );
        assert_eq!(
            receivers.zipkin.as_ref().unwrap().endpoint,
            "127.0.0.1:19411"
        );

        let err = parse("distributor:\n  receivers:\n    jaeger:\n      protocols:\n        thrift_compact:\n          workers: 0\n")
            .unwrap()
            .config
            .validate()
            .err()
            .unwrap();
        assert!(err.contains("thrift_compact.workers"), "{err}");
    }

    #[test]
    fn embedded_default_runs_only_otlp() {
        let receivers = Config::default().distributor.receivers;
        assert!(receivers.otlp.is_some());
        assert!(receivers.jaeger.is_none() && receivers.zipkin.is_none());
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = parse("server:\n  http_listen_port: lots\n").err().unwrap();
        assert!(err.contains("http_listen_port"), "{err}");
        let err = parse("ingester:\n  trace_idle_period: soon\n")
            .err()
            .unwrap();
        assert!(
            err.contains("ingester") && err.contains("\"soon\""),
            "{err}"
        );
    }
}
