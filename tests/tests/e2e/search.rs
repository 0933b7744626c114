//! `GET /api/search` end to end: TraceQL answers checked against a straightforward
//! row-at-a-time evaluation of the generated input, identical before and after the data is
//! flushed to a block (head and block agree), deterministic, with Tempo's error texts.

use std::collections::BTreeSet;

use tracecore_proto::otlp::{AnyValue, KeyValue, ResourceSpans, Span, any_value::Value};
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

type SpanPredicate = fn(&ResourceSpans, &Span) -> bool;

fn attr<'a>(list: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    list.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn service(rs: &ResourceSpans) -> Option<&str> {
    match attr(&rs.resource.as_ref()?.attributes, "service.name") {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// Queries and the same condition written as Rust over the input spans.
fn cases() -> Vec<(&'static str, SpanPredicate)> {
    vec![
        ("{ resource.service.name = \"frontend\" }", |rs, _| {
            service(rs) == Some("frontend")
        }),
        (
            "{ span.http.status_code >= 500 }",
            |_, s| matches!(attr(&s.attributes, "http.status_code"), Some(Value::IntValue(c)) if *c >= 500),
        ),
        ("{ status = error }", |_, s| {
            s.status.as_ref().is_some_and(|st| st.code == 2)
        }),
        ("{ duration > 50ms }", |_, s| {
            s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) > 50_000_000
        }),
        (
            "{ kind = client && span.http.method = \"POST\" }",
            |_, s| {
                s.kind == 3
                    && matches!(attr(&s.attributes, "http.method"), Some(Value::StringValue(m)) if m == "POST")
            },
        ),
        ("{ name =~ \"GET .*\" }", |_, s| s.name.starts_with("GET ")),
    ]
}

fn expected(batch: &TraceBatch, predicate: SpanPredicate) -> BTreeSet<String> {
    batch
        .traces
        .iter()
        .filter(|(_, rss)| {
            rss.iter().any(|rs| {
                rs.scope_spans
                    .iter()
                    .flat_map(|ss| &ss.spans)
                    .any(|s| predicate(rs, s))
            })
        })
        .map(|(id, _)| hex::encode(id))
        .collect()
}

/// `/api/search?…` with every parameter percent-encoded.
fn search_path(params: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("/api/search?{}", query.join("&"))
}

async fn search(server: &Server, q: &str, limit: usize) -> serde_json::Value {
    let reply = server
        .client()
        .get(
            &search_path(&[("q", q), ("limit", &limit.to_string())]),
            None,
        )
        .await
        .expect("search request");
    assert_eq!(reply.status, 200, "{q}: {}", reply.text());
    reply.json().expect("json body")
}

