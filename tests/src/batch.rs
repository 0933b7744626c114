//! An export request together with the traces it carries, for checking what comes back.

use tracecore_benches::tracegen::{
    TraceGenerator, TraceId, TraceManifest, manifest_of, merge_resource_spans,
};
use tracecore_proto::otlp::{ExportTraceServiceRequest, ResourceSpans};

/// One export request and, per trace, the resource spans that were generated for it.
#[derive(Clone, Debug)]
pub struct TraceBatch {
    pub request: ExportTraceServiceRequest,
    pub traces: Vec<(TraceId, Vec<ResourceSpans>)>,
}

impl TraceBatch {
    /// `traces` fresh traces from `generator`, merged into one request like a collector batch.
    pub fn generate(generator: &mut TraceGenerator, traces: usize) -> TraceBatch {
        let traces: Vec<_> = (0..traces).map(|_| generator.next_trace()).collect();
        Self::from_traces(traces)
    }

    pub fn from_traces(traces: Vec<(TraceId, Vec<ResourceSpans>)>) -> TraceBatch {
        let request = ExportTraceServiceRequest {
            resource_spans: merge_resource_spans(
                traces.iter().flat_map(|(_, rs)| rs.clone()).collect(),
            ),
        };
        TraceBatch { request, traces }
    }

    pub fn manifests(&self) -> Vec<TraceManifest> {
        self.traces
            .iter()
            .map(|(id, rs)| manifest_of(*id, rs))
            .collect()
    }

    pub fn span_count(&self) -> usize {
        self.manifests().iter().map(TraceManifest::span_count).sum()
    }
}

/// Deals the spans of `resource_spans` round-robin into `parts` groups, each keeping its spans'
/// resources and scopes: one trace as several SDKs or export batches would send it.
pub fn split_spans(resource_spans: &[ResourceSpans], parts: usize) -> Vec<Vec<ResourceSpans>> {
    let parts = parts.max(1);
    let mut out: Vec<Vec<ResourceSpans>> = vec![Vec::new(); parts];
    let mut next = 0;
    for rs in resource_spans {
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                let mut piece = rs.clone();
                let mut scope = ss.clone();
                scope.spans = vec![span.clone()];
                piece.scope_spans = vec![scope];
                out[next % parts].push(piece);
                next += 1;
            }
        }
    }
    out.into_iter().map(merge_resource_spans).collect()
}
