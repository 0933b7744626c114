//! The short fuzz run CI executes on stable Rust: every decoder that has a `cargo fuzz` target
//! (`fuzz/fuzz_targets/`) gets every seed of its corpus (`fuzz/corpus/<target>/`) plus a few
//! thousand deterministic mutations of them — bit flips, truncations, inserted and duplicated
//! bytes, deleted ranges, length-field tweaks, splices of two seeds — and must answer `Ok` or
//! `Err` without panicking, each input within a time bound. One `#[test]` per target.
//!
//! The long, coverage-guided run stays opt-in: `cd fuzz && cargo +nightly fuzz run <target>`.
//! A failing input is written to `target/fuzz-smoke/<target>-<n>` (add it to the corpus once
//! fixed). `TRACECORE_FUZZ_SMOKE_ITERATIONS` overrides the number of mutations per target;
//! `TRACECORE_WRITE_FUZZ_SEEDS=1` (re)writes the seeds built here (OTLP, WAL) into the corpus.

#![allow(clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracecore_engine::TraceFragment;
use tracecore_engine::wal::record::read_record;
use tracecore_engine::wal::{decode_record_body, encode_record};
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, ExportTraceServiceRequest, InstrumentationScope, KeyValue,
    KeyValueList, Link, Resource, ResourceSpans, ScopeSpans, Span, Status, any_value,
};
use tracecore_rpc::jaeger::{self, AgentProtocol};
use tracecore_rpc::otlp::json_in::parse_export_request_json;
use tracecore_rpc::otlp::skim::{SkimLimits, skim_export_request, truncate_attributes};
use tracecore_rpc::zipkin;

/// Mutated inputs per target (on top of the seeds themselves).
const DEFAULT_ITERATIONS: usize = 10_000;
/// The longest one decode may take in a debug build before it counts as a hang.
const MAX_PER_INPUT: Duration = Duration::from_secs(2);

fn iterations() -> usize {
    std::env::var("TRACECORE_FUZZ_SMOKE_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS)
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The seeds of `target`: every file of its corpus directory plus `built` (the seeds this file
/// builds for targets whose corpus it owns; written to the corpus with
/// `TRACECORE_WRITE_FUZZ_SEEDS=1`).
fn seeds(target: &str, built: Vec<(&str, Vec<u8>)>) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    if std::env::var_os("TRACECORE_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &built {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    let mut seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    seeds.extend(built.into_iter().map(|(_, bytes)| bytes));
    // A built seed is usually also in the corpus already.
    seeds.sort();
    seeds.dedup();
    assert!(
        !seeds.is_empty(),
        "{target}: no seeds in {} (run TRACECORE_WRITE_FUZZ_SEEDS=1 cargo test -p tracecore-rpc fuzz_seeds)",
        dir.display()
    );
    seeds
}

/// Applies one to four random mutations to a copy of a random seed.
fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        match rng.random_range(0..9) {
            // Flip one bit.
            0 if len > 0 => {
                let at = rng.random_range(0..len);
                data[at] ^= 1 << rng.random_range(0..8);
            }
            // Truncate.
            1 if len > 0 => data.truncate(rng.random_range(0..len)),
            // Insert random bytes.
            2 => {
                let at = rng.random_range(0..=len);
                let n = rng.random_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                data.splice(at..at, bytes);
            }
            // Duplicate a range in place.
            3 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 64));
                let copy = data[start..end].to_vec();
                let at = rng.random_range(0..=len);
                data.splice(at..at, copy);
            }
            // Delete a range.
            4 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 32));
                data.drain(start..end);
            }
            // A byte set to a boundary value (varint continuation, sign, zero, max).
            5 if len > 0 => {
                const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22];
                let at = rng.random_range(0..len);
                data[at] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            // Nudge a length: a small delta on one byte (protobuf varint lengths, thrift sizes).
            6 if len > 0 => {
                let at = rng.random_range(0..len);
                let delta = rng.random_range(1..=16u8);
                data[at] = if rng.random_bool(0.5) {
                    data[at].wrapping_add(delta)
                } else {
                    data[at].wrapping_sub(delta)
                };
            }
            // Overwrite a 32-bit field (thrift and WAL lengths, list sizes) with an edge value.
            7 if len >= 4 => {
                let at = rng.random_range(0..=len - 4);
                let value: u32 = match rng.random_range(0..5) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => i32::MAX as u32,
                    3 => len as u32 + 1,
                    _ => rng.random_range(0..4096),
                };
                let bytes = if rng.random_bool(0.5) {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                data[at..at + 4].copy_from_slice(&bytes);
            }
            // Splice: this seed's head with another seed's tail.
            _ => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..=other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data
}

