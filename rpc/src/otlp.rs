//! OTLP trace ingest, independent of transport: request bodies in, per-shard fragments out.
//!
//! The receivers (gRPC and HTTP) call into these in order:
//! 1. [`decompress::decode_body`] undoes `Content-Encoding` (identity, gzip, deflate, zstd) with
//!    a hard cap on the decoded size;
//! 2. for `application/json` bodies, [`json_in::parse_export_request_json`] turns OTLP/JSON into
//!    an `ExportTraceServiceRequest`, which the caller encodes with prost;
//! 3. [`skim::skim_export_request`] validates the protobuf bytes and splits them into one
//!    `TraceFragment` per trace, grouped by shard, without decoding spans into structs.
//!
//! Nothing here touches tokio, shards or metrics; mapping errors to HTTP/gRPC statuses is the
//! receivers' job.

pub mod decompress;
pub mod json_in;
pub mod skim;
