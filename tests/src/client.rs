//! Real clients for a running server: OTLP/gRPC and OTLP/HTTP ingest, the Tempo query API.
//!
//! Helpers return what the server said (status, content type, body) and leave judging it to the
//! tests; `*_ok` variants assert success for the common path and return decoded content.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use prost::Message;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tracecore_benches::otlp_grpc::{ExportOptions, export_raw};
use tracecore_benches::tracegen::TraceId;
use tracecore_proto::otlp::{
    ExportTraceServiceRequest, ExportTraceServiceResponse, ResourceSpans, TracesData,
};
use tracecore_proto::tempo::TraceByIdResponse;

use crate::otlp_json;

/// Request body encoding for OTLP/HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Response format asked for with `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Protobuf,
}

/// What an HTTP endpoint answered.
#[derive(Clone, Debug)]
pub struct HttpReply {
    pub status: u16,
    pub content_type: String,
    /// `Content-Encoding`, empty when absent.
    pub content_encoding: String,
    pub body: Bytes,
}

impl HttpReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "body is not JSON (HTTP {}): {:.300}",
                self.status,
                self.text()
            )
        })
    }

    /// Fails unless the status is `expected`, quoting the body.
    pub fn expect_status(&self, expected: u16) -> anyhow::Result<&Self> {
        if self.status != expected {
            bail!(
                "expected HTTP {expected}, got {} ({}): {:.500}",
                self.status,
                self.content_type,
                self.text()
            );
        }
        Ok(self)
    }
}

/// A client for one server (and optionally one tenant).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    otlp_http: String,
    grpc: Channel,
    tenant: Option<String>,
}

pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

