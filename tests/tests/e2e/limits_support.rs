//! Shared by the limits tests: raw OTLP/HTTP posts that keep the `Retry-After` header, metric
//! reads, and the `overrides:` section of a config.

use std::path::Path;
use std::time::{Duration, Instant};

use prost::Message;
use tracecore_proto::google_rpc::Status as RpcStatus;
use tracecore_proto::otlp::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tracecore_tests::Server;

/// One OTLP/HTTP protobuf export as the client saw it.
#[derive(Debug)]
pub struct Export {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The `google.rpc.Status` message of an error, empty on success.
    pub message: String,
    /// `partial_success.rejected_spans` of a 200.
    pub rejected_spans: i64,
    /// `partial_success.error_message` of a 200.
    pub partial_message: String,
}

/// `POST /v1/traces` (protobuf) as `tenant` (none in single-tenant mode).
pub async fn export_http(
    server: &Server,
    tenant: Option<&str>,
    request: &ExportTraceServiceRequest,
) -> Export {
    tracecore_tests::install_tls_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut builder = http
        .post(format!("{}/v1/traces", server.otlp_http_url()))
        .header("content-type", "application/x-protobuf");
    if let Some(t) = tenant {
        builder = builder.header("X-Scope-OrgID", t);
    }
    let response = builder.body(request.encode_to_vec()).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.unwrap();
    if status == 200 {
        let partial = ExportTraceServiceResponse::decode(body)
            .unwrap()
            .partial_success
            .unwrap_or_default();
        Export {
            status,
            retry_after,
            message: String::new(),
            rejected_spans: partial.rejected_spans,
            partial_message: partial.error_message,
        }
    } else {
        let message = RpcStatus::decode(body.clone()).map_or_else(
            |_| String::from_utf8_lossy(&body).into_owned(),
            |s| s.message,
        );
        Export {
            status,
            retry_after,
            message,
            rejected_spans: 0,
            partial_message: String::new(),
        }
    }
}

/// A metric's value from `/metrics` (`series` is the name with its labels, as exposed); 0 when
/// absent.
pub async fn metric(server: &Server, series: &str) -> f64 {
    let reply = server.client().get("/metrics", None).await.unwrap();
    reply
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Polls `check` every 100 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `overrides:` section: `defaults` (scoped YAML, indented by the caller's 4 spaces) and
/// optionally a per-tenant file re-read every second.
pub fn overrides_section(defaults: &str, per_tenant_file: Option<&Path>) -> String {
    let mut yaml = format!("overrides:\n  defaults:\n{defaults}");
    if let Some(file) = per_tenant_file {
        yaml.push_str(&format!(
            "  per_tenant_override_config: {}\n  per_tenant_override_period: 1s\n",
            file.display()
        ));
    }
    yaml
}

/// Spans in `request`.
pub fn spans_of(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len() as u64)
        .sum()
}
