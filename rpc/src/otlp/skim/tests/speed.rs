//! The skim's cost on realistic requests (opt-in, release mode):
//! `cargo test --release -p tracecore-rpc skim_speed -- --ignored --nocapture`.

use std::time::Instant;

use super::*;

/// 10 services × 100 spans; 100 traces of 10 spans interleaved across services. `rich` spans
/// carry ten HTTP attributes plus random events, links and nested values (~470 bytes each);
/// lean ones four attributes and nothing else (~190 bytes).
fn realistic_request(rng: &mut StdRng, rich: bool) -> ExportTraceServiceRequest {
    use any_value::Value::{BoolValue, DoubleValue, IntValue, StringValue};
    let traces: Vec<[u8; 16]> = (0..100).map(|_| rng.random()).collect();
    let resource_spans = (0..10)
        .map(|r| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", StringValue(format!("service-{r}"))),
                    kv("host.name", StringValue(format!("host-{r}.example"))),
                    kv("telemetry.sdk.language", StringValue("go".into())),
                ],
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "go.opentelemetry.io/contrib/instrumentation/net/http".into(),
                    version: "0.45.0".into(),
                    ..InstrumentationScope::default()
                }),
                spans: (0..100)
                    .map(|i| {
                        let mut s = random_span(rng, traces[(i * 7 + r) % 100]);
                        s.name = "HTTP GET /api/v1/cart/items".into();
                        let url = format!("https://shop.example/api/v1/cart/items?id={i}");
                        s.attributes = vec![
                            kv("http.method", StringValue("GET".into())),
                            kv("http.route", StringValue("/api/v1/cart/items".into())),
                            kv("http.status_code", IntValue(200)),
                            kv("http.url", StringValue(url)),
                        ];
                        if rich {
                            s.attributes.extend([
                                kv("net.peer.name", StringValue("10.0.0.12".into())),
                                kv("net.peer.port", IntValue(44_312)),
                                kv(
                                    "user_agent.original",
                                    StringValue("Mozilla/5.0 (X11)".into()),
                                ),
                                kv("http.request_content_length", IntValue(512)),
                                kv("cache.hit", BoolValue(i % 3 == 0)),
                                kv("db.rows", DoubleValue(12.5)),
                            ]);
                        } else {
                            s.events.clear();
                            s.links.clear();
                        }
                        s
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// Median of five runs of `rounds` calls of `f`, in nanoseconds per call.
fn median_ns(rounds: u32, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..rounds {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(rounds)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

#[test]
#[ignore = "timing; run in release: cargo test --release -p tracecore-rpc skim_speed -- --ignored --nocapture"]
fn skim_speed() {
    let mut rng = StdRng::seed_from_u64(3);
    for rich in [false, true] {
        let body = Bytes::from(realistic_request(&mut rng, rich).encode_to_vec());
        let skim = median_ns(1_000, || {
            let got =
                skim_export_request(&body, &SkimLimits::default(), 2, |id| id[0] as usize % 2);
            std::hint::black_box(got.expect("valid"));
        });
        let walk = median_ns(1_000, || {
            let index = super::super::walk::walk_request(&body, 32).expect("valid");
            std::hint::black_box(index.spans.len());
        });
        let decode = median_ns(200, || {
            let req = ExportTraceServiceRequest::decode(body.clone()).expect("valid");
            std::hint::black_box(req);
        });
        println!(
            "skim {}: {} bytes/span: skim {:.0} ns/span ({:.0} MB/s; validating walk {:.0} ns, \
             split {:.0} ns); prost decode {:.0} ns/span",
            if rich { "rich" } else { "lean" },
            body.len() / 1000,
            skim / 1000.0,
            body.len() as f64 / skim * 1e3,
            walk / 1000.0,
            (skim - walk) / 1000.0,
            decode / 1000.0,
        );
    }
}
