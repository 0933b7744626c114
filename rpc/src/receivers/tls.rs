//! TLS on the TCP receivers: `...protocols.<grpc|http>.tls` and `zipkin.tls` (the OpenTelemetry
//! Collector's `configtls` server keys) loaded into a rustls `ServerConfig` (ring provider), and
//! the accept loop that serves a TLS port.
//!
//! Invariants:
//! - every certificate and key file is read and checked before any port is bound; a problem is
//!   a start-up error that names the config key, the file and what is wrong with it;
//! - handshakes run in their own tasks, at most [`MAX_HANDSHAKES`] at once and each within
//!   [`HANDSHAKE_TIMEOUT`], so a slow, plaintext or hostile client never holds up the others;
//!   a failed handshake closes that connection only and is logged at debug level (port
//!   scanners and plaintext clients would flood a louder log).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::version::{TLS12, TLS13};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{ReceiverTlsConfig, ReceiversConfig};

/// Longest a client may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight per port; further connections wait in the listen backlog.
pub const MAX_HANDSHAKES: usize = 256;

/// What the port speaks inside TLS; decides the ALPN protocols offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// gRPC: HTTP/2 only.
    Grpc,
    /// HTTP receivers: HTTP/2 or HTTP/1.1.
    Http,
}

/// The TLS settings of every configured TCP receiver, loaded; `None` = plaintext.
#[derive(Clone, Default)]
pub struct ReceiverTls {
    pub otlp_grpc: Option<Arc<ServerConfig>>,
    pub otlp_http: Option<Arc<ServerConfig>>,
    pub jaeger_grpc: Option<Arc<ServerConfig>>,
    pub jaeger_thrift_http: Option<Arc<ServerConfig>>,
    pub zipkin: Option<Arc<ServerConfig>>,
}

impl ReceiverTls {
    /// Reads and checks every `tls` block of `receivers`.
    pub fn load(receivers: &ReceiversConfig) -> Result<ReceiverTls, String> {
        const OTLP: &str = "distributor.receivers.otlp.protocols";
        const JAEGER: &str = "distributor.receivers.jaeger.protocols";
        let otlp = receivers.otlp.as_ref().map(|o| &o.protocols);
        let jaeger = receivers.jaeger.as_ref().map(|j| &j.protocols);
        Ok(ReceiverTls {
            otlp_grpc: load_optional(
                otlp.and_then(|p| p.grpc.as_ref()?.tls.as_ref()),
                &format!("{OTLP}.grpc.tls"),
                Transport::Grpc,
            )?,
            otlp_http: load_optional(
                otlp.and_then(|p| p.http.as_ref()?.tls.as_ref()),
                &format!("{OTLP}.http.tls"),
                Transport::Http,
            )?,
            jaeger_grpc: load_optional(
                jaeger.and_then(|p| p.grpc.as_ref()?.tls.as_ref()),
                &format!("{JAEGER}.grpc.tls"),
                Transport::Grpc,
            )?,
            jaeger_thrift_http: load_optional(
                jaeger.and_then(|p| p.thrift_http.as_ref()?.tls.as_ref()),
                &format!("{JAEGER}.thrift_http.tls"),
                Transport::Http,
            )?,
            zipkin: load_optional(
                receivers.zipkin.as_ref().and_then(|z| z.tls.as_ref()),
                "distributor.receivers.zipkin.tls",
                Transport::Http,
            )?,
        })
    }
}

fn load_optional(
    config: Option<&ReceiverTlsConfig>,
    key: &str,
    transport: Transport,
) -> Result<Option<Arc<ServerConfig>>, String> {
    config
        .map(|c| server_config(c, key, transport).map(Arc::new))
        .transpose()
}

/// Builds the rustls server config of one receiver; `key` is the config path of its `tls`
/// block, used in every error message.
pub fn server_config(
    config: &ReceiverTlsConfig,
    key: &str,
    transport: Transport,
) -> Result<ServerConfig, String> {
    if config.cert_file.is_empty() || config.key_file.is_empty() {
        return Err(format!(
            "{key}: cert_file and key_file are both required to serve TLS"
        ));
    }
    let versions = protocol_versions(config, key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certificates(&config.cert_file, &format!("{key}.cert_file"))?;
    let private_key = read_private_key(&config.key_file, &format!("{key}.key_file"))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("{key}: {e}"))?;
    let builder = if config.client_ca_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        let what = format!("{key}.client_ca_file");
        let mut roots = RootCertStore::empty();
        for cert in read_certificates(&config.client_ca_file, &what)? {
            roots.add(cert).map_err(|e| {
                format!(
                    "{what}: {} holds a certificate that is not a usable CA: {e}",
                    config.client_ca_file
                )
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("{what}: {}: {e}", config.client_ca_file))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut server = builder.with_single_cert(certs, private_key).map_err(|e| {
        format!(
            "{key}: the key in {} does not fit the certificate in {}: {e}",
            config.key_file, config.cert_file
        )
    })?;
    server.alpn_protocols = match transport {
        Transport::Grpc => vec![b"h2".to_vec()],
        Transport::Http => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    };
    Ok(server)
}

/// `min_version` / `max_version` → the versions rustls may negotiate.
fn protocol_versions(
    config: &ReceiverTlsConfig,
    key: &str,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let min = match config.min_version.as_str() {
        "" | "1.2" => 12,
        "1.3" => 13,
        "1.0" | "1.1" => {
            tracing::warn!(
                key = %format!("{key}.min_version"),
                value = %config.min_version,
                "TLS 1.0 and 1.1 are not implemented; the oldest version accepted is 1.2"
            );
            12
        }
        other => {
            return Err(format!(
                "{key}.min_version: unknown TLS version {other:?} (use \"1.2\" or \"1.3\")"
            ));
        }
    };
    let max = match config.max_version.as_str() {
        "" | "1.3" => 13,
        "1.2" => 12,
        other => {
            return Err(format!(
                "{key}.max_version: TLS version {other:?} is not available (use \"1.2\" or \"1.3\")"
            ));
        }
    };
    if min > max {
        return Err(format!(
            "{key}: min_version {:?} is newer than max_version {:?}",
            config.min_version, config.max_version
        ));
    }
    Ok([(12, &TLS12), (13, &TLS13)]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, version)| version)
        .collect())
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(Path::new(path)).map_err(|e| format!("{what}: cannot read {path}: {e}"))
}

