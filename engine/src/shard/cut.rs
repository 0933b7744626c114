//! A cut head block: encoded to Parquet on the background queue and committed through the sink.

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
    /// The epoch of the head block this was cut from ([`crate::head::HeadBlock::epoch`]).
    pub epoch: u64,
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
pub async fn encode_and_commit<R: ShardRuntime>(cut: Arc<CutHead>, ctx: CutContext<R>) {
    for index in 0..cut.tenants.len() {
        let (tenant, head) = &cut.tenants[index];
        if head.traces().is_empty() {
            continue;
        }
        let started = Instant::now();
        // Encoding is CPU-bound for up to seconds: it runs on a blocking thread, not on the
        // shard's executor, so acknowledgements keep their latency while a block is built.
        let (shared, options, shard) = (cut.clone(), encoder_options(&ctx.config), ctx.shard);
        let encoded = ctx
            .rt
            .run_blocking(move || {
                let (tenant, head) = &shared.tenants[index];
                encode_tenant_block(shard, tenant, head, options)
            })
            .await;
        let block = match encoded {
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

fn encoder_options(config: &EngineConfig) -> BlockEncoderOptions {
    BlockEncoderOptions {
        row_group_spans: config.row_group_spans,
        zstd_level: config.zstd_level,
        bloom_false_positive: config.bloom_false_positive,
        ..BlockEncoderOptions::default()
    }
}

fn encode_tenant_block(
    shard: usize,
    tenant: &str,
    head: &TenantHead,
    options: BlockEncoderOptions,
) -> Result<EncodedBlock, crate::block::BlockError> {
    let traces = head.traces();
    let mut order: Vec<usize> = (0..traces.len()).collect();
    order.sort_unstable_by_key(|&i| traces[i].trace_id);
    let mut encoder = BlockEncoder::new(tenant, traces.len(), options)?;
    for i in order {
        let trace = &traces[i];
        // The bytes are walked in place (no prost decode); bad bytes append nothing.
        match encoder.push_trace_otlp(&trace.trace_id, &trace.otlp()) {
            Ok(()) => {}
            Err(error @ crate::block::BlockError::InvalidOtlp { .. }) => {
                tracing::error!(shard, tenant = %tenant, trace_id = %hex::encode(trace.trace_id), %error, "trace bytes do not decode; skipped");
            }
            Err(error) => return Err(error),
        }
    }
    encoder.finish()
}
