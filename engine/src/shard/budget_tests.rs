//! Memory budgets through a real shard (glommio, io_uring WAL): refusals happen before the WAL
//! write, refused pushes leave nothing behind, and bytes are released when a cut commits.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::executor::block_on;
use prost::Message as _;
use tokio::sync::Semaphore;
use tracecore_proto::otlp::{
    AnyValue, KeyValue, ResourceSpans, ScopeSpans, Span, TracesData, any_value::Value,
};

use crate::block::EncodedBlock;
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::fragment::TraceFragment;
use crate::metrics::EngineMetrics;
use crate::shard::{BlockSink, ShardHandle, ShardPool};
use crate::tenant::TenantId;
use crate::trace_limits::TraceLimits;
use crate::wal::replay_dir;

/// A bucket that commits a block only when the test hands out a permit.
struct GatedSink {
    permits: Arc<Semaphore>,
    committed: Arc<AtomicUsize>,
}

impl BlockSink for GatedSink {
    fn commit(
        &self,
        _block: EncodedBlock,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let (permits, committed) = (self.permits.clone(), self.committed.clone());
        Box::pin(async move {
            permits
                .acquire_owned()
                .await
                .map_err(|e| e.to_string())?
                .forget();
            committed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// One span of trace `[id; 16]`, padded so the fragment is about `pad` bytes larger.
pub(super) fn fragment(id: u8, pad: usize) -> TraceFragment {
    let span = Span {
        trace_id: vec![id; 16],
        span_id: vec![id; 8],
        name: format!("op-{id:03}"),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        attributes: vec![KeyValue {
            key: "pad".into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue("x".repeat(pad))),
            }),
        }],
        ..Default::default()
    };
    let otlp = TracesData {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    TraceFragment {
        trace_id: [id; 16],
        span_count: 1,
        start_unix_nano: 1_700_000_000_000_000_000,
        end_unix_nano: 1_700_000_000_100_000_000,
        otlp: Bytes::from(otlp),
    }
}

pub(super) struct TestShard {
    pool: ShardPool,
    permits: Arc<Semaphore>,
    committed: Arc<AtomicUsize>,
    wal: tempfile::TempDir,
}

impl TestShard {
    pub(super) fn start(tune: impl FnOnce(&mut EngineConfig)) -> TestShard {
        let wal = tempfile::tempdir().expect("tempdir");
        let mut config = EngineConfig {
            shards: 1,
            wal_path: wal.path().to_path_buf(),
            max_pending_cuts: 100,
            ..EngineConfig::default()
        };
        tune(&mut config);
        let permits = Arc::new(Semaphore::new(0));
        let committed = Arc::new(AtomicUsize::new(0));
        let sink = Arc::new(GatedSink {
            permits: permits.clone(),
            committed: committed.clone(),
        });
        let pool =
            ShardPool::start(config, EngineMetrics::unregistered(), sink).expect("pool starts");
        TestShard {
            pool,
            permits,
            committed,
            wal,
        }
    }

    pub(super) fn handle(&self) -> &ShardHandle {
        &self.pool.handles()[0]
    }

    pub(super) fn push(&self, tenant: &str, fragment: TraceFragment) -> Result<(), EngineError> {
        let tenant = TenantId::parse(tenant).expect("valid tenant");
        let rx = self
            .handle()
            .push(tenant, vec![fragment], TraceLimits::OFF)?;
        block_on(rx).expect("shard answers").map(|_| ())
    }

    fn held(&self) -> usize {
        self.handle().memory_bytes()
    }

    fn find(&self, tenant: &str, id: u8) -> usize {
        let tenant = TenantId::parse(tenant).expect("valid tenant");
        block_on(self.handle().find_trace(tenant, [id; 16]))
            .expect("find")
            .len()
    }

    /// Trace IDs (first byte) in the shard's WAL, read from a copy (replay repairs files).
    fn wal_trace_ids(&self) -> Vec<u8> {
        let copy = tempfile::tempdir().expect("tempdir");
        let dir = self.wal.path().join("shard-0");
        for entry in std::fs::read_dir(&dir).expect("wal dir") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
        }
        let mut ids: Vec<u8> = replay_dir(Path::new(copy.path()))
            .expect("replay")
            .iter()
            .flat_map(|s| s.entries.iter())
            .flat_map(|e| e.fragments.iter().map(|f| f.trace_id[0]))
            .collect();
        ids.sort_unstable();
        ids
    }

    fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn memory_budget_refuses_before_the_wal_and_is_released_when_cuts_commit() {
    let size = fragment(1, 500).byte_len();
    // Cut every second push; the budget holds four fragments (two cuts' worth).
    let shard = TestShard::start(|c| {
        c.max_head_bytes = 2 * size;
        c.max_memory_bytes = 4 * size;
    });
    for id in 1..=3 {
        shard.push("a", fragment(id, 500)).expect("within budget");
    }
    // The pump publishes what it holds after answering: wait for it rather than race it.
    shard.wait_until("one cut pending plus one in the head", || {
        shard.held() == 3 * size
    });

    // Both reservations pass the handle's pre-check (3 + 1 <= 4); the pump admits the first
    // and refuses the second with the exact numbers, before writing it.
    let tenant = TenantId::parse("a").expect("tenant");
    let first = shard.handle().try_reserve(&tenant, size).expect("reserve");
    let second = shard.handle().try_reserve(&tenant, size).expect("reserve");
    let (first, second) = (
        first.push(tenant.clone(), vec![fragment(4, 500)], TraceLimits::OFF),
        second.push(tenant.clone(), vec![fragment(5, 500)], TraceLimits::OFF),
    );
    assert!(block_on(first).expect("answer").is_ok());
    let refused = block_on(second).expect("answer").unwrap_err();
    assert!(
        matches!(refused, EngineError::MemoryBudgetExceeded { budget, .. } if budget == 4 * size),
        "{refused}"
    );
    shard.wait_until("four fragments held", || shard.held() == 4 * size);

    // Now the handle refuses at once, without reaching the shard.
    let refused = shard.push("b", fragment(6, 500)).unwrap_err();
    assert!(matches!(refused, EngineError::MemoryBudgetExceeded { .. }));
    assert_eq!(refused.kind(), crate::ErrorKind::Overloaded);

    // Nothing of the refused pushes was written or kept.
    assert_eq!(shard.wal_trace_ids(), vec![1, 2, 3, 4]);
    assert_eq!((shard.find("a", 5), shard.find("b", 6)), (0, 0));
    assert_eq!(
        shard.find("a", 1),
        1,
        "cut traces stay readable until committed"
    );
    assert_eq!(shard.committed.load(Ordering::SeqCst), 0);

    // The bucket catches up: both cuts commit, their bytes are released, ingest resumes.
    shard.permits.add_permits(2);
    shard.wait_until("both cuts are committed and released", || shard.held() == 0);
    assert_eq!(shard.committed.load(Ordering::SeqCst), 2);
    shard.push("a", fragment(5, 500)).expect("accepted again");
    shard.push("b", fragment(6, 500)).expect("accepted again");
    shard.wait_until("a third cut, pending", || shard.held() == 2 * size);
    shard.permits.add_permits(2);
    shard.pool.shutdown();
}

#[test]
fn a_tenant_over_its_head_share_is_refused_while_others_continue() {
    let size = fragment(1, 300).byte_len();
    let shard = TestShard::start(|c| {
        c.max_head_bytes_per_tenant = 2 * size;
    });
    shard.push("noisy", fragment(1, 300)).expect("under share");
    shard.push("noisy", fragment(2, 300)).expect("under share");
    let refused = shard.push("noisy", fragment(3, 300)).unwrap_err();
    assert!(
        matches!(&refused, EngineError::TenantHeadExceeded { tenant, share, .. } if tenant == "noisy" && *share == 2 * size),
        "{refused}"
    );
    assert_eq!(refused.kind(), crate::ErrorKind::Overloaded);
    // The share is per tenant: another tenant gets its own.
    for id in 10..12 {
        shard
            .push("quiet", fragment(id, 300))
            .expect("other tenants continue");
    }
    assert_eq!(shard.wal_trace_ids(), vec![1, 2, 10, 11]);
    shard.wait_until("four fragments held", || shard.held() == 4 * size);

    // A cut gives the tenant its share back; the commit releases the memory.
    shard.permits.add_permits(2);
    block_on(shard.handle().flush()).expect("flush");
    shard.wait_until("the cut is committed and released", || shard.held() == 0);
    shard
        .push("noisy", fragment(3, 300))
        .expect("share free again");
    shard.pool.shutdown();
}

#[test]
fn a_tenant_filling_the_head_is_not_refused_while_the_head_is_cut() {
    let size = fragment(1, 300).byte_len();
    // One tenant's share is the whole head (the defaults): its reaching it is a cut, not a
    // refusal.
    let shard = TestShard::start(|c| {
        c.max_head_bytes = 2 * size;
        c.max_head_bytes_per_tenant = 2 * size;
    });
    let tenant = TenantId::parse("only").expect("tenant");
    for round in 0..5u8 {
        shard
            .push("only", fragment(2 * round + 1, 300))
            .expect("under share");
        // This push fills the head: the pump answers, then cuts (rotating the WAL).
        shard
            .push("only", fragment(2 * round + 2, 300))
            .expect("fills the head");
        // Asked while the cut may still be rotating the WAL: the tenant is not over a share.
        assert!(
            shard.handle().try_reserve(&tenant, size).is_ok(),
            "round {round}: refused while its head was being cut"
        );
    }
    shard.permits.add_permits(5);
    shard.pool.shutdown();
}
