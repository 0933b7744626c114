//! The facade's Prometheus metrics (Tempo's names where TEMPO-SPEC §8 gives them) and logging.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::otlp::skim::TruncatedAttributes;

/// `{tenant}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

/// `{reason, tenant}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscardLabels {
    pub reason: String,
    pub tenant: String,
}

/// `{tenant, scope}`: where truncated attributes were (`resource`, `scope`, `span`, `event`,
/// `link`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TruncationLabels {
    pub tenant: String,
    pub scope: String,
}

/// `{receiver, outcome}` of a UDP datagram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DatagramLabels {
    pub receiver: String,
    pub outcome: String,
}

/// `{method, route, status_code, ws}` as dskit labels requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status_code: String,
    pub ws: String,
}

/// `{version, revision, branch, goversion}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub goversion: String,
}

fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Metrics of receivers and the query API.
#[derive(Clone)]
pub struct RpcMetrics {
    pub spans_received: Family<TenantLabels, Counter>,
    pub bytes_received: Family<TenantLabels, Counter>,
    pub ingress_bytes: Family<TenantLabels, Counter>,
    pub discarded_spans: Family<DiscardLabels, Counter>,
    /// Attribute keys and string values cut to `max_attribute_bytes`.
    pub attributes_truncated: Family<TruncationLabels, Counter>,
    pub request_duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pub build_info: Family<BuildLabels, Gauge>,
    /// Ours: UDP datagrams by receiver and outcome (`accepted`, `malformed`, `overloaded`,
    /// `refused_multitenant`, `failed`).
    pub datagrams: Family<DatagramLabels, Counter>,
}

impl RpcMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> RpcMetrics {
        let m = RpcMetrics {
            spans_received: Family::default(),
            bytes_received: Family::default(),
            ingress_bytes: Family::default(),
            discarded_spans: Family::default(),
            attributes_truncated: Family::default(),
            request_duration: Family::new_with_constructor(request_histogram),
            build_info: Family::default(),
            datagrams: Family::default(),
        };
        registry.register(
            "tempo_distributor_spans_received",
            "Spans accepted (durable) per tenant",
            m.spans_received.clone(),
        );
        registry.register(
            "tempo_distributor_bytes_received",
            "OTLP bytes of accepted spans per tenant",
            m.bytes_received.clone(),
        );
        registry.register(
            "tempo_distributor_ingress_bytes",
            "Request bytes received per tenant, before decompression",
            m.ingress_bytes.clone(),
        );
        registry.register(
            "tempo_discarded_spans",
            "Spans refused, by reason and tenant",
            m.discarded_spans.clone(),
        );
        registry.register(
            "tempo_distributor_attributes_truncated",
            "Attribute keys or values truncated to max_attribute_bytes, per tenant and scope",
            m.attributes_truncated.clone(),
        );
        registry.register(
            "tempo_request_duration_seconds",
            "Time to answer requests",
            m.request_duration.clone(),
        );
        registry.register(
            "tempo_build_info",
            "Build information (always 1)",
            m.build_info.clone(),
        );
        registry.register(
            "tracecore_receiver_datagrams",
            "UDP datagrams received, by receiver and outcome",
            m.datagrams.clone(),
        );
        m.build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
                revision: option_env!("TRACECORE_GIT_REVISION")
                    .unwrap_or("unknown")
                    .to_string(),
                branch: "main".to_string(),
                goversion: "none".to_string(),
            })
            .set(1);
        m
    }

    /// Counts refused spans.
    pub fn discard(&self, reason: &str, tenant: &str, spans: u64) {
        if spans > 0 {
            self.discarded_spans
                .get_or_create(&DiscardLabels {
                    reason: reason.to_string(),
                    tenant: tenant.to_string(),
                })
                .inc_by(spans);
        }
    }

    /// Counts truncated attribute keys and values (only the scopes that had some).
    pub fn attributes_truncated(&self, tenant: &str, truncated: &TruncatedAttributes) {
        for (scope, count) in truncated.by_scope() {
            if count > 0 {
                self.attributes_truncated
                    .get_or_create(&TruncationLabels {
                        tenant: tenant.to_string(),
                        scope: scope.to_string(),
                    })
                    .inc_by(count);
            }
        }
    }

    /// Counts one UDP datagram.
    pub fn datagram(&self, receiver: &str, outcome: &str) {
        self.datagrams
            .get_or_create(&DatagramLabels {
                receiver: receiver.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

/// Starts logging: `server.log_level` (overridable with `RUST_LOG`), logfmt-like or JSON-free text.
pub fn init_logging(level: &str) {
    let default = format!("{level},glommio::reactor=off,glommio::sys=warn");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
