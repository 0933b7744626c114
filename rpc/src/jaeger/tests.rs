//! Tests of the Jaeger decoders: the full mapping of hand-built payloads encoded with the
//! generated Thrift code and prost, and hostile inputs.

pub(crate) mod alloc_probe;
pub(crate) mod fixtures;
mod fuzz_seeds;
mod hostile;
pub(crate) mod proto;
pub(crate) mod thrift;
