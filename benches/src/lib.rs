//! Benchmark support shared by the criterion benches, the `loadgen` binary and the end-to-end tests.
//!
//! * [`tracegen`]: a seeded generator of realistic OTLP traces (a simulated shop of a dozen
//!   services), with a manifest of every generated trace so readers can check completeness.
//! * [`latency`]: a bounded-memory log-linear latency histogram (≈1.6 % relative error).
//! * [`otlp_grpc`]: an OTLP/gRPC `Export` call that sends already-encoded (or broken) bytes.
//! * [`pool`]: pre-encoded export requests whose trace IDs are rewritten per send, so a load run
//!   never repeats a trace ID and never pays generation or encoding cost on the hot path.
//! * [`legacy`]: Jaeger Thrift (HTTP binary, agent UDP compact) and Zipkin v2 JSON encodings of
//!   generated requests, for `loadgen`'s non-OTLP modes.

pub mod latency;
pub mod legacy;
pub mod otlp_grpc;
pub mod pool;
pub mod tracegen;
