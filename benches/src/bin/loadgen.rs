//! `loadgen`: drives a running tracecore (or Tempo, or any OTLP receiver) with realistic traces
//! over OTLP/gRPC or OTLP/HTTP and reports throughput, ack latency and errors. It also speaks
//! Jaeger (Thrift over HTTP, agent UDP compact) and Zipkin (v2 JSON) with the same traces, so
//! the receivers' costs can be compared with OTLP's.
//!
//! ```text
//! loadgen --protocol grpc --endpoint http://127.0.0.1:4317 --rate max --connections 8 --duration 30s
//! loadgen --protocol http --endpoint http://127.0.0.1:4318 --rate 50000 --gzip --tenant team-a
//! loadgen --protocol jaeger-thrift --endpoint http://127.0.0.1:14268 --rate max
//! loadgen --protocol zipkin --endpoint http://127.0.0.1:9411 --rate max
//! loadgen --protocol jaeger-compact --endpoint 127.0.0.1:6831 --rate 20000
//! ```
//!
//! UDP has no acknowledgement: in `jaeger-compact` mode "acknowledged" means sent, latency is
//! the send call's, and datagrams the server dropped show only in its
//! `tracecore_receiver_datagrams_total` metric. Give it a `--rate`.
//!
//! Requests are generated and encoded before the clock starts; each send copies a pooled request
//! and patches fresh trace IDs and current timestamps into it, so generation never limits the rate
//! and no trace ID repeats. Each connection keeps one request in flight. Output: a progress line
//! per interval, a human-readable summary, and a final one-line JSON summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tracecore_benches::latency::LatencyHistogram;
use tracecore_benches::legacy::{
    DEFAULT_BATCH_SPANS, LegacyFormat, LegacyRequest, process_batches,
};
use tracecore_benches::otlp_grpc::{ExportOptions, export_raw};
use tracecore_benches::pool::{PooledRequest, build_pool};
use tracecore_benches::tracegen::TraceGenerator;

const USAGE: &str = "\
usage: loadgen [options]
  --endpoint URL            receiver (defaults: grpc http://127.0.0.1:4317, http http://127.0.0.1:4318,
                            jaeger-thrift http://127.0.0.1:14268, jaeger-compact 127.0.0.1:6831 (UDP),
                            zipkin http://127.0.0.1:9411)
  --protocol P              grpc | http (OTLP), jaeger-thrift (POST /api/traces), jaeger-compact
                            (agent UDP), zipkin (v2 JSON, POST /api/v2/spans) (default grpc)
  --rate N|max              target spans per second over all connections (default max)
  --connections N           concurrent connections, one request in flight each (default 4)
  --duration D              run time, e.g. 30s, 2m (default 30s)
  --traces-per-request N    traces per OTLP export request (default 10)
  --batch-spans N           jaeger/zipkin modes: spans per request, one process's batch as a
                            Jaeger client or Zipkin reporter flushes it (default 100)
  --tenant ID               send X-Scope-OrgID / x-scope-orgid
  --gzip                    compress request bodies
  --pool N                  distinct pre-generated requests (default 256)
  --seed N                  generator seed (default 1)
  --report-interval D       progress line interval (default 5s)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http,
    JaegerThrift,
    JaegerCompact,
    Zipkin,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
            Protocol::JaegerThrift => "jaeger-thrift",
            Protocol::JaegerCompact => "jaeger-compact",
            Protocol::Zipkin => "zipkin",
        }
    }

    fn legacy(self) -> Option<LegacyFormat> {
        match self {
            Protocol::Grpc | Protocol::Http => None,
            Protocol::JaegerThrift => Some(LegacyFormat::JaegerThriftHttp),
            Protocol::JaegerCompact => Some(LegacyFormat::JaegerAgentCompact),
            Protocol::Zipkin => Some(LegacyFormat::ZipkinJson),
        }
    }
}

#[derive(Clone, Debug)]
struct Args {
    endpoint: String,
    protocol: Protocol,
    /// Spans per second; `None` means as fast as the server acknowledges.
    rate: Option<f64>,
    connections: usize,
    duration: Duration,
    traces_per_request: usize,
    /// Jaeger/Zipkin modes: spans per process batch (see `legacy::process_batches`).
    batch_spans: usize,
    tenant: Option<String>,
    gzip: bool,
    pool: usize,
    seed: u64,
    report_interval: Duration,
}

