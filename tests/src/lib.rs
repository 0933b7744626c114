//! End-to-end test harness for `tracecore`: start the real binary on free loopback ports, talk to
//! it with real clients, crash it, and compare what comes back with what went in.
//!
//! * [`server`]: spawn / restart / `kill -9` the binary; no process outlives its [`Server`].
//! * [`client`]: OTLP/gRPC and OTLP/HTTP (protobuf, JSON, gzip) ingest; the Tempo query API.
//! * [`otlp_json`]: OTLP/JSON writer (hex IDs) and a strict reader of Tempo's proto3 JSON.
//! * [`normalize`]: span-for-span comparison independent of grouping and order.
//! * [`readback`]: a trace by ID in all four forms (v1/v2 × JSON/protobuf) against what was sent.
//! * [`batch`]: an export request with the traces it carries.
//! * [`jaeger_zipkin`]: Jaeger (Thrift, agent datagrams, protobuf) and Zipkin v2 JSON encodings of
//!   generated traces, and the projection that compares them across protocols.
//!
//! The tests themselves live in `tests/e2e.rs` (one binary, modules under `tests/e2e/`). They need
//! `target/debug/tracecore` (or `TRACECORE_BIN`): `cargo build --bin tracecore` first.

pub mod batch;
pub mod client;
pub mod jaeger_zipkin;
pub mod normalize;
pub mod otlp_json;
pub mod readback;
pub mod server;

/// Installs rustls' ring crypto provider for the process (reqwest is built with
/// `rustls-no-provider` so the TLS tests choose the provider); idempotent. Call before
/// building any `reqwest::Client`.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub use batch::{TraceBatch, split_spans};
pub use client::{Client, Encoding, Format, HttpReply};
pub use normalize::{NormSpan, compare_spans, normalize};
pub use server::{Server, ServerOptions, WalSync};
pub use tracecore_benches::tracegen::{TraceGenerator, TraceId, TraceManifest};