impl Client {
    pub fn new(api: &str, otlp_http: &str, otlp_grpc: &str, tenant: Option<&str>) -> Client {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let grpc = match Endpoint::from_shared(otlp_grpc.to_owned()) {
            Ok(e) => e
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(60))
                .connect_lazy(),
            // Our own URLs are well-formed; a broken one fails at the first call instead.
            Err(_) => Endpoint::from_static("http://127.0.0.1:1").connect_lazy(),
        };
        Client {
            http,
            api: api.to_owned(),
            otlp_http: otlp_http.to_owned(),
            grpc,
            tenant: tenant.map(str::to_owned),
        }
    }

    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The same endpoints with another (or no) tenant.
    pub fn with_tenant(&self, tenant: Option<&str>) -> Client {
        Client {
            tenant: tenant.map(str::to_owned),
            ..self.clone()
        }
    }

    fn tenant_header(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.tenant {
            Some(t) => builder.header("X-Scope-OrgID", t),
            None => builder,
        }
    }

    async fn reply(response: reqwest::Response) -> anyhow::Result<HttpReply> {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let content_encoding = response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response
            .bytes()
            .await
            .context("reading the response body")?;
        Ok(HttpReply {
            status,
            content_type,
            content_encoding,
            body,
        })
    }

    // ---- ingest ----

    /// OTLP/gRPC `Export` of an already-encoded (possibly broken) body.
    pub async fn otlp_grpc_export_raw(
        &self,
        body: Vec<u8>,
        gzip: bool,
    ) -> Result<ExportTraceServiceResponse, Status> {
        let options = ExportOptions {
            tenant: self.tenant.clone(),
            gzip,
        };
        export_raw(self.grpc.clone(), body, &options).await
    }

    pub async fn otlp_grpc_export(
        &self,
        request: &ExportTraceServiceRequest,
        gzip: bool,
    ) -> Result<ExportTraceServiceResponse, Status> {
        self.otlp_grpc_export_raw(request.encode_to_vec(), gzip)
            .await
    }

    /// `POST /v1/traces` with any body and headers.
    pub async fn otlp_http_post(
        &self,
        body: Vec<u8>,
        content_type: &str,
        content_encoding: Option<&str>,
    ) -> anyhow::Result<HttpReply> {
        let mut builder = self
            .http
            .post(format!("{}/v1/traces", self.otlp_http))
            .header("content-type", content_type);
        if let Some(enc) = content_encoding {
            builder = builder.header("content-encoding", enc);
        }
        let response = self
            .tenant_header(builder)
            .body(body)
            .send()
            .await
            .context("POST /v1/traces")?;
        Self::reply(response).await
    }

    /// OTLP/HTTP export in the given encoding (JSON uses hex IDs per the OTLP/JSON spec).
    pub async fn otlp_http_export(
        &self,
        request: &ExportTraceServiceRequest,
        encoding: Encoding,
        gzip_body: bool,
    ) -> anyhow::Result<HttpReply> {
        let body = match encoding {
            Encoding::Protobuf => request.encode_to_vec(),
            Encoding::Json => serde_json::to_vec(&otlp_json::request_to_otlp_json(request))?,
        };
        let (body, enc) = if gzip_body {
            (gzip(&body), Some("gzip"))
        } else {
            (body, None)
        };
        self.otlp_http_post(body, encoding.content_type(), enc)
            .await
    }

    /// Exports over OTLP/gRPC and fails on anything but OK without rejected spans.
    pub async fn export_ok(&self, request: &ExportTraceServiceRequest) -> anyhow::Result<()> {
        let response = self
            .otlp_grpc_export(request, false)
            .await
            .map_err(|s| anyhow::anyhow!("export failed: {:?}: {}", s.code(), s.message()))?;
        if let Some(p) = response.partial_success
            && p.rejected_spans != 0
        {
            bail!("{} spans rejected: {}", p.rejected_spans, p.error_message);
        }
        Ok(())
    }

    // ---- query API ----

    /// `GET <path>` on the query API with an optional `Accept`.
    pub async fn get(
        &self,
        path_and_query: &str,
        accept: Option<&str>,
    ) -> anyhow::Result<HttpReply> {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        self.get_with_headers(path_and_query, &headers).await
    }

    /// `GET <path>` on the query API with extra request headers. The body is returned as sent
    /// (no transparent decompression).
    pub async fn get_with_headers(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<HttpReply> {
        let mut builder = self.http.get(format!("{}{path_and_query}", self.api));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = self
            .tenant_header(builder)
            .send()
            .await
            .with_context(|| format!("GET {path_and_query}"))?;
        Self::reply(response).await
    }

    pub async fn post(&self, path: &str) -> anyhow::Result<HttpReply> {
        let response = self
            .tenant_header(self.http.post(format!("{}{path}", self.api)))
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        Self::reply(response).await
    }

    fn accept(format: Format) -> &'static str {
        match format {
            Format::Json => "application/json",
            Format::Protobuf => "application/protobuf",
        }
    }

    /// `GET /api/traces/<id>` (id as given: any hex, short or malformed on purpose).
    pub async fn get_trace_v1(&self, id: &str, format: Format) -> anyhow::Result<HttpReply> {
        self.get(&format!("/api/traces/{id}"), Some(Self::accept(format)))
            .await
    }

    /// `GET /api/v2/traces/<id>`.
    pub async fn get_trace_v2(&self, id: &str, format: Format) -> anyhow::Result<HttpReply> {
        self.get(&format!("/api/v2/traces/{id}"), Some(Self::accept(format)))
            .await
    }

    /// The trace by ID (v1, protobuf); `None` on 404, an error on anything else but 200.
    pub async fn trace_v1(&self, id: &TraceId) -> anyhow::Result<Option<Vec<ResourceSpans>>> {
        let reply = self
            .get_trace_v1(&hex::encode(id), Format::Protobuf)
            .await?;
        match reply.status {
            404 => Ok(None),
            200 => Ok(Some(
                TracesData::decode(reply.body.clone())
                    .context("v1 protobuf body is not a tempopb.Trace")?
                    .resource_spans,
            )),
            _ => {
                reply.expect_status(200)?;
                Ok(None)
            }
        }
    }

    /// The trace by ID (v2, protobuf).
    pub async fn trace_v2(&self, id: &TraceId) -> anyhow::Result<TraceByIdResponse> {
        let reply = self
            .get_trace_v2(&hex::encode(id), Format::Protobuf)
            .await?;
        reply.expect_status(200)?;
        TraceByIdResponse::decode(reply.body.clone())
            .context("v2 protobuf body is not a TraceByIDResponse")
    }

    /// `POST /flush`: returns the reply (204 expected).
    pub async fn flush(&self) -> anyhow::Result<HttpReply> {
        self.post("/flush").await
    }
}
