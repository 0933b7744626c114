//! Starting and stopping the shard pool, with a start-up barrier.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use super::command::BlockSink;
use super::handle::ShardHandle;
use super::memory::MemoryGate;
use super::orphan_wal::adopt_orphan_segments;
use super::pump::Shard;
use super::runtime::spawn_pinned_executor;
use super::startup::{allowed_cpus, io_memory_per_shard, probe_io_uring, raise_memlock_limit};
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::metrics::EngineMetrics;
use crate::routing::shard_for;
use crate::tenant::TenantId;

/// The running shards.
pub struct ShardPool {
    handles: Vec<ShardHandle>,
    threads: Vec<JoinHandle<()>>,
}

impl ShardPool {
    /// Starts one shard per allowed CPU (or `config.shards`), replays every WAL and returns
    /// only when every shard is ready — or the first start-up error, after stopping the rest.
    /// Blocking: call it from a thread that may block.
    pub fn start(
        config: EngineConfig,
        metrics: EngineMetrics,
        sink: Arc<dyn BlockSink>,
    ) -> Result<ShardPool, EngineError> {
        let memlock = raise_memlock_limit().map_err(EngineError::Startup)?;
        probe_io_uring().map_err(EngineError::Startup)?;
        let cpus = allowed_cpus();
        let shards = if config.shards == 0 {
            cpus.len().max(1)
        } else {
            config.shards
        };
        let io_memory = if config.io_memory_bytes > 0 {
            config.io_memory_bytes
        } else {
            io_memory_per_shard(memlock, shards)
        };
        std::fs::create_dir_all(&config.wal_path).map_err(|e| {
            EngineError::Startup(format!(
                "cannot create wal directory {}: {e}",
                config.wal_path.display()
            ))
        })?;
        adopt_orphan_segments(&config.wal_path, shards).map_err(|e| {
            EngineError::Startup(format!(
                "cannot adopt the wal of removed shards under {}: {e}",
                config.wal_path.display()
            ))
        })?;
        tracing::info!(shards, ?cpus, io_memory, "starting shards");
        let config = Arc::new(config);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<usize, String>>();
        let mut handles = Vec::with_capacity(shards);
        let mut threads = Vec::with_capacity(shards);
        for id in 0..shards {
            let (tx, rx) = mpsc::channel(config.mailbox_capacity);
            let weak = tx.downgrade();
            let memory = Arc::new(MemoryGate::new(id, &config));
            handles.push(ShardHandle {
                id,
                tx,
                memory: memory.clone(),
            });
            let cpu = cpus.get(id % cpus.len().max(1)).copied();
            let (config, metrics, sink) = (config.clone(), metrics.clone(), sink.clone());
            let (ready, failed) = (ready_tx.clone(), ready_tx.clone());
            let spawned = spawn_pinned_executor(
                &format!("shard-{id}"),
                cpu,
                io_memory,
                move |error| {
                    let _ = failed.send(Err(error));
                },
                move |rt| async move {
                    match Shard::start(id, rt, config, metrics, sink, weak, memory).await {
                        Ok(shard) => {
                            let _ = ready.send(Ok(id));
                            shard.run(rx).await;
                        }
                        Err(error) => {
                            let _ = ready.send(Err(format!("shard {id}: {error}")));
                        }
                    }
                },
            );
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            }
        }
        drop(ready_tx);
        let mut errors = Vec::new();
        for _ in 0..shards {
            match ready_rx.recv() {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => errors.push(error),
                Err(_) => {
                    errors.push("a shard thread exited before reporting".to_string());
                    break;
                }
            }
        }
        let pool = ShardPool { handles, threads };
        if !errors.is_empty() {
            pool.shutdown();
            return Err(EngineError::Startup(errors.join("; ")));
        }
        Ok(pool)
    }

    /// Every shard's handle, indexed by shard ID.
    pub fn handles(&self) -> &[ShardHandle] {
        &self.handles
    }

    /// The shard owning `trace_id` of `tenant`.
    pub fn shard_for(&self, tenant: &TenantId, trace_id: &[u8; 16]) -> &ShardHandle {
        &self.handles[shard_for(tenant.as_str(), trace_id, self.handles.len())]
    }

    /// Closes every mailbox and waits for the shards to close their WALs.
    pub fn shutdown(self) {
        drop(self.handles);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