fn parse_args(argv: impl IntoIterator<Item = String>) -> anyhow::Result<Args> {
    let mut endpoint = None;
    let mut args = Args {
        endpoint: String::new(),
        protocol: Protocol::Grpc,
        rate: None,
        connections: 4,
        duration: Duration::from_secs(30),
        traces_per_request: 10,
        batch_spans: DEFAULT_BATCH_SPANS,
        tenant: None,
        gzip: false,
        pool: 256,
        seed: 1,
        report_interval: Duration::from_secs(5),
    };
    let mut it = argv.into_iter();
    while let Some(raw) = it.next() {
        // Accept `--flag value`, `--flag=value` and Go-style single dashes.
        let flag = raw.trim_start_matches('-');
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.to_owned(), None),
        };
        if name == "help" || name == "h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        if name == "gzip" {
            args.gzip = inline
                .map_or(Ok(true), |v| v.parse())
                .context("--gzip takes true|false")?;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .with_context(|| format!("--{name} needs a value\n{USAGE}"))?,
        };
        match name.as_str() {
            "endpoint" => endpoint = Some(value.trim_end_matches('/').to_owned()),
            "protocol" => {
                args.protocol = match value.as_str() {
                    "grpc" => Protocol::Grpc,
                    "http" | "http/protobuf" => Protocol::Http,
                    "jaeger-thrift" | "jaeger" => Protocol::JaegerThrift,
                    "jaeger-compact" | "jaeger-udp" => Protocol::JaegerCompact,
                    "zipkin" | "zipkin-json" => Protocol::Zipkin,
                    other => bail!(
                        "unknown protocol {other:?}: use grpc, http, jaeger-thrift, \
                         jaeger-compact or zipkin"
                    ),
                }
            }
            "rate" => {
                args.rate = if value == "max" {
                    None
                } else {
                    let r: f64 = value
                        .parse()
                        .with_context(|| format!("bad --rate {value:?}"))?;
                    if !(r > 0.0 && r.is_finite()) {
                        bail!("--rate must be positive or `max`, got {value}");
                    }
                    Some(r)
                }
            }
            "connections" => args.connections = positive(&name, &value)?,
            "duration" => {
                args.duration = humantime::parse_duration(&value)
                    .with_context(|| format!("bad --duration {value:?}"))?
            }
            "traces-per-request" => args.traces_per_request = positive(&name, &value)?,
            "batch-spans" => args.batch_spans = positive(&name, &value)?,
            "tenant" => args.tenant = Some(value),
            "pool" => args.pool = positive(&name, &value)?,
            "seed" => {
                args.seed = value
                    .parse()
                    .with_context(|| format!("bad --seed {value:?}"))?
            }
            "report-interval" => {
                args.report_interval = humantime::parse_duration(&value)
                    .with_context(|| format!("bad --report-interval {value:?}"))?
            }
            other => bail!("unknown flag --{other}\n{USAGE}"),
        }
    }
    args.endpoint = endpoint.unwrap_or_else(|| {
        match args.protocol {
            Protocol::Grpc => "http://127.0.0.1:4317",
            Protocol::Http => "http://127.0.0.1:4318",
            Protocol::JaegerThrift => "http://127.0.0.1:14268",
            Protocol::JaegerCompact => "127.0.0.1:6831",
            Protocol::Zipkin => "http://127.0.0.1:9411",
        }
        .to_owned()
    });
    let path = match args.protocol {
        Protocol::Http => "/v1/traces",
        Protocol::JaegerThrift => "/api/traces",
        Protocol::Zipkin => "/api/v2/spans",
        Protocol::Grpc | Protocol::JaegerCompact => "",
    };
    if !path.is_empty() && !args.endpoint.ends_with(path) {
        args.endpoint.push_str(path);
    }
    if args.protocol == Protocol::JaegerCompact {
        args.endpoint = args
            .endpoint
            .trim_start_matches("udp://")
            .trim_start_matches("http://")
            .to_owned();
    }
    Ok(args)
}

fn positive(name: &str, value: &str) -> anyhow::Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("--{name} must be a positive integer, got {value:?}"),
    }
}

/// Error classes reported separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ErrorKind {
    /// HTTP 429 / gRPC RESOURCE_EXHAUSTED: the server pushed back.
    Throttled,
    /// Other client errors: the request was refused.
    Client,
    /// Server errors.
    Server,
    /// No answer: connection refused or reset, timeout.
    Transport,
}

