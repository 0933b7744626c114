//! Segment file naming and the segment header.

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"TCWAL01\n";

/// File name of segment `seq`.
pub fn segment_file_name(seq: u64) -> String {
    format!("{seq:020}.wal")
}

/// The sequence number of a segment file name, if it is one.
pub fn segment_seq_from_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_seq_from_name(&segment_file_name(42)), Some(42));
        assert_eq!(
            segment_seq_from_name("00000000000000000042.wal.corrupt"),
            None
        );
        assert_eq!(segment_seq_from_name("42.wal"), None);
    }
}