/// Runs `decode` on every seed and `iterations()` mutations; fails on any panic or any input
/// slower than [`MAX_PER_INPUT`], after writing the input to `target/fuzz-smoke/`.
fn smoke(target: &str, seeds: Vec<Vec<u8>>, decode: impl Fn(&[u8]) -> bool) {
    // Seeded per target: the same inputs on every run.
    let mut rng = StdRng::seed_from_u64(target.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }));
    let started = Instant::now();
    let mut accepted = 0usize;
    let total = seeds.len() + iterations();
    for n in 0..total {
        let input = match seeds.get(n) {
            Some(seed) => seed.clone(),
            None => mutate(&mut rng, &seeds),
        };
        let at = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| decode(&input)));
        let took = at.elapsed();
        let problem = match outcome {
            Err(_) => Some("panicked".to_owned()),
            Ok(_) if took > MAX_PER_INPUT => Some(format!("took {took:?}")),
            Ok(ok) => {
                accepted += usize::from(ok);
                None
            }
        };
        if let Some(problem) = problem {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-smoke");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{target}-{n}"));
            std::fs::write(&path, &input).unwrap();
            panic!("{target}: input {n} {problem}; saved to {}", path.display());
        }
    }
    eprintln!(
        "{target}: {total} inputs ({} seeds), {accepted} accepted, {:?}",
        seeds.len(),
        started.elapsed()
    );
    // The seeds themselves decode, so a decoder that refuses everything is noticed.
    assert!(accepted > 0, "{target}: nothing was accepted");
}

/// What the cargo-fuzz targets do with an accepted request: encode it as OTLP.
fn encodes(request: ExportTraceServiceRequest) -> bool {
    let _ = request.encode_to_vec();
    true
}

#[test]
fn jaeger_thrift_http() {
    smoke(
        "jaeger_thrift_http",
        seeds("jaeger_thrift_http", vec![]),
        |d| jaeger::decode_thrift_http_body(d).is_ok_and(encodes),
    );
}

#[test]
fn jaeger_agent_compact() {
    smoke(
        "jaeger_agent_compact",
        seeds("jaeger_agent_compact", vec![]),
        |d| jaeger::decode_agent_datagram(d, AgentProtocol::Compact).is_ok_and(encodes),
    );
}

#[test]
fn jaeger_agent_binary() {
    smoke(
        "jaeger_agent_binary",
        seeds("jaeger_agent_binary", vec![]),
        |d| jaeger::decode_agent_datagram(d, AgentProtocol::Binary).is_ok_and(encodes),
    );
}

#[test]
fn jaeger_grpc() {
    smoke("jaeger_grpc", seeds("jaeger_grpc", vec![]), |d| {
        jaeger::decode_post_spans_request(d).is_ok_and(encodes)
    });
}

#[test]
fn zipkin_v1_json() {
    smoke("zipkin_v1_json", seeds("zipkin_v1_json", vec![]), |d| {
        zipkin::decode_v1_json(d).is_ok_and(encodes)
    });
}

#[test]
fn zipkin_v1_thrift() {
    smoke("zipkin_v1_thrift", seeds("zipkin_v1_thrift", vec![]), |d| {
        zipkin::decode_v1_thrift(d).is_ok_and(encodes)
    });
}

#[test]
fn zipkin_v2_json() {
    smoke("zipkin_v2_json", seeds("zipkin_v2_json", vec![]), |d| {
        zipkin::decode_v2_json(d).is_ok_and(encodes)
    });
}

#[test]
fn zipkin_v2_proto() {
    smoke("zipkin_v2_proto", seeds("zipkin_v2_proto", vec![]), |d| {
        zipkin::decode_v2_proto(d).is_ok_and(encodes)
    });
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
    }
}

