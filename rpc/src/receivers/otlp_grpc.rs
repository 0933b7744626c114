//! OTLP over gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! The request is skimmed as raw bytes (see [`super::grpc_unary`] for the shared plumbing);
//! spans a shard refused for good are reported in `partial_success`.

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use tonic::Status;
use tracecore_engine::TenantId;
use tracecore_proto::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use super::grpc_unary::{RawUnaryHandler, RawUnaryService, ingest_status};
use crate::ingest::Ingester;
use crate::telemetry::RpcMetrics;

/// The TraceService server.
pub type OtlpGrpcService = RawUnaryService<OtlpExport>;

/// Creates the TraceService server.
pub fn otlp_grpc_service(
    ingester: Arc<Ingester>,
    metrics: RpcMetrics,
    multitenancy: bool,
    max_message_bytes: usize,
) -> OtlpGrpcService {
    RawUnaryService::new(
        OtlpExport { ingester },
        metrics,
        multitenancy,
        max_message_bytes,
    )
}

/// `TraceService/Export`.
#[derive(Clone)]
pub struct OtlpExport {
    ingester: Arc<Ingester>,
}

impl RawUnaryHandler for OtlpExport {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const METHOD_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    async fn handle(&self, tenant: TenantId, body: Bytes) -> Result<Bytes, Status> {
        let outcome = self
            .ingester
            .push(&tenant, &body)
            .await
            .map_err(|e| ingest_status(&e))?;
        let response = ExportTraceServiceResponse {
            partial_success: (outcome.rejected_spans > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: outcome.rejected_spans as i64,
                error_message: outcome.message.unwrap_or_default(),
            }),
        };
        Ok(Bytes::from(response.encode_to_vec()))
    }
}
