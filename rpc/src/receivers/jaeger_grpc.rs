//! Jaeger over gRPC: `jaeger.api_v2.CollectorService/PostSpans`, Tempo's default port 14250.
//!
//! The `PostSpansRequest` arrives as raw bytes (see [`super::grpc_unary`] for the shared
//! plumbing), is converted to OTLP and written; the answer is an empty `PostSpansResponse` once
//! every span is durable. `PostSpansResponse` has no partial-success field, so a request whose
//! spans were partly refused fails with `INVALID_ARGUMENT` naming the refusal.

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use tonic::Status;
use tracecore_engine::TenantId;

use super::grpc_unary::{RawUnaryHandler, RawUnaryService, ingest_status};
use crate::ingest::Ingester;
use crate::jaeger::decode_post_spans_request;
use crate::status::grpc_code;
use crate::telemetry::RpcMetrics;

/// The CollectorService server.
pub type JaegerGrpcService = RawUnaryService<JaegerPostSpans>;

/// Creates the CollectorService server.
pub fn jaeger_grpc_service(
    ingester: Arc<Ingester>,
    metrics: RpcMetrics,
    multitenancy: bool,
    max_message_bytes: usize,
) -> JaegerGrpcService {
    RawUnaryService::new(
        JaegerPostSpans {
            ingester,
            metrics: metrics.clone(),
        },
        metrics,
        multitenancy,
        max_message_bytes,
    )
}

/// `CollectorService/PostSpans`.
#[derive(Clone)]
pub struct JaegerPostSpans {
    ingester: Arc<Ingester>,
    metrics: RpcMetrics,
}

impl RawUnaryHandler for JaegerPostSpans {
    const SERVICE: &'static str = "jaeger.api_v2.CollectorService";
    const METHOD_PATH: &'static str = "/jaeger.api_v2.CollectorService/PostSpans";

    async fn handle(&self, tenant: TenantId, body: Bytes) -> Result<Bytes, Status> {
        let converted = decode_post_spans_request(&body).map_err(|e| {
            self.metrics
                .discard("malformed_request", tenant.as_str(), 1);
            Status::new(grpc_code(e.kind()), e.to_string())
        })?;
        let protobuf = Bytes::from(converted.encode_to_vec());
        let outcome = self
            .ingester
            .push(&tenant, &protobuf)
            .await
            .map_err(|e| ingest_status(&e))?;
        if outcome.rejected_spans > 0 {
            return Err(Status::invalid_argument(format!(
                "{} of {} spans refused: {}",
                outcome.rejected_spans,
                outcome.rejected_spans + outcome.accepted_spans,
                outcome.message.unwrap_or_default()
            )));
        }
        // An empty `PostSpansResponse` encodes to zero bytes.
        Ok(Bytes::new())
    }
}
