//! The shard's single pump task: every mutation of shard state happens here.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::command::{BlockSink, QueryJob, Reply, ShardCommand};
use super::cut::{CutContext, CutHead, encode_and_commit};
use super::memory::{MemoryAdmission, MemoryGate};
use super::runtime::ShardRuntime;
use super::wal_writer::WalWriter;
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::fragment::TraceFragment;
use crate::head::{HeadBlock, TraceSnapshot};
use crate::metrics::{EngineMetrics, ShardLabel, TenantLabel};
use crate::tenant::TenantId;
use crate::trace_limits::{LimitRefusals, TraceLimiter, TraceLimits};
use crate::wal::{encode_record, replay_dir};

struct PendingCut {
    cut: Arc<CutHead>,
    /// OTLP bytes of the cut, held in memory until it is committed and dropped.
    bytes: usize,
    committed: bool,
}

/// All mutable state of one shard, owned by its pump task.
pub struct Shard<R: ShardRuntime> {
    id: usize,
    rt: R,
    config: Arc<EngineConfig>,
    metrics: EngineMetrics,
    label: ShardLabel,
    wal: WalWriter<R>,
    head: HeadBlock,
    limiter: TraceLimiter,
    cuts: VecDeque<PendingCut>,
    /// Sum of `cuts[..].bytes`.
    cut_bytes: usize,
    memory: Arc<MemoryGate>,
    flush_waiters: Vec<(u64, Reply<()>)>,
    sink: Arc<dyn BlockSink>,
    mailbox: mpsc::WeakSender<ShardCommand>,
    record_buf: Vec<u8>,
}

struct PushRequest {
    tenant: TenantId,
    fragments: Vec<TraceFragment>,
    limits: TraceLimits,
    reply: Reply<LimitRefusals>,
}

impl<R: ShardRuntime> Shard<R> {
    /// Replays the shard's WAL into a fresh head block and opens a new segment.
    pub async fn start(
        id: usize,
        rt: R,
        config: Arc<EngineConfig>,
        metrics: EngineMetrics,
        sink: Arc<dyn BlockSink>,
        mailbox: mpsc::WeakSender<ShardCommand>,
        memory: Arc<MemoryGate>,
    ) -> Result<Shard<R>, EngineError> {
        let dir = shard_wal_dir(&config, id);
        let replay_error = |source| EngineError::WalReplay {
            shard: id,
            path: dir.display().to_string(),
            source,
        };
        let segments = replay_dir(&dir).map_err(replay_error)?;
        let mut head = HeadBlock::default();
        let now = Instant::now();
        let mut last_seq = 0;
        let (mut records, mut spans) = (0u64, 0u64);
        for segment in &segments {
            last_seq = last_seq.max(segment.seq);
            metrics
                .wal_replay_corrupt_records
                .inc_by(segment.corrupt_records);
            for entry in &segment.entries {
                if TenantId::parse(&entry.tenant).is_err() {
                    tracing::warn!(shard = id, tenant = %entry.tenant, "wal record of an invalid tenant skipped");
                    continue;
                }
                head.apply(&entry.tenant, &entry.fragments, now);
                records += 1;
                spans += entry
                    .fragments
                    .iter()
                    .map(|f| u64::from(f.span_count))
                    .sum::<u64>();
            }
        }
        metrics.wal_replay_records.inc_by(records);
        tracing::info!(
            shard = id,
            segments = segments.len(),
            records,
            spans,
            traces = head.trace_count(),
            "wal replayed"
        );
        let limiter = TraceLimiter::new(config.trace_idle_period, now);
        let wal = WalWriter::open(rt.clone(), &dir, last_seq, config.wal_sync, metrics.clone())
            .await
            .map_err(replay_error)?;
        memory.set_held(head.bytes());
        Ok(Shard {
            id,
            rt,
            label: ShardLabel {
                shard: id.to_string(),
            },
            config,
            metrics,
            wal,
            head,
            limiter,
            cuts: VecDeque::new(),
            cut_bytes: 0,
            memory,
            flush_waiters: Vec::new(),
            sink,
            mailbox,
            record_buf: Vec::new(),
        })
    }

