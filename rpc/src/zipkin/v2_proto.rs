//! Zipkin v2 protobuf (`POST /api/v2/spans`, `application/x-protobuf`): a `ListOfSpans`.
//!
//! The messages are declared by hand with prost derives; field numbers and types follow
//! `zipkin.proto` of github.com/openzipkin/zipkin-api (package `zipkin.proto3`, Apache-2.0,
//! Copyright 2018-2019 The OpenZipkin Authors), as copied into jaeger-idl. The `tags` map is
//! declared as its wire equivalent, a repeated key/value entry message, so tag order survives.
//!
//! IDs: a trace ID of 16 bytes (8 is widened), a span ID of 8 bytes, a parent ID of 8 bytes or
//! none; IPs of 4 or 16 bytes. Other lengths are errors.

use prost::Message;

use super::ZipkinError;
use super::model::{V2Annotation, V2Endpoint, V2Kind, V2Span, format_packed_ip};

/// `zipkin.proto3.ListOfSpans`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
}

/// `zipkin.proto3.Span`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    #[prost(enumeration = "Kind", tag = "4")]
    pub kind: i32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<Endpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<Endpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<Annotation>,
    /// `map<string, string> tags = 11`, as its wire form.
    #[prost(message, repeated, tag = "11")]
    pub tags: Vec<TagEntry>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

/// One entry of `Span.tags`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TagEntry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `zipkin.proto3.Span.Kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Kind {
    SpanKindUnspecified = 0,
    Client = 1,
    Server = 2,
    Producer = 3,
    Consumer = 4,
}

/// `zipkin.proto3.Endpoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Endpoint {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

/// `zipkin.proto3.Annotation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Annotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Parses the body into v2 spans.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<V2Span<'static>>, ZipkinError> {
    let list = ListOfSpans::decode(body).map_err(|e| ZipkinError::Protobuf(e.to_string()))?;
    list.spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| convert(i, s))
        .collect()
}

fn convert(i: usize, span: Span) -> Result<V2Span<'static>, ZipkinError> {
    let field = |name: &str| format!("spans[{i}].{name}");
    let trace_id = match span.trace_id.len() {
        16 => {
            let id = u128::from_be_bytes(to_array(&span.trace_id));
            ((id >> 64) as u64, id as u64)
        }
        8 => (0, u64::from_be_bytes(to_array(&span.trace_id))),
        n => return Err(ZipkinError::id_length(field("trace_id"), "8 or 16", n)),
    };
    let id = match span.id.len() {
        8 => u64::from_be_bytes(to_array(&span.id)),
        n => return Err(ZipkinError::id_length(field("id"), "8", n)),
    };
    let parent_id = match span.parent_id.len() {
        0 => None,
        8 => Some(u64::from_be_bytes(to_array(&span.parent_id))),
        n => return Err(ZipkinError::id_length(field("parent_id"), "0 or 8", n)),
    };
    let kind = match Kind::try_from(span.kind) {
        Ok(Kind::Client) => V2Kind::Client,
        Ok(Kind::Server) => V2Kind::Server,
        Ok(Kind::Producer) => V2Kind::Producer,
        Ok(Kind::Consumer) => V2Kind::Consumer,
        Ok(Kind::SpanKindUnspecified) | Err(_) => V2Kind::Unspecified,
    };
    Ok(V2Span {
        trace_id,
        id,
        parent_id,
        kind,
        name: span.name,
        timestamp: saturating_i64(span.timestamp),
        duration: saturating_i64(span.duration),
        local_endpoint: span
            .local_endpoint
            .map(|e| endpoint(e, || field("local_endpoint")))
            .transpose()?,
        remote_endpoint: span
            .remote_endpoint
            .map(|e| endpoint(e, || field("remote_endpoint")))
            .transpose()?,
        annotations: span
            .annotations
            .into_iter()
            .map(|a| V2Annotation {
                timestamp: saturating_i64(a.timestamp),
                value: a.value,
            })
            .collect(),
        tags: span
            .tags
            .into_iter()
            .map(|t| (t.key.into(), t.value.into()))
            .collect(),
    })
}

fn endpoint(e: Endpoint, path: impl Fn() -> String) -> Result<V2Endpoint, ZipkinError> {
    let ipv4 = format_packed_ip(&e.ipv4)
        .map_err(|n| ZipkinError::id_length(format!("{}.ipv4", path()), "4", n))?;
    let ipv6 = format_packed_ip(&e.ipv6)
        .map_err(|n| ZipkinError::id_length(format!("{}.ipv6", path()), "16", n))?;
    Ok(V2Endpoint {
        service_name: e.service_name,
        ipv4,
        ipv6,
        // zipkin-go reads the port as a uint16.
        port: i64::from(e.port as u16),
    })
}

/// The first `N` bytes; callers check the length first.
fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
