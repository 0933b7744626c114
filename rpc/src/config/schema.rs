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
    /// Tempo's switch for `StreamingQuerier` on the HTTP port; accepted, and the service is
    /// served there whatever its value.
    pub stream_over_http_enabled: bool,
    pub server: ServerConfig,
    pub distributor: DistributorConfig,
    pub ingester: IngesterConfig,
    pub storage: StorageConfig,
    /// Per-tenant limits: defaults and the runtime per-tenant file.
    pub overrides: super::overrides::OverridesConfig,
    /// Ours: the shard pool.
    pub engine: EngineSection,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: "all".to_string(),
            multitenancy_enabled: false,
            http_api_prefix: String::new(),
            stream_over_http_enabled: false,
            server: ServerConfig::default(),
            distributor: DistributorConfig::default(),
            ingester: IngesterConfig::default(),
            storage: StorageConfig::default(),
            overrides: super::overrides::OverridesConfig::default(),
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
    /// Longest time a client may take to send a request (headers and body) on any HTTP port:
    /// the API and the HTTP receivers. Slower bodies get 408; 0 = no limit (as in Go).
    pub http_server_read_timeout: HumanDuration,
    /// Longest time a client may take to send its request headers; 0 = the read timeout. A
    /// connection still sending headers then (slow loris) is closed.
    pub http_server_read_header_timeout: HumanDuration,
}

impl ServerConfig {
    /// The timeouts every HTTP listener applies.
    pub fn http_timeouts(&self) -> crate::http_server::HttpTimeouts {
        let read = Some(self.http_server_read_timeout.0).filter(|d| !d.is_zero());
        let header = Some(self.http_server_read_header_timeout.0).filter(|d| !d.is_zero());
        crate::http_server::HttpTimeouts {
            read_header: header.or(read),
            read,
        }
    }
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
            http_server_read_timeout: HumanDuration(Duration::from_secs(30)),
            http_server_read_header_timeout: HumanDuration(Duration::ZERO),
        }
    }
}

/// `distributor:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DistributorConfig {
    pub receivers: ReceiversConfig,
    /// Attribute keys and string values longer than this are truncated (per-tenant override:
    /// `ingestion.max_attribute_bytes`); 0 = off.
    pub max_attribute_bytes: u64,
}

/// Tempo's default `distributor.max_attribute_bytes`.
pub const DEFAULT_MAX_ATTRIBUTE_BYTES: u64 = 2048;

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
                jaeger: None,
                zipkin: None,
            },
            max_attribute_bytes: DEFAULT_MAX_ATTRIBUTE_BYTES,
        }
    }
}

/// `distributor.receivers:` — a receiver or protocol runs only when its key is present. A key
/// present without a value (`grpc:`, as Tempo's documented configs write it) enables it with
/// the defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReceiversConfig {
    #[serde(deserialize_with = "present_means_enabled")]
    pub otlp: Option<OtlpReceiverConfig>,
    #[serde(deserialize_with = "present_means_enabled")]
    pub jaeger: Option<JaegerReceiverConfig>,
    #[serde(deserialize_with = "present_means_enabled")]
    pub zipkin: Option<ZipkinReceiverConfig>,
}

/// For `Option<T>` keys with `#[serde(default)]`: an absent key stays `None` (disabled), a key
/// present with a null value becomes `Some(T::default())` (enabled with defaults).
fn present_means_enabled<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
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
    #[serde(deserialize_with = "present_means_enabled")]
    pub grpc: Option<OtlpGrpcConfig>,
    #[serde(deserialize_with = "present_means_enabled")]
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
    /// TLS on this port; plaintext when absent.
    pub tls: Option<ReceiverTlsConfig>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: "0.0.0.0:4317".to_string(),
            max_recv_msg_size_mib: DEFAULT_MAX_REQUEST_BYTES >> 20,
            tls: None,
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
    /// TLS on this port; plaintext when absent.
    pub tls: Option<ReceiverTlsConfig>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: "0.0.0.0:4318".to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BYTES,
            traces_url_path: "/v1/traces".to_string(),
            tls: None,
        }
    }
}

/// `distributor.receivers.jaeger:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct JaegerReceiverConfig {
    pub protocols: JaegerProtocols,
}

/// `distributor.receivers.jaeger.protocols:` (OpenTelemetry Collector key names).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct JaegerProtocols {
    /// `jaeger.api_v2.CollectorService/PostSpans`.
    #[serde(deserialize_with = "present_means_enabled")]
    pub grpc: Option<JaegerGrpcConfig>,
    /// `POST /api/traces` with a Thrift-binary `Batch`.
    #[serde(deserialize_with = "present_means_enabled")]
    pub thrift_http: Option<JaegerThriftHttpConfig>,
    /// Agent `emitBatch` datagrams, Thrift compact (UDP); default endpoint `0.0.0.0:6831`.
    #[serde(deserialize_with = "udp_protocol::<_, 6831>")]
    pub thrift_compact: Option<JaegerUdpConfig>,
    /// Agent `emitBatch` datagrams, Thrift binary (UDP); default endpoint `0.0.0.0:6832`.
    #[serde(deserialize_with = "udp_protocol::<_, 6832>")]
    pub thrift_binary: Option<JaegerUdpConfig>,
}

/// [`present_means_enabled`] for a UDP protocol whose default port is `PORT`.
fn udp_protocol<'de, D, const PORT: u16>(d: D) -> Result<Option<JaegerUdpConfig>, D::Error>
where
    D: Deserializer<'de>,
{
    let mut config = Option::<JaegerUdpConfig>::deserialize(d)?.unwrap_or_default();
    if config.endpoint.is_empty() {
        config.endpoint = format!("0.0.0.0:{PORT}");
    }
    Ok(Some(config))
}

