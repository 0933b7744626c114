//! A seeded generator of realistic OTLP traces: a simulated online shop of a dozen services whose
//! requests fan out over HTTP, hit databases and caches, publish to Kafka and fail now and then.
//!
//! Guarantees, relied on by the end-to-end tests:
//! * a trace has 10–30 spans forming one tree (every `parent_span_id` names a span of the trace,
//!   except the root's, which is empty), children start and end inside their parents, except
//!   asynchronous consumers, which start after their producer ended;
//! * trace IDs (16 bytes) and span IDs (8 bytes) are random and never all-zero;
//! * the same seed and start time give the same traces.
//!
//! Spans average roughly 250–450 bytes of protobuf (see the `span_size` test).

mod catalog;
mod trace_builder;
mod values;

use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tracecore_proto::otlp::{
    ExportTraceServiceRequest, InstrumentationScope, Resource, ResourceSpans, ScopeSpans,
};

use catalog::{Language, REGIONS, SERVICES, ServiceProfile};
use trace_builder::{PendingSpan, ScopeKind, TraceBuilder};
use values::{alnum, kv_int, kv_str, pick, pod_ip, random_hex, uuid};

/// A 16-byte trace ID.
pub type TraceId = [u8; 16];
/// An 8-byte span ID.
pub type SpanId = [u8; 8];

/// What was generated for one trace: enough to check it was stored completely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceManifest {
    pub trace_id: TraceId,
    /// Every span ID of the trace, in generation order.
    pub span_ids: Vec<SpanId>,
}

impl TraceManifest {
    pub fn span_count(&self) -> usize {
        self.span_ids.len()
    }
}

/// One running pod of a service: its resource is fixed for the generator's lifetime.
struct Instance {
    resource: Resource,
    ip: String,
}

/// The seeded trace generator. Not `Sync`; give each thread its own (with different seeds).
pub struct TraceGenerator {
    rng: SmallRng,
    clock_ns: u64,
    instances: Vec<Vec<Instance>>,
}

const NS_PER_MS: u64 = 1_000_000;

impl TraceGenerator {
    /// A generator whose traces start around the current wall-clock time.
    pub fn new(seed: u64) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1_700_000_000 * 1_000_000_000);
        Self::with_start_time(seed, now.saturating_sub(5_000 * NS_PER_MS))
    }

    /// A fully deterministic generator: traces start at `start_unix_nano` and move forward by a
    /// few tens of microseconds each.
    pub fn with_start_time(seed: u64, start_unix_nano: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let instances = SERVICES
            .iter()
            .map(|svc| {
                let count = rng.random_range(2..=4);
                (0..count).map(|_| new_instance(&mut rng, svc)).collect()
            })
            .collect();
        TraceGenerator {
            rng,
            clock_ns: start_unix_nano,
            instances,
        }
    }

    /// One trace with a fresh random ID, grouped by resource and scope.
    pub fn next_trace(&mut self) -> (TraceId, Vec<ResourceSpans>) {
        let id = random_id::<16>(&mut self.rng);
        (id, self.next_trace_with_id(id))
    }

    /// One trace carrying the given ID (for tests that need particular IDs, e.g. with leading
    /// zero bytes).
    pub fn next_trace_with_id(&mut self, trace_id: TraceId) -> Vec<ResourceSpans> {
        let target = self.rng.random_range(10..=30);
        self.clock_ns += self.rng.random_range(5_000..80_000);
        let start = self.clock_ns;
        let mut builder = TraceBuilder {
            rng: &mut self.rng,
            instances: &self.instances,
            trace_id,
            spans: Vec::with_capacity(target),
        };
        builder.build(target, start);
        group(builder.spans, &self.instances)
    }

    /// An export request of `traces` whole traces (resources shared between traces are merged, as
    /// a collector batch would), with a manifest per trace.
    pub fn request(&mut self, traces: usize) -> (ExportTraceServiceRequest, Vec<TraceManifest>) {
        let mut all = Vec::new();
        let mut manifests = Vec::with_capacity(traces);
        for _ in 0..traces {
            let (trace_id, rs) = self.next_trace();
            manifests.push(manifest_of(trace_id, &rs));
            all.extend(rs);
        }
        let request = ExportTraceServiceRequest {
            resource_spans: merge_resource_spans(all),
        };
        (request, manifests)
    }
}

/// The manifest (ID and span IDs) of one trace's resource spans.
pub fn manifest_of(trace_id: TraceId, resource_spans: &[ResourceSpans]) -> TraceManifest {
    let span_ids = resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter_map(|s| SpanId::try_from(s.span_id.as_slice()).ok())
        .collect();
    TraceManifest { trace_id, span_ids }
}