    /// Drains the mailbox until every handle is dropped, then closes the WAL.
    pub async fn run(mut self, mut rx: mpsc::Receiver<ShardCommand>) {
        self.start_ticker();
        let mut batch = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut bytes = command_bytes(&first);
            batch.push(first);
            while bytes < self.config.max_batch_bytes {
                match rx.try_recv() {
                    Ok(command) => {
                        bytes += command_bytes(&command);
                        batch.push(command);
                    }
                    Err(_) => break,
                }
            }
            self.handle_batch(&mut batch).await;
        }
        if let Err(error) = self.wal.close().await {
            tracing::warn!(shard = self.id, %error, "closing the wal failed");
        }
        tracing::info!(shard = self.id, "shard stopped");
    }

    fn start_ticker(&self) {
        let mailbox = self.mailbox.clone();
        let period = self
            .config
            .flush_check_period
            .min(std::time::Duration::from_secs(1));
        let rt = self.rt.clone();
        self.rt.spawn_foreground(async move {
            loop {
                rt.sleep(period).await;
                let Some(tx) = mailbox.upgrade() else { break };
                // A full mailbox means the pump is busy anyway; skip this tick.
                let _ = tx.try_send(ShardCommand::Tick);
            }
        });
    }

    async fn handle_batch(&mut self, batch: &mut Vec<ShardCommand>) {
        let mut pushes = Vec::new();
        let mut others = Vec::new();
        for command in batch.drain(..) {
            match command {
                ShardCommand::Push {
                    tenant,
                    fragments,
                    limits,
                    reply,
                    ..
                } => pushes.push(PushRequest {
                    tenant,
                    fragments,
                    limits,
                    reply,
                }),
                other => others.push(other),
            }
        }
        if !pushes.is_empty() {
            self.commit_pushes(pushes).await;
        }
        for command in others {
            self.handle_command(command).await;
        }
    }

    // PERFORMANCE-CRITICAL: one WAL write + one fdatasync for the whole batch.
    async fn commit_pushes(&mut self, pushes: Vec<PushRequest>) {
        if self.cuts.len() >= self.config.max_pending_cuts {
            for p in pushes {
                let _ = p.reply.send(Err(EngineError::Overloaded {
                    shard: self.id,
                    reason: "block flushes are behind",
                }));
            }
            return;
        }
        // Memory budgets before the WAL (and before the per-trace limiter records anything):
        // a refused push is never written and leaves no trace in the shard.
        let mut admission = MemoryAdmission::new(self.id, &self.config, self.memory_held());
        let mut admitted = Vec::with_capacity(pushes.len());
        for p in pushes {
            let bytes = p.fragments.iter().map(TraceFragment::byte_len).sum();
            let tenant_bytes = self.head.tenant_bytes(p.tenant.as_str());
            match admission.admit(p.tenant.as_str(), tenant_bytes, bytes) {
                Ok(()) => admitted.push(p),
                Err(error) => {
                    if matches!(error, EngineError::TenantHeadExceeded { .. }) {
                        self.memory.mark_over_share(p.tenant.as_str());
                    }
                    let _ = p.reply.send(Err(error));
                }
            }
        }
        let mut pushes = admitted;
        if pushes.is_empty() {
            return;
        }
        // Per-trace limits before the WAL: refused fragments are never written.
        let admitted_at = Instant::now();
        let refusals: Vec<LimitRefusals> = pushes
            .iter_mut()
            .map(|p| {
                self.limiter
                    .admit(p.tenant.as_str(), &mut p.fragments, p.limits, admitted_at)
            })
            .collect();
        if pushes.iter().all(|p| p.fragments.is_empty()) {
            for (p, refused) in pushes.into_iter().zip(refusals) {
                let _ = p.reply.send(Ok(refused));
            }
            return;
        }
        self.record_buf.clear();
        for p in pushes.iter().filter(|p| !p.fragments.is_empty()) {
            encode_record(
                &mut self.record_buf,
                p.tenant.as_str(),
                &p.fragments,
                self.config.wal_compress_min_bytes,
            );
        }
        if let Err(error) = self.wal.append_durably(&self.record_buf).await {
            tracing::error!(shard = self.id, %error, "wal write failed; requests refused");
            self.limiter.rollback();
            let message = error.to_string();
            for p in pushes {
                let _ = p.reply.send(Err(EngineError::WalWrite {
                    shard: self.id,
                    source: std::io::Error::other(message.clone()),
                }));
            }
            // The tail of the failed segment is in an unknown state: continue in a new one.
            if let Err(error) = self.wal.rotate().await {
                tracing::error!(shard = self.id, %error, "wal rotation after a failure failed");
            }
            return;
        }
        self.limiter.commit();
        let records = pushes.iter().filter(|p| !p.fragments.is_empty()).count();
        self.metrics.wal_records_written.inc_by(records as u64);
        self.metrics
            .group_commit_requests
            .observe(pushes.len() as f64);
        let now = Instant::now();
        let mut over_share = Vec::new();
        for (p, refused) in pushes.into_iter().zip(refusals) {
            let created = self.head.apply(p.tenant.as_str(), &p.fragments, now);
            if created > 0 {
                self.metrics
                    .traces_created
                    .get_or_create(&TenantLabel {
                        tenant: p.tenant.to_string(),
                    })
                    .inc_by(created as u64);
            }
            if self.head.tenant_bytes(p.tenant.as_str()) >= self.config.max_head_bytes_per_tenant {
                over_share.push(p.tenant.clone());
            }
            let _ = p.reply.send(Ok(refused));
        }
        self.memory.set_held(self.memory_held());
        if self.head.bytes() >= self.config.max_block_bytes.min(self.config.max_head_bytes) {
            // The cut empties every tenant's share: marking them over it first would have the
            // facade refuse their pushes while the WAL rotates.
            self.cut().await;
        } else {
            for tenant in over_share {
                self.memory.mark_over_share(tenant.as_str());
            }
        }
    }

    /// OTLP bytes held in memory: the live head plus the cuts not yet committed.
    fn memory_held(&self) -> usize {
        self.head.bytes() + self.cut_bytes
    }

    async fn handle_command(&mut self, command: ShardCommand) {
        match command {
            ShardCommand::Push { .. } => {}
            ShardCommand::FindTrace {
                tenant,
                trace_id,
                reply,
            } => {
                let _ = reply.send(Ok(self.find_trace(tenant.as_str(), &trace_id)));
            }
            ShardCommand::SnapshotTraces { tenant, reply } => {
                let _ = reply.send(Ok(self.snapshot_traces(tenant.as_str())));
            }
            ShardCommand::Flush { reply } => {
                self.cut().await;
                match self.cuts.back() {
                    None => {
                        let _ = reply.send(Ok(()));
                    }
                    Some(last) => self.flush_waiters.push((last.cut.seq, reply)),
                }
            }
            ShardCommand::Tick => {
                let now = Instant::now();
                let old = now.saturating_duration_since(self.head.created_at())
                    >= self.config.max_block_duration;
                if !self.head.is_empty() && old {
                    self.cut().await;
                }
                self.refresh_gauges(now);
            }
            ShardCommand::CutCommitted { cut_seq } => self.on_cut_committed(cut_seq),
            ShardCommand::Query(job) => self.start_query(job),
        }
    }

    /// Runs a query job to completion on the query task queue. A panicking step ends the
    /// job (its result channel closes, which the caller reports) and never the shard.
    fn start_query(&self, mut job: QueryJob) {
        let (rt, shard) = (self.rt.clone(), self.id);
        self.metrics.query_jobs.get_or_create(&self.label).inc();
        self.rt.spawn_query(async move {
            loop {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.step())) {
                    Ok(true) => rt.yield_if_needed().await,
                    Ok(false) => break,
                    Err(_) => {
                        tracing::error!(shard, "query job panicked");
                        break;
                    }
                }
            }
        });
    }

    fn find_trace(&self, tenant: &str, trace_id: &[u8; 16]) -> Vec<Bytes> {
        let mut found = Vec::new();
        for pending in &self.cuts {
            for (t, head) in &pending.cut.tenants {
                if t == tenant
                    && let Some(trace) = head.find(trace_id)
                {
                    found.push(trace.otlp());
                }
            }
        }
        if let Some(bytes) = self.head.find(tenant, trace_id) {
            found.push(bytes);
        }
        found
    }

    fn snapshot_traces(&self, tenant: &str) -> Vec<TraceSnapshot> {
        let mut out = Vec::new();
        for pending in &self.cuts {
            for (t, head) in &pending.cut.tenants {
                if t == tenant {
                    head.snapshot(pending.cut.epoch, &mut out);
                }
            }
        }
        self.head.snapshot(tenant, &mut out);
        out
    }

    async fn cut(&mut self) {
        if self.head.is_empty() {
            return;
        }
        let seq = match self.wal.rotate().await {
            Ok(seq) => seq,
            Err(error) => {
                tracing::error!(shard = self.id, %error, "wal rotation failed; cut postponed");
                return;
            }
        };
        let traces = self.head.trace_count();
        let bytes = self.head.bytes();
        let cut = Arc::new(CutHead {
            seq,
            epoch: self.head.epoch(),
            tenants: self.head.take(),
        });
        self.limiter.on_cut(Instant::now());
        tracing::debug!(shard = self.id, seq, traces, "head block cut");
        self.cuts.push_back(PendingCut {
            cut: cut.clone(),
            bytes,
            committed: false,
        });
        self.cut_bytes += bytes;
        // The new head is empty: every tenant is within its share again.
        self.memory.clear_over_share();
        let ctx = CutContext {
            shard: self.id,
            rt: self.rt.clone(),
            config: self.config.clone(),
            metrics: self.metrics.clone(),
            sink: self.sink.clone(),
            mailbox: self.mailbox.clone(),
        };
        self.rt.spawn_background(encode_and_commit(cut, ctx));
        self.refresh_gauges(Instant::now());
    }

    fn on_cut_committed(&mut self, cut_seq: u64) {
        for pending in self.cuts.iter_mut() {
            if pending.cut.seq == cut_seq {
                pending.committed = true;
            }
        }
        let mut deletable = None;
        while let Some(done) = self.cuts.pop_front_if(|c| c.committed) {
            self.cut_bytes -= done.bytes;
            deletable = Some(done.cut.seq);
        }
        self.memory.set_held(self.memory_held());
        let Some(through) = deletable else { return };
        match self.wal.delete_through(through) {
            Ok(deleted) => {
                tracing::debug!(shard = self.id, through, deleted, "wal segments deleted")
            }
            Err(error) => {
                tracing::warn!(shard = self.id, through, %error, "deleting wal segments failed")
            }
        }
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
            .into_iter()
            .partition(|(target, _)| *target <= through);
        self.flush_waiters = waiting;
        for (_, reply) in done {
            let _ = reply.send(Ok(()));
        }
        self.refresh_gauges(Instant::now());
    }

    fn refresh_gauges(&self, now: Instant) {
        let pending: usize = self
            .cuts
            .iter()
            .flat_map(|c| c.cut.tenants.iter())
            .map(|(_, h)| h.traces().len())
            .sum();
        let live = self
            .head
            .live_trace_count(now, self.config.trace_idle_period);
        self.metrics
            .head_live_traces
            .get_or_create(&self.label)
            .set((live + pending) as i64);
        self.metrics
            .head_bytes
            .get_or_create(&self.label)
            .set(self.head.bytes() as i64);
        self.metrics
            .memory_bytes
            .get_or_create(&self.label)
            .set(self.memory_held() as i64);
    }
}

fn command_bytes(command: &ShardCommand) -> usize {
    match command {
        ShardCommand::Push { bytes, .. } => *bytes,
        _ => 0,
    }
}

/// The WAL directory of shard `id`.
pub fn shard_wal_dir(config: &EngineConfig, id: usize) -> PathBuf {
    config.wal_path.join(format!("shard-{id}"))
}