impl ErrorKind {
    const ALL: [ErrorKind; 4] = [
        ErrorKind::Throttled,
        ErrorKind::Client,
        ErrorKind::Server,
        ErrorKind::Transport,
    ];

    fn label(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "429",
            ErrorKind::Client => "4xx",
            ErrorKind::Server => "5xx",
            ErrorKind::Transport => "transport",
        }
    }

    fn of_http(status: u16) -> Self {
        match status {
            429 => ErrorKind::Throttled,
            400..=499 => ErrorKind::Client,
            _ => ErrorKind::Server,
        }
    }

    fn of_grpc(code: Code) -> Self {
        match code {
            Code::ResourceExhausted => ErrorKind::Throttled,
            Code::InvalidArgument
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::NotFound
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::AlreadyExists
            | Code::Unimplemented => ErrorKind::Client,
            Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Unknown => {
                ErrorKind::Transport
            }
            _ => ErrorKind::Server,
        }
    }
}

/// Counters shared by workers and the reporter.
#[derive(Default)]
struct Counters {
    requests_ok: AtomicU64,
    spans_ok: AtomicU64,
    bytes_ok: AtomicU64,
    rejected_spans: AtomicU64,
    errors: [AtomicU64; 4],
}

impl Counters {
    fn error(&self, kind: ErrorKind) {
        self.errors[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn errors(&self) -> [u64; 4] {
        ErrorKind::ALL.map(|k| self.errors[k as usize].load(Ordering::Relaxed))
    }
}

/// What one worker hands back.
struct WorkerResult {
    latency: LatencyHistogram,
    first_errors: BTreeMap<ErrorKind, String>,
}

enum Transport {
    Grpc(Channel),
    Http(reqwest::Client),
    Udp(tokio::net::UdpSocket),
}

/// The pre-generated requests: pre-encoded OTLP, or Jaeger/Zipkin re-encoded per send.
enum Requests {
    Otlp(Vec<PooledRequest>),
    Legacy(LegacyFormat, Vec<LegacyRequest>),
}

impl Requests {
    fn build(args: &Args) -> anyhow::Result<Requests> {
        Ok(match args.protocol.legacy() {
            None => Requests::Otlp(build_pool(args.seed, args.pool, args.traces_per_request)?),
            Some(format) => {
                let mut generator = TraceGenerator::new(args.seed);
                Requests::Legacy(
                    format,
                    process_batches(&mut generator, args.pool, args.batch_spans)
                        .into_iter()
                        .map(LegacyRequest::new)
                        .collect(),
                )
            }
        })
    }

    fn len(&self) -> usize {
        match self {
            Requests::Otlp(p) => p.len(),
            Requests::Legacy(_, p) => p.len(),
        }
    }

    fn spans(&self, slot: usize) -> usize {
        match self {
            Requests::Otlp(p) => p[slot].spans(),
            Requests::Legacy(_, p) => p[slot].spans(),
        }
    }

    /// The bodies (or datagrams) of one send.
    fn render(&self, slot: usize, unique: u64, start_ns: u64) -> Vec<Vec<u8>> {
        match self {
            Requests::Otlp(p) => vec![p[slot].render(unique, start_ns)],
            Requests::Legacy(format, p) => p[slot].render(*format, unique, start_ns),
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

struct Worker {
    id: usize,
    args: Arc<Args>,
    pool: Arc<Requests>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    salt: u64,
}

impl Worker {
    async fn run(self) -> anyhow::Result<WorkerResult> {
        let transport = match self.args.protocol {
            Protocol::Grpc => Transport::Grpc(
                Endpoint::from_shared(self.args.endpoint.clone())
                    .with_context(|| format!("bad endpoint {}", self.args.endpoint))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(60))
                    .tcp_nodelay(true)
                    .connect_lazy(),
            ),
            Protocol::JaegerCompact => {
                let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
                    .await
                    .context("binding a UDP socket")?;
                socket
                    .connect(&self.args.endpoint)
                    .await
                    .with_context(|| format!("bad UDP endpoint {}", self.args.endpoint))?;
                Transport::Udp(socket)
            }
            Protocol::Http | Protocol::JaegerThrift | Protocol::Zipkin => Transport::Http(
                reqwest::Client::builder()
                    .no_proxy()
                    .pool_max_idle_per_host(1)
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(60))
                    .build()
                    .context("building the HTTP client")?,
            ),
        };
        let options = ExportOptions {
            tenant: self.args.tenant.clone(),
            gzip: self.args.gzip,
        };
        // Each connection paces itself to its share of the rate.
        let spans_per_sec = self.args.rate.map(|r| r / self.args.connections as f64);
        let mut latency = LatencyHistogram::new();
        let mut first_errors = BTreeMap::new();
        let mut due = Instant::now();
        let mut sequence = 0u64;
        let mut slot = self.id % self.pool.len();
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(rate) = spans_per_sec {
                let now = Instant::now();
                if due > now {
                    tokio::time::sleep(due - now).await;
                } else if now - due > Duration::from_secs(1) {
                    due = now; // Fell far behind: do not burst to catch up.
                }
                due += Duration::from_secs_f64(self.pool.spans(slot) as f64 / rate);
            }
            let spans = self.pool.spans(slot);
            let unique = self.salt ^ ((self.id as u64) << 48) ^ sequence;
            let bodies = self
                .pool
                .render(slot, unique, now_ns().saturating_sub(2_000_000_000));
            let bytes: usize = bodies.iter().map(Vec::len).sum();
            sequence += 1;
            slot = (slot + self.args.connections) % self.pool.len();
            let started = Instant::now();
            let outcome = self.send(&transport, bodies, &options).await;
            let elapsed = started.elapsed();
            match outcome {
                Ok(rejected) => {
                    latency.record(elapsed);
                    self.counters.requests_ok.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .spans_ok
                        .fetch_add(spans as u64, Ordering::Relaxed);
                    self.counters
                        .bytes_ok
                        .fetch_add(bytes as u64, Ordering::Relaxed);
                    self.counters
                        .rejected_spans
                        .fetch_add(rejected, Ordering::Relaxed);
                }
                Err((kind, message)) => {
                    self.counters.error(kind);
                    first_errors.entry(kind).or_insert(message);
                    let pause = if kind == ErrorKind::Transport {
                        200
                    } else {
                        20
                    };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
        Ok(WorkerResult {
            latency,
            first_errors,
        })
    }

    /// Sends one request; `Ok` carries `partial_success.rejected_spans`.
    async fn send(
        &self,
        transport: &Transport,
        bodies: Vec<Vec<u8>>,
        options: &ExportOptions,
    ) -> Result<u64, (ErrorKind, String)> {
        if let Transport::Udp(socket) = transport {
            for datagram in &bodies {
                socket
                    .send(datagram)
                    .await
                    .map_err(|e| (ErrorKind::Transport, format!("UDP send: {e}")))?;
            }
            return Ok(0);
        }
        if self.args.protocol.legacy().is_some() {
            let Transport::Http(client) = transport else {
                return Err((ErrorKind::Transport, "no HTTP client".to_owned()));
            };
            for body in bodies {
                self.send_legacy_http(client, body, options).await?;
            }
            return Ok(0);
        }
        let body = bodies.into_iter().next().unwrap_or_default();
        match transport {
            Transport::Udp(_) => Ok(0),
            Transport::Grpc(channel) => match export_raw(channel.clone(), body, options).await {
                Ok(response) => Ok(response
                    .partial_success
                    .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))),
                Err(status) => Err((
                    ErrorKind::of_grpc(status.code()),
                    format!("{:?}: {}", status.code(), status.message()),
                )),
            },
            Transport::Http(client) => {
                let mut builder = client
                    .post(&self.args.endpoint)
                    .header("content-type", "application/x-protobuf");
                if let Some(tenant) = &options.tenant {
                    builder = builder.header("x-scope-orgid", tenant);
                }
                let body = if options.gzip {
                    builder = builder.header("content-encoding", "gzip");
                    gzip(&body).map_err(|e| (ErrorKind::Transport, format!("gzip: {e}")))?
                } else {
                    body
                };
                let response = builder
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| (ErrorKind::Transport, format!("{e:#}")))?;
                let status = response.status().as_u16();
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| (ErrorKind::Transport, format!("reading the response: {e:#}")))?;
                if status != 200 {
                    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                        .trim()
                        .to_owned();
                    return Err((ErrorKind::of_http(status), format!("HTTP {status}: {text}")));
                }
                use prost::Message;
                let rejected = tracecore_proto::otlp::ExportTraceServiceResponse::decode(bytes)
                    .ok()
                    .and_then(|r| r.partial_success)
                    .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0));
                Ok(rejected)
            }
        }
    }

    /// One Jaeger Thrift or Zipkin JSON body; both answer 202 (Jaeger's collector also 200).
    async fn send_legacy_http(
        &self,
        client: &reqwest::Client,
        body: Vec<u8>,
        options: &ExportOptions,
    ) -> Result<(), (ErrorKind, String)> {
        let content_type = match self.args.protocol {
            Protocol::JaegerThrift => "application/x-thrift",
            _ => "application/json",
        };
        let mut builder = client
            .post(&self.args.endpoint)
            .header("content-type", content_type);
        if let Some(tenant) = &options.tenant {
            builder = builder.header("x-scope-orgid", tenant);
        }
        let body = if options.gzip {
            builder = builder.header("content-encoding", "gzip");
            gzip(&body).map_err(|e| (ErrorKind::Transport, format!("gzip: {e}")))?
        } else {
            body
        };
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| (ErrorKind::Transport, format!("{e:#}")))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| (ErrorKind::Transport, format!("reading the response: {e:#}")))?;
        if status != 202 && status != 200 {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                .trim()
                .to_owned();
            return Err((ErrorKind::of_http(status), format!("HTTP {status}: {text}")));
        }
        Ok(())
    }
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Workspace builds give reqwest `rustls-no-provider` (tests/Cargo.toml); it needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Arc::new(parse_args(std::env::args().skip(1))?);
    let generation = Instant::now();
    let pool = Requests::build(&args)?;
    let pool_spans: usize = (0..pool.len()).map(|i| pool.spans(i)).sum();
    let pool_bytes: usize = (0..pool.len())
        .map(|i| pool.render(i, 0, 0).iter().map(Vec::len).sum::<usize>())
        .sum();
    println!(
        "loadgen: {} requests pre-generated in {:.1}s ({} traces, {:.0} spans and {:.1} KiB per request, {:.0} B/span)",
        pool.len(),
        generation.elapsed().as_secs_f64(),
        args.traces_per_request,
        pool_spans as f64 / pool.len() as f64,
        pool_bytes as f64 / pool.len() as f64 / 1024.0,
        pool_bytes as f64 / pool_spans as f64
    );
    if args.protocol == Protocol::JaegerCompact && args.rate.is_none() {
        println!(
            "loadgen: warning: UDP at --rate max counts datagrams sent, not ingested; \
             the server drops what it cannot take"
        );
    }
    println!(
        "loadgen: {:?} -> {} | rate {} | {} connections | {} | gzip {} | tenant {}",
        args.protocol,
        args.endpoint,
        args.rate
            .map_or("max".to_owned(), |r| format!("{r:.0} spans/s")),
        args.connections,
        humantime::format_duration(args.duration),
        args.gzip,
        args.tenant.as_deref().unwrap_or("-")
    );
    let pool = Arc::new(pool);
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let salt = now_ns();
    let started = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|id| {
            tokio::spawn(
                Worker {
                    id,
                    args: args.clone(),
                    pool: pool.clone(),
                    counters: counters.clone(),
                    stop: stop.clone(),
                    salt,
                }
                .run(),
            )
        })
        .collect();

    let deadline = started + args.duration;
    let mut last = (Instant::now(), 0u64, 0u64);
    loop {
        let next = (last.0 + args.report_interval).min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = tokio::signal::ctrl_c() => {
                println!("loadgen: interrupted");
                break;
            }
        }
        let now = Instant::now();
        let spans = counters.spans_ok.load(Ordering::Relaxed);
        let bytes = counters.bytes_ok.load(Ordering::Relaxed);
        let secs = (now - last.0).as_secs_f64().max(1e-9);
        let e = counters.errors();
        println!(
            "[{:>6.1}s] {:>10.0} spans/s {:>8.2} MB/s   errors 429={} 4xx={} 5xx={} transport={}",
            (now - started).as_secs_f64(),
            (spans - last.1) as f64 / secs,
            mb(bytes - last.2) / secs,
            e[0],
            e[1],
            e[2],
            e[3]
        );
        last = (now, spans, bytes);
        if now >= deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut latency = LatencyHistogram::new();
    let mut first_errors = BTreeMap::new();
    for worker in workers {
        let result = worker.await.context("worker panicked")??;
        latency.merge(&result.latency);
        for (kind, message) in result.first_errors {
            first_errors.entry(kind).or_insert(message);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    report(&args, &counters, &latency, &first_errors, elapsed);
    Ok(())
}

fn report(
    args: &Args,
    counters: &Counters,
    latency: &LatencyHistogram,
    first_errors: &BTreeMap<ErrorKind, String>,
    elapsed: f64,
) {
    let spans = counters.spans_ok.load(Ordering::Relaxed);
    let bytes = counters.bytes_ok.load(Ordering::Relaxed);
    let requests = counters.requests_ok.load(Ordering::Relaxed);
    let rejected = counters.rejected_spans.load(Ordering::Relaxed);
    let errors = counters.errors();
    let ms = |us: u64| us as f64 / 1000.0;
    let (p50, p90, p99, max) = (
        ms(latency.quantile_us(0.5)),
        ms(latency.quantile_us(0.9)),
        ms(latency.quantile_us(0.99)),
        ms(latency.max_us()),
    );
    println!();
    println!(
        "acknowledged: {requests} requests, {spans} spans, {:.1} MB protobuf in {elapsed:.1}s",
        mb(bytes)
    );
    println!(
        "throughput:   {:.0} spans/s, {:.2} MB/s, {:.0} requests/s",
        spans as f64 / elapsed,
        mb(bytes) / elapsed,
        requests as f64 / elapsed
    );
    println!("ack latency:  p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
    println!(
        "errors:       429 {} | 4xx {} | 5xx {} | transport {} | partial_success rejected spans {rejected}",
        errors[0], errors[1], errors[2], errors[3]
    );
    for (kind, message) in first_errors {
        println!("  first {}: {message}", kind.label());
    }
    let summary = serde_json::json!({
        "protocol": args.protocol.name(),
        "endpoint": args.endpoint,
        "gzip": args.gzip,
        "connections": args.connections,
        "target_rate": args.rate,
        "traces_per_request": args.traces_per_request,
        "batch_spans": args.protocol.legacy().map(|_| args.batch_spans),
        "duration_s": elapsed,
        "requests": requests,
        "spans": spans,
        "bytes": bytes,
        "spans_per_s": spans as f64 / elapsed,
        "mb_per_s": mb(bytes) / elapsed,
        "latency_ms": {"p50": p50, "p90": p90, "p99": p99, "max": max, "mean": latency.mean_us() / 1000.0},
        "errors": {"429": errors[0], "4xx": errors[1], "5xx": errors[2], "transport": errors[3]},
        "rejected_spans": rejected,
    });
    println!("{summary}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> anyhow::Result<Args> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags() {
        let a = args(&[
            "--protocol",
            "http",
            "--rate=2500",
            "--connections",
            "3",
            "--duration",
            "2m",
            "--gzip",
        ])
        .unwrap();
        assert_eq!(a.protocol, Protocol::Http);
        assert_eq!(a.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(a.rate, Some(2500.0));
        assert_eq!(a.connections, 3);
        assert_eq!(a.duration, Duration::from_secs(120));
        assert!(a.gzip);
        let b = args(&[
            "-endpoint=http://10.0.0.1:4317/",
            "-rate",
            "max",
            "--tenant",
            "t1",
        ])
        .unwrap();
        assert_eq!(b.endpoint, "http://10.0.0.1:4317");
        assert_eq!(b.rate, None);
        assert_eq!(b.tenant.as_deref(), Some("t1"));
        assert!(args(&["--rate", "-5"]).is_err());
        assert!(args(&["--connections", "0"]).is_err());
        assert!(args(&["--bogus", "1"]).is_err());
        assert!(args(&["--protocol", "thrift"]).is_err());
        let j = args(&["--protocol", "jaeger-thrift"]).unwrap();
        assert_eq!(j.endpoint, "http://127.0.0.1:14268/api/traces");
        let z = args(&["--protocol=zipkin", "--endpoint", "http://127.0.0.1:9"]).unwrap();
        assert_eq!(z.endpoint, "http://127.0.0.1:9/api/v2/spans");
        let u = args(&[
            "--protocol",
            "jaeger-compact",
            "--endpoint",
            "udp://127.0.0.1:7",
        ])
        .unwrap();
        assert_eq!(u.endpoint, "127.0.0.1:7");
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(ErrorKind::of_http(429), ErrorKind::Throttled);
        assert_eq!(ErrorKind::of_http(413), ErrorKind::Client);
        assert_eq!(ErrorKind::of_http(503), ErrorKind::Server);
        assert_eq!(
            ErrorKind::of_grpc(Code::ResourceExhausted),
            ErrorKind::Throttled
        );
        assert_eq!(ErrorKind::of_grpc(Code::Unavailable), ErrorKind::Transport);
        assert_eq!(ErrorKind::of_grpc(Code::Internal), ErrorKind::Server);
    }
}
