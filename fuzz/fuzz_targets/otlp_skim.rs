//! Fuzzes the OTLP protobuf ingest skim (`ExportTraceServiceRequest` bodies) and the attribute
//! truncation that rewrites what it accepts.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tracecore_rpc::otlp::skim::{SkimLimits, skim_export_request, truncate_attributes};

fuzz_target!(|data: &[u8]| {
    // Must never panic; an accepted request must truncate into a request the skim accepts.
    let body = Bytes::copy_from_slice(data);
    let shard = |id: &[u8; 16]| id[0] as usize % 3;
    if let Ok(skimmed) = skim_export_request(&body, &SkimLimits::default(), 3, shard) {
        let (truncated, _) = truncate_attributes(&body, 16).expect("skimmed bodies truncate");
        let again = skim_export_request(&truncated, &SkimLimits::default(), 3, shard)
            .expect("a truncated request skims");
        assert_eq!(again.span_count, skimmed.span_count);
    }
});
