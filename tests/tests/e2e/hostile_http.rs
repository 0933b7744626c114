//! Transport abuse on every HTTP port — the OTLP, Jaeger thrift and Zipkin receivers and the
//! query API (RELIABILITY.md promise 3, tests S2–S3): too many or oversized request headers get
//! 431; a client that trickles its headers (slow loris) is disconnected once
//! `server.http_server_read_header_timeout` has passed; one that trickles its body gets 408
//! after `server.http_server_read_timeout`; while dozens of such clients hang on, normal
//! requests are answered, and the server keeps serving afterwards.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracecore_tests::readback::check_trace_everywhere;
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const READ_TIMEOUT: Duration = Duration::from_secs(4);

fn short_timeouts(yaml: String) -> String {
    yaml.replacen(
        "server:\n",
        "server:\n  http_server_read_header_timeout: 2s\n  http_server_read_timeout: 4s\n",
        1,
    )
}

async fn start() -> Server {
    Server::start(ServerOptions {
        jaeger_zipkin: true,
        config_transform: Some(short_timeouts),
        ..ServerOptions::default()
    })
    .await
    .unwrap()
}

/// (name, port, a POST path it serves, a content type it takes).
fn http_ports(server: &Server) -> Vec<(&'static str, u16, &'static str, &'static str)> {
    let p = server.ports();
    vec![
        (
            "otlp http",
            p.otlp_http,
            "/v1/traces",
            "application/x-protobuf",
        ),
        (
            "jaeger thrift_http",
            p.jaeger_thrift_http,
            "/api/traces",
            "application/x-thrift",
        ),
        ("zipkin", p.zipkin, "/api/v2/spans", "application/json"),
        ("api", p.http, "/flush", "text/plain"),
    ]
}

async fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads until the server closes the connection or `within` passes: the bytes and whether it
/// closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn status_of(response: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(response.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Sends `request` (writes may fail once the server has answered and closed) and returns the
/// status the server answered with.
async fn exchange(port: u16, request: Vec<u8>) -> Option<u16> {
    let mut stream = connect(port).await;
    let (mut reader, mut writer) = stream.split();
    let write = async {
        let _ = writer.write_all(&request).await;
    };
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_secs(15), reader.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        got
    };
    let ((), got) = tokio::join!(write, read);
    status_of(&got)
}

async fn still_serves(server: &mut Server, generator: &mut TraceGenerator) {
    assert!(
        server.is_running(),
        "tracecore died:\n{}",
        server.log_tail(40)
    );
    let client = server.client();
    let batch = TraceBatch::generate(generator, 1);
    let reply = client
        .otlp_http_export(&batch.request, tracecore_tests::Encoding::Protobuf, false)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "normal export: {}", reply.text());
    let (id, spans) = &batch.traces[0];
    check_trace_everywhere(&client, id, spans).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_too_many_headers_get_431_on_every_http_port() {
    let mut server = start().await;
    let mut generator = TraceGenerator::new(5151);
    for (name, port, path, content_type) in http_ports(&server) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: 0\r\n"
        );
        let mut many = head.clone();
        for i in 0..500 {
            many.push_str(&format!("X-Filler-{i}: {i}\r\n"));
        }
        many.push_str("\r\n");
        let status = exchange(port, many.into_bytes()).await;
        assert_eq!(status, Some(431), "{name}: 500 headers");

        let mut big = head.into_bytes();
        big.extend_from_slice(b"X-Huge: ");
        big.resize(big.len() + 1024 * 1024, b'h');
        big.extend_from_slice(b"\r\n\r\n");
        let status = exchange(port, big).await;
        assert_eq!(status, Some(431), "{name}: a 1 MiB header");
    }
    still_serves(&mut server, &mut generator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_slow_bodies_are_cut_off_and_do_not_block_others() {
    let mut server = start().await;
    let mut generator = TraceGenerator::new(5252);
    let ports = http_ports(&server);

    // Slow loris: 16 connections per port that send a header line every 300 ms, forever.
    let started = Instant::now();
    let mut lorises = Vec::new();
    for &(name, port, path, _) in &ports {
        for _ in 0..16 {
            let mut stream = connect(port).await;
            lorises.push(tokio::spawn(async move {
                let head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
                let _ = stream.write_all(head.as_bytes()).await;
                let opened = Instant::now();
                for i in 0.. {
                    if opened.elapsed() > Duration::from_secs(20) {
                        return (name, None);
                    }
                    let line = format!("X-Slow-{i}: a\r\n");
                    if stream.write_all(line.as_bytes()).await.is_err() {
                        return (name, Some(opened.elapsed()));
                    }
                    let mut probe = [0u8; 256];
                    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut probe))
                        .await
                    {
                        Err(_) => {}
                        Ok(Ok(0)) | Ok(Err(_)) => return (name, Some(opened.elapsed())),
                        Ok(Ok(_)) => {}
                    }
                }
                unreachable!("the loop only ends by returning")
            }));
        }
    }
    // Slow bodies: complete headers, then a byte of the promised 1,000 every 500 ms.
    let mut trickles = Vec::new();
    for &(name, port, path, content_type) in ports.iter().filter(|p| p.0 != "api") {
        let mut stream = connect(port).await;
        trickles.push(tokio::spawn(async move {
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let opened = Instant::now();
            let mut got = Vec::new();
            while opened.elapsed() < Duration::from_secs(20) {
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
                let mut buf = [0u8; 1024];
                match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await
                {
                    Err(_) => {}
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        got.extend_from_slice(&buf[..n]);
                        if got.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            let (rest, _) = read_until_closed(&mut stream, Duration::from_millis(200)).await;
            got.extend_from_slice(&rest);
            (name, status_of(&got), opened.elapsed(), got)
        }));
    }

    // Meanwhile normal traffic is answered.
    still_serves(&mut server, &mut generator).await;

    for loris in lorises {
        let (name, closed_after) = loris.await.unwrap();
        let closed_after = closed_after
            .unwrap_or_else(|| panic!("{name}: a slow-loris connection was still open after 20s"));
        assert!(
            closed_after >= HEADER_TIMEOUT - Duration::from_millis(500),
            "{name}: a slow-loris connection was closed after {closed_after:?}, before the header timeout"
        );
    }
    for trickle in trickles {
        let (name, status, after, got) = trickle.await.unwrap();
        assert_eq!(
            status,
            Some(408),
            "{name}: a body trickled for {after:?} got {:?}",
            String::from_utf8_lossy(&got)
        );
        assert!(
            after >= READ_TIMEOUT - Duration::from_millis(500),
            "{name}: the slow body was refused after {after:?}, before the read timeout"
        );
    }
    eprintln!(
        "slow clients cut off within {:?} of the first",
        started.elapsed()
    );
    still_serves(&mut server, &mut generator).await;
}
