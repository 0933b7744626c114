//! Rust types for Jaeger's Thrift IDL, generated once and committed.
//!
//! The three files next to this module were produced by the Apache Thrift compiler 0.17.0
//! (Debian's `thrift-compiler`) from `idl/{agent,jaeger,zipkincore}.thrift`, copied unchanged
//! from github.com/jaegertracing/jaeger-idl at commit `74be5630c18f2cd8446073a101b6c9e30bc4b4b6`
//! (Apache-2.0; their license headers are kept). `regenerate.sh` reruns the compiler and applies
//! the two mechanical rewrites every generated file's header lists; no thrift binary is needed at
//! build time. The code runs against the `thrift` crate 0.25.
//!
//! Only the struct types and their `read_from_in_protocol`/`write_to_out_protocol` are used by
//! the decoders; the generated service clients and processors are kept because regenerating
//! without them would mean editing the output by hand. Decoding untrusted bytes must go through
//! [`super::thrift_wire`], which sets the protocol limits that make these readers safe.

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, dead_code, missing_docs)]
pub mod agent;
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, dead_code, missing_docs)]
pub mod jaeger;
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, dead_code, missing_docs)]
pub mod zipkincore;
