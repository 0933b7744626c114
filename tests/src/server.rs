//! Starting, stopping and crashing the real `tracecore` binary.
//!
//! Invariants: every process this module starts is killed and reaped when its [`Server`] drops,
//! and dies with the test process even if that is SIGKILLed (`PR_SET_PDEATHSIG`, armed from a
//! spawner thread that lives as long as the process). Ports are free loopback ports chosen at
//! start and kept across restarts; the data directory is kept across restarts too.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::client::Client;

/// How long `/ready` may take after a spawn (WAL replay included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the harness gives up and SIGKILLs.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `storage.trace.wal.sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalSync {
    Always,
    Never,
}

/// What to start.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub multitenancy: bool,
    pub shards: usize,
    /// Where `blocks/` and `wal/` live; a fresh temporary directory (deleted on drop, kept when
    /// the test fails) when `None`. Either way it is kept across restarts.
    pub data_dir: Option<PathBuf>,
    pub wal_sync: WalSync,
    /// `ingester.trace_idle_period`.
    pub trace_idle_period: String,
    /// `ingester.max_block_duration`.
    pub max_block_duration: String,
    /// Appended verbatim to the generated YAML (top-level keys not generated above).
    pub extra_config: String,
    /// Extra `engine:` keys, one `key: value` per entry.
    pub engine: Vec<(String, String)>,
    /// Rewrites the generated YAML before it is written (e.g. to put `${VAR}`s in).
    pub config_transform: Option<fn(String) -> String>,
    /// Extra command-line flags (Go style, e.g. `-config.expand-env=true`).
    pub extra_args: Vec<String>,
    /// Extra environment variables for the server process.
    pub env: Vec<(String, String)>,
    /// Also run the Jaeger (grpc, thrift_http, thrift_compact, thrift_binary) and Zipkin
    /// receivers on the `jaeger_*` / `zipkin` ports.
    pub jaeger_zipkin: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            multitenancy: false,
            shards: 2,
            data_dir: None,
            wal_sync: WalSync::Always,
            trace_idle_period: "5s".to_owned(),
            max_block_duration: "30m".to_owned(),
            extra_config: String::new(),
            engine: Vec::new(),
            config_transform: None,
            extra_args: Vec::new(),
            env: Vec::new(),
            jaeger_zipkin: false,
        }
    }
}

/// The loopback ports of one server.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub http: u16,
    pub grpc: u16,
    pub otlp_grpc: u16,
    pub otlp_http: u16,
    pub jaeger_grpc: u16,
    pub jaeger_thrift_http: u16,
    /// UDP.
    pub jaeger_compact: u16,
    /// UDP.
    pub jaeger_binary: u16,
    pub zipkin: u16,
}

enum DataDir {
    Temp(TempDir),
    Given(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temp(t) => t.path(),
            DataDir::Given(p) => p,
        }
    }
}

/// A running (or stopped, between restarts) `tracecore` process.
pub struct Server {
    options: ServerOptions,
    data: Option<DataDir>,
    /// Config and logs; separate from the data dir so a given data dir stays clean.
    work: Option<TempDir>,
    work_path: PathBuf,
    ports: Ports,
    child: Option<Child>,
    log_path: PathBuf,
    launches: u32,
}

/// The binary under test: `$TRACECORE_BIN`, else `tracecore` next to the test's target dir.
pub fn binary_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("TRACECORE_BIN") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("TRACECORE_BIN={} does not exist", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    // target/debug/deps/e2e-<hash> -> target/debug/tracecore
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("tracecore"))
        .context("test executable has no grandparent directory")?;
    if !candidate.is_file() {
        bail!(
            "the tracecore binary was not found at {}; run `cargo build --bin tracecore` first \
             (or set TRACECORE_BIN)",
            candidate.display()
        );
    }
    Ok(candidate)
}

/// A free loopback port, never handed out twice by this process.
pub fn free_port() -> anyhow::Result<u16> {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(Default::default);
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        drop(listener);
        let mut set = handed_out.lock().unwrap_or_else(|e| e.into_inner());
        if set.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free loopback port after 100 attempts")
}