/// Merges resource spans with identical resources, and within them scope spans with identical
/// scopes, keeping first-seen order.
pub fn merge_resource_spans(input: Vec<ResourceSpans>) -> Vec<ResourceSpans> {
    let mut out: Vec<ResourceSpans> = Vec::new();
    for rs in input {
        let Some(existing) = out
            .iter_mut()
            .find(|o| o.resource == rs.resource && o.schema_url == rs.schema_url)
        else {
            out.push(rs);
            continue;
        };
        for ss in rs.scope_spans {
            match existing
                .scope_spans
                .iter_mut()
                .find(|o| o.scope == ss.scope && o.schema_url == ss.schema_url)
            {
                Some(target) => target.spans.extend(ss.spans),
                None => existing.scope_spans.push(ss),
            }
        }
    }
    out
}

fn random_id<const N: usize>(rng: &mut SmallRng) -> [u8; N] {
    loop {
        let mut id = [0u8; N];
        rng.fill(&mut id[..]);
        if id.iter().any(|&b| b != 0) {
            return id;
        }
    }
}

fn new_instance(rng: &mut SmallRng, svc: &ServiceProfile) -> Instance {
    let lang = svc.language;
    let (runtime_name, runtime_version) = lang.runtime();
    let node_ip = pod_ip(rng);
    let region = *pick(rng, REGIONS);
    let host_name = format!("ip-{}.{region}.compute.internal", node_ip.replace('.', "-"));
    let pod = format!(
        "{}-{}-{}",
        svc.name,
        random_hex(rng, 5).get(..9).unwrap_or("5d8f7c9b4"),
        alnum(rng, 5).to_lowercase()
    );
    let mut attributes = vec![
        kv_str("service.name", svc.name),
        kv_str("service.version", svc.version),
        kv_str("service.namespace", "shop"),
        kv_str("service.instance.id", uuid(rng)),
        kv_str("deployment.environment.name", "production"),
        kv_str("telemetry.sdk.name", "opentelemetry"),
        kv_str("telemetry.sdk.language", lang.sdk_language()),
        kv_str("telemetry.sdk.version", lang.sdk_version()),
        kv_str("host.name", host_name),
        kv_str("host.arch", "amd64"),
        kv_str("os.type", "linux"),
        kv_str("k8s.namespace.name", "shop"),
        kv_str("k8s.pod.name", pod),
        kv_str("k8s.deployment.name", svc.name),
        kv_str("cloud.region", region),
        kv_str("process.runtime.name", runtime_name),
        kv_str("process.runtime.version", runtime_version),
        kv_int("process.pid", rng.random_range(1..65_000)),
    ];
    if lang == Language::Java {
        attributes.push(kv_str(
            "telemetry.distro.name",
            "opentelemetry-java-instrumentation",
        ));
    }
    Instance {
        resource: Resource {
            attributes,
            dropped_attributes_count: 0,
        },
        ip: pod_ip(rng),
    }
}

/// Groups spans by (service instance, scope), the way an SDK exporter batches them.
fn group(spans: Vec<PendingSpan>, instances: &[Vec<Instance>]) -> Vec<ResourceSpans> {
    let mut out: Vec<((usize, usize), ResourceSpans)> = Vec::new();
    for p in spans {
        let key = (p.service, p.instance);
        let idx = match out.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                out.push((
                    key,
                    ResourceSpans {
                        resource: Some(instances[p.service][p.instance].resource.clone()),
                        scope_spans: Vec::new(),
                        schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
                    },
                ));
                out.len() - 1
            }
        };
        let svc = &SERVICES[p.service];
        let scope = scope_for(svc, p.scope);
        let rs = &mut out[idx].1;
        match rs
            .scope_spans
            .iter_mut()
            .find(|ss| ss.scope.as_ref() == Some(&scope))
        {
            Some(ss) => ss.spans.push(p.span),
            None => rs.scope_spans.push(ScopeSpans {
                scope: Some(scope),
                spans: vec![p.span],
                schema_url: String::new(),
            }),
        }
    }
    out.into_iter().map(|(_, rs)| rs).collect()
}

fn scope_for(svc: &ServiceProfile, kind: ScopeKind) -> InstrumentationScope {
    let (name, version) = match kind {
        ScopeKind::Http => svc.language.http_scope(),
        ScopeKind::Db => svc.language.db_scope(),
        ScopeKind::Messaging => svc.language.messaging_scope(),
        ScopeKind::Manual => (svc.name, svc.version),
    };
    InstrumentationScope {
        name: name.to_owned(),
        version: version.to_owned(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

#[cfg(test)]
mod tests;
