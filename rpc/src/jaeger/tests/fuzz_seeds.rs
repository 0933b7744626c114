//! The seed corpora of the fuzz targets in `fuzz/` (repository root): one valid payload per
//! decoder, built from the same fixtures as the mapping tests.
//!
//! `TRACECORE_WRITE_FUZZ_SEEDS=1 cargo test -p tracecore-rpc fuzz_seeds` (re)writes them; without
//! the variable the test checks that every committed seed still decodes, so the corpora cannot
//! silently rot into inputs that stop at the first byte.

use std::path::PathBuf;

use prost::Message;

use super::fixtures::{agent_emit_batch, agent_emit_zipkin_batch, encode_binary};
use super::proto::request as post_spans_request;
use super::thrift::sample_batch;
use crate::jaeger::{
    AgentProtocol, decode_agent_datagram, decode_post_spans_request, decode_thrift_http_body,
};
use crate::zipkin::tests::v1::{V1_JSON, encode_span_list, thrift_span};
use crate::zipkin::tests::v2::{V2_JSON, v2_proto};
use crate::zipkin::{ZipkinEncoding, decode};

type Check = fn(&[u8]) -> bool;

fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>, Check)> {
    let zipkin_span = thrift_span();
    vec![
        (
            "jaeger_thrift_http",
            "batch",
            encode_binary(&sample_batch()),
            |b| decode_thrift_http_body(b).is_ok(),
        ),
        (
            "jaeger_agent_compact",
            "emit-batch",
            agent_emit_batch(sample_batch(), AgentProtocol::Compact),
            |b| decode_agent_datagram(b, AgentProtocol::Compact).is_ok(),
        ),
        (
            "jaeger_agent_compact",
            "emit-zipkin-batch",
            agent_emit_zipkin_batch(vec![zipkin_span.clone()], AgentProtocol::Compact),
            |b| decode_agent_datagram(b, AgentProtocol::Compact).is_ok(),
        ),
        (
            "jaeger_agent_binary",
            "emit-batch",
            agent_emit_batch(sample_batch(), AgentProtocol::Binary),
            |b| decode_agent_datagram(b, AgentProtocol::Binary).is_ok(),
        ),
        (
            "jaeger_agent_binary",
            "emit-zipkin-batch",
            agent_emit_zipkin_batch(vec![zipkin_span.clone()], AgentProtocol::Binary),
            |b| decode_agent_datagram(b, AgentProtocol::Binary).is_ok(),
        ),
        (
            "jaeger_grpc",
            "post-spans",
            post_spans_request().encode_to_vec(),
            |b| decode_post_spans_request(b).is_ok(),
        ),
        (
            "zipkin_v1_json",
            "spans",
            V1_JSON.as_bytes().to_vec(),
            |b| decode(b, ZipkinEncoding::V1Json).is_ok(),
        ),
        (
            "zipkin_v1_thrift",
            "spans",
            encode_span_list(&[zipkin_span]),
            |b| decode(b, ZipkinEncoding::V1Thrift).is_ok(),
        ),
        (
            "zipkin_v2_json",
            "spans",
            V2_JSON.as_bytes().to_vec(),
            |b| decode(b, ZipkinEncoding::V2Json).is_ok(),
        ),
        (
            "zipkin_v2_proto",
            "spans",
            v2_proto().encode_to_vec(),
            |b| decode(b, ZipkinEncoding::V2Proto).is_ok(),
        ),
    ]
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn fuzz_seeds_decode() {
    let write = std::env::var_os("TRACECORE_WRITE_FUZZ_SEEDS").is_some();
    for (target, name, bytes, check) in seeds() {
        assert!(check(&bytes), "{target}/{name}: fixture does not decode");
        let path = corpus_dir(target).join(format!("seed-{name}"));
        if write {
            std::fs::create_dir_all(corpus_dir(target)).expect("create corpus dir");
            std::fs::write(&path, &bytes).expect("write seed");
        } else {
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run TRACECORE_WRITE_FUZZ_SEEDS=1 cargo test -p tracecore-rpc fuzz_seeds",
                    path.display()
                )
            });
            assert!(check(&committed), "{}: no longer decodes", path.display());
        }
    }
}