/// A free loopback UDP port, never handed out twice by this process.
pub fn free_udp_port() -> anyhow::Result<u16> {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(Default::default);
    for _ in 0..100 {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").context("binding udp 127.0.0.1:0")?;
        let port = socket.local_addr()?.port();
        drop(socket);
        let mut set = handed_out.lock().unwrap_or_else(|e| e.into_inner());
        if set.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free loopback udp port after 100 attempts")
}

/// Spawns `command` from a thread that lives as long as the process, with `PR_SET_PDEATHSIG`
/// armed: the child gets SIGKILL when the test process dies, however it dies. (The death signal
/// follows the *thread* that forked, hence the dedicated thread.)
pub fn spawn_supervised(mut command: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tracecore-spawner".to_owned())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("cannot start the spawner thread: {e}"));
        Mutex::new(tx)
    });
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe functions
    // (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // The parent died before the death signal was armed.
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread dropped the request"))?
}

impl Server {
    /// Picks ports, writes the config, spawns the binary and waits for `/ready`.
    pub async fn start(options: ServerOptions) -> anyhow::Result<Server> {
        let binary = binary_path()?;
        let work = tempfile::Builder::new()
            .prefix("tracecore-e2e-")
            .tempdir()
            .context("creating the work directory")?;
        let data = match &options.data_dir {
            Some(p) => {
                std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
                DataDir::Given(p.clone())
            }
            None => DataDir::Temp(
                tempfile::Builder::new()
                    .prefix("tracecore-data-")
                    .tempdir()
                    .context("creating the data directory")?,
            ),
        };
        let ports = Ports {
            http: free_port()?,
            grpc: free_port()?,
            otlp_grpc: free_port()?,
            otlp_http: free_port()?,
            jaeger_grpc: free_port()?,
            jaeger_thrift_http: free_port()?,
            jaeger_compact: free_udp_port()?,
            jaeger_binary: free_udp_port()?,
            zipkin: free_port()?,
        };
        let log_path = work.path().join("tracecore.log");
        let mut server = Server {
            options,
            data: Some(data),
            work_path: work.path().to_owned(),
            work: Some(work),
            ports,
            child: None,
            log_path,
            launches: 0,
        };
        server.write_config()?;
        server.launch(&binary).await?;
        Ok(server)
    }

    fn config_path(&self) -> PathBuf {
        self.work_path.join("tempo.yaml")
    }

    /// The generated `tempo.yaml`.
    pub fn config_yaml(&self) -> String {
        let data = self.data_dir().display().to_string();
        let o = &self.options;
        let p = self.ports;
        let sync = match o.wal_sync {
            WalSync::Always => "always",
            WalSync::Never => "never",
        };
        let mut yaml = format!(
            "multitenancy_enabled: {multitenancy}
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {http}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {grpc}
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: \"127.0.0.1:{otlp_grpc}\"
        http:
          endpoint: \"127.0.0.1:{otlp_http}\"
{jaeger_zipkin}ingester:
  trace_idle_period: {idle}
  max_block_duration: {block_duration}
  max_block_bytes: 524288000
storage:
  trace:
    backend: local
    local:
      path: {data}/blocks
    wal:
      path: {data}/wal
      sync: {sync}
engine:
  shards: {shards}
",
            multitenancy = o.multitenancy,
            http = p.http,
            grpc = p.grpc,
            otlp_grpc = p.otlp_grpc,
            otlp_http = p.otlp_http,
            idle = o.trace_idle_period,
            block_duration = o.max_block_duration,
            shards = o.shards,
            jaeger_zipkin = if o.jaeger_zipkin {
                format!(
                    "    jaeger:
      protocols:
        grpc:
          endpoint: \"127.0.0.1:{}\"
        thrift_http:
          endpoint: \"127.0.0.1:{}\"
        thrift_compact:
          endpoint: \"127.0.0.1:{}\"
        thrift_binary:
          endpoint: \"127.0.0.1:{}\"
    zipkin:
      endpoint: \"127.0.0.1:{}\"
",
                    p.jaeger_grpc,
                    p.jaeger_thrift_http,
                    p.jaeger_compact,
                    p.jaeger_binary,
                    p.zipkin
                )
            } else {
                String::new()
            },
        );
        for (key, value) in &o.engine {
            let _ = writeln!(yaml, "  {key}: {value}");
        }
        if !o.extra_config.is_empty() {
            let _ = writeln!(yaml, "{}", o.extra_config);
        }
        match o.config_transform {
            Some(transform) => transform(yaml),
            None => yaml,
        }
    }

    fn write_config(&self) -> anyhow::Result<()> {
        std::fs::write(self.config_path(), self.config_yaml()).context("writing tempo.yaml")
    }

