//! End-to-end tests: the real `tracecore` binary on free loopback ports, driven by real OTLP
//! clients and the Tempo query API. One test binary (ripgrep style); topics are modules.
//!
//! Needs the server binary: `cargo build --bin tracecore && cargo test -p tracecore-tests`.
//! `TRACECORE_BIN` overrides the binary; `TRACECORE_SOAK=1` turns the 3 kill -9 cycles into 20.

// Test code: helpers outside `#[test]` functions unwrap too (clippy only exempts test functions).
#![allow(clippy::unwrap_used)]

#[path = "e2e/config.rs"]
mod config;
#[path = "e2e/durability.rs"]
mod durability;
#[path = "e2e/hostile.rs"]
mod hostile;
#[path = "e2e/hostile_http.rs"]
mod hostile_http;
#[path = "e2e/hostile_values.rs"]
mod hostile_values;
#[path = "e2e/ingest.rs"]
mod ingest;
#[path = "e2e/jaeger_zipkin.rs"]
mod jaeger_zipkin;
#[path = "e2e/limits_attributes.rs"]
mod limits_attributes;
#[path = "e2e/limits_memory.rs"]
mod limits_memory;
#[path = "e2e/limits_noisy.rs"]
mod limits_noisy;
#[path = "e2e/limits_rate.rs"]
mod limits_rate;
#[path = "e2e/limits_support.rs"]
mod limits_support;
#[path = "e2e/limits_traces.rs"]
mod limits_traces;
#[path = "e2e/overload.rs"]
mod overload;
#[path = "e2e/query.rs"]
mod query;
#[path = "e2e/real_clients.rs"]
mod real_clients;
#[path = "e2e/search.rs"]
mod search;
#[path = "e2e/streaming.rs"]
mod streaming;
#[path = "e2e/tags.rs"]
mod tags;
#[path = "e2e/tenancy.rs"]
mod tenancy;
#[path = "e2e/tls.rs"]
mod tls;
