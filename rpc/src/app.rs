//! Running `-target=all`: runtimes, the shard pool, the servers, and shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tracecore_engine::{EngineMetrics, ShardPool};

use crate::api::{self, ApiState};
use crate::config::{Config, JaegerReceiverConfig};
use crate::http_server::{HttpTimeouts, serve_router};
use crate::ingest::Ingester;
use crate::jaeger::AgentProtocol;
use crate::limits::reloader::run_reloader;
use crate::limits::{IngestionRateLimiter, LimitsMetrics, TenantOverrides};
use crate::receivers::http_ingest::HttpIngestState;
use crate::receivers::jaeger_grpc::jaeger_grpc_service;
use crate::receivers::jaeger_udp::JaegerUdpReceiver;
use crate::receivers::otlp_grpc::otlp_grpc_service;
use crate::receivers::otlp_http::{self, OtlpHttpState};
use crate::receivers::tls::{ReceiverTls, TlsIncoming};
use crate::receivers::{jaeger_http, zipkin_http};
use crate::storage::backend::Bucket;
use crate::storage::catalog::BlockCatalog;
use crate::storage::sink::BucketSink;
use crate::telemetry::RpcMetrics;

/// Runs everything until SIGTERM/SIGINT. Returns an error message for a failed start.
pub fn run(config: Config) -> Result<(), String> {
    // Certificate problems stop start-up before anything is bound or replayed.
    let tls = ReceiverTls::load(&config.distributor.receivers)?;
    let facade = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("facade")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the facade runtime: {e}"))?;
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("io")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the io runtime: {e}"))?;
    let io_handle = io.handle().clone();
    let result = facade.block_on(serve(config, tls, io_handle));
    io.shutdown_timeout(Duration::from_secs(5));
    facade.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn bind(endpoint: &str, what: &str) -> Result<TcpListener, String> {
    let addr: SocketAddr = endpoint
        .parse()
        .map_err(|e| format!("{what}: invalid endpoint {endpoint:?}: {e}"))?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {endpoint} ({what}): {e}"))
}

async fn serve(config: Config, tls: ReceiverTls, io: tokio::runtime::Handle) -> Result<(), String> {
    let config = Arc::new(config);
    let mut registry = Registry::default();
    let engine_metrics = EngineMetrics::register(&mut registry);
    let rpc_metrics = RpcMetrics::register(&mut registry);
    let limits_metrics = LimitsMetrics::register(&mut registry);
    let overrides =
        TenantOverrides::load(&config.overrides, limits_metrics).map_err(|e| e.to_string())?;
    let rate_limiter = Arc::new(IngestionRateLimiter::default());

    let bucket = Bucket::open(&config.storage.trace).map_err(|e| e.to_string())?;
    let catalog = Arc::new(BlockCatalog::new(bucket.store.clone()));
    let loading = {
        let catalog = catalog.clone();
        io.spawn(async move { catalog.load_all().await })
    };

    let state = Arc::new(ApiState {
        config: config.clone(),
        registry,
        metrics: rpc_metrics.clone(),
        catalog: catalog.clone(),
        shards: OnceLock::new(),
        memory: Default::default(),
        overrides: overrides.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let http_addr = format!(
        "{}:{}",
        config.server.http_listen_address, config.server.http_listen_port
    );
    let api_listener = bind(&http_addr, "server.http_listen_port").await?;
    let timeouts = config.server.http_timeouts();
    let api_server = tokio::spawn(serve_router(
        api_listener,
        api::router(state.clone()),
        timeouts,
        stop_rx.clone(),
        "api",
    ));
    tracing::info!(address = %http_addr, "api listening");

    let blocks = loading
        .await
        .map_err(|e| format!("catalog load task failed: {e}"))?
        .map_err(|e| format!("cannot list the bucket: {e}"))?;
    tracing::info!(blocks, "block catalog loaded");

    let sink = Arc::new(BucketSink::new(bucket, catalog.clone(), io.clone()));
    let engine_config = config.engine_config();
    let pool =
        tokio::task::spawn_blocking(move || ShardPool::start(engine_config, engine_metrics, sink))
            .await
            .map_err(|e| format!("shard start-up task failed: {e}"))?
            .map_err(|e| e.to_string())?;
    let shards = pool.handles().to_vec();
    let _ = state.shards.set(shards.clone());
    let ingester = Ingester::new(
        shards,
        rpc_metrics.clone(),
        overrides.clone(),
        rate_limiter.clone(),
        config.distributor.max_attribute_bytes,
    );
    let reloader = tokio::spawn(run_reloader(overrides, rate_limiter, stop_rx.clone()));

    let mut servers = vec![api_server];
    if let Some(otlp) = &config.distributor.receivers.otlp {
        if let Some(grpc) = &otlp.protocols.grpc {
            let listener = bind(
                &grpc.endpoint,
                "distributor.receivers.otlp.protocols.grpc.endpoint",
            )
            .await?;
            let service = otlp_grpc_service(
                ingester.clone(),
                rpc_metrics.clone(),
                config.multitenancy_enabled,
                grpc.max_recv_msg_size_mib << 20,
            );
            tracing::info!(
                endpoint = %grpc.endpoint,
                tls = tls.otlp_grpc.is_some(),
                "otlp grpc receiver listening"
            );
            servers.push(tokio::spawn(serve_grpc(
                listener,
                tls.otlp_grpc.clone(),
                service,
                stop_rx.clone(),
                "otlp grpc receiver",
            )));
        }
        if let Some(http) = &otlp.protocols.http {
            let listener = bind(
                &http.endpoint,
                "distributor.receivers.otlp.protocols.http.endpoint",
            )
            .await?;
            let router = otlp_http::router(
                OtlpHttpState {
                    ingester: ingester.clone(),
                    metrics: rpc_metrics.clone(),
                    multitenancy: config.multitenancy_enabled,
                    max_body_bytes: http.max_request_body_size,
                    read_timeout: timeouts.read,
                },
                &http.traces_url_path,
            );
            tracing::info!(
                endpoint = %http.endpoint,
                tls = tls.otlp_http.is_some(),
                "otlp http receiver listening"
            );
            servers.push(tokio::spawn(serve_receiver_http(
                listener,
                tls.otlp_http.clone(),
                router,
                timeouts,
                stop_rx.clone(),
                "otlp http receiver",
            )));
        }
    }
    if let Some(jaeger) = &config.distributor.receivers.jaeger {
        start_jaeger(
            &config,
            jaeger,
            &tls,
            &ingester,
            &rpc_metrics,
            &stop_rx,
            &mut servers,
        )
        .await?;
    }
    if let Some(zipkin) = &config.distributor.receivers.zipkin {
        let listener = bind(&zipkin.endpoint, "distributor.receivers.zipkin.endpoint").await?;
        let router = zipkin_http::router(HttpIngestState {
            ingester: ingester.clone(),
            metrics: rpc_metrics.clone(),
            multitenancy: config.multitenancy_enabled,
            max_body_bytes: zipkin.max_request_body_size,
            read_timeout: timeouts.read,
        });
        tracing::info!(
            endpoint = %zipkin.endpoint,
            tls = tls.zipkin.is_some(),
            "zipkin receiver listening"
        );
        servers.push(tokio::spawn(serve_receiver_http(
            listener,
            tls.zipkin.clone(),
            router,
            timeouts,
            stop_rx.clone(),
            "zipkin receiver",
        )));
    }
    tracing::info!("tracecore is ready");

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for server in servers {
        match tokio::time::timeout(Duration::from_secs(10), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "server stopped with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "server task failed"),
            Err(_) => tracing::warn!("a server did not stop within 10s"),
        }
    }
    let _ = reloader.await;
    drop(ingester);
    drop(state);
    let stopped = tokio::task::spawn_blocking(move || pool.shutdown());
    if tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .is_err()
    {
        tracing::warn!("shards did not stop within 10s; their wal is durable and will be replayed");
    }
    Ok(())
}

/// Binds and spawns the configured Jaeger protocols.
async fn start_jaeger(
    config: &Config,
    jaeger: &JaegerReceiverConfig,
    tls: &ReceiverTls,
    ingester: &Arc<Ingester>,
    metrics: &RpcMetrics,
    stop: &watch::Receiver<bool>,
    servers: &mut Vec<tokio::task::JoinHandle<Result<(), String>>>,
) -> Result<(), String> {
    let protocols = &jaeger.protocols;
    if let Some(grpc) = &protocols.grpc {
        let listener = bind(
            &grpc.endpoint,
            "distributor.receivers.jaeger.protocols.grpc.endpoint",
        )
        .await?;
        let service = jaeger_grpc_service(
            ingester.clone(),
            metrics.clone(),
            config.multitenancy_enabled,
            grpc.max_recv_msg_size_mib << 20,
        );
        tracing::info!(
            endpoint = %grpc.endpoint,
            tls = tls.jaeger_grpc.is_some(),
            "jaeger grpc receiver listening"
        );
        servers.push(tokio::spawn(serve_grpc(
            listener,
            tls.jaeger_grpc.clone(),
            service,
            stop.clone(),
            "jaeger grpc receiver",
        )));
    }
    if let Some(http) = &protocols.thrift_http {
        let listener = bind(
            &http.endpoint,
            "distributor.receivers.jaeger.protocols.thrift_http.endpoint",
        )
        .await?;
        let router = jaeger_http::router(HttpIngestState {
            ingester: ingester.clone(),
            metrics: metrics.clone(),
            multitenancy: config.multitenancy_enabled,
            max_body_bytes: http.max_request_body_size,
            read_timeout: config.server.http_timeouts().read,
        });
        tracing::info!(
            endpoint = %http.endpoint,
            tls = tls.jaeger_thrift_http.is_some(),
            "jaeger thrift_http receiver listening"
        );
        servers.push(tokio::spawn(serve_receiver_http(
            listener,
            tls.jaeger_thrift_http.clone(),
            router,
            config.server.http_timeouts(),
            stop.clone(),
            "jaeger thrift_http receiver",
        )));
    }
    let udp = [
        (
            protocols
                .thrift_compact
                .as_ref()
                .map(|c| (c.endpoint.as_str(), c.workers)),
            AgentProtocol::Compact,
            "thrift_compact",
        ),
        (
            protocols
                .thrift_binary
                .as_ref()
                .map(|c| (c.endpoint.as_str(), c.workers)),
            AgentProtocol::Binary,
            "thrift_binary",
        ),
    ];
    for (configured, protocol, key) in udp {
        let Some((endpoint, workers)) = configured else {
            continue;
        };
        let what = format!("distributor.receivers.jaeger.protocols.{key}.endpoint");
        let socket = bind_udp(endpoint, &what).await?;
        if config.multitenancy_enabled {
            tracing::warn!(
                endpoint,
                "jaeger {key} receiver: UDP datagrams carry no X-Scope-OrgID, so with \
                 multitenancy_enabled every datagram is refused (counted in \
                 tracecore_receiver_datagrams_total{{outcome=\"refused_multitenant\"}}); \
                 send Jaeger spans over grpc or thrift_http instead"
            );
        }
        let receiver = JaegerUdpReceiver::new(
            socket,
            protocol,
            ingester.clone(),
            metrics.clone(),
            config.multitenancy_enabled,
            workers,
        );
        tracing::info!(endpoint, "jaeger {key} receiver listening (udp)");
        servers.push(tokio::spawn(receiver.serve(stop.clone())));
    }
    Ok(())
}

async fn bind_udp(endpoint: &str, what: &str) -> Result<UdpSocket, String> {
    let addr: SocketAddr = endpoint
        .parse()
        .map_err(|e| format!("{what}: invalid endpoint {endpoint:?}: {e}"))?;
    UdpSocket::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on udp {endpoint} ({what}): {e}"))
}

/// Serves one tonic service until `stop`, over TLS when `tls` is set.
async fn serve_grpc<S>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: S,
    stop: watch::Receiver<bool>,
    what: &'static str,
) -> Result<(), String>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    if let Some(tls) = tls {
        let incoming = TlsIncoming::spawn(listener, tls, stop.clone(), what)
            .map_err(|e| format!("{what} failed: {e}"))?;
        return serve_grpc_incoming(incoming.into_stream(), service, stop, what).await;
    }
    // Small request/response exchanges: Nagle + delayed ACK would add ~40 ms.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |stream| {
            if let Ok(stream) = &stream {
                let _ = stream.set_nodelay(true);
            }
            stream
        },
    );
    serve_grpc_incoming(incoming, service, stop, what).await
}

async fn serve_grpc_incoming<S, I, IO, IE>(
    incoming: I,
    service: S,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
) -> Result<(), String>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    I: tokio_stream::Stream<Item = Result<IO, IE>>,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| format!("{what} failed: {e}"))
}

/// Serves an HTTP receiver until `stop`, over TLS when `tls` is set.
async fn serve_receiver_http(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: axum::Router,
    timeouts: HttpTimeouts,
    stop: watch::Receiver<bool>,
    what: &'static str,
) -> Result<(), String> {
    match tls {
        None => serve_router(listener, router, timeouts, stop, what).await,
        Some(tls) => {
            let incoming = TlsIncoming::spawn(listener, tls, stop.clone(), what)
                .map_err(|e| format!("{what} failed: {e}"))?;
            serve_router(incoming, router, timeouts, stop, what).await
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
