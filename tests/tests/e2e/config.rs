//! Configuration and command line: Tempo's flags and loading rules (TEMPO-SPEC §7).

use tracecore_tests::{Encoding, Server, ServerOptions, TraceBatch, TraceGenerator};

/// Rewrites the generated config.
type Transform = fn(String) -> String;

/// Ingest without an org ID: 401 when multitenancy is on, 200 when off.
async fn ingest_status_without_org_id(server: &Server) -> u16 {
    let batch = TraceBatch::generate(&mut TraceGenerator::new(4), 1);
    server
        .client()
        .otlp_http_export(&batch.request, Encoding::Protobuf, false)
        .await
        .unwrap()
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_env_substitutes_variables() {
    let server = Server::start(ServerOptions {
        config_transform: Some(|yaml| {
            yaml.replace(
                "multitenancy_enabled: false",
                "multitenancy_enabled: ${TC_E2E_MULTITENANT}",
            )
        }),
        extra_args: vec!["-config.expand-env=true".to_owned()],
        env: vec![("TC_E2E_MULTITENANT".to_owned(), "true".to_owned())],
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ingest_status_without_org_id(&server).await,
        401,
        "multitenancy_enabled: ${{TC_E2E_MULTITENANT}} with TC_E2E_MULTITENANT=true"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multitenancy_flag_overrides_the_file() {
    let server = Server::start(ServerOptions {
        extra_args: vec!["-multitenancy.enabled=true".to_owned()],
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(ingest_status_without_org_id(&server).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_config_fails_fast_with_a_message() {
    let cases: [(Transform, &str); 3] = [
        (
            |y| y.replace("multitenancy_enabled: false", "multitenancy_enabled: [oops"),
            "malformed YAML",
        ),
        (
            |y| y.replace("trace_idle_period: 5s", "trace_idle_period: soon"),
            "bad duration",
        ),
        (
            |y| y.replace("backend: local", "backend: floppy"),
            "unknown backend",
        ),
    ];
    let mut failures = Vec::new();
    for (transform, what) in cases {
        let started = std::time::Instant::now();
        match Server::start(ServerOptions {
            config_transform: Some(transform),
            ..ServerOptions::default()
        })
        .await
        {
            Ok(_) => failures.push(format!("{what}: tracecore started anyway")),
            Err(e) => {
                let message = format!("{e:#}");
                if !message.contains("exited during startup") {
                    failures.push(format!("{what}: did not exit: {message}"));
                }
                if started.elapsed() > std::time::Duration::from_secs(10) {
                    failures.push(format!("{what}: took {:?} to fail", started.elapsed()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With a locked-memory limit glommio cannot work with, start-up fails at once and says what
/// to change (instead of glommio's bare `MemLockLimit` error or a hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_low_memlock_fails_with_a_hint() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("prlimit not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tempo.yaml");
    let (http, grpc, otlp_grpc, otlp_http) = (
        tracecore_tests::server::free_port().unwrap(),
        tracecore_tests::server::free_port().unwrap(),
        tracecore_tests::server::free_port().unwrap(),
        tracecore_tests::server::free_port().unwrap(),
    );
    std::fs::write(
        &config,
        format!(
            "server: {{http_listen_address: 127.0.0.1, http_listen_port: {http}, grpc_listen_port: {grpc}}}\n\
             distributor: {{receivers: {{otlp: {{protocols: {{grpc: {{endpoint: \"127.0.0.1:{otlp_grpc}\"}}, http: {{endpoint: \"127.0.0.1:{otlp_http}\"}}}}}}}}}}\n\
             storage: {{trace: {{local: {{path: {0}/blocks}}, wal: {{path: {0}/wal}}}}}}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let bin = tracecore_tests::server::binary_path().unwrap();
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new("prlimit")
            .arg("--memlock=65536:65536")
            .arg(&bin)
            .arg(format!("-config.file={}", config.display()))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tracecore must exit, not hang")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started anyway: {stderr}");
    assert!(
        stderr.contains("RLIMIT_MEMLOCK") && stderr.contains("ulimit -l"),
        "the error must say what to change: {stderr}"
    );
}
