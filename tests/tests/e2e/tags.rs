//! Tag names and values end to end, checked against the generated input, before and after
//! the data is flushed to blocks.

use std::collections::BTreeSet;

use tracecore_proto::otlp::{KeyValue, ResourceSpans, any_value::Value};
use tracecore_tests::{Server, ServerOptions, TraceBatch, TraceGenerator};

fn spans(
    batch: &TraceBatch,
) -> impl Iterator<Item = (&ResourceSpans, &tracecore_proto::otlp::Span)> {
    batch.traces.iter().flat_map(|(_, rss)| {
        rss.iter().flat_map(|rs| {
            rs.scope_spans
                .iter()
                .flat_map(move |ss| ss.spans.iter().map(move |s| (rs, s)))
        })
    })
}

fn resource_attrs(rs: &ResourceSpans) -> &[KeyValue] {
    rs.resource
        .as_ref()
        .map_or(&[], |r| r.attributes.as_slice())
}

fn string_value(list: &[KeyValue], key: &str) -> Option<String> {
    list.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

async fn get_json(server: &Server, path: &str) -> serde_json::Value {
    let reply = server.client().get(path, None).await.unwrap();
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json().unwrap()
}

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn scope_tags(body: &serde_json::Value, scope: &str) -> BTreeSet<String> {
    body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == scope)
        .map(|s| strings(&s["tags"]))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_names_and_values_match_the_input_in_head_and_blocks() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    let batch = TraceBatch::generate(&mut TraceGenerator::new(5), 100);
    client.export_ok(&batch.request).await.unwrap();

    let span_keys: BTreeSet<String> = spans(&batch)
        .flat_map(|(_, s)| s.attributes.iter().map(|kv| kv.key.clone()))
        .collect();
    let resource_keys: BTreeSet<String> = spans(&batch)
        .flat_map(|(rs, _)| resource_attrs(rs).iter().map(|kv| kv.key.clone()))
        .collect();
    let services: BTreeSet<String> = spans(&batch)
        .filter_map(|(rs, _)| string_value(resource_attrs(rs), "service.name"))
        .collect();
    // A service whose spans carry `http.method`: the filtered lookup must return only its values.
    let chosen = spans(&batch)
        .find(|(_, s)| string_value(&s.attributes, "http.method").is_some())
        .and_then(|(rs, _)| string_value(resource_attrs(rs), "service.name"))
        .expect("some span has http.method");
    let frontend_methods: BTreeSet<String> = spans(&batch)
        .filter(|(rs, _)| {
            string_value(resource_attrs(rs), "service.name").as_deref() == Some(chosen.as_str())
        })
        .filter_map(|(_, s)| string_value(&s.attributes, "http.method"))
        .collect();
    assert!(!frontend_methods.is_empty() && services.len() > 3);

    for phase in ["head", "block"] {
        if phase == "block" {
            client.flush().await.unwrap().expect_status(204).unwrap();
        }
        let v1 = get_json(&server, "/api/search/tags").await;
        let all: BTreeSet<String> = span_keys.union(&resource_keys).cloned().collect();
        assert_eq!(strings(&v1["tagNames"]), all, "{phase}: v1 names");

        let v2 = get_json(&server, "/api/v2/search/tags").await;
        assert_eq!(scope_tags(&v2, "span"), span_keys, "{phase}: v2 span names");
        assert_eq!(
            scope_tags(&v2, "resource"),
            resource_keys,
            "{phase}: v2 resource names"
        );
        assert_eq!(scope_tags(&v2, "intrinsic").len(), 25, "{phase}");

        let only_span = get_json(&server, "/api/v2/search/tags?scope=span").await;
        assert_eq!(
            only_span["scopes"].as_array().unwrap().len(),
            1,
            "{phase}: {only_span}"
        );

        let v1_values = get_json(&server, "/api/search/tag/service.name/values").await;
        assert_eq!(
            strings(&v1_values["tagValues"]),
            services,
            "{phase}: v1 values"
        );

        let v2_values = get_json(&server, "/api/v2/search/tag/resource.service.name/values").await;
        let typed: BTreeSet<String> = v2_values["tagValues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                assert_eq!(v["type"], "string", "{v}");
                v["value"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(typed, services, "{phase}: v2 values");

        let codes = get_json(&server, "/api/v2/search/tag/span.http.status_code/values").await;
        assert!(
            codes["tagValues"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["type"] == "int"),
            "{phase}: {codes}"
        );

        let q = format!("%7B%20resource.service.name%20%3D%20%22{chosen}%22%20%7D");
        let filtered = get_json(
            &server,
            &format!("/api/v2/search/tag/span.http.method/values?q={q}"),
        )
        .await;
        let methods: BTreeSet<String> = filtered["tagValues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(methods, frontend_methods, "{phase}: filtered values");
    }

    let status = get_json(&server, "/api/v2/search/tag/status/values").await;
    assert_eq!(status["tagValues"].as_array().unwrap().len(), 3, "{status}");
    let intrinsic = get_json(&server, "/api/search/tags?scope=intrinsic").await;
    assert!(strings(&intrinsic["tagNames"]).contains("span:name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_requests_with_bad_parameters_are_400() {
    let server = Server::start(ServerOptions::default()).await.unwrap();
    let client = server.client();
    for (path, message) in [
        ("/api/search/tags?scope=foo", "invalid scope: foo"),
        ("/api/v2/search/tags?scope=bar", "invalid scope: bar"),
        (
            "/api/v2/search/tag/%7B%7D/values",
            "please provide a valid tagName",
        ),
        ("/api/search/tags?limit=x", "invalid limit"),
    ] {
        let reply = client.get(path, None).await.unwrap();
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        assert!(reply.text().contains(message), "{path}: {}", reply.text());
    }
}
