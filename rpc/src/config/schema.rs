//! The configuration structs. Field names are Tempo's (TEMPO-SPEC §7.4) unless marked "ours".

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as Go/Tempo do (`5s`, `30m`, `1h30m`, `250ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| serde::de::Error::custom(format!("invalid duration {text:?}: {e}")))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    pub target: String,
    #[serde(alias = "auth_enabled")]
    pub multitenancy_enabled: bool,
    pub http_api_prefix: String,
    pub server: ServerConfig,
    pub distributor: DistributorConfig,
    pub ingester: IngesterConfig,
    pub storage: StorageConfig,
    /// Ours: the shard pool.
    pub engine: EngineSection,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: "all".to_string(),
            multitenancy_enabled: false,
            http_api_prefix: String::new(),
            server: ServerConfig::default(),
            distributor: DistributorConfig::default(),
            ingester: IngesterConfig::default(),
            storage: StorageConfig::default(),
            engine: EngineSection::default(),
        }
    }
}

/// `server:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerConfig {
    pub http_listen_address: String,
    pub http_listen_port: u16,
    /// Tempo's gRPC query port; reserved for the streaming querier (not served yet).
    pub grpc_listen_address: String,
    /// Tempo's gRPC query port; reserved for the streaming querier (not served yet).
    pub grpc_listen_port: u16,
    pub log_level: String,
    pub log_format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen_address: "0.0.0.0".to_string(),
            http_listen_port: 3200,
            grpc_listen_address: "0.0.0.0".to_string(),
            grpc_listen_port: 9095,
            log_level: "info".to_string(),
            log_format: "logfmt".to_string(),
        }
    }
}

/// `distributor:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DistributorConfig {
    pub receivers: ReceiversConfig,
}

impl Default for DistributorConfig {
    fn default() -> Self {
        DistributorConfig {
            receivers: ReceiversConfig {
                otlp: Some(OtlpReceiverConfig {
                    protocols: OtlpProtocols {
                        grpc: Some(OtlpGrpcConfig::default()),
                        http: Some(OtlpHttpConfig::default()),
                    },
                }),
            },
        }
    }
}

/// `distributor.receivers:` — a protocol runs only when configured.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReceiversConfig {
    pub otlp: Option<OtlpReceiverConfig>,
}

/// `distributor.receivers.otlp:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct OtlpReceiverConfig {
    pub protocols: OtlpProtocols,
}

/// `distributor.receivers.otlp.protocols:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct OtlpProtocols {
    pub grpc: Option<OtlpGrpcConfig>,
    pub http: Option<OtlpHttpConfig>,
}

/// Largest OTLP request accepted after decompression, by default.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 20 << 20;

/// `...protocols.grpc:` (OpenTelemetry Collector key names).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct OtlpGrpcConfig {
    pub endpoint: String,
    pub max_recv_msg_size_mib: usize,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: "0.0.0.0:4317".to_string(),
            max_recv_msg_size_mib: DEFAULT_MAX_REQUEST_BYTES >> 20,
        }
    }
}

/// `...protocols.http:` (OpenTelemetry Collector key names).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct OtlpHttpConfig {
    pub endpoint: String,
    pub max_request_body_size: usize,
    pub traces_url_path: String,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: "0.0.0.0:4318".to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BYTES,
            traces_url_path: "/v1/traces".to_string(),
        }
    }
}

/// `ingester:` (Tempo 2.x names).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct IngesterConfig {
    pub trace_idle_period: HumanDuration,
    pub flush_check_period: HumanDuration,
    pub max_block_duration: HumanDuration,
    pub max_block_bytes: usize,
}

impl Default for IngesterConfig {
    fn default() -> Self {
        IngesterConfig {
            trace_idle_period: HumanDuration(Duration::from_secs(5)),
            flush_check_period: HumanDuration(Duration::from_secs(10)),
            max_block_duration: HumanDuration(Duration::from_secs(30 * 60)),
            max_block_bytes: 500 << 20,
        }
    }
}

/// `storage:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct StorageConfig {
    pub trace: TraceStorageConfig,
}

/// `storage.trace:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TraceStorageConfig {
    pub backend: String,
    pub local: LocalBackendConfig,
    pub wal: WalConfig,
    pub block: BlockConfig,
}

