//! Fuzzes Jaeger agent datagrams in the compact protocol (UDP 6831).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    // Must never panic; an accepted payload must encode as OTLP.
    if let Ok(request) = tracecore_rpc::jaeger::decode_agent_datagram(
        data,
        tracecore_rpc::jaeger::AgentProtocol::Compact,
    ) {
        let _ = request.encode_to_vec();
    }
});
