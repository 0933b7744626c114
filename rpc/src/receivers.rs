//! Ingest receivers: one module per protocol and transport. Each converts its payload to an
//! OTLP `ExportTraceServiceRequest` and writes it through [`crate::ingest::Ingester`].
//!
//! | Module | Protocol | Tempo's default port |
//! |---|---|---|
//! | [`otlp_grpc`] | OTLP `TraceService/Export` | 4317 |
//! | [`otlp_http`] | OTLP `POST /v1/traces` | 4318 |
//! | [`jaeger_grpc`] | Jaeger `CollectorService/PostSpans` | 14250 |
//! | [`jaeger_http`] | Jaeger thrift `POST /api/traces` | 14268 |
//! | [`jaeger_udp`] | Jaeger agent `emitBatch`, compact / binary | 6831 / 6832 (UDP) |
//! | [`zipkin_http`] | Zipkin v1/v2, JSON / protobuf / thrift | 9411 |
//!
//! [`tls`]: the optional `tls` block of every TCP receiver (rustls; mutual TLS with
//! `client_ca_file`).

pub mod grpc_unary;
pub mod http_ingest;
pub mod jaeger_grpc;
pub mod jaeger_http;
pub mod jaeger_udp;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod raw_codec;
pub mod request_body;
pub mod retry_info;
pub mod tls;
pub mod zipkin_http;
