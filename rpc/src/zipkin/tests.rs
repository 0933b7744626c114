//! Tests of the Zipkin decoders: the full mapping of hand-written JSON and payloads encoded with
//! prost and the generated Thrift code, and hostile inputs.

mod hostile;
pub(crate) mod v1;
pub(crate) mod v2;
mod v2_reference;
