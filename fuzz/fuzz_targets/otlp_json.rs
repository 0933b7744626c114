//! Fuzzes OTLP/JSON `ExportTraceServiceRequest` bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    // Must never panic; an accepted payload must encode as OTLP.
    if let Ok(request) = tracecore_rpc::otlp::json_in::parse_export_request_json(data, 32) {
        let _ = request.encode_to_vec();
    }
});
