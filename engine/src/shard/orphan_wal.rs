//! WAL directories left by a larger shard count (the CPU set or `engine.shards` shrank).
//!
//! Shard `k` replays only `wal/shard-k/`. If the pool now has fewer shards, the segments of
//! `shard-k` (k >= shards) would never be replayed, so before any shard starts they are moved
//! into `shard-(k mod shards)/` under fresh sequence numbers after that shard's own segments.
//! Reads ask every shard, so a trace whose pieces now sit on two shards is still complete.

use std::fs;
use std::io;
use std::path::Path;

use super::wal_writer::sync_dir;
use crate::wal::{segment_file_name, segment_seq_from_name};

/// Moves the segments of `shard-k` (k >= `shards`) into live shard directories.
/// Returns how many segments were moved.
pub fn adopt_orphan_segments(wal_path: &Path, shards: usize) -> io::Result<usize> {
    let mut moved = 0;
    let Ok(entries) = fs::read_dir(wal_path) else {
        return Ok(0);
    };
    let mut orphans = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("shard-"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if id >= shards {
            orphans.push((id, entry.path()));
        }
    }
    orphans.sort();
    for (id, dir) in orphans {
        let target = wal_path.join(format!("shard-{}", id % shards));
        fs::create_dir_all(&target)?;
        let next_seq = max_seq(&target)? + 1;
        let mut segments: Vec<(u64, std::path::PathBuf)> = fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let seq = e.file_name().to_str().and_then(segment_seq_from_name)?;
                Some((seq, e.path()))
            })
            .collect();
        segments.sort();
        for (offset, (_, path)) in segments.iter().enumerate() {
            fs::rename(
                path,
                target.join(segment_file_name(next_seq + offset as u64)),
            )?;
        }
        moved += segments.len();
        sync_dir(&target)?;
        tracing::warn!(from = %dir.display(), to = %target.display(), "wal of a removed shard adopted");
        // Only moved-aside corrupt tails may remain; keep them for inspection.
        if fs::read_dir(&dir)?.next().is_none() {
            fs::remove_dir(&dir)?;
        }
    }
    if moved > 0 {
        sync_dir(wal_path)?;
    }
    Ok(moved)
}

fn max_seq(dir: &Path) -> io::Result<u64> {
    let mut max = 0;
    for entry in fs::read_dir(dir)? {
        if let Some(seq) = entry?.file_name().to_str().and_then(segment_seq_from_name) {
            max = max.max(seq);
        }
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_of_removed_shards_move_after_the_live_ones() {
        let root = tempfile::tempdir().unwrap();
        let dir = |k: usize| root.path().join(format!("shard-{k}"));
        for k in 0..4 {
            fs::create_dir_all(dir(k)).unwrap();
        }
        fs::write(dir(0).join(segment_file_name(3)), b"zero").unwrap();
        fs::write(dir(2).join(segment_file_name(1)), b"two-a").unwrap();
        fs::write(dir(2).join(segment_file_name(2)), b"two-b").unwrap();
        fs::write(dir(3).join(segment_file_name(7)), b"three").unwrap();
        assert_eq!(adopt_orphan_segments(root.path(), 2).unwrap(), 3);
        assert!(!dir(2).exists() && !dir(3).exists());
        let read = |k: usize, seq: u64| fs::read(dir(k).join(segment_file_name(seq))).unwrap();
        assert_eq!(read(0, 3), b"zero");
        assert_eq!(read(0, 4), b"two-a");
        assert_eq!(read(0, 5), b"two-b");
        assert_eq!(read(1, 1), b"three");
        assert_eq!(adopt_orphan_segments(root.path(), 2).unwrap(), 0);
    }
}
