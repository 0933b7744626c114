//! Acknowledged = durable (RELIABILITY.md promise 1, test R1): graceful restarts, flushes to the
//! bucket, and `kill -9` in the middle of sustained ingest.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tonic::Code;
use tracecore_proto::otlp::ResourceSpans;
use tracecore_tests::readback::check_trace_everywhere;
use tracecore_tests::{
    Client, Encoding, Server, ServerOptions, TraceBatch, TraceGenerator, TraceId, TraceManifest,
};

/// `<blocks>/<tenant>/<uuid>/` directories that hold a committed block.
fn committed_blocks(blocks: &Path, tenant: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(blocks.join(tenant)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("meta.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_block_dir(dir: &Path) {
    for file in ["meta.json", "data.parquet", "bloom-0"] {
        let path = dir.join(file);
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{} missing: {e}", path.display()))
            .len();
        assert!(len > 0, "{} is empty", path.display());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap())
            .expect("meta.json is JSON");
    assert!(meta.is_object(), "meta.json: {meta}");
    let parquet = std::fs::read(dir.join("data.parquet")).unwrap();
    assert!(
        parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"),
        "data.parquet has Parquet magic at both ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restart_keeps_traces() {
    let mut server = Server::start(ServerOptions::default()).await.unwrap();
    let mut generator = TraceGenerator::new(1001);
    let grpc = TraceBatch::generate(&mut generator, 3);
    let http = TraceBatch::generate(&mut generator, 3);
    let client = server.client();
    client.export_ok(&grpc.request).await.unwrap();
    client
        .otlp_http_export(&http.request, Encoding::Protobuf, false)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();

    let status = server.restart().await.unwrap();
    assert!(
        status.success(),
        "SIGTERM should end tracecore cleanly, got {status}"
    );
    let client = server.client();
    for (id, spans) in grpc.traces.iter().chain(&http.traces) {
        check_trace_everywhere(&client, id, spans)
            .await
            .unwrap_or_else(|e| panic!("after a graceful restart: {e:#}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_commits_blocks_that_survive_restart() {
    let mut server = Server::start(ServerOptions::default()).await.unwrap();
    let mut generator = TraceGenerator::new(2002);
    let first = TraceBatch::generate(&mut generator, 4);
    server.client().export_ok(&first.request).await.unwrap();

    let reply = server.client().flush().await.unwrap();
    assert_eq!(reply.status, 204, "POST /flush: {}", reply.text());
    let blocks = committed_blocks(&server.blocks_dir(), "single-tenant");
    assert!(
        !blocks.is_empty(),
        "after /flush a block must exist under {}/single-tenant/<uuid>/meta.json",
        server.blocks_dir().display()
    );
    for b in &blocks {
        assert!(is_uuid(b), "block directory {b:?} is not a UUID");
        check_block_dir(&server.blocks_dir().join("single-tenant").join(b));
    }
    for (id, spans) in &first.traces {
        check_trace_everywhere(&server.client(), id, spans)
            .await
            .unwrap_or_else(|e| panic!("right after /flush: {e:#}"));
    }

    let status = server.restart().await.unwrap();
    assert!(status.success(), "SIGTERM exit {status}");
    for (id, spans) in &first.traces {
        check_trace_everywhere(&server.client(), id, spans)
            .await
            .unwrap_or_else(|e| panic!("flushed trace after restart: {e:#}"));
    }

    // A second generation of data after the restart goes to a new block.
    let second = TraceBatch::generate(&mut generator, 2);
    server.client().export_ok(&second.request).await.unwrap();
    let reply = server.client().flush().await.unwrap();
    assert_eq!(reply.status, 204, "second POST /flush: {}", reply.text());
    let after = committed_blocks(&server.blocks_dir(), "single-tenant");
    assert!(
        after.len() > blocks.len(),
        "second flush wrote no new block: {after:?}"
    );
    for (id, spans) in first.traces.iter().chain(&second.traces) {
        check_trace_everywhere(&server.client(), id, spans)
            .await
            .unwrap_or_else(|e| panic!("after the second flush: {e:#}"));
    }
}

/// What the ingest clients got acknowledged.
#[derive(Default)]
struct Ledger {
    acked: Vec<TraceManifest>,
    /// Full content of some acknowledged traces, to check more than span IDs.
    samples: Vec<(TraceId, Vec<ResourceSpans>)>,
    /// Failures while the server was supposed to be healthy.
    unexpected: Vec<String>,
    requests: usize,
    /// Requests that failed because the server was killed while they were in flight.
    cut_off: usize,
}

/// Sends batches until `stop`, recording what was acknowledged. Retries on 429 /
/// RESOURCE_EXHAUSTED; any other failure is unexpected unless the server has been `killed`.
async fn ingest_loop(
    client: Client,
    seed: u64,
    use_grpc: bool,
    ledger: Arc<Mutex<Ledger>>,
    killed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let mut generator = TraceGenerator::new(seed);
    let mut sent = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let batch = TraceBatch::generate(&mut generator, 5);
        let acked = loop {
            let result = if use_grpc {
                match client
                    .otlp_grpc_export(&batch.request, sent.is_multiple_of(3))
                    .await
                {
                    Ok(r)
                        if r.partial_success
                            .as_ref()
                            .is_none_or(|p| p.rejected_spans == 0) =>
                    {
                        Ok(())
                    }
                    Ok(r) => Err((false, format!("partial success: {:?}", r.partial_success))),
                    Err(s) => Err((
                        s.code() == Code::ResourceExhausted,
                        format!("{:?}: {}", s.code(), s.message()),
                    )),
                }
            } else {
                match client
                    .otlp_http_export(&batch.request, Encoding::Protobuf, sent.is_multiple_of(3))
                    .await
                {
                    Ok(r) if r.status == 200 => Ok(()),
                    Ok(r) => Err((r.status == 429, format!("HTTP {}: {}", r.status, r.text()))),
                    Err(e) => Err((false, format!("{e:#}"))),
                }
            };
            match result {
                Ok(()) => break true,
                Err((true, _)) if !stop.load(Ordering::SeqCst) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err((_, message)) => {
                    let mut l = ledger.lock().unwrap();
                    if killed.load(Ordering::SeqCst) {
                        l.cut_off += 1;
                    } else {
                        l.unexpected.push(message);
                    }
                    break false;
                }
            }
        };
        sent += 1;
        if acked {
            let mut l = ledger.lock().unwrap();
            l.requests += 1;
            l.acked.extend(batch.manifests());
            if l.acked.len() % 40 < 5 {
                l.samples.push(batch.traces[0].clone());
            }
        } else {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Checks every manifest: all spans present, none duplicated. Returns a report of losses.
async fn verify_acked(client: &Client, manifests: &[TraceManifest]) -> Vec<String> {
    let mut set = JoinSet::new();
    let chunk = manifests.len().div_ceil(6).max(1);
    for part in manifests.chunks(chunk) {
        let part = part.to_vec();
        let client = client.clone();
        set.spawn(async move {
            let mut problems = Vec::new();
            for m in part {
                let id = hex::encode(m.trace_id);
                match client.trace_v1(&m.trace_id).await {
                    Err(e) => problems.push(format!("{id}: {e:#}")),
                    Ok(None) => problems.push(format!(
                        "{id}: acknowledged trace lost ({} spans)",
                        m.span_count()
                    )),
                    Ok(Some(rs)) => {
                        let returned: Vec<Vec<u8>> = rs
                            .iter()
                            .flat_map(|r| &r.scope_spans)
                            .flat_map(|s| &s.spans)
                            .map(|s| s.span_id.clone())
                            .collect();
                        let got: HashSet<&[u8]> = returned.iter().map(Vec::as_slice).collect();
                        let missing = m.span_ids.iter().filter(|s| !got.contains(&s[..])).count();
                        if missing > 0 || returned.len() != m.span_count() {
                            problems.push(format!(
                                "{id}: {missing} of {} acknowledged spans missing, {} returned",
                                m.span_count(),
                                returned.len()
                            ));
                        }
                    }
                }
            }
            problems
        });
    }
    let mut problems = Vec::new();
    while let Some(r) = set.join_next().await {
        problems.extend(r.expect("verifier task panicked"));
    }
    problems
}

async fn kill_cycles(cycles: usize) {
    let mut server = Server::start(ServerOptions {
        shards: 2,
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed);
    let mut all_acked: Vec<TraceManifest> = Vec::new();
    let mut all_samples = Vec::new();
    for cycle in 0..cycles {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let killed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders = JoinSet::new();
        for sender in 0..4u64 {
            senders.spawn(ingest_loop(
                server.client(),
                (cycle as u64) << 8 | sender,
                sender % 2 == 0,
                ledger.clone(),
                killed.clone(),
                stop.clone(),
            ));
        }
        // Let some requests complete, optionally flush mid-ingest, then crash at a random moment.
        let started = Instant::now();
        while ledger.lock().unwrap().requests < 10 && started.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if cycle % 3 == 1 {
            let reply = server.client().flush().await.unwrap();
            assert_eq!(reply.status, 204, "flush during ingest: {}", reply.text());
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..700))).await;
        killed.store(true, Ordering::SeqCst);
        server.kill9().unwrap();
        stop.store(true, Ordering::SeqCst);
        while let Some(r) = senders.join_next().await {
            r.expect("ingest task panicked");
        }
        let ledger = std::mem::take(&mut *ledger.lock().unwrap());
        assert!(
            ledger.unexpected.is_empty(),
            "cycle {cycle}: ingest failed while the server was healthy:\n{}",
            ledger.unexpected.join("\n")
        );
        assert!(
            ledger.requests >= 10,
            "cycle {cycle}: only {} requests acknowledged",
            ledger.requests
        );

        server.relaunch().await.unwrap();
        let client = server.client();
        let problems = verify_acked(&client, &ledger.acked).await;
        let spans: usize = ledger.acked.iter().map(TraceManifest::span_count).sum();
        assert!(
            problems.is_empty(),
            "cycle {cycle}: {} of {} acknowledged traces ({spans} spans) damaged after kill -9:\n{}",
            problems.len(),
            ledger.acked.len(),
            problems
                .iter()
                .take(15)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        for (id, rs) in &ledger.samples {
            check_trace_everywhere(&client, id, rs)
                .await
                .unwrap_or_else(|e| {
                    panic!("cycle {cycle}: content of an acknowledged trace: {e:#}")
                });
        }
        eprintln!(
            "kill -9 cycle {cycle}: {} requests, {} traces, {spans} spans acknowledged and intact; \
             {} requests cut off by the kill",
            ledger.requests,
            ledger.acked.len(),
            ledger.cut_off
        );
        all_acked.extend(ledger.acked);
        all_samples.extend(ledger.samples);
    }
    // Everything from earlier cycles survived the later crashes too.
    let problems = verify_acked(&server.client(), &all_acked).await;
    assert!(
        problems.is_empty(),
        "after {cycles} cycles, {} acknowledged traces damaged:\n{}",
        problems.len(),
        problems
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (id, rs) in all_samples.iter().step_by(3) {
        check_trace_everywhere(&server.client(), id, rs)
            .await
            .unwrap();
    }
}

/// R1: kill -9 during sustained ingest; every acknowledged span is there after restart.
/// 3 cycles; `TRACECORE_SOAK=1` makes it 20 (`TRACECORE_KILL_CYCLES=N` sets any number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ingest_loses_no_acknowledged_span() {
    let cycles = std::env::var("TRACECORE_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(
            if std::env::var_os("TRACECORE_SOAK").is_some_and(|v| v == "1") {
                20
            } else {
                3
            },
        );
    kill_cycles(cycles).await;
}

/// Half a trace in a flushed block, half in the head block (and the WAL): reads merge both, before
/// and after a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_split_between_block_and_wal() {
    let mut server = Server::start(ServerOptions::default()).await.unwrap();
    let mut generator = TraceGenerator::new(3003);
    let (id, spans) = generator.next_trace();
    let parts = tracecore_tests::split_spans(&spans, 2);
    let request = |i: usize| tracecore_proto::otlp::ExportTraceServiceRequest {
        resource_spans: parts[i].clone(),
    };
    server.client().export_ok(&request(0)).await.unwrap();
    let reply = server.client().flush().await.unwrap();
    assert_eq!(reply.status, 204, "POST /flush: {}", reply.text());
    server.client().export_ok(&request(1)).await.unwrap();
    check_trace_everywhere(&server.client(), &id, &spans)
        .await
        .unwrap_or_else(|e| panic!("block + head block: {e:#}"));
    server.kill9().unwrap();
    server.relaunch().await.unwrap();
    check_trace_everywhere(&server.client(), &id, &spans)
        .await
        .unwrap_or_else(|e| panic!("block + replayed WAL after kill -9: {e:#}"));
}

/// The shard count changes between runs (a smaller or larger CPU set): WAL directories of
/// removed shards are adopted by the remaining ones and every acknowledged trace stays whole,
/// before and after a flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_count_changes_keep_every_trace() {
    let mut server = Server::start(ServerOptions {
        shards: 3,
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let mut generator = TraceGenerator::new(4242);
    let mut manifests = Vec::new();
    for _ in 0..6 {
        let batch = TraceBatch::generate(&mut generator, 8);
        server.client().export_ok(&batch.request).await.unwrap();
        manifests.extend(batch.manifests());
    }
    for shards in [1, 2, 4] {
        server.kill9().unwrap();
        server.set_shards(shards).unwrap();
        server.relaunch().await.unwrap();
        let problems = verify_acked(&server.client(), &manifests).await;
        assert!(
            problems.is_empty(),
            "after restarting with {shards} shards: {problems:#?}"
        );
        let batch = TraceBatch::generate(&mut generator, 8);
        server.client().export_ok(&batch.request).await.unwrap();
        manifests.extend(batch.manifests());
    }
    server
        .client()
        .flush()
        .await
        .unwrap()
        .expect_status(204)
        .unwrap();
    let problems = verify_acked(&server.client(), &manifests).await;
    assert!(problems.is_empty(), "after flush: {problems:#?}");
}
