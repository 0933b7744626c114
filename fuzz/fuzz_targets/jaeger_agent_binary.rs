//! Fuzzes Jaeger agent datagrams in the binary protocol (UDP 6832).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    // Must never panic; an accepted payload must encode as OTLP.
    if let Ok(request) = tracecore_rpc::jaeger::decode_agent_datagram(
        data,
        tracecore_rpc::jaeger::AgentProtocol::Binary,
    ) {
        let _ = request.encode_to_vec();
    }
});