/// `...jaeger.protocols.grpc:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct JaegerGrpcConfig {
    pub endpoint: String,
    pub max_recv_msg_size_mib: usize,
    /// TLS on this port; plaintext when absent.
    pub tls: Option<ReceiverTlsConfig>,
}

impl Default for JaegerGrpcConfig {
    fn default() -> Self {
        JaegerGrpcConfig {
            endpoint: "0.0.0.0:14250".to_string(),
            max_recv_msg_size_mib: DEFAULT_MAX_REQUEST_BYTES >> 20,
            tls: None,
        }
    }
}

/// `...jaeger.protocols.thrift_http:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct JaegerThriftHttpConfig {
    pub endpoint: String,
    /// Largest body accepted after decompression (413 above).
    pub max_request_body_size: usize,
    /// TLS on this port; plaintext when absent.
    pub tls: Option<ReceiverTlsConfig>,
}

impl Default for JaegerThriftHttpConfig {
    fn default() -> Self {
        JaegerThriftHttpConfig {
            endpoint: "0.0.0.0:14268".to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BYTES,
            tls: None,
        }
    }
}

/// `...jaeger.protocols.thrift_compact:` / `thrift_binary:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct JaegerUdpConfig {
    /// Empty means the protocol's default (`0.0.0.0:6831` compact, `0.0.0.0:6832` binary),
    /// filled in while loading.
    pub endpoint: String,
    /// Datagrams being written to the WAL at once; datagrams arriving while all are busy are
    /// dropped and counted (UDP has no backpressure).
    pub workers: usize,
}

impl Default for JaegerUdpConfig {
    fn default() -> Self {
        JaegerUdpConfig {
            endpoint: String::new(),
            workers: 10,
        }
    }
}

/// `distributor.receivers.zipkin:` (OpenTelemetry Collector key names).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ZipkinReceiverConfig {
    pub endpoint: String,
    /// Largest body accepted after decompression (413 above).
    pub max_request_body_size: usize,
    /// TLS on this port; plaintext when absent.
    pub tls: Option<ReceiverTlsConfig>,
}

impl Default for ZipkinReceiverConfig {
    fn default() -> Self {
        ZipkinReceiverConfig {
            endpoint: "0.0.0.0:9411".to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BYTES,
            tls: None,
        }
    }
}

/// `...tls:` of a TCP receiver (the OpenTelemetry Collector's `configtls` server names). The
/// files are read and checked at start-up (`crate::receivers::tls`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReceiverTlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate.
    pub key_file: String,
    /// PEM CA certificates; when set, every client must present a certificate signed by one
    /// of them (mutual TLS).
    pub client_ca_file: String,
    /// Oldest TLS version accepted: `"1.2"` (default) or `"1.3"`. `"1.0"`/`"1.1"` are raised to
    /// 1.2 with a warning (rustls implements neither).
    pub min_version: String,
    /// Newest TLS version accepted: `"1.3"` (default) or `"1.2"`.
    pub max_version: String,
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
    /// Memory budget per shard in bytes (head plus cuts awaiting upload): over it ingest
    /// answers 429. Unset = 4 × `max_head_bytes`.
    pub max_memory_bytes: Option<usize>,
    /// A tenant's share of a shard's head block in bytes: over it that tenant's pushes to the
    /// shard answer 429 until the next cut. Unset = `max_head_bytes` (no per-tenant bound
    /// beyond the head's own).
    pub max_head_bytes_per_tenant: Option<usize>,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            shards: 0,
            io_memory_bytes: 0,
            mailbox_capacity: 1024,
            max_pending_cuts: 2,
            max_head_bytes: 64 << 20,
            max_memory_bytes: None,
            max_head_bytes_per_tenant: None,
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
        if !self.overrides.per_tenant_override_config.is_empty()
            && self.overrides.per_tenant_override_period.0.is_zero()
        {
            return Err("overrides.per_tenant_override_period must be > 0".to_string());
        }
        if self.engine.mailbox_capacity == 0 || self.engine.max_pending_cuts == 0 {
            return Err("engine.mailbox_capacity and engine.max_pending_cuts must be > 0".into());
        }
        if self.engine.max_head_bytes == 0
            || self.engine.max_memory_bytes == Some(0)
            || self.engine.max_head_bytes_per_tenant == Some(0)
        {
            return Err(
                "engine.max_head_bytes, engine.max_memory_bytes and engine.max_head_bytes_per_tenant must be > 0"
                    .into(),
            );
        }
        if let Some(jaeger) = &self.distributor.receivers.jaeger {
            let udp = [
                (
                    "thrift_compact",
                    jaeger.protocols.thrift_compact.as_ref().map(|c| c.workers),
                ),
                (
                    "thrift_binary",
                    jaeger.protocols.thrift_binary.as_ref().map(|c| c.workers),
                ),
            ];
            for (protocol, workers) in udp {
                if workers == Some(0) {
                    return Err(format!(
                        "distributor.receivers.jaeger.protocols.{protocol}.workers must be > 0"
                    ));
                }
            }
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
            max_memory_bytes: self
                .engine
                .max_memory_bytes
                .unwrap_or(self.engine.max_head_bytes.saturating_mul(4)),
            max_head_bytes_per_tenant: self
                .engine
                .max_head_bytes_per_tenant
                .unwrap_or(self.engine.max_head_bytes),
            row_group_spans: block.row_group_spans,
            zstd_level: block.zstd_level,
            bloom_false_positive: block.bloom_filter_false_positive,
            io_memory_bytes: self.engine.io_memory_bytes,
            ..tracecore_engine::EngineConfig::default()
        }
    }
}
