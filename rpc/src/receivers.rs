//! Ingest receivers: one module per protocol and transport.

pub mod otlp_grpc;
pub mod otlp_http;
pub mod raw_codec;
pub mod retry_info;