impl Default for TraceStorageConfig {
    fn default() -> Self {
        TraceStorageConfig {
            backend: "local".to_string(),
            local: LocalBackendConfig::default(),
            wal: WalConfig::default(),
            block: BlockConfig::default(),
        }
    }
}

/// `storage.trace.local:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LocalBackendConfig {
    pub path: String,
}

impl Default for LocalBackendConfig {
    fn default() -> Self {
        LocalBackendConfig {
            path: "./data/blocks".to_string(),
        }
    }
}

/// `storage.trace.wal:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct WalConfig {
    pub path: String,
    /// Ours. `always` (default): fdatasync before every acknowledgement. `never`: UNSAFE, an
    /// acknowledged span can be lost on crash or power loss.
    pub sync: WalSyncSetting,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            path: "./data/wal".to_string(),
            sync: WalSyncSetting::Always,
        }
    }
}

/// `storage.trace.wal.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WalSyncSetting {
    #[default]
    Always,
    Never,
}

/// `storage.trace.block:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct BlockConfig {
    pub bloom_filter_false_positive: f64,
    /// Ours: spans per Parquet row group.
    pub row_group_spans: usize,
    /// Ours: zstd level of Parquet pages.
    pub zstd_level: i32,
}

impl Default for BlockConfig {
    fn default() -> Self {
        BlockConfig {
            bloom_filter_false_positive: 0.01,
            row_group_spans: 100_000,
            zstd_level: 3,
        }
    }
}

/// `engine:` (ours): the shard pool.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EngineSection {
    /// Shards; 0 = one per CPU the process may use.
    pub shards: usize,
    /// glommio DMA memory per shard in bytes; 0 = automatic from the memlock limit.
    pub io_memory_bytes: usize,
    /// Commands queued per shard before ingest answers 429.
    pub mailbox_capacity: usize,
    /// Cut blocks waiting for upload before ingest answers 429.
    pub max_pending_cuts: usize,
    /// Head block memory per shard in bytes: cut early when reached (bounds RSS).
    pub max_head_bytes: usize,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            shards: 0,
            io_memory_bytes: 0,
            mailbox_capacity: 1024,
            max_pending_cuts: 2,
            max_head_bytes: 128 << 20,
        }
    }
}

impl Config {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.storage.trace.backend != "local" {
            return Err(format!(
                "storage.trace.backend {:?} is not available yet (only \"local\")",
                self.storage.trace.backend
            ));
        }
        let bloom = self.storage.trace.block.bloom_filter_false_positive;
        if !(bloom > 0.0 && bloom < 1.0) {
            return Err(format!(
                "storage.trace.block.bloom_filter_false_positive must be in (0, 1), got {bloom}"
            ));
        }
        if self.storage.trace.block.row_group_spans == 0 {
            return Err("storage.trace.block.row_group_spans must be > 0".to_string());
        }
        if self.ingester.max_block_bytes == 0 {
            return Err("ingester.max_block_bytes must be > 0".to_string());
        }
        if self.engine.mailbox_capacity == 0 || self.engine.max_pending_cuts == 0 {
            return Err("engine.mailbox_capacity and engine.max_pending_cuts must be > 0".into());
        }
        Ok(())
    }

    /// The engine's settings derived from this config.
    pub fn engine_config(&self) -> tracecore_engine::EngineConfig {
        let block = &self.storage.trace.block;
        tracecore_engine::EngineConfig {
            shards: self.engine.shards,
            wal_path: self.storage.trace.wal.path.clone().into(),
            wal_sync: match self.storage.trace.wal.sync {
                WalSyncSetting::Always => tracecore_engine::WalSync::Always,
                WalSyncSetting::Never => tracecore_engine::WalSync::Never,
            },
            trace_idle_period: self.ingester.trace_idle_period.0,
            max_block_duration: self.ingester.max_block_duration.0,
            max_block_bytes: self.ingester.max_block_bytes,
            flush_check_period: self.ingester.flush_check_period.0,
            mailbox_capacity: self.engine.mailbox_capacity,
            max_pending_cuts: self.engine.max_pending_cuts,
            max_head_bytes: self.engine.max_head_bytes,
            row_group_spans: block.row_group_spans,
            zstd_level: block.zstd_level,
            bloom_false_positive: block.bloom_filter_false_positive,
            io_memory_bytes: self.engine.io_memory_bytes,
            ..tracecore_engine::EngineConfig::default()
        }
    }
}
