//! TLS on the OTLP receivers (`...protocols.<grpc|http>.tls`): spans exported over TLS with
//! real clients (tonic, reqwest on rustls) read back by ID over the plain API port; plaintext
//! clients and, with `client_ca_file`, clients without a certificate from that CA are refused
//! while the server keeps serving; a bad certificate path stops start-up with a message naming
//! the file. Certificates are made at test time with rcgen.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tempfile::TempDir;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tracecore_benches::otlp_grpc::{ExportOptions, export_raw};
use tracecore_tests::readback::check_trace_everywhere;
use tracecore_tests::{Encoding, Server, ServerOptions, TraceBatch, TraceGenerator};

/// A CA and what it signed, as PEM.
struct Pki {
    dir: TempDir,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    /// A client certificate from a CA the server does not trust.
    stranger_cert_pem: String,
    stranger_key_pem: String,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(params, key))
}

/// A leaf certificate and its key, signed by `issuer`.
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Writes `ca.pem`, `server.pem` and `server.key` (for `localhost` and `127.0.0.1`) into a
/// fresh directory, which `TC_TLS_DIR` names for the server's config.
fn make_pki() -> Pki {
    let dir = tempfile::Builder::new()
        .prefix("tracecore-tls-")
        .tempdir()
        .unwrap();
    let (ca_pem, issuer) = ca("tracecore e2e CA");
    let (server_pem, server_key) = leaf(
        &issuer,
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert_pem, client_key_pem) = leaf(
        &issuer,
        &["e2e-client"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (_, stranger_issuer) = ca("someone else's CA");
    let (stranger_cert_pem, stranger_key_pem) = leaf(
        &stranger_issuer,
        &["stranger"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
    std::fs::write(dir.path().join("server.pem"), server_pem).unwrap();
    std::fs::write(dir.path().join("server.key"), server_key).unwrap();
    Pki {
        dir,
        ca_pem,
        client_cert_pem,
        client_key_pem,
        stranger_cert_pem,
        stranger_key_pem,
    }
}

/// Puts `block` (YAML under the endpoint's key, 10-space indented) after both OTLP endpoints.
fn with_tls(yaml: String, block: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 2 * block.len());
    for line in yaml.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("          endpoint: \"127.0.0.1:") {
            out.push_str(block);
        }
    }
    out
}

const TLS_BLOCK: &str = "          tls:
            cert_file: ${TC_TLS_DIR}/server.pem
            key_file: ${TC_TLS_DIR}/server.key
            min_version: \"1.2\"
";

const MTLS_BLOCK: &str = "          tls:
            cert_file: ${TC_TLS_DIR}/server.pem
            key_file: ${TC_TLS_DIR}/server.key
            client_ca_file: ${TC_TLS_DIR}/ca.pem
";

async fn start(pki: &Pki, transform: fn(String) -> String) -> anyhow::Result<Server> {
    Server::start(ServerOptions {
        config_transform: Some(transform),
        extra_args: vec!["-config.expand-env=true".to_owned()],
        env: vec![(
            "TC_TLS_DIR".to_owned(),
            pki.dir.path().display().to_string(),
        )],
        ..ServerOptions::default()
    })
    .await
}

/// A TLS gRPC channel trusting the test CA, optionally with a client certificate.
async fn grpc_channel(
    port: u16,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> anyhow::Result<Channel> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Ok(Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect()
        .await?)
}

/// One OTLP/gRPC export over TLS; `Err` carries whatever failed (connect, handshake, status).
async fn grpc_export(
    port: u16,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    batch: &TraceBatch,
) -> anyhow::Result<()> {
    let channel = grpc_channel(port, ca_pem, identity).await?;
    export_raw(
        channel,
        batch.request.encode_to_vec(),
        &ExportOptions::default(),
    )
    .await
    .map_err(|s| anyhow::anyhow!("export failed: {:?}: {}", s.code(), s.message()))?;
    Ok(())
}

/// A reqwest client on rustls (ring) trusting only the test CA.
fn https_client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `POST /v1/traces` (protobuf) over HTTPS; the HTTP status, or the transport error.
async fn https_export(
    client: &reqwest::Client,
    port: u16,
    batch: &TraceBatch,
) -> anyhow::Result<u16> {
    let response = client
        .post(format!("https://127.0.0.1:{port}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(batch.request.encode_to_vec())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn check_readback(server: &Server, batch: &TraceBatch) {
    for (id, spans) in &batch.traces {
        check_trace_everywhere(&server.client(), id, spans)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_tls_reads_back_and_plaintext_is_refused() {
    let pki = make_pki();
    let server = start(&pki, |y| with_tls(y, TLS_BLOCK)).await.unwrap();
    let ports = server.ports();
    let mut generator = TraceGenerator::new(0x715);

    let over_grpc = TraceBatch::generate(&mut generator, 3);
    grpc_export(ports.otlp_grpc, &pki.ca_pem, None, &over_grpc)
        .await
        .unwrap();
    let over_http = TraceBatch::generate(&mut generator, 3);
    let https = https_client(&pki.ca_pem, None);
    assert_eq!(
        https_export(&https, ports.otlp_http, &over_http)
            .await
            .unwrap(),
        200
    );
    check_readback(&server, &over_grpc).await;
    check_readback(&server, &over_http).await;

    // Plaintext to the TLS ports: refused, nothing stored.
    let plain = TraceBatch::generate(&mut generator, 1);
    let grpc_plain = server
        .client()
        .otlp_grpc_export(&plain.request, false)
        .await;
    assert!(
        grpc_plain.is_err(),
        "plaintext gRPC accepted: {grpc_plain:?}"
    );
    let http_plain = server
        .client()
        .otlp_http_export(&plain.request, Encoding::Protobuf, false)
        .await;
    assert!(
        http_plain.is_err(),
        "plaintext HTTP answered: {:?}",
        http_plain.map(|r| r.status)
    );
    let (plain_id, _) = &plain.traces[0];
    assert!(server.client().trace_v1(plain_id).await.unwrap().is_none());

    // The TLS ports still serve, on new connections.
    let after = TraceBatch::generate(&mut generator, 2);
    grpc_export(ports.otlp_grpc, &pki.ca_pem, None, &after)
        .await
        .unwrap();
    let again = TraceBatch::generate(&mut generator, 2);
    assert_eq!(
        https_export(&https_client(&pki.ca_pem, None), ports.otlp_http, &again)
            .await
            .unwrap(),
        200
    );
    check_readback(&server, &after).await;
    check_readback(&server, &again).await;

    // A client that does not trust the server's CA gives up on its own.
    let (stranger_ca, _) = ca("unrelated CA");
    let untrusting = https_client(&stranger_ca, None);
    assert!(
        https_export(&untrusting, ports.otlp_http, &after)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = make_pki();
    let server = start(&pki, |y| with_tls(y, MTLS_BLOCK)).await.unwrap();
    let ports = server.ports();
    let mut generator = TraceGenerator::new(0x3715);
    let client_identity = Some((pki.client_cert_pem.as_str(), pki.client_key_pem.as_str()));
    let stranger_identity = Some((
        pki.stranger_cert_pem.as_str(),
        pki.stranger_key_pem.as_str(),
    ));

    // Without a certificate, or with one from another CA: refused on both ports.
    let refused = TraceBatch::generate(&mut generator, 1);
    for (what, identity) in [("no", None), ("a stranger's", stranger_identity)] {
        let grpc = grpc_export(ports.otlp_grpc, &pki.ca_pem, identity, &refused).await;
        assert!(
            grpc.is_err(),
            "gRPC with {what} client certificate accepted"
        );
        let http = https_export(
            &https_client(&pki.ca_pem, identity),
            ports.otlp_http,
            &refused,
        )
        .await;
        assert!(
            http.is_err(),
            "HTTP with {what} client certificate answered {http:?}"
        );
    }
    let (refused_id, _) = &refused.traces[0];
    assert!(
        server
            .client()
            .trace_v1(refused_id)
            .await
            .unwrap()
            .is_none()
    );

    // With a certificate signed by client_ca_file: accepted.
    let over_grpc = TraceBatch::generate(&mut generator, 2);
    grpc_export(ports.otlp_grpc, &pki.ca_pem, client_identity, &over_grpc)
        .await
        .unwrap();
    let over_http = TraceBatch::generate(&mut generator, 2);
    assert_eq!(
        https_export(
            &https_client(&pki.ca_pem, client_identity),
            ports.otlp_http,
            &over_http
        )
        .await
        .unwrap(),
        200
    );
    check_readback(&server, &over_grpc).await;
    check_readback(&server, &over_http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificate_files_stop_start_up_naming_the_file() {
    let pki = make_pki();
    std::fs::write(pki.dir.path().join("junk.key"), "no key in here\n").unwrap();
    type Transform = fn(String) -> String;
    let cases: [(Transform, &str, &str); 3] = [
        (
            |y| {
                with_tls(
                    y,
                    "          tls:
            cert_file: ${TC_TLS_DIR}/missing.pem
            key_file: ${TC_TLS_DIR}/server.key
",
                )
            },
            "missing.pem",
            "cert_file",
        ),
        (
            |y| {
                with_tls(
                    y,
                    "          tls:
            cert_file: ${TC_TLS_DIR}/server.pem
            key_file: ${TC_TLS_DIR}/junk.key
",
                )
            },
            "junk.key",
            "no PEM private key",
        ),
        (
            |y| {
                with_tls(
                    y,
                    "          tls:
            cert_file: ${TC_TLS_DIR}/server.pem
            key_file: ${TC_TLS_DIR}/server.key
            client_ca_file: ${TC_TLS_DIR}/no-such-ca.pem
",
                )
            },
            "no-such-ca.pem",
            "client_ca_file",
        ),
    ];
    for (transform, file, problem) in cases {
        let error = match start(&pki, transform).await {
            Ok(_) => panic!("tracecore started with a broken tls block ({file})"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains("exited during startup"), "{error}");
        assert!(!error.contains("exit status: 0"), "{error}");
        assert!(!error.contains("panicked"), "{error}");
        let named = Path::new(&pki.dir.path().join(file)).display().to_string();
        assert!(
            error.contains(&named),
            "message does not name {named}: {error}"
        );
        assert!(
            error.contains(problem),
            "message does not say {problem:?}: {error}"
        );
    }
}

/// `tls` on the Jaeger `grpc` and `thrift_http` and the Zipkin receivers.
fn with_jaeger_zipkin_tls(yaml: String) -> String {
    let block = |indent: &str| {
        format!(
            "{indent}tls:\n{indent}  cert_file: ${{TC_TLS_DIR}}/server.pem\n{indent}  key_file: ${{TC_TLS_DIR}}/server.key\n"
        )
    };
    let mut out = String::with_capacity(yaml.len() + 256);
    let mut previous = "";
    for line in yaml.lines() {
        out.push_str(line);
        out.push('\n');
        if previous == "        thrift_http:" || previous == "        grpc:" {
            out.push_str(&block("          "));
        } else if line.starts_with("      endpoint: ") {
            // Zipkin's endpoint: the only one six spaces in.
            out.push_str(&block("      "));
        }
        previous = line;
    }
    out
}

fn spans_in(resource_spans: &[tracecore_proto::otlp::ResourceSpans]) -> usize {
    resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_grpc_thrift_http_and_zipkin_over_tls() {
    use tonic::codegen::http::uri::PathAndQuery;
    use tracecore_rpc::jaeger::model_proto::{PostSpansRequest, PostSpansResponse};
    use tracecore_tests::jaeger_zipkin::{
        jaeger_post_spans_requests, jaeger_thrift_batches, thrift_binary_body, zipkin_v2_json,
    };
    let pki = make_pki();
    let server = Server::start(ServerOptions {
        jaeger_zipkin: true,
        config_transform: Some(with_jaeger_zipkin_tls),
        extra_args: vec!["-config.expand-env=true".to_owned()],
        env: vec![(
            "TC_TLS_DIR".to_owned(),
            pki.dir.path().display().to_string(),
        )],
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let ports = server.ports();
    let https = https_client(&pki.ca_pem, None);
    let mut generator = TraceGenerator::new(0x2715);

    let (jaeger_id, jaeger_sent) = generator.next_trace();
    for batch in jaeger_thrift_batches(&jaeger_sent) {
        let response = https
            .post(format!(
                "https://127.0.0.1:{}/api/traces",
                ports.jaeger_thrift_http
            ))
            .header("content-type", "application/x-thrift")
            .body(thrift_binary_body(&batch))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
    }
    let (zipkin_id, zipkin_sent) = generator.next_trace();
    let response = https
        .post(format!("https://127.0.0.1:{}/api/v2/spans", ports.zipkin))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&zipkin_v2_json(&zipkin_sent)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);

    let (grpc_id, grpc_sent) = generator.next_trace();
    let channel = grpc_channel(ports.jaeger_grpc, &pki.ca_pem, None)
        .await
        .unwrap();
    for request in jaeger_post_spans_requests(&grpc_sent) {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<PostSpansRequest, PostSpansResponse>::default();
        grpc.unary(
            tonic::Request::new(request),
            PathAndQuery::from_static("/jaeger.api_v2.CollectorService/PostSpans"),
            codec,
        )
        .await
        .unwrap();
    }

    for (id, sent, what) in [
        (jaeger_id, &jaeger_sent, "jaeger thrift_http"),
        (zipkin_id, &zipkin_sent, "zipkin"),
        (grpc_id, &grpc_sent, "jaeger grpc"),
    ] {
        let got = server.client().trace_v1(&id).await.unwrap();
        let got = got.unwrap_or_else(|| panic!("{what}: trace sent over TLS not found"));
        assert_eq!(spans_in(&got), spans_in(sent), "{what}: spans read back");
    }

    // Plaintext gRPC to the Jaeger TLS port: refused.
    let plain_grpc = Endpoint::from_shared(format!("http://127.0.0.1:{}", ports.jaeger_grpc))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await;
    if let Ok(channel) = plain_grpc {
        let mut grpc = tonic::client::Grpc::new(channel);
        let request = jaeger_post_spans_requests(&grpc_sent).remove(0);
        let codec = tonic_prost::ProstCodec::<PostSpansRequest, PostSpansResponse>::default();
        let reply = match grpc.ready().await {
            Err(e) => Err(tonic::Status::unavailable(e.to_string())),
            Ok(()) => {
                grpc.unary(
                    tonic::Request::new(request),
                    PathAndQuery::from_static("/jaeger.api_v2.CollectorService/PostSpans"),
                    codec,
                )
                .await
            }
        };
        assert!(reply.is_err(), "plaintext gRPC answered on the TLS port");
    }

    // Plaintext to either TLS port: no answer.
    tracecore_tests::install_tls_provider();
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    for port in [ports.jaeger_thrift_http, ports.zipkin] {
        let reply = plain
            .post(format!("http://127.0.0.1:{port}/api/v2/spans"))
            .header("content-type", "application/json")
            .body("[]")
            .send()
            .await;
        assert!(reply.is_err(), "plaintext answered on {port}: {reply:?}");
    }
}