fn trace_ids(body: &serde_json::Value) -> BTreeSet<String> {
    body["traces"]
        .as_array()
        .map(|traces| {
            traces
                .iter()
                .map(|t| format!("{:0>32}", t["traceID"].as_str().expect("traceID")))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_matches_reference_in_head_and_blocks() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(7), 150);
    client.export_ok(&batch.request).await.unwrap();

    let mut nonempty = 0;
    for phase in ["head", "block"] {
        if phase == "block" {
            client.flush().await.unwrap().expect_status(204).unwrap();
        }
        for (q, predicate) in cases() {
            let want = expected(&batch, predicate);
            nonempty += usize::from(!want.is_empty());
            let body = search(&server, q, 1000).await;
            assert_eq!(trace_ids(&body), want, "{phase}: {q}");
            for t in body["traces"].as_array().into_iter().flatten() {
                let set = &t["spanSets"][0];
                assert!(set["matched"].as_u64().unwrap_or(0) >= 1, "{q}: {t}");
                assert_eq!(t["spanSet"], *set, "spanSet is spanSets[0]");
                assert!(t["startTimeUnixNano"].as_str().is_some(), "{t}");
            }
        }
    }
    assert!(nonempty >= 8, "the dataset should exercise most queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_orders_newest_first_and_is_deterministic() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let first = TraceBatch::generate(&mut TraceGenerator::new(11), 60);
    client.export_ok(&first.request).await.unwrap();
    client.flush().await.unwrap().expect_status(204).unwrap();
    let second = TraceBatch::generate(&mut TraceGenerator::new(12), 60);
    client.export_ok(&second.request).await.unwrap();

    let a = search(&server, "{ }", 5).await;
    let b = search(&server, "{ }", 5).await;
    let traces = a["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 5);
    assert_eq!(a["traces"], b["traces"], "same answer on every run");
    let starts: Vec<u64> = traces
        .iter()
        .map(|t| t["startTimeUnixNano"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {starts:?}"
    );
    let metrics = &a["metrics"];
    assert!(metrics["inspectedSpans"].as_str().is_some(), "{metrics}");
    assert!(
        metrics["totalBlocks"].as_u64().unwrap_or(0) >= 1,
        "{metrics}"
    );

    // Everything, across head and block: the scans ran as jobs on the shards' query queues,
    // spread over both shards (blocks and in-memory chunks alternate).
    let jobs = |server| async move {
        let mut per_shard = Vec::new();
        for shard in 0..2 {
            let series = format!("tracecore_shard_query_jobs_total{{shard=\"{shard}\"}}");
            per_shard.push(crate::limits_support::metric(server, &series).await);
        }
        per_shard
    };
    let before = jobs(&server).await;
    let all = search(&server, "{ }", 1000).await;
    assert_eq!(trace_ids(&all).len(), 120);
    let after = jobs(&server).await;
    let ran: f64 = after.iter().zip(&before).map(|(a, b)| a - b).sum();
    let scanned = all["metrics"]["completedJobs"].as_u64().unwrap_or(0);
    assert!(ran >= 2.0, "query jobs per shard {before:?} -> {after:?}");
    assert!(
        after.iter().all(|&n| n > 0.0),
        "both shards scanned: {after:?} ({scanned} jobs completed)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_tempo_errors() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("q", "{ .a = }")],
            "invalid TraceQL query: parse error at line 1, col",
        ),
        (
            &[("q", "{ }"), ("limit", "0")],
            "invalid limit: must be a positive number",
        ),
        (
            &[("q", "{ }"), ("spss", "500")],
            "spans per span set exceeds 100. received 500",
        ),
        (
            &[("q", "{ }"), ("tags", "a=b")],
            "invalid request: can't specify tags and q in the same query",
        ),
        (&[("q", "{ name =~ \"(\" }")], "invalid TraceQL query:"),
        (&[("q", "{ } | rate()")], "invalid TraceQL query:"),
    ];
    for (params, message) in cases {
        let reply = client.get(&search_path(params), None).await.unwrap();
        assert_eq!(reply.status, 400, "{params:?}: {}", reply.text());
        assert!(
            reply.text().contains(message),
            "{params:?}: {:?}",
            reply.text()
        );
    }
    let deep = format!("{}{}{}", "(".repeat(5000), "{ }", ")".repeat(5000));
    let reply = client
        .get(&search_path(&[("q", &deep)]), None)
        .await
        .unwrap();
    assert_eq!(reply.status, 400, "deep nesting: {}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_tag_search() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(3), 80);
    client.export_ok(&batch.request).await.unwrap();
    let want = expected(&batch, |rs, _| {
        service(rs).is_some_and(|s| s.contains("front"))
    });
    let reply = client
        .get(
            &search_path(&[("tags", "service.name=front"), ("limit", "1000")]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(trace_ids(&reply.json().unwrap()), want);
}

/// One span of trace `trace` with attribute `step` = `step`, acknowledged on its own.
fn step_span(trace: u8, span: u8, step: i64) -> tracecore_proto::otlp::ExportTraceServiceRequest {
    use tracecore_proto::otlp::{Resource, ScopeSpans};
    let kv = |k: &str, v: Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    tracecore_proto::otlp::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("stepper".into()))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: [trace; 16].to_vec(),
                    span_id: vec![span; 8],
                    name: format!("step-{step}"),
                    start_time_unix_nano: now,
                    end_time_unix_nano: now + 1_000_000,
                    attributes: vec![kv("step", Value::IntValue(step))],
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// In-memory traces are cached in encoded chunks between queries: spans acknowledged after a
/// query (to a trace already seen, and new traces) must be found by the next query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_acknowledged_between_queries_are_found() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let find = |q: &'static str| {
        let server = &server;
        async move { trace_ids(&search(server, q, 100).await) }
    };
    client.export_ok(&step_span(7, 1, 1)).await.unwrap();
    let t7: BTreeSet<String> = [format!("{:0>32}", hex::encode([7u8; 16]))].into();
    assert_eq!(find("{ span.step = 1 }").await, t7);
    assert!(find("{ span.step = 2 }").await.is_empty());

    // A second span of the same trace, then a new trace: both visible at once.
    client.export_ok(&step_span(7, 2, 2)).await.unwrap();
    assert_eq!(find("{ span.step = 2 }").await, t7);
    assert_eq!(find("{ span.step = 1 } && { span.step = 2 }").await, t7);
    client.export_ok(&step_span(8, 1, 3)).await.unwrap();
    let t8: BTreeSet<String> = [format!("{:0>32}", hex::encode([8u8; 16]))].into();
    assert_eq!(find("{ span.step = 3 }").await, t8);
    let values = server
        .client()
        .get("/api/v2/search/tag/span.step/values", None)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(values["tagValues"].as_array().unwrap().len(), 3, "{values}");
}
