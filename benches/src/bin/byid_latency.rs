//! Trace-by-ID latency over many blocks: fills a running tracecore with `--blocks` blocks (one
//! small OTLP/HTTP request then `POST /flush` per round; each flush cuts one block per shard
//! that holds data) and then times `GET /api/traces/<id>` (protobuf, as Grafana asks) for
//! random known IDs, reporting min/p50/p90/p99/max.
//!
//! `byid_latency --api http://127.0.0.1:3200 --otlp-http http://127.0.0.1:4318 --blocks 1000`

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use prost::Message;
use rand::{Rng, SeedableRng};
use tracecore_benches::latency::LatencyHistogram;
use tracecore_benches::tracegen::TraceGenerator;

struct Args {
    api: String,
    otlp_http: String,
    rounds: usize,
    traces_per_round: usize,
    queries: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        api: "http://127.0.0.1:3200".into(),
        otlp_http: "http://127.0.0.1:4318".into(),
        rounds: 500,
        traces_per_round: 10,
        queries: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--api" => args.api = value()?,
            "--otlp-http" => args.otlp_http = value()?,
            "--rounds" => args.rounds = value()?.parse()?,
            "--traces-per-round" => args.traces_per_round = value()?.parse()?,
            "--queries" => args.queries = value()?.parse()?,
            "--help" | "-h" => {
                println!(
                    "usage: byid_latency [--api URL] [--otlp-http URL] [--rounds N (flushes; \
                     blocks = rounds x shards holding data)] [--traces-per-round N] [--queries N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    // Workspace builds give reqwest `rustls-no-provider` (tests/Cargo.toml); it needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = parse_args()?;
    let client = reqwest::Client::new();
    let mut generator = TraceGenerator::new(99);
    let mut ids = Vec::new();
    let fill_started = Instant::now();
    for round in 0..args.rounds {
        let (request, manifests) = generator.request(args.traces_per_round);
        ids.extend(manifests.iter().map(|m| m.trace_id));
        let reply = client
            .post(format!("{}/v1/traces", args.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await?;
        if !reply.status().is_success() {
            bail!("ingest failed in round {round}: {}", reply.status());
        }
        let flushed = client.post(format!("{}/flush", args.api)).send().await?;
        if !flushed.status().is_success() {
            bail!("flush failed in round {round}: {}", flushed.status());
        }
    }
    eprintln!(
        "filled {} rounds ({} traces) in {:?}",
        args.rounds,
        ids.len(),
        fill_started.elapsed()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut histogram = LatencyHistogram::new();
    for _ in 0..args.queries {
        let id = hex::encode(ids[rng.random_range(0..ids.len())]);
        let started = Instant::now();
        let reply = client
            .get(format!("{}/api/traces/{id}", args.api))
            .header("accept", "application/protobuf")
            .send()
            .await?;
        let status = reply.status();
        let body = reply.bytes().await?;
        histogram.record(started.elapsed());
        if !status.is_success() || body.is_empty() {
            bail!("trace {id} not found: {status}");
        }
    }
    let ms = |us: u64| Duration::from_micros(us).as_secs_f64() * 1000.0;
    println!(
        "{{\"queries\":{},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"mean_ms\":{:.3}}}",
        histogram.count(),
        ms(histogram.quantile_us(0.5)),
        ms(histogram.quantile_us(0.9)),
        ms(histogram.quantile_us(0.99)),
        ms(histogram.max_us()),
        histogram.mean_us() / 1000.0
    );
    Ok(())
}