/// Every `CERTIFICATE` block of a PEM file; at least one.
fn read_certificates(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: {path} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{what}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_private_key(path: &str, what: &str) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read_file(path, what)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!(
            "{what}: {path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1 \"PRIVATE KEY\" block)"
        ),
        e => format!("{what}: {path} is not valid PEM: {e}"),
    })
}

/// Connections on a TLS port whose handshake has completed, in arrival order.
pub struct TlsIncoming {
    connections: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsIncoming {
    /// Starts accepting on `listener` until `stop`; `what` names the receiver in logs.
    pub fn spawn(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        stop: watch::Receiver<bool>,
        what: &'static str,
    ) -> std::io::Result<TlsIncoming> {
        let (tx, connections) = mpsc::channel(64);
        tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(config),
            tx,
            stop,
            what,
        ));
        Ok(TlsIncoming { connections })
    }

    /// The next established connection; `None` once the accept loop has stopped.
    pub async fn next(&mut self) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
        self.connections.recv().await
    }

    /// The stream of established connections, for tonic's `serve_with_incoming`.
    pub fn into_stream(
        self,
    ) -> impl tokio_stream::Stream<Item = std::io::Result<TlsStream<TcpStream>>> + Send + 'static
    {
        tokio_stream::StreamExt::map(
            tokio_stream::wrappers::ReceiverStream::new(self.connections),
            |(stream, _)| Ok(stream),
        )
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    established: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(receiver = what, %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Small request/response exchanges: Nagle + delayed ACK would add ~40 ms.
        let _ = tcp.set_nodelay(true);
        let permit = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            permit = handshakes.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let acceptor = acceptor.clone();
        let established = established.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = established.send((stream, peer)).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(receiver = what, %peer, %error, "tls handshake failed");
                }
                Err(_) => {
                    tracing::debug!(receiver = what, %peer, "tls handshake timed out");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cert: &str, key: &str) -> ReceiverTlsConfig {
        ReceiverTlsConfig {
            cert_file: cert.to_owned(),
            key_file: key.to_owned(),
            ..ReceiverTlsConfig::default()
        }
    }

    #[test]
    fn missing_files_name_the_key_and_the_file() {
        let error = server_config(
            &config("/nonexistent/server.pem", "/nonexistent/server.key"),
            "x.tls",
            Transport::Grpc,
        )
        .err()
        .unwrap_or_default();
        assert!(error.contains("x.tls.cert_file"), "{error}");
        assert!(error.contains("/nonexistent/server.pem"), "{error}");
    }

    #[test]
    fn cert_and_key_are_both_required() {
        let error = server_config(&config("a.pem", ""), "x.tls", Transport::Http)
            .err()
            .unwrap_or_default();
        assert!(error.contains("key_file"), "{error}");
    }

    #[test]
    fn files_without_pem_blocks_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").expect("write");
        let junk = junk.display().to_string();
        let error = server_config(&config(&junk, &junk), "x.tls", Transport::Http)
            .err()
            .unwrap_or_default();
        assert!(error.contains("no PEM certificate"), "{error}");
        assert!(error.contains(&junk), "{error}");
    }

    #[test]
    fn versions() {
        let mut c = config("a", "b");
        assert_eq!(protocol_versions(&c, "k").map(|v| v.len()), Ok(2));
        c.min_version = "1.3".into();
        assert_eq!(protocol_versions(&c, "k").map(|v| v.len()), Ok(1));
        c.max_version = "1.2".into();
        assert!(protocol_versions(&c, "k").is_err());
        c.min_version = "1.1".into();
        assert_eq!(protocol_versions(&c, "k").map(|v| v.len()), Ok(1));
        c.min_version = "tls1.2".into();
        assert!(protocol_versions(&c, "k").is_err());
    }
}
