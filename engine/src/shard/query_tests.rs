//! Query jobs on a real shard: stepped to completion on the query queue, interleaved with
//! ingest, and a panicking job fails alone while the shard keeps serving.

use futures::executor::block_on;

use super::budget_tests::{TestShard, fragment};
use crate::error::EngineError;

#[test]
fn a_query_job_is_stepped_until_it_answers() {
    let shard = TestShard::start(|_| {});
    let mut steps = 0u32;
    let answer = block_on(shard.handle().run_query(move || {
        steps += 1;
        (steps == 1_000).then_some(steps)
    }))
    .expect("job answers");
    assert_eq!(answer, 1_000);
}

#[test]
fn ingest_is_served_while_a_long_job_runs() {
    let shard = TestShard::start(|_| {});
    let handle = shard.handle().clone();
    // A job of ~200 ms in 0.1 ms steps.
    let job = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        block_on(handle.run_query(move || {
            let until = std::time::Instant::now() + std::time::Duration::from_micros(100);
            while std::time::Instant::now() < until {}
            (started.elapsed() > std::time::Duration::from_millis(200)).then_some(())
        }))
    });
    for id in 1..=20 {
        shard
            .push("t", fragment(id, 10))
            .expect("push during the job");
    }
    job.join().expect("thread").expect("job answers");
}

#[test]
fn a_panicking_job_fails_alone() {
    let shard = TestShard::start(|_| {});
    let failed = block_on(
        shard
            .handle()
            .run_query(|| -> Option<()> { panic!("deliberate panic in a query step") }),
    );
    assert!(
        matches!(failed, Err(EngineError::QueryPanicked { shard: 0 })),
        "{failed:?}"
    );
    shard
        .push("t", fragment(7, 10))
        .expect("shard still ingests");
    let after = block_on(shard.handle().run_query(|| Some(42))).expect("shard still queries");
    assert_eq!(after, 42);
}
