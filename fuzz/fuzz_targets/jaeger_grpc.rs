//! Fuzzes Jaeger gRPC `PostSpansRequest` bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    // Must never panic; an accepted payload must encode as OTLP.
    if let Ok(request) = tracecore_rpc::jaeger::decode_post_spans_request(data) {
        let _ = request.encode_to_vec();
    }
});
