//! Zipkin ingest decoding: the four Zipkin body formats turned into an OTLP
//! `ExportTraceServiceRequest` with the OpenTelemetry Collector's mapping (TEMPO-SPEC §2.2).
//!
//! | `POST` path (port 9411) | `Content-Type` | Format | Entry point |
//! |---|---|---|---|
//! | contains `api/v1/spans` | `application/x-thrift` | v1 Thrift `list<Span>` (binary protocol) | [`decode_v1_thrift`] |
//! | contains `api/v1/spans` | anything else | v1 JSON | [`decode_v1_json`] |
//! | other (`/api/v2/spans`) | `application/x-protobuf` | v2 `ListOfSpans` | [`decode_v2_proto`] |
//! | other | anything else | v2 JSON | [`decode_v2_json`] |
//!
//! [`ZipkinEncoding::for_request`] makes that choice; [`decode`] dispatches on it. Each format is
//! first parsed into a small intermediate model (`model`), then converted by one converter per
//! Zipkin version, so JSON and binary bodies of the same version map identically:
//! * v2 (`v2_to_otlp`): `localEndpoint.serviceName` → resource `service.name` (plus
//!   resource-convention tags), `kind` → kind, tags → string attributes, `otel.status_code` /
//!   `error` → status, annotations → events, endpoints → `net.*`/`peer.service` attributes;
//!   `shared` spans (the server half of an RPC reusing the client's span ID) are kept as sent —
//!   OTLP has no flag for them, as in the Collector, so the two halves share a span ID;
//! * v1 (`v1_to_otlp`): `cs`/`sr`/… annotations → kind, times and endpoint, other annotations
//!   → events, binary annotations → attributes and status.
//!
//! IDs: 64-bit trace IDs are widened to 128 bits with the high 8 bytes zero; times are
//! microseconds, converted to nanoseconds with end = start + duration, saturating.
//!
//! Hostile input: decoders never panic and return a [`ZipkinError`] naming the field. JSON goes
//! through serde_json (recursion limit 128, no pre-allocation from the input), protobuf through
//! prost (lengths checked against the buffer), Thrift through
//! [`crate::jaeger::thrift_wire`] (declared lengths bounded by the input size). Memory is
//! proportional to the body, which the receiver caps.

mod json_tags;
pub(crate) mod model;
mod otlp_wire;
mod v1_json;
mod v1_thrift;
pub(crate) mod v1_to_otlp;
mod v2_json;
pub mod v2_proto;
pub(crate) mod v2_tags;
pub(crate) mod v2_to_otlp;

#[cfg(test)]
pub(crate) mod tests;

use tracecore_engine::ErrorKind;
use tracecore_proto::otlp::ExportTraceServiceRequest;

use crate::jaeger::thrift_gen::zipkincore;

/// Why a Zipkin body was rejected (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipkinError {
    /// Not JSON of the expected shape (serde_json's message, with line and column).
    #[error("invalid zipkin json: {0}")]
    Json(String),
    /// The protobuf bytes do not decode.
    #[error("invalid zipkin protobuf: {0}")]
    Protobuf(String),
    /// The Thrift bytes do not decode.
    #[error("invalid zipkin thrift: {0}")]
    Thrift(String),
    /// A required field is absent or empty.
    #[error("invalid zipkin span: {field} is required")]
    Missing {
        /// Where, e.g. `[3].traceId`.
        field: String,
    },
    /// A field's value does not fit.
    #[error("invalid zipkin span: {field} {value:?} is not {expected}")]
    Invalid {
        /// Where, e.g. `[3].parentId`.
        field: String,
        /// The offending value (cut to 64 characters).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A binary ID or IP of the wrong length.
    #[error("invalid zipkin span: {field} must be {expected} bytes, got {got}")]
    Length {
        /// Where, e.g. `spans[0].trace_id`.
        field: String,
        /// The accepted lengths.
        expected: &'static str,
        /// The length received.
        got: usize,
    },
}

impl ZipkinError {
    /// Always [`ErrorKind::InvalidArgument`]: every failure is a problem with the body.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }

    pub(crate) fn missing(field: String) -> ZipkinError {
        ZipkinError::Missing { field }
    }

    pub(crate) fn invalid(field: String, value: &str, expected: &'static str) -> ZipkinError {
        ZipkinError::Invalid {
            field,
            value: value.chars().take(64).collect(),
            expected,
        }
    }

