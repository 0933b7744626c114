//! The unit of ingest that flows from a receiver to a shard: the spans of one trace.

use bytes::Bytes;

/// The spans of one trace from one request, still in OTLP wire form.
///
/// `otlp` holds one or more complete `TracesData.resource_spans` entries (field 1, wire type 2:
/// tag byte `0x0a`, varint length, encoded `ResourceSpans`), each containing only spans of
/// `trace_id`, under their original resource and scope. Concatenating the `otlp` of any number
/// of fragments therefore yields a valid `TracesData` (= `tempopb.Trace`) message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFragment {
    /// The 16-byte trace ID shared by every span in `otlp`.
    pub trace_id: [u8; 16],
    /// Number of spans in `otlp`.
    pub span_count: u32,
    /// Smallest span start time in the fragment, unix nanoseconds.
    pub start_unix_nano: u64,
    /// Largest span end time in the fragment, unix nanoseconds.
    pub end_unix_nano: u64,
    /// Encoded `resource_spans` entries (see above).
    pub otlp: Bytes,
}

impl TraceFragment {
    /// Encoded size of the fragment's payload.
    pub fn byte_len(&self) -> usize {
        self.otlp.len()
    }
}
