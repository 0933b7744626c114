//! WAL replay: read every segment of a shard in order, never panic on what is on disk.
//!
//! A segment is read record by record. At the first record that fails its length, checksum or
//! decode, replay of that segment stops: the bad tail is copied to `<segment>.corrupt-<offset>`,
//! the segment is truncated at the last good record (so the valid prefix stays durable) and the
//! corruption is counted. A file without the segment magic is moved aside whole.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::record::{RecordRead, WalEntry, read_record};
use super::segment::{SEGMENT_MAGIC, segment_seq_from_name};

/// What replay recovered from one segment.
#[derive(Debug)]
pub struct ReplayedSegment {
    pub seq: u64,
    pub path: PathBuf,
    pub entries: Vec<WalEntry>,
    /// Corrupt records (0 or 1: replay stops a segment at the first one).
    pub corrupt_records: u64,
}

/// Replays every segment in `dir` (created if missing), in sequence order.
pub fn replay_dir(dir: &Path) -> io::Result<Vec<ReplayedSegment>> {
    fs::create_dir_all(dir)?;
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = segment_seq_from_name(name) {
            segments.push((seq, entry.path()));
        }
    }
    segments.sort_by_key(|(seq, _)| *seq);
    segments
        .into_iter()
        .map(|(seq, path)| replay_segment(seq, &path))
        .collect()
}

/// Replays one segment file, repairing it as described in the module docs.
pub fn replay_segment(seq: u64, path: &Path) -> io::Result<ReplayedSegment> {
    let bytes = fs::read(path)?;
    let mut replayed = ReplayedSegment {
        seq,
        path: path.to_path_buf(),
        entries: Vec::new(),
        corrupt_records: 0,
    };
    if bytes.is_empty() || bytes.iter().all(|&b| b == 0) {
        return Ok(replayed);
    }
    if bytes.len() < SEGMENT_MAGIC.len() || &bytes[..SEGMENT_MAGIC.len()] != SEGMENT_MAGIC {
        move_aside(path, &bytes, 0)?;
        fs::remove_file(path)?;
        replayed.corrupt_records = 1;
        tracing::warn!(segment = %path.display(), "wal segment without a valid header moved aside");
        return Ok(replayed);
    }
    let mut offset = SEGMENT_MAGIC.len();
    loop {
        match read_record(&bytes[offset..]) {
            Ok(RecordRead::Record { entry, len }) => {
                replayed.entries.push(entry);
                offset += len;
            }
            Ok(RecordRead::End) => break,
            Err(error) => {
                tracing::warn!(
                    segment = %path.display(),
                    offset,
                    %error,
                    "corrupt wal record; replay of this segment stops here"
                );
                move_aside(path, &bytes[offset..], offset)?;
                truncate(path, offset as u64)?;
                replayed.corrupt_records = 1;
                break;
            }
        }
    }
    Ok(replayed)
}

fn move_aside(path: &Path, tail: &[u8], offset: usize) -> io::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{offset}"));
    let mut file = fs::File::create(PathBuf::from(aside))?;
    file.write_all(tail)?;
    file.sync_all()
}

fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let file = fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fragment::TraceFragment;
    use crate::wal::record::encode_record;
    use crate::wal::segment::segment_file_name;
    use bytes::Bytes;

    fn fragment(seed: u8) -> TraceFragment {
        TraceFragment {
            trace_id: [seed; 16],
            span_count: 1,
            start_unix_nano: seed as u64,
            end_unix_nano: seed as u64 + 1,
            otlp: Bytes::from(vec![seed; 50 + seed as usize]),
        }
    }

    fn segment_with(records: u8) -> (Vec<u8>, Vec<usize>) {
        let mut out = SEGMENT_MAGIC.to_vec();
        let mut ends = Vec::new();
        for i in 0..records {
            encode_record(&mut out, "t", &[fragment(i + 1)], usize::MAX);
            ends.push(out.len());
        }
        (out, ends)
    }

    #[test]
    fn truncation_at_every_byte_of_the_last_record_keeps_the_rest() {
        let (full, ends) = segment_with(3);
        let dir = tempfile::tempdir().unwrap();
        for cut in ends[1]..full.len() {
            let path = dir.path().join(segment_file_name(1));
            fs::write(&path, &full[..cut]).unwrap();
            let r = replay_segment(1, &path).unwrap();
            assert_eq!(r.entries.len(), 2, "cut at {cut}");
            assert_eq!(r.corrupt_records, u64::from(cut != ends[1]), "cut at {cut}");
            assert_eq!(fs::metadata(&path).unwrap().len() as usize, ends[1]);
            // Replaying the repaired segment again is clean.
            let again = replay_segment(1, &path).unwrap();
            assert_eq!((again.entries.len(), again.corrupt_records), (2, 0));
            for e in fs::read_dir(dir.path()).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
        }
    }

    #[test]
    fn bit_flips_stop_the_segment_at_the_flipped_record() {
        let (full, ends) = segment_with(3);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_file_name(1));
        for byte in ends[0]..ends[1] {
            let mut bad = full.clone();
            bad[byte] ^= 0x10;
            fs::write(&path, &bad).unwrap();
            let r = replay_segment(1, &path).unwrap();
            assert_eq!((r.entries.len(), r.corrupt_records), (1, 1), "byte {byte}");
        }
    }

    #[test]
    fn empty_zero_and_garbage_segments_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(segment_file_name(1)), b"").unwrap();
        fs::write(dir.path().join(segment_file_name(2)), [0u8; 8192]).unwrap();
        fs::write(
            dir.path().join(segment_file_name(3)),
            b"garbage that is not a wal",
        )
        .unwrap();
        let (mut with_padding, _) = segment_with(2);
        with_padding.extend_from_slice(&[0u8; 4000]);
        fs::write(dir.path().join(segment_file_name(4)), &with_padding).unwrap();
        let out = replay_dir(dir.path()).unwrap();
        let summary: Vec<(u64, usize, u64)> = out
            .iter()
            .map(|s| (s.seq, s.entries.len(), s.corrupt_records))
            .collect();
        assert_eq!(summary, vec![(1, 0, 0), (2, 0, 0), (3, 0, 1), (4, 2, 0)]);
        assert!(!dir.path().join(segment_file_name(3)).exists());
    }

    #[test]
    fn random_garbage_after_valid_records_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_file_name(9));
        for _ in 0..200 {
            let (mut seg, _) = segment_with(2);
            let n = rng.random_range(1..300);
            seg.extend((0..n).map(|_| rng.random::<u8>()));
            fs::write(&path, &seg).unwrap();
            let r = replay_segment(9, &path).unwrap();
            assert_eq!(r.entries.len(), 2);
        }
    }
}
