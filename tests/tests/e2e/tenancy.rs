//! Tenants are walls (RELIABILITY.md promise 4, test S4): with multitenancy on, requests need a
//! valid `X-Scope-OrgID`, and no tenant reads another's data — not live, not after a flush.

use tonic::Code;
use tracecore_tests::readback::{check_trace_absent, check_trace_everywhere};
use tracecore_tests::{Encoding, Format, Server, ServerOptions, TraceBatch, TraceGenerator};

fn multitenant() -> ServerOptions {
    ServerOptions {
        multitenancy: true,
        ..ServerOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_id_is_required_and_validated() {
    let server = Server::start(multitenant()).await.unwrap();
    let mut generator = TraceGenerator::new(8008);
    let batch = TraceBatch::generate(&mut generator, 1);
    let id_hex = hex::encode(batch.traces[0].0);
    let mut failures = Vec::new();

    // Missing: 401 `no org id` on every API, UNAUTHENTICATED on gRPC.
    let anonymous = server.client();
    let reply = anonymous
        .otlp_http_export(&batch.request, Encoding::Protobuf, false)
        .await
        .unwrap();
    if reply.status != 401 || !reply.text().contains("no org id") {
        failures.push(format!(
            "ingest without org id: HTTP {} {:?}",
            reply.status,
            reply.text()
        ));
    }
    match anonymous.otlp_grpc_export(&batch.request, false).await {
        Err(s) if s.code() == Code::Unauthenticated => {}
        other => failures.push(format!(
            "gRPC ingest without org id: {:?}",
            other.map_err(|s| (s.code(), s.message().to_owned()))
        )),
    }
    for path in [
        format!("/api/traces/{id_hex}"),
        format!("/api/v2/traces/{id_hex}"),
    ] {
        let reply = anonymous.get(&path, None).await.unwrap();
        if reply.status != 401 || !reply.text().contains("no org id") {
            failures.push(format!(
                "GET {path} without org id: HTTP {} {:?}",
                reply.status,
                reply.text()
            ));
        }
    }

    // Invalid IDs are refused before they touch a path.
    let too_long = "t".repeat(151);
    for tenant in [
        "../x",
        "..",
        ".",
        "a/b",
        "a\\b",
        "x#y",
        "a:b",
        too_long.as_str(),
    ] {
        let client = server.client_for(tenant);
        let reply = client
            .otlp_http_export(&batch.request, Encoding::Protobuf, false)
            .await
            .unwrap();
        if reply.status != 400 {
            failures.push(format!(
                "ingest as {tenant:?}: HTTP {} {:?}, expected 400",
                reply.status,
                reply.text()
            ));
        }
        match client.otlp_grpc_export(&batch.request, false).await {
            Err(s) if s.code() == Code::InvalidArgument => {}
            other => failures.push(format!(
                "gRPC ingest as {tenant:?}: {:?}, expected INVALID_ARGUMENT",
                other.map_err(|s| (s.code(), s.message().to_owned()))
            )),
        }
        let reply = client.get_trace_v1(&id_hex, Format::Json).await.unwrap();
        if reply.status != 400 {
            failures.push(format!(
                "query as {tenant:?}: HTTP {} {:?}, expected 400",
                reply.status,
                reply.text()
            ));
        }
    }
    // Nothing escaped the blocks directory, and no directory was created for a hostile tenant.
    let data = server.data_dir();
    for leaked in ["x", "blocks/x", "wal/x", "blocks/a", "wal/a"] {
        let p = data.join(leaked);
        if p.exists() {
            failures.push(format!("{} exists after hostile tenant IDs", p.display()));
        }
    }

    // Unusual but valid IDs work.
    let odd = "a-b_c.d*e'f(g)h!";
    let longest = "L".repeat(150);
    for tenant in [odd, longest.as_str()] {
        let client = server.client_for(tenant);
        let batch = TraceBatch::generate(&mut generator, 1);
        match client.otlp_grpc_export(&batch.request, false).await {
            Ok(_) => {
                if let Err(e) =
                    check_trace_everywhere(&client, &batch.traces[0].0, &batch.traces[0].1).await
                {
                    failures.push(format!("valid tenant {tenant:?}: {e:#}"));
                }
            }
            Err(s) => failures.push(format!(
                "valid tenant {tenant:?} refused: {:?} {}",
                s.code(),
                s.message()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_read_each_other() {
    let server = Server::start(multitenant()).await.unwrap();
    let mut generator = TraceGenerator::new(9009);
    let a = server.client_for("tenant-a");
    let b = server.client_for("tenant-b");

    let only_a = TraceBatch::generate(&mut generator, 2);
    let only_b = TraceBatch::generate(&mut generator, 2);
    // The same trace ID written by both tenants, with different spans.
    let shared_id = [0x5a; 16];
    let shared_a =
        TraceBatch::from_traces(vec![(shared_id, generator.next_trace_with_id(shared_id))]);
    let shared_b =
        TraceBatch::from_traces(vec![(shared_id, generator.next_trace_with_id(shared_id))]);
    a.export_ok(&only_a.request).await.unwrap();
    a.otlp_http_export(&shared_a.request, Encoding::Protobuf, false)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();
    b.export_ok(&only_b.request).await.unwrap();
    b.otlp_http_export(&shared_b.request, Encoding::Json, true)
        .await
        .unwrap()
        .expect_status(200)
        .unwrap();

    let mut server = server;
    for stage in ["live", "after kill -9 (WAL replay)", "after flush"] {
        if stage.starts_with("after kill") {
            server.kill9().unwrap();
            server.relaunch().await.unwrap();
        }
        let (a, b) = (server.client_for("tenant-a"), server.client_for("tenant-b"));
        if stage == "after flush" {
            for client in [&a, &b] {
                let reply = client.flush().await.unwrap();
                assert_eq!(
                    reply.status,
                    204,
                    "flush as {:?}: {}",
                    client.tenant(),
                    reply.text()
                );
            }
            for tenant in ["tenant-a", "tenant-b"] {
                let dir = server.blocks_dir().join(tenant);
                assert!(
                    dir.is_dir(),
                    "{} should hold the tenant's blocks",
                    dir.display()
                );
            }
            assert!(
                !server.blocks_dir().join("single-tenant").exists(),
                "no single-tenant blocks with multitenancy on"
            );
        }
        for (id, spans) in &only_a.traces {
            check_trace_everywhere(&a, id, spans)
                .await
                .unwrap_or_else(|e| panic!("{stage}: tenant A reads its own trace: {e:#}"));
            check_trace_absent(&b, id)
                .await
                .unwrap_or_else(|e| panic!("{stage}: tenant B must not see A's trace: {e:#}"));
        }
        for (id, spans) in &only_b.traces {
            check_trace_everywhere(&b, id, spans)
                .await
                .unwrap_or_else(|e| panic!("{stage}: tenant B reads its own trace: {e:#}"));
            check_trace_absent(&a, id)
                .await
                .unwrap_or_else(|e| panic!("{stage}: tenant A must not see B's trace: {e:#}"));
        }
        check_trace_everywhere(&a, &shared_id, &shared_a.traces[0].1)
            .await
            .unwrap_or_else(|e| {
                panic!("{stage}: shared trace ID as tenant A shows only A's spans: {e:#}")
            });
        check_trace_everywhere(&b, &shared_id, &shared_b.traces[0].1)
            .await
            .unwrap_or_else(|e| {
                panic!("{stage}: shared trace ID as tenant B shows only B's spans: {e:#}")
            });
        check_trace_absent(&server.client_for("tenant-c"), &shared_id)
            .await
            .unwrap_or_else(|e| panic!("{stage}: an unrelated tenant sees nothing: {e:#}"));
    }
}
