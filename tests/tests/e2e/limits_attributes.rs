//! `max_attribute_bytes` (TEMPO-SPEC §6.2 step 3): attribute keys and string values over the
//! limit are truncated before they are stored — the tenant's `ingestion.max_attribute_bytes`
//! when set, else `distributor.max_attribute_bytes` — on a UTF-8 character boundary, and
//! counted in `tempo_distributor_attributes_truncated_total{tenant,scope}`.

use tracecore_proto::otlp::{
    AnyValue, Event, ExportTraceServiceRequest, KeyValue, Resource, ResourceSpans, ScopeSpans,
    Span, any_value,
};
use tracecore_tests::{Server, ServerOptions};

use crate::limits_support::{export_http, metric, overrides_section};

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
    }
}

fn one_span(trace_id: [u8; 16], resource: Vec<KeyValue>, span: Span) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: vec![Span {
                    trace_id: trace_id.to_vec(),
                    span_id: vec![3; 8],
                    name: "long-attributes".into(),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_100_000_000,
                    ..span
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The stored span's attributes, events' attributes and resource attributes.
async fn read_back(
    server: &Server,
    tenant: &str,
    id: &[u8; 16],
) -> (Vec<KeyValue>, Vec<KeyValue>, Vec<KeyValue>) {
    let trace = server
        .client_for(tenant)
        .trace_v1(id)
        .await
        .unwrap()
        .expect("trace stored");
    let rs = &trace[0];
    let span = &rs.scope_spans[0].spans[0];
    (
        span.attributes.clone(),
        span.events
            .iter()
            .flat_map(|e| e.attributes.clone())
            .collect(),
        rs.resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default(),
    )
}

fn series(tenant: &str, scope: &str) -> String {
    format!("tempo_distributor_attributes_truncated_total{{tenant=\"{tenant}\",scope=\"{scope}\"}}")
}

/// Sets `distributor.max_attribute_bytes: 40` in the generated config.
fn distributor_limit(yaml: String) -> String {
    yaml.replacen(
        "distributor:\n",
        "distributor:\n  max_attribute_bytes: 40\n",
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_attributes_are_truncated_per_tenant_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("overrides.yaml");
    std::fs::write(
        &file,
        "overrides:\n  small:\n    ingestion:\n      max_attribute_bytes: 16\n",
    )
    .unwrap();
    let server = Server::start(ServerOptions {
        multitenancy: true,
        extra_config: overrides_section("    ingestion:\n      rate_limit_bytes: 0\n", Some(&file)),
        config_transform: Some(distributor_limit),
        ..ServerOptions::default()
    })
    .await
    .unwrap();

    // 15 ASCII bytes then "€" (3 bytes): a cut at 16 would split the euro sign.
    let euro = format!("{}€€", "a".repeat(15));
    let long_key = "k".repeat(30);
    let span = Span {
        attributes: vec![
            string_kv("payload", &euro),
            string_kv(&long_key, "v"),
            string_kv("fits", "exactly-16-bytes"),
        ],
        events: vec![Event {
            time_unix_nano: 1_700_000_000_050_000_000,
            name: "exception".into(),
            attributes: vec![string_kv("exception.stacktrace", &"s".repeat(100))],
            dropped_attributes_count: 0,
        }],
        ..Span::default()
    };
    let id = [0x5a; 16];
    let request = one_span(id, vec![string_kv("service.name", "svc")], span.clone());
    let answer = export_http(&server, Some("small"), &request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.rejected_spans, 0);

    let (attributes, events, resource) = read_back(&server, "small", &id).await;
    assert_eq!(
        attributes,
        vec![
            string_kv("payload", &"a".repeat(15)),
            string_kv(&"k".repeat(16), "v"),
            string_kv("fits", "exactly-16-bytes"),
        ]
    );
    // The key "exception.stacktrace" (20 bytes) is over 16 too.
    assert_eq!(events, vec![string_kv("exception.stackt", &"s".repeat(16))]);
    assert_eq!(resource, vec![string_kv("service.name", "svc")]);
    assert_eq!(metric(&server, &series("small", "span")).await, 2.0);
    assert_eq!(metric(&server, &series("small", "event")).await, 2.0);
    assert_eq!(metric(&server, &series("small", "resource")).await, 0.0);

    // A tenant without an entry gets `distributor.max_attribute_bytes` (40 here): the same
    // span keeps its 18-byte value and 30-byte key; the resource's 50-byte value is cut.
    let other_id = [0x6b; 16];
    let request = one_span(
        other_id,
        vec![string_kv("service.name", &"r".repeat(50))],
        span,
    );
    let answer = export_http(&server, Some("other"), &request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let (attributes, events, resource) = read_back(&server, "other", &other_id).await;
    assert_eq!(attributes[0], string_kv("payload", &euro));
    assert_eq!(attributes[1].key, long_key);
    assert_eq!(
        events,
        vec![string_kv("exception.stacktrace", &"s".repeat(40))]
    );
    assert_eq!(resource, vec![string_kv("service.name", &"r".repeat(40))]);
    assert_eq!(metric(&server, &series("other", "resource")).await, 1.0);
    assert_eq!(metric(&server, &series("other", "event")).await, 1.0);
    assert_eq!(metric(&server, &series("other", "span")).await, 0.0);
    // Nothing of the first tenant's count moved.
    assert_eq!(metric(&server, &series("small", "span")).await, 2.0);
}