    pub(crate) fn id_length(field: String, expected: &'static str, got: usize) -> ZipkinError {
        ZipkinError::Length {
            field,
            expected,
            got,
        }
    }
}

/// The four Zipkin body formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZipkinEncoding {
    /// v1 JSON array of spans.
    V1Json,
    /// v1 Thrift `list<Span>`, binary protocol.
    V1Thrift,
    /// v2 JSON array of spans.
    V2Json,
    /// v2 protobuf `ListOfSpans`.
    V2Proto,
}

impl ZipkinEncoding {
    /// The Collector's choice: a path containing `api/v1/spans` is v1 (Thrift when the content
    /// type is `application/x-thrift`, else JSON); any other path is v2 (protobuf when the
    /// content type is `application/x-protobuf`, else JSON). Content-type parameters such as
    /// `; charset=utf-8` are ignored.
    pub fn for_request(path: &str, content_type: Option<&str>) -> ZipkinEncoding {
        let media_type = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if path.contains("api/v1/spans") {
            if media_type.eq_ignore_ascii_case("application/x-thrift") {
                ZipkinEncoding::V1Thrift
            } else {
                ZipkinEncoding::V1Json
            }
        } else if media_type.eq_ignore_ascii_case("application/x-protobuf") {
            ZipkinEncoding::V2Proto
        } else {
            ZipkinEncoding::V2Json
        }
    }
}

/// Decodes a (decompressed) body of the given format.
pub fn decode(
    body: &[u8],
    encoding: ZipkinEncoding,
) -> Result<ExportTraceServiceRequest, ZipkinError> {
    match encoding {
        ZipkinEncoding::V1Json => decode_v1_json(body),
        ZipkinEncoding::V1Thrift => decode_v1_thrift(body),
        ZipkinEncoding::V2Json => decode_v2_json(body),
        ZipkinEncoding::V2Proto => decode_v2_proto(body),
    }
}

/// Decodes a (decompressed) body of the given format into an encoded OTLP
/// `ExportTraceServiceRequest`, what the write path takes. v2 bodies are written straight to
/// protobuf (see `otlp_wire`); v1 bodies go through the prost messages.
pub fn decode_to_protobuf(body: &[u8], encoding: ZipkinEncoding) -> Result<Vec<u8>, ZipkinError> {
    use prost::Message as _;
    match encoding {
        ZipkinEncoding::V1Json => decode_v1_json(body).map(|r| r.encode_to_vec()),
        ZipkinEncoding::V1Thrift => decode_v1_thrift(body).map(|r| r.encode_to_vec()),
        ZipkinEncoding::V2Json => Ok(v2_to_otlp::v2_spans_to_protobuf(v2_json::parse(body)?)),
        ZipkinEncoding::V2Proto => Ok(v2_to_otlp::v2_spans_to_protobuf(v2_proto::parse(body)?)),
    }
}

/// The request an encoded v2 conversion stands for. The bytes are this module's own output,
/// so a decode failure is a bug, reported as a protobuf error rather than a panic.
fn decoded(protobuf: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    use prost::Message as _;
    ExportTraceServiceRequest::decode(protobuf)
        .map_err(|e| ZipkinError::Protobuf(format!("converted request does not decode: {e}")))
}

/// A Zipkin v2 JSON body.
pub fn decode_v2_json(body: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    decoded(&v2_to_otlp::v2_spans_to_protobuf(v2_json::parse(body)?))
}

/// A Zipkin v2 protobuf body (`ListOfSpans`).
pub fn decode_v2_proto(body: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    decoded(&v2_to_otlp::v2_spans_to_protobuf(v2_proto::parse(body)?))
}

/// A Zipkin v1 JSON body.
pub fn decode_v1_json(body: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    Ok(v1_to_otlp::v1_spans_to_otlp(v1_json::parse(body)?))
}

/// A Zipkin v1 Thrift body.
pub fn decode_v1_thrift(body: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    Ok(v1_to_otlp::v1_spans_to_otlp(v1_thrift::parse(body)?))
}

/// Zipkin v1 Thrift spans already decoded (the Jaeger agent's `emitZipkinBatch`).
pub fn v1_thrift_spans_to_otlp(spans: Vec<zipkincore::Span>) -> ExportTraceServiceRequest {
    v1_to_otlp::v1_spans_to_otlp(v1_thrift::convert(spans))
}
