//! Reading Thrift from untrusted bytes: protocol readers whose limits are tied to the input, and
//! the Jaeger agent's `emitBatch` / `emitZipkinBatch` message envelope.
//!
//! Why the limits matter: a Thrift list or string declares its length before its contents, and
//! a reader that trusts it can be made to reserve gigabytes for a few bytes of input. The
//! `thrift` crate (0.25) checks declared lengths against a `TConfiguration`; here every limit is
//! the input's own length, so a declared list of N elements needs at least N bytes behind it
//! (every Thrift value takes at least one byte) and a declared string can never outgrow the
//! datagram or body it came in. The generated readers reserve list capacity through
//! `prealloc_size` (at most 1024 elements up front), so memory grows only with elements actually
//! decoded. Struct nesting is capped at [`MAX_STRUCT_DEPTH`] and skipping unknown fields at the
//! crate's own 64 levels, so hostile nesting costs bounded stack.

use thrift::TConfiguration;
use thrift::protocol::{
    TBinaryInputProtocol, TCompactInputProtocol, TInputProtocol, TMessageType, TSerializable, TType,
};

use super::JaegerError;
use super::thrift_gen::{jaeger, zipkincore};

/// Deepest struct nesting accepted (Jaeger needs 5: message args → Batch → Span → Log → Tag).
pub const MAX_STRUCT_DEPTH: usize = 16;

/// The Thrift protocol a Jaeger agent datagram is encoded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentProtocol {
    /// `TCompactProtocol`, UDP port 6831 by convention.
    Compact,
    /// `TBinaryProtocol`, UDP port 6832 by convention.
    Binary,
}

/// What a Jaeger agent datagram carried.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentCall {
    /// `Agent.emitBatch(1: jaeger.Batch batch)`.
    EmitBatch(jaeger::Batch),
    /// `Agent.emitZipkinBatch(1: list<zipkincore.Span> spans)`.
    EmitZipkinBatch(Vec<zipkincore::Span>),
}

/// Protocol limits for decoding `input_len` bytes; see the module docs.
fn limits(input_len: usize) -> TConfiguration {
    let bound = Some(input_len.max(1));
    TConfiguration::builder()
        .max_message_size(bound)
        .max_frame_size(bound)
        .max_container_size(bound)
        .max_string_size(bound)
        .max_recursion_depth(Some(MAX_STRUCT_DEPTH))
        .build()
        .expect("the builder only rejects a frame size above the message size; both are equal")
}

/// Runs `read` over `bytes` with a bounded binary-protocol reader.
pub(crate) fn with_binary<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut dyn TInputProtocol) -> thrift::Result<T>,
) -> thrift::Result<T> {
    let mut input = bytes;
    // Non-strict: accept message headers with and without the version word, as Go's reader does.
    let mut protocol = TBinaryInputProtocol::with_config(&mut input, false, limits(bytes.len()));
    read(&mut protocol)
}

/// Runs `read` over `bytes` with a bounded compact-protocol reader.
pub(crate) fn with_compact<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut dyn TInputProtocol) -> thrift::Result<T>,
) -> thrift::Result<T> {
    let mut input = bytes;
    let mut protocol = TCompactInputProtocol::with_config(&mut input, limits(bytes.len()));
    read(&mut protocol)
}

/// Decodes one agent datagram: a `Call` or `Oneway` message naming `emitBatch` or
/// `emitZipkinBatch`, followed by its argument struct. Unknown argument fields are skipped;
/// bytes after the message are ignored, as the Jaeger agent does.
pub fn read_agent_datagram(
    datagram: &[u8],
    protocol: AgentProtocol,
) -> Result<AgentCall, JaegerError> {
    let read = |p: &mut dyn TInputProtocol| read_agent_call(p);
    let result = match protocol {
        AgentProtocol::Compact => with_compact(datagram, read),
        AgentProtocol::Binary => with_binary(datagram, read),
    };
    match result {
        Ok(call) => call,
        Err(e) => Err(JaegerError::thrift("agent message", &e)),
    }
}

/// The outer result carries wire errors, the inner one envelope errors.
fn read_agent_call(p: &mut dyn TInputProtocol) -> thrift::Result<Result<AgentCall, JaegerError>> {
    let message = p.read_message_begin()?;
    if !matches!(
        message.message_type,
        TMessageType::Call | TMessageType::OneWay
    ) {
        return Ok(Err(JaegerError::NotACall(format!(
            "{:?}",
            message.message_type
        ))));
    }
    let call = match message.name.as_str() {
        "emitBatch" => read_args(p, "emitBatch", TType::Struct, |p| {
            jaeger::Batch::read_from_in_protocol(p).map(AgentCall::EmitBatch)
        })?,
        "emitZipkinBatch" => read_args(p, "emitZipkinBatch", TType::List, |p| {
            read_zipkin_span_list(p).map(AgentCall::EmitZipkinBatch)
        })?,
        other => return Ok(Err(JaegerError::UnknownMethod(other.to_owned()))),
    };
    p.read_message_end()?;
    Ok(call)
}

/// Reads a method's argument struct, whose field 1 (of `field_type`) is read by `read_field`.
fn read_args(
    p: &mut dyn TInputProtocol,
    method: &'static str,
    field_type: TType,
    mut read_field: impl FnMut(&mut dyn TInputProtocol) -> thrift::Result<AgentCall>,
) -> thrift::Result<Result<AgentCall, JaegerError>> {
    p.read_struct_begin()?;
    let mut call = None;
    loop {
        let field = p.read_field_begin()?;
        if field.field_type == TType::Stop {
            break;
        }
        if field.id == Some(1) && field.field_type == field_type {
            call = Some(read_field(p)?);
        } else {
            p.skip(field.field_type)?;
        }
        p.read_field_end()?;
    }
    p.read_struct_end()?;
    Ok(call.ok_or(JaegerError::MissingArgument { method }))
}

/// A `list<zipkincore.Span>`: the argument of `emitZipkinBatch`, and the whole body of a Zipkin
/// v1 Thrift POST.
pub(crate) fn read_zipkin_span_list(
    p: &mut dyn TInputProtocol,
) -> thrift::Result<Vec<zipkincore::Span>> {
    let list = p.read_list_begin()?;
    if list.element_type != TType::Struct {
        return Err(thrift::Error::Protocol(thrift::ProtocolError::new(
            thrift::ProtocolErrorKind::InvalidData,
            format!(
                "expected a list of span structs, found a list of {:?}",
                list.element_type
            ),
        )));
    }
    let mut spans = Vec::with_capacity(thrift::protocol::prealloc_size(list.size));
    for _ in 0..list.size {
        spans.push(zipkincore::Span::read_from_in_protocol(p)?);
    }
    p.read_list_end()?;
    Ok(spans)
}