    async fn launch(&mut self, binary: &Path) -> anyhow::Result<()> {
        self.launches += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .context("opening the server log")?;
        {
            use std::io::Write;
            writeln!(log, "===== tracecore launch #{} =====", self.launches)?;
        }
        let mut command = Command::new(binary);
        command
            .arg(format!("-config.file={}", self.config_path().display()))
            .arg("-target=all")
            .args(&self.options.extra_args)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        let child =
            spawn_supervised(command).with_context(|| format!("spawning {}", binary.display()))?;
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let url = format!("{}/ready", self.http_url());
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < READY_TIMEOUT {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "tracecore exited during startup with {status}\n{}",
                    self.log_tail(60)
                );
            }
            match http.get(&url).send().await {
                Ok(r) if r.status().as_u16() == 200 => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = format!("{e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "tracecore not ready after {READY_TIMEOUT:?} (last /ready: {last})\n{}",
            self.log_tail(60)
        )
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    pub fn data_dir(&self) -> &Path {
        self.data
            .as_ref()
            .map_or(Path::new("/nonexistent"), DataDir::path)
    }

    pub fn blocks_dir(&self) -> PathBuf {
        self.data_dir().join("blocks")
    }

    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir().join("wal")
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The query API base URL, e.g. `http://127.0.0.1:41234`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.http)
    }

    pub fn otlp_grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.otlp_grpc)
    }

    pub fn otlp_http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.otlp_http)
    }

    /// A client without a tenant header.
    pub fn client(&self) -> Client {
        Client::new(
            &self.http_url(),
            &self.otlp_http_url(),
            &self.otlp_grpc_url(),
            None,
        )
    }

    /// A client sending `X-Scope-OrgID: tenant` (HTTP) / `x-scope-orgid` (gRPC).
    pub fn client_for(&self, tenant: &str) -> Client {
        Client::new(
            &self.http_url(),
            &self.otlp_http_url(),
            &self.otlp_grpc_url(),
            Some(tenant),
        )
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `VmHWM` (peak resident set) of the server in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmHWM:")
    }

    /// `VmRSS` of the server in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmRSS:")
    }

    fn proc_status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Graceful stop: SIGTERM, then wait. Falls back to SIGKILL (and an error) after 30 s.
    pub async fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("tracecore is not running");
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain syscall on a child we have not reaped yet, so the PID is still ours.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            bail!(
                "SIGTERM to {pid} failed: {}",
                std::io::Error::last_os_error()
            );
        }
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() > STOP_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "tracecore did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL and reap: a crash, no chance to flush anything.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("tracecore is not running");
        };
        child.kill().context("SIGKILL")?;
        let status = child.wait().context("reaping after SIGKILL")?;
        if status.signal() != Some(libc::SIGKILL) {
            bail!(
                "tracecore exited with {status} before the SIGKILL landed\n{}",
                self.log_tail(40)
            );
        }
        Ok(())
    }

    /// Starts the process again (same ports, config and data) and waits for `/ready`.
    pub async fn relaunch(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("tracecore is still running");
        }
        let binary = binary_path()?;
        self.launch(&binary).await
    }

    /// Changes `engine.shards` for the next launch (rewrites the config; the process must be
    /// stopped).
    pub fn set_shards(&mut self, shards: usize) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("stop tracecore before changing its shard count");
        }
        self.options.shards = shards;
        self.write_config()
    }

    /// Graceful stop and start; returns how the old process exited.
    pub async fn restart(&mut self) -> anyhow::Result<ExitStatus> {
        let status = self.stop().await?;
        self.relaunch().await?;
        Ok(status)
    }

    /// The last `lines` lines of the server log (all launches).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let from = len.saturating_sub(64 * 1024);
            if f.seek(SeekFrom::Start(from)).is_ok() {
                let mut buf = Vec::new();
                let _ = f.read_to_end(&mut buf);
                text = String::from_utf8_lossy(&buf).into_owned();
            }
        }
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!(
            "----- tail of {} -----\n{tail}\n----- end of log -----",
            self.log_path.display()
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(80));
            eprintln!(
                "tracecore config ({}):\n{}",
                self.config_path().display(),
                self.config_yaml()
            );
            if let Some(DataDir::Temp(t)) = self.data.take() {
                eprintln!(
                    "tracecore data kept for inspection at {}",
                    t.keep().display()
                );
            }
            if let Some(w) = self.work.take() {
                eprintln!(
                    "tracecore log kept at {}",
                    w.keep().join("tracecore.log").display()
                );
            }
        }
    }
}
