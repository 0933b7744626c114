//! A minimal OTLP/gRPC trace client that sends pre-encoded bytes.
//!
//! tonic's generated clients need the message type; load generation and hostile-input tests want
//! to send bytes they already have (pre-encoded, patched, or deliberately broken). [`RawCodec`]
//! passes bytes through untouched and decodes the response as `ExportTraceServiceResponse`.

use bytes::{Buf, BufMut};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tracecore_proto::otlp::ExportTraceServiceResponse;

/// The OTLP trace Export method path.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Sends `Vec<u8>` as the message body, decodes `ExportTraceServiceResponse`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

/// Encoder half of [`RawCodec`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RawEncoder;

/// Decoder half of [`RawCodec`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ResponseDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| {
                Status::new(
                    Code::Internal,
                    format!("bad ExportTraceServiceResponse: {e}"),
                )
            })
    }
}

/// Options for one export call.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Sent as the `x-scope-orgid` metadata when set.
    pub tenant: Option<String>,
    /// gzip the message (`grpc-encoding: gzip`).
    pub gzip: bool,
}

/// One unary `Export` call with a raw, already-encoded request body.
pub async fn export_raw(
    channel: Channel,
    body: Vec<u8>,
    options: &ExportOptions,
) -> Result<ExportTraceServiceResponse, Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(64 << 20);
    if options.gzip {
        grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    }
    grpc.ready()
        .await
        .map_err(|e| Status::new(Code::Unavailable, format!("channel not ready: {e}")))?;
    let mut request = Request::new(body);
    if let Some(tenant) = &options.tenant {
        let value = tenant.parse().map_err(|_| {
            Status::new(
                Code::InvalidArgument,
                format!("tenant {tenant:?} is not valid metadata"),
            )
        })?;
        request.metadata_mut().insert("x-scope-orgid", value);
    }
    let response = grpc
        .unary(request, PathAndQuery::from_static(EXPORT_PATH), RawCodec)
        .await?;
    Ok(response.into_inner())
}
