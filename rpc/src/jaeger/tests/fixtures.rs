//! Payload builders shared by the Jaeger and Zipkin tests: generated-Thrift encoders and OTLP
//! attribute constructors.

use thrift::OrderedFloat;
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactOutputProtocol, TOutputProtocol,
    TSerializable,
};
use tracecore_proto::otlp::{AnyValue, KeyValue, any_value::Value};

use crate::jaeger::AgentProtocol;
use crate::jaeger::thrift_gen::agent::{AgentSyncClient, TAgentSyncClient};
use crate::jaeger::thrift_gen::jaeger::{Batch, Tag, TagType};
use crate::jaeger::thrift_gen::zipkincore;

/// `value` in Thrift binary protocol (a bare struct, as `POST /api/traces` carries it).
pub(crate) fn encode_binary<T: TSerializable>(value: &T) -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let mut p = TBinaryOutputProtocol::new(&mut buf, true);
        value.write_to_out_protocol(&mut p).expect("encode");
        p.flush().expect("flush");
    }
    buf
}

/// An `emitBatch` oneway message, as a Jaeger client's UDP sender writes it.
pub(crate) fn agent_emit_batch(batch: Batch, protocol: AgentProtocol) -> Vec<u8> {
    agent_message(protocol, |client| client.emit_batch(batch))
}

/// An `emitZipkinBatch` oneway message.
pub(crate) fn agent_emit_zipkin_batch(
    spans: Vec<zipkincore::Span>,
    protocol: AgentProtocol,
) -> Vec<u8> {
    agent_message(protocol, |client| client.emit_zipkin_batch(spans))
}

fn agent_message(
    protocol: AgentProtocol,
    send: impl FnOnce(&mut dyn TAgentSyncClient) -> thrift::Result<()>,
) -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let input = TBinaryInputProtocol::new(&[][..], true);
        match protocol {
            AgentProtocol::Binary => {
                let mut client =
                    AgentSyncClient::new(input, TBinaryOutputProtocol::new(&mut buf, true));
                send(&mut client).expect("send");
            }
            AgentProtocol::Compact => {
                let mut client = AgentSyncClient::new(input, TCompactOutputProtocol::new(&mut buf));
                send(&mut client).expect("send");
            }
        }
    }
    buf
}

pub(crate) fn tag_str(key: &str, value: &str) -> Tag {
    Tag::new(
        key.to_owned(),
        TagType::STRING,
        value.to_owned(),
        None,
        None,
        None,
        None,
    )
}

pub(crate) fn tag_long(key: &str, value: i64) -> Tag {
    Tag::new(key.to_owned(), TagType::LONG, None, None, None, value, None)
}

pub(crate) fn tag_bool(key: &str, value: bool) -> Tag {
    Tag::new(key.to_owned(), TagType::BOOL, None, None, value, None, None)
}

pub(crate) fn tag_double(key: &str, value: f64) -> Tag {
    Tag::new(
        key.to_owned(),
        TagType::DOUBLE,
        None,
        OrderedFloat(value),
        None,
        None,
        None,
    )
}

pub(crate) fn tag_binary(key: &str, value: &[u8]) -> Tag {
    Tag::new(
        key.to_owned(),
        TagType::BINARY,
        None,
        None,
        None,
        None,
        value.to_vec(),
    )
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

pub(crate) fn kv_str(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_owned()))
}

pub(crate) fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

pub(crate) fn kv_bool(key: &str, value: bool) -> KeyValue {
    kv(key, Value::BoolValue(value))
}

pub(crate) fn kv_double(key: &str, value: f64) -> KeyValue {
    kv(key, Value::DoubleValue(value))
}

pub(crate) fn kv_bytes(key: &str, value: &[u8]) -> KeyValue {
    kv(key, Value::BytesValue(value.to_vec()))
}

/// A 16-byte trace ID from its halves.
pub(crate) fn tid(high: u64, low: u64) -> Vec<u8> {
    let mut id = high.to_be_bytes().to_vec();
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// An 8-byte span ID.
pub(crate) fn sid(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// Deterministic pseudo-random bytes (xorshift64*), for garbage inputs.
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}
