//! The per-shard write-ahead log.
//!
//! A shard's WAL is a directory of numbered segment files (`<seq:020>.wal`). Each segment starts
//! with an 8-byte magic and then holds framed records ([`record`]). The shard appends one record
//! per tenant per group commit and fdatasyncs before acknowledging (`wal.sync: always`).
//! Segments are rotated when the head block is cut and deleted only after every block built from
//! them is committed to the bucket. Replay ([`replay`]) reads every segment in order, stops a
//! segment at its first bad record, moves the bad tail aside and truncates the segment there.

pub mod record;
pub mod replay;
pub mod segment;

pub use record::{WalEntry, decode_record_body, encode_record};
pub use replay::{ReplayedSegment, replay_dir};
pub use segment::{SEGMENT_MAGIC, segment_file_name, segment_seq_from_name};
