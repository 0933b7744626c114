//! Parquet blocks, format `tc2` (reads `tc1` too): the encoder that cuts them, the by-ID
//! reader, bloom filters and `meta.json`.
//!
//! A block is three objects under `<tenant>/<blockID>/`: `data.parquet` (one row per span, rows
//! sorted by trace ID then span start; the schema is documented in [`schema`]), `bloom-0` (a
//! split-block bloom filter over the block's trace IDs, [`BlockBloom`]) and `meta.json`
//! ([`BlockMeta`]), which is uploaded last and marks the block complete.
//!
//! Write path: the shard's head block cuts traces in trace-ID order into a [`BlockEncoder`]
//! (yielding between pushes) as their OTLP bytes ([`BlockEncoder::push_trace_otlp`], which walks
//! the wire format in place instead of prost-decoding), then [`BlockEncoder::finish`] returns an
//! [`EncodedBlock`].
//! Read path: [`BlockBloom::may_contain`] → [`load_block_metadata`] (cached per block) →
//! [`read_trace`], which prunes row groups and pages by trace-ID statistics.
//!
//! Invariants: the round trip is exact — every OTLP field of every span (IDs of any length,
//! start/end times even when end < start, event times, attribute value kinds, `None` vs empty
//! status) comes back as pushed, with spans regrouped under their resource and scope. The
//! engine never starts a runtime here; reads are `futures`-based async over `AsyncFileReader`.

mod attributes;
pub mod bloom;
pub mod bytes_reader;
mod columns;
mod decode;
pub mod dedicated;
pub mod encoder;
pub mod error;
mod hash;
mod headers;
pub mod layout;
pub mod meta;
mod nested;
mod otlp;
pub mod reader;
pub mod schema;
pub mod tag_index;
mod wire;

#[cfg(test)]
mod tests;

pub use bloom::BlockBloom;
pub use bytes_reader::BytesFileReader;
pub use encoder::{BlockEncoder, BlockEncoderOptions, EncodedBlock};
pub use error::{BlockError, BlockErrorKind};
pub use meta::BlockMeta;
pub use reader::{TraceRead, load_block_metadata, read_trace};
pub use tag_index::{BlockTagIndex, IndexedValues};
