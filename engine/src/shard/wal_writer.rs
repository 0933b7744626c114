//! The shard's open WAL segment: append, group-commit, rotate, delete what blocks cover.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::runtime::{ShardRuntime, WalFile};
use crate::config::WalSync;
use crate::metrics::EngineMetrics;
use crate::wal::{SEGMENT_MAGIC, segment_file_name, segment_seq_from_name};

/// Appends records to the current segment of one shard's WAL directory.
pub struct WalWriter<R: ShardRuntime> {
    rt: R,
    dir: PathBuf,
    seq: u64,
    file: Option<R::File>,
    sync: WalSync,
    metrics: EngineMetrics,
}

impl<R: ShardRuntime> WalWriter<R> {
    /// Opens a new segment numbered after `last_seq` in `dir`.
    pub async fn open(
        rt: R,
        dir: &Path,
        last_seq: u64,
        sync: WalSync,
        metrics: EngineMetrics,
    ) -> io::Result<WalWriter<R>> {
        let mut writer = WalWriter {
            rt,
            dir: dir.to_path_buf(),
            seq: last_seq,
            file: None,
            sync,
            metrics,
        };
        writer.start_segment(last_seq + 1).await?;
        Ok(writer)
    }

    async fn start_segment(&mut self, seq: u64) -> io::Result<()> {
        let path = self.dir.join(segment_file_name(seq));
        let mut file = self.rt.create_wal_file(&path).await?;
        file.append(SEGMENT_MAGIC).await?;
        file.sync().await?;
        sync_dir(&self.dir)?;
        self.file = Some(file);
        self.seq = seq;
        Ok(())
    }

    /// The current segment's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Appends `records` and, with `wal.sync: always`, fdatasyncs them.
    pub async fn append_durably(&mut self, records: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("wal segment is closed after an earlier failure"))?;
        file.append(records).await?;
        if self.sync == WalSync::Always {
            let started = Instant::now();
            file.sync().await?;
            self.metrics
                .wal_fsync_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        self.metrics.wal_bytes_written.inc_by(records.len() as u64);
        Ok(())
    }

    /// Closes the current segment and starts the next; returns the sealed segment's number.
    pub async fn rotate(&mut self) -> io::Result<u64> {
        let sealed = self.seq;
        if let Some(mut file) = self.file.take() {
            file.sync().await?;
            file.close().await?;
        }
        self.start_segment(sealed + 1).await?;
        Ok(sealed)
    }

    /// Deletes every segment numbered `<= through` (their data is committed in blocks).
    pub fn delete_through(&self, through: u64) -> io::Result<usize> {
        let mut deleted = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(seq) = name.to_str().and_then(segment_seq_from_name) else {
                continue;
            };
            if seq <= through {
                std::fs::remove_file(entry.path())?;
                deleted += 1;
            }
        }
        sync_dir(&self.dir)?;
        Ok(deleted)
    }

    /// Closes the current segment (clean shutdown).
    pub async fn close(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.sync().await?;
            file.close().await?;
        }
        Ok(())
    }
}

/// fsyncs a directory so that created/removed entries are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
