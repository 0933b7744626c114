//! The runtime seam: everything a shard needs from its executor, and the glommio backend.
//!
//! This is the only file that names glommio. Shard code is generic over [`ShardRuntime`], so
//! another backend (compio, plain threads) or a deterministic test executor can replace it.

use std::future::Future;
use std::io;
use std::path::Path;
use std::time::Duration;

use futures::AsyncWriteExt;
use glommio::io::{DmaFile, DmaStreamWriter, DmaStreamWriterBuilder};
use glommio::{Latency, Shares, TaskQueueHandle};

/// An append-only file with an explicit durability point.
#[allow(async_fn_in_trait)]
pub trait WalFile {
    /// Appends `bytes` (buffered; not durable until [`WalFile::sync`]).
    async fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fdatasync).
    async fn sync(&mut self) -> io::Result<()>;
    /// Flushes and closes the file.
    async fn close(self) -> io::Result<()>;
}

/// What a shard needs from its executor.
#[allow(async_fn_in_trait)]
pub trait ShardRuntime: Clone + 'static {
    type File: WalFile;
    /// Creates (truncating) a WAL file.
    async fn create_wal_file(&self, path: &Path) -> io::Result<Self::File>;
    /// Runs `task` on the background queue (block encoding), detached.
    fn spawn_background(&self, task: impl Future<Output = ()> + 'static);
    /// Runs `task` on the latency-sensitive queue, detached.
    fn spawn_foreground(&self, task: impl Future<Output = ()> + 'static);
    /// Runs `task` on the query queue (search scans), detached.
    fn spawn_query(&self, task: impl Future<Output = ()> + 'static);
    /// Runs CPU-bound `work` on a thread outside the executor and waits for its result.
    fn run_blocking<F, T>(&self, work: F) -> impl Future<Output = T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
    /// Waits `duration`.
    async fn sleep(&self, duration: Duration);
    /// Yields if the current task has used its time slice.
    async fn yield_if_needed(&self);
}

/// The glommio backend: one executor pinned per shard, DMA (O_DIRECT) WAL writes.
#[derive(Clone)]
pub struct GlommioRuntime {
    background: TaskQueueHandle,
    foreground: TaskQueueHandle,
    query: TaskQueueHandle,
}

impl GlommioRuntime {
    /// Creates the shard's task queues; must run inside a glommio executor.
    pub fn new() -> GlommioRuntime {
        let background = glommio::executor().create_task_queue(
            Shares::Static(200),
            Latency::NotImportant,
            "background",
        );
        let foreground = glommio::executor().create_task_queue(
            Shares::Static(1000),
            Latency::Matters(Duration::from_millis(1)),
            "ingest",
        );
        // Scans take the core when ingest leaves it idle; under load ingest gets ~3/4 of it.
        let query = glommio::executor().create_task_queue(
            Shares::Static(300),
            Latency::Matters(Duration::from_millis(20)),
            "query",
        );
        GlommioRuntime {
            background,
            foreground,
            query,
        }
    }
}

impl Default for GlommioRuntime {
    fn default() -> Self {
        GlommioRuntime::new()
    }
}

/// A WAL file written through glommio's DMA stream writer.
pub struct GlommioWalFile {
    writer: DmaStreamWriter,
}

impl WalFile for GlommioWalFile {
    async fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await
    }

    async fn sync(&mut self) -> io::Result<()> {
        self.writer
            .sync()
            .await
            .map(|_| ())
            .map_err(io::Error::from)
    }

    async fn close(mut self) -> io::Result<()> {
        self.writer.close().await
    }
}

impl ShardRuntime for GlommioRuntime {
    type File = GlommioWalFile;

    async fn create_wal_file(&self, path: &Path) -> io::Result<GlommioWalFile> {
        let file = DmaFile::create(path).await.map_err(io::Error::from)?;
        let writer = DmaStreamWriterBuilder::new(file)
            .with_buffer_size(512 << 10)
            .with_write_behind(4)
            .build();
        Ok(GlommioWalFile { writer })
    }

    fn spawn_background(&self, task: impl Future<Output = ()> + 'static) {
        spawn_into(task, self.background);
    }

    fn spawn_foreground(&self, task: impl Future<Output = ()> + 'static) {
        spawn_into(task, self.foreground);
    }

    fn spawn_query(&self, task: impl Future<Output = ()> + 'static) {
        spawn_into(task, self.query);
    }

    fn run_blocking<F, T>(&self, work: F) -> impl Future<Output = T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        glommio::executor().spawn_blocking(move || {
            yield_cores_to_shards();
            work()
        })
    }

    async fn sleep(&self, duration: Duration) {
        glommio::timer::sleep(duration).await;
    }

    async fn yield_if_needed(&self) {
        glommio::yield_if_needed().await;
    }
}

fn spawn_into(task: impl Future<Output = ()> + 'static, queue: TaskQueueHandle) {
    match glommio::spawn_local_into(task, queue) {
        Ok(t) => {
            t.detach();
        }
        Err(error) => {
            tracing::error!(%error, "cannot spawn shard task");
        }
    }
}

/// Niceness of the blocking threads that build blocks.
const BLOCKING_NICENESS: i32 = 10;

/// Lowers the calling blocking thread's scheduling priority, once per thread: block
/// encoding then runs on the cycles the shards' executors leave, so acknowledgements do not
/// queue behind an encode for a core, while an idle core still encodes at full speed.
/// Measured at half the maximum ingest rate (2 cores): ack p99 23.7 ms at niceness 0, 14.8–16.8 ms
/// at 10.
fn yield_cores_to_shards() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    LOWERED.with(|lowered| {
        if lowered.replace(true) {
            return;
        }
        // SAFETY: plain syscalls on the calling thread's own ID.
        let result = unsafe {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, BLOCKING_NICENESS)
        };
        if result != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot lower the block encoder's priority");
        }
    });
}

/// Starts one pinned glommio executor running `main`, returning its join handle. If the
/// executor cannot be created (memlock too low, io_uring refused), `on_start_error` hears why.
pub fn spawn_pinned_executor<F, Fut>(
    name: &str,
    cpu: Option<usize>,
    io_memory: usize,
    on_start_error: impl FnOnce(String) + Send + 'static,
    main: F,
) -> Result<std::thread::JoinHandle<()>, String>
where
    F: FnOnce(GlommioRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let placement = match cpu {
        Some(cpu) => glommio::Placement::Fixed(cpu),
        None => glommio::Placement::Unbound,
    };
    // The blocking pool (block encoding) floats: pinned to the shard's core it would take
    // turns with the executor instead of using idle cores.
    let mut builder = glommio::LocalExecutorBuilder::new(placement)
        .blocking_thread_pool_placement(glommio::PoolPlacement::Unbound(1))
        .name(name)
        .preempt_timer(Duration::from_millis(5));
    if io_memory > 0 {
        builder = builder.io_memory(io_memory);
    }
    let name = name.to_string();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let executor = match builder.make() {
                Ok(executor) => executor,
                Err(error) => {
                    on_start_error(format!(
                        "glommio executor for {name} could not start: {error}"
                    ));
                    return;
                }
            };
            executor.run(async move {
                let rt = GlommioRuntime::new();
                main(rt).await;
            });
        })
        .map_err(|e| format!("cannot start shard thread: {e}"))
}