/// An OTLP request using every message and value kind, with one attribute over 16 bytes.
fn otlp_seed_request() -> ExportTraceServiceRequest {
    let nested = KeyValue {
        key: "nested".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "list".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![
                                AnyValue {
                                    value: Some(any_value::Value::IntValue(-7)),
                                },
                                AnyValue {
                                    value: Some(any_value::Value::DoubleValue(1.5)),
                                },
                                AnyValue {
                                    value: Some(any_value::Value::BoolValue(true)),
                                },
                                AnyValue {
                                    value: Some(any_value::Value::BytesValue(vec![1, 2, 3])),
                                },
                            ],
                        })),
                    }),
                }],
            })),
        }),
    };
    let span = |trace: u8, id: u8| Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        trace_state: "k=v".into(),
        parent_span_id: if id > 1 { vec![1; 8] } else { Vec::new() },
        flags: 1,
        name: format!("op-{id}"),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![
            string_kv("http.method", "GET"),
            string_kv("payload", "a string longer than sixteen bytes, é€🦀"),
            nested.clone(),
        ],
        dropped_attributes_count: 1,
        events: vec![Event {
            time_unix_nano: 1_700_000_000_100_000_000,
            name: "exception".into(),
            attributes: vec![string_kv("exception.message", "boom")],
            dropped_attributes_count: 0,
        }],
        dropped_events_count: 0,
        links: vec![Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            trace_state: String::new(),
            attributes: vec![string_kv("link.kind", "follows")],
            dropped_attributes_count: 0,
            flags: 1,
        }],
        dropped_links_count: 0,
        status: Some(Status {
            message: "error".into(),
            code: 2,
        }),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "checkout")],
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    attributes: vec![string_kv("scope.attr", "x")],
                    dropped_attributes_count: 0,
                }),
                spans: vec![span(5, 1), span(5, 2), span(6, 3)],
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn otlp_skim() {
    let seed = otlp_seed_request().encode_to_vec();
    smoke(
        "otlp_skim",
        seeds("otlp_skim", vec![("request", seed)]),
        |d| {
            let body = Bytes::copy_from_slice(d);
            let Ok(skimmed) =
                skim_export_request(&body, &SkimLimits::default(), 3, |id| id[0] as usize % 3)
            else {
                return false;
            };
            // Whatever the skim accepts, truncation must rewrite into a request it accepts too.
            let (truncated, _) = truncate_attributes(&body, 16).expect("skimmed bodies truncate");
            let again = skim_export_request(&truncated, &SkimLimits::default(), 3, |id| {
                id[0] as usize % 3
            })
            .expect("a truncated request skims");
            assert_eq!(again.span_count, skimmed.span_count);
            assert!(again.longest_attribute <= 16);
            true
        },
    );
}

const OTLP_JSON_SEED: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeSpans":[{"scope":{"name":"lib","version":"1.0"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173","name":"GET /cart","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","attributes":[{"key":"s","value":{"stringValue":"v"}},{"key":"n","value":{"intValue":"-42"}},{"key":"f","value":{"doubleValue":1.5}},{"key":"b","value":{"boolValue":true}},{"key":"raw","value":{"bytesValue":"AQID"}},{"key":"list","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":7}]}}},{"key":"map","value":{"kvlistValue":{"values":[{"key":"k","value":{"boolValue":false}}]}}}],"events":[{"timeUnixNano":"1544712660500000000","name":"ev"}],"links":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b175"}],"status":{"code":"STATUS_CODE_ERROR","message":"boom"}}]}]}]}"#;

#[test]
fn otlp_json() {
    smoke(
        "otlp_json",
        seeds(
            "otlp_json",
            vec![("request", OTLP_JSON_SEED.as_bytes().to_vec())],
        ),
        |d| parse_export_request_json(d, 32).is_ok_and(encodes),
    );
}

#[test]
fn wal_record() {
    let otlp = Bytes::from(otlp_seed_request().encode_to_vec());
    let fragments = vec![
        TraceFragment {
            trace_id: [5; 16],
            span_count: 2,
            start_unix_nano: 1,
            end_unix_nano: 2,
            otlp: otlp.clone(),
        },
        TraceFragment {
            trace_id: [6; 16],
            span_count: 1,
            start_unix_nano: 3,
            end_unix_nano: 4,
            otlp,
        },
    ];
    let mut plain = Vec::new();
    encode_record(&mut plain, "tenant-a", &fragments, usize::MAX);
    let mut compressed = Vec::new();
    encode_record(&mut compressed, "tenant-a", &fragments, 0);
    smoke(
        "wal_record",
        seeds("wal_record", vec![("plain", plain), ("zstd", compressed)]),
        |d| {
            // Replay reads framed records (checksum first); the body decoder is also fed the
            // unframed bytes so mutations reach it past the checksum.
            let framed = read_record(d).is_ok();
            let body = decode_record_body(d.get(8..).unwrap_or_default()).is_ok();
            framed || body
        },
    );
}
