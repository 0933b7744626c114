//! Serving an axum router on a public port (plain TCP or TLS) with the limits such a port needs:
//! a client has `header_read_timeout` to send its request headers (a slow-loris connection is
//! closed then, as Go's `http.Server.ReadHeaderTimeout` closes it for Tempo), headers beyond
//! hyper's buffer or count get 431, and HTTP/2 (h2c or ALPN) is served on the same port.
//! Shutdown stops accepting and lets open connections finish their requests.

use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use crate::receivers::tls::TlsIncoming;

/// How long a connection may take over its request headers (Tempo's
/// `server.http_server_read_header_timeout`, else `http_server_read_timeout`), and how long a
/// request may take to send its body (`http_server_read_timeout`); `None` = no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpTimeouts {
    pub read_header: Option<Duration>,
    pub read: Option<Duration>,
}

/// A source of accepted connections.
pub trait Incoming: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection; `None` when no more will come.
    fn next(&mut self) -> impl Future<Output = Option<(Self::Io, SocketAddr)>> + Send;
}

impl Incoming for TcpListener {
    type Io = TcpStream;

    async fn next(&mut self) -> Option<(TcpStream, SocketAddr)> {
        loop {
            match self.accept().await {
                Ok((tcp, peer)) => {
                    // Small request/response exchanges: Nagle + delayed ACK would add ~40 ms.
                    let _ = tcp.set_nodelay(true);
                    return Some((tcp, peer));
                }
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

impl Incoming for TlsIncoming {
    type Io = TlsStream<TcpStream>;

    async fn next(&mut self) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
        TlsIncoming::next(self).await
    }
}

/// Serves `router` on every connection `incoming` yields until `stop`, then waits for the open
/// connections to finish (the caller bounds that wait).
pub async fn serve_router<I: Incoming>(
    mut incoming: I,
    router: axum::Router,
    timeouts: HttpTimeouts,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
) -> Result<(), String> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.read_header);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (io, peer) = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            next = incoming.next() => match next {
                Some(connection) => connection,
                None => break,
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Timeouts, resets and protocol errors of one client: hyper has already
                // answered what could be answered (400, 431) and closed the connection.
                tracing::debug!(server = what, %peer, %error, "connection ended with an error");
            }
        });
    }
    drop(incoming);
    graceful.shutdown().await;
    Ok(())
}
