//! Fuzzes the WAL record decoder replay uses: framed records (length, CRC32C, body) and, past
//! the checksum, the body decoder itself (version, flags, optional zstd, fragments).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracecore_engine::wal::decode_record_body;
use tracecore_engine::wal::record::read_record;

fuzz_target!(|data: &[u8]| {
    // Must never panic.
    let _ = read_record(data);
    let _ = decode_record_body(data.get(8..).unwrap_or_default());
});
