//! The `tracecore` binary: flags → config → `-target=all`.

use std::path::PathBuf;
use std::process::ExitCode;

use tracecore_rpc::config::{self, Config};
use tracecore_rpc::flags::{Flags, USAGE};
use tracecore_rpc::{app, telemetry};

/// mimalloc: block building allocates many small strings; glibc malloc cost ~15% of CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tracecore: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Transparent huge pages off for this process. mimalloc advises THP for its memory, and
/// block building allocates and frees so much that the kernel then spends its time zeroing
/// 2 MiB pages on faults: 38 % of the server's CPU at maximum ingest (perf). Measured without
/// THP (loadgen, gRPC, 2 cores): 5.1–5.3 instead of 5.8–5.9 CPU-s per million spans, maximum
/// rate 341k–345k instead of 301k spans/s, peak RSS 532–547 instead of 602–607 MiB.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments; it only changes this process's THP policy, and a
    // failure (an old kernel) leaves the default in place.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(std::env::args().skip(1)).map_err(|e| format!("{e}\n{USAGE}"))?;
    if flags.bool("help")? || flags.bool("h")? {
        println!("{USAGE}");
        return Ok(());
    }
    if flags.bool("version")? {
        println!("tracecore, version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let path = flags.get("config.file").map(PathBuf::from);
    let loaded = config::load(path.as_deref(), flags.bool("config.expand-env")?)
        .map_err(|e| e.to_string())?;
    let mut config = loaded.config;
    apply_flags(&mut config, &flags)?;
    telemetry::init_logging(&config.server.log_level);
    for key in &loaded.unknown_keys {
        tracing::warn!(key = %key, "configuration key is not supported by tracecore and is ignored");
    }
    config.validate()?;
    if config.target != "all" {
        return Err(format!(
            "target {:?} is not available yet; run -target=all",
            config.target
        ));
    }
    if flags.bool("config.verify")? {
        println!("configuration is valid");
        return Ok(());
    }
    app::run(config)
}

fn apply_flags(config: &mut Config, flags: &Flags) -> Result<(), String> {
    if let Some(target) = flags.get("target") {
        config.target = target.to_string();
    }
    if flags.bool("multitenancy.enabled")? || flags.bool("auth.enabled")? {
        config.multitenancy_enabled = true;
    }
    if let Some(port) = flags.get("server.http-listen-port") {
        config.server.http_listen_port = port
            .parse()
            .map_err(|_| format!("-server.http-listen-port: {port:?} is not a port"))?;
    }
    if let Some(prefix) = flags.get("http-api-prefix") {
        config.http_api_prefix = prefix.to_string();
    }
    if let Some(backend) = flags.get("storage.trace.backend") {
        config.storage.trace.backend = backend.to_string();
    }
    if let Some(path) = flags.get("storage.trace.local.path") {
        config.storage.trace.local.path = path.to_string();
    }
    if let Some(path) = flags.get("storage.trace.wal.path") {
        config.storage.trace.wal.path = path.to_string();
    }
    Ok(())
}
