//! Jaeger ingest decoding: every Jaeger wire format a client can send, turned into an OTLP
//! `ExportTraceServiceRequest` with the OpenTelemetry Collector's mapping (TEMPO-SPEC §2.2), so
//! a span reads back the same whichever protocol carried it.
//!
//! | Transport (Tempo's default port) | Payload | Entry point |
//! |---|---|---|
//! | HTTP `POST /api/traces` (14268), `application/x-thrift` | Thrift binary `Batch` | [`decode_thrift_http_body`] |
//! | UDP agent, compact (6831) / binary (6832) | `Agent.emitBatch` or `emitZipkinBatch` message | [`decode_agent_datagram`] |
//! | gRPC `jaeger.api_v2.CollectorService/PostSpans` (14250) | `PostSpansRequest` protobuf | [`decode_post_spans_request`] |
//!
//! The mapping (`conventions` holds the shared rules):
//! * process → resource: `service.name` from the service name, process tags as typed attributes,
//!   `hostname` → `host.name`, `jaeger.version` → `opencensus.exporterversion`;
//! * IDs: Thrift's `i64` halves and the protobuf's bytes become 16-byte trace IDs and 8-byte span
//!   IDs, big-endian (a 64-bit trace ID has its high 8 bytes zero);
//! * times: Thrift microseconds and protobuf `Timestamp`s become Unix nanoseconds, end = start +
//!   duration; negative times become 0 and overflow saturates;
//! * tags → typed attributes (string, bool, int, double, bytes); `span.kind` → kind;
//!   `error=true` / `otel.status_code` / `otel.status_description` / `http.status_code` →
//!   status, those tags removed the way the Collector removes them;
//! * the Jaeger `sampled` flag → OTLP span flag `0x1`;
//! * logs → events (the `event` field names the event), references → the parent (explicit parent,
//!   else first same-trace `CHILD_OF`, else first `FOLLOWS_FROM`) and links for the rest, each
//!   with `opentracing.ref_type`.
//!
//! Hostile input: decoders never panic and return a [`JaegerError`] naming the problem. Thrift
//! is read through [`thrift_wire`], which bounds every declared length by the input's size and
//! caps nesting; protobuf is read by prost, which checks lengths against the buffer and bounds
//! recursion. Memory is therefore proportional to the input (the caller caps body and datagram
//! sizes). ID *validity* (non-zero span IDs) is left to the OTLP skim every request goes
//! through next, so all protocols share one rule and one error text.
//!
//! Nothing here touches tokio, shards or metrics; the receivers encode the result with prost and
//! call [`crate::ingest::Ingester::push`].

pub mod model_proto;
pub mod thrift_gen;
pub mod thrift_wire;

pub(crate) mod attributes;
pub(crate) mod conventions;
mod from_proto;
mod from_thrift;

#[cfg(test)]
pub(crate) mod tests;

use prost::Message;
use tracecore_engine::ErrorKind;
use tracecore_proto::otlp::ExportTraceServiceRequest;

pub use from_proto::proto_batches_to_otlp;
pub use from_thrift::thrift_batch_to_otlp;
pub use thrift_wire::{AgentCall, AgentProtocol, read_agent_datagram};

use thrift_gen::jaeger::Batch;

/// Why a Jaeger payload was rejected (HTTP 400 / gRPC `INVALID_ARGUMENT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JaegerError {
    /// The Thrift bytes do not decode: truncated, a wrong type, a missing required field, a
    /// declared length larger than the input, nesting too deep, invalid UTF-8…
    #[error("invalid jaeger thrift {what}: {problem}")]
    Thrift {
        /// What was being read, e.g. `batch` or `agent message`.
        what: &'static str,
        /// The reader's description of the problem.
        problem: String,
    },
    /// An agent datagram named a method other than `emitBatch` / `emitZipkinBatch`.
    #[error("invalid jaeger agent message: unknown method {0:?}")]
    UnknownMethod(String),
    /// An agent datagram that is not a call (a reply or an exception).
    #[error("invalid jaeger agent message: message type {0} is not a call")]
    NotACall(String),
    /// The agent call's argument struct lacks its field 1.
    #[error("invalid jaeger agent message: {method} arguments have no field 1")]
    MissingArgument {
        /// `emitBatch` or `emitZipkinBatch`.
        method: &'static str,
    },
    /// The protobuf bytes do not decode.
    #[error("invalid jaeger protobuf: {0}")]
    Protobuf(String),
    /// An ID of the wrong length in the protobuf model.
    #[error("invalid jaeger protobuf: {field} must be {expected} bytes, got {got}")]
    IdLength {
        /// Where, e.g. `spans[3].references[0].span_id`.
        field: String,
        /// 16 for trace IDs, 8 for span IDs.
        expected: usize,
        /// The length received.
        got: usize,
    },
}

impl JaegerError {
    /// Always [`ErrorKind::InvalidArgument`]: every failure is a problem with the payload.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }

    pub(crate) fn thrift(what: &'static str, error: &thrift::Error) -> JaegerError {
        JaegerError::Thrift {
            what,
            problem: describe_thrift_error(error),
        }
    }
}

/// A lowercase, one-line description of a `thrift` crate error.
pub(crate) fn describe_thrift_error(error: &thrift::Error) -> String {
    let text = match error {
        thrift::Error::Transport(e) if e.kind == thrift::TransportErrorKind::EndOfFile => {
            "unexpected end of input".to_owned()
        }
        thrift::Error::Transport(e) => e.message.clone(),
        thrift::Error::Protocol(e) => e.message.clone(),
        thrift::Error::Application(e) => e.message.clone(),
        thrift::Error::User(e) => e.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "malformed input".to_owned(),
    }
}

/// A `POST /api/traces` body (`application/x-thrift`): one Thrift-binary `Batch` struct with no
/// message envelope. Trailing bytes are ignored, as the Jaeger collector does.
pub fn decode_thrift_http_body(body: &[u8]) -> Result<ExportTraceServiceRequest, JaegerError> {
    let batch = thrift_wire::with_binary(body, |p| {
        use thrift::protocol::TSerializable as _;
        Batch::read_from_in_protocol(p)
    })
    .map_err(|e| JaegerError::thrift("batch", &e))?;
    Ok(thrift_batch_to_otlp(batch))
}

/// One UDP datagram of the Jaeger agent protocol; `emitZipkinBatch` calls are converted with
/// the Zipkin v1 mapping.
pub fn decode_agent_datagram(
    datagram: &[u8],
    protocol: AgentProtocol,
) -> Result<ExportTraceServiceRequest, JaegerError> {
    Ok(match read_agent_datagram(datagram, protocol)? {
        AgentCall::EmitBatch(batch) => thrift_batch_to_otlp(batch),
        AgentCall::EmitZipkinBatch(spans) => crate::zipkin::v1_thrift_spans_to_otlp(spans),
    })
}

/// The protobuf body of a `CollectorService/PostSpans` call (`PostSpansRequest`).
pub fn decode_post_spans_request(body: &[u8]) -> Result<ExportTraceServiceRequest, JaegerError> {
    let request = model_proto::PostSpansRequest::decode(body)
        .map_err(|e| JaegerError::Protobuf(e.to_string()))?;
    proto_batches_to_otlp(request.batch.into_iter().collect())
}
