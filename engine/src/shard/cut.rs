//! A cut head block: encoded to Parquet on the background queue and committed through the sink.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::command::{BlockSink, ShardCommand};
use super::runtime::ShardRuntime;
use crate::block::{BlockEncoder, BlockEncoderOptions, EncodedBlock};
use crate::config::EngineConfig;
use crate::head::TenantHead;
use crate::metrics::EngineMetrics;

/// The traces taken out of a head block at one cut, still queryable until committed.
pub struct CutHead {
    /// Last WAL segment holding this cut's data; segments `<= seq` are deleted on commit.
    pub seq: u64,
    pub tenants: Vec<(String, TenantHead)>,
}

/// Everything the background encode task needs.
pub struct CutContext<R: ShardRuntime> {
    pub shard: usize,
    pub rt: R,
    pub config: Arc<EngineConfig>,
    pub metrics: EngineMetrics,
    pub sink: Arc<dyn BlockSink>,
    pub mailbox: mpsc::WeakSender<ShardCommand>,
}

/// Encodes every tenant's block of `cut`, commits each through the sink (retrying uploads with
/// backoff until they succeed), then tells the pump so it can delete the WAL segments.
pub async fn encode_and_commit<R: ShardRuntime>(cut: Rc<CutHead>, ctx: CutContext<R>) {
    for (tenant, head) in &cut.tenants {
        if head.traces().is_empty() {
            continue;
        }
        let started = Instant::now();
        let block = match encode_tenant_block(&ctx, tenant, head).await {
            Ok(block) => block,
            Err(error) => {
                // Only a bug can get here: fragments were validated before they were acked.
                ctx.metrics.failed_flushes.inc();
                tracing::error!(shard = ctx.shard, tenant = %tenant, %error, "block encode failed; traces stay in the wal");
                return;
            }
        };
        ctx.metrics
            .block_encode_seconds
            .observe(started.elapsed().as_secs_f64());
        let data_bytes = block.data.len() as u64;
        let mut backoff = Duration::from_millis(200);
        loop {
            match ctx.sink.commit(block.clone()).await {
                Ok(()) => break,
                Err(error) => {
                    ctx.metrics.failed_flushes.inc();
                    tracing::warn!(shard = ctx.shard, tenant = %tenant, %error, retry_in = ?backoff, "block upload failed");
                    ctx.rt.sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        ctx.metrics.blocks_flushed.inc();
        ctx.metrics.block_bytes_written.inc_by(data_bytes);
        tracing::info!(shard = ctx.shard, tenant = %tenant, block = %block.meta.block_id, traces = block.meta.total_objects, bytes = data_bytes, "block committed");
    }
    if let Some(mailbox) = ctx.mailbox.upgrade() {
        // The pump may be gone at shutdown; the WAL then still holds the data for replay.
        let _ = mailbox
            .send(ShardCommand::CutCommitted { cut_seq: cut.seq })
            .await;
    }
}

async fn encode_tenant_block<R: ShardRuntime>(
    ctx: &CutContext<R>,
    tenant: &str,
    head: &TenantHead,
) -> Result<EncodedBlock, crate::block::BlockError> {
    let traces = head.traces();
    let mut order: Vec<usize> = (0..traces.len()).collect();
    order.sort_unstable_by_key(|&i| traces[i].trace_id);
    let options = BlockEncoderOptions {
        row_group_spans: ctx.config.row_group_spans,
        zstd_level: ctx.config.zstd_level,
        bloom_false_positive: ctx.config.bloom_false_positive,
        ..BlockEncoderOptions::default()
    };
    let mut encoder = BlockEncoder::new(tenant, traces.len(), options)?;
    for i in order {
        let trace = &traces[i];
        // The bytes are walked in place (no prost decode); bad bytes append nothing.
        match encoder.push_trace_otlp(&trace.trace_id, &trace.otlp) {
            Ok(()) => {}
            Err(error @ crate::block::BlockError::InvalidOtlp { .. }) => {
                tracing::error!(shard = ctx.shard, tenant = %tenant, trace_id = %hex::encode(trace.trace_id), %error, "trace bytes do not decode; skipped");
            }
            Err(error) => return Err(error),
        }
        ctx.rt.yield_if_needed().await;
    }
    encoder.finish()
}
