//! tracecore's tokio facade and the `tracecore` binary's library.
//!
//! Owns everything that talks to the network or to object storage: the ingest receivers (OTLP
//! gRPC and HTTP), Tempo's HTTP query API, tenancy (`X-Scope-OrgID`), configuration, metrics,
//! the object-store bucket and block catalog, and the bridge to the engine's shards.
//! Error-to-status mapping happens here and only here ([`status`]). This crate never holds
//! `Rc`/`RefCell`; shard state lives in `tracecore-engine` on glommio threads.
//!
//! Write path: receiver → body decode/size limit → [`otlp::skim`] (validate + split per trace)
//! → [`ingest::Ingester`] → shard mailboxes → durable ack → OTLP response.
//! Read path: [`api`] → [`query::trace_by_id`] → owning shard's memory + [`storage::catalog`].

pub mod api;
pub mod app;
pub mod config;
pub mod flags;
pub mod http_server;
pub mod ingest;
pub mod jaeger;
pub mod limits;
pub mod otlp;
pub mod query;
pub mod receivers;
pub mod status;
pub mod storage;
pub mod telemetry;
pub mod tempo_json;
pub mod tenancy;
pub mod zipkin;
