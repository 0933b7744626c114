//! A tonic codec that hands the request message over as raw bytes, so the receiver can skim it
//! instead of decoding every span into structs.

use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Passes messages through as `Bytes` in both directions.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawBytesCodec;

/// Encoder half of [`RawBytesCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// Decoder half of [`RawBytesCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Codec for RawBytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}
