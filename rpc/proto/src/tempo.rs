//! Tempo's query messages (`tempopb`), field numbers from TEMPO-SPEC §2.1.

use crate::otlp::TracesData;

/// `tempopb.Trace`: wire-identical to OTLP `TracesData`.
pub type Trace = TracesData;

/// `tempopb.TraceByIDResponse`, the body of `GET /api/v2/traces/<id>`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    pub trace: Option<Trace>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<TraceByIdMetrics>,
    #[prost(enumeration = "PartialStatus", tag = "3")]
    pub status: i32,
    #[prost(string, tag = "4")]
    pub message: String,
}

/// `tempopb.TraceByIDMetrics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    pub inspected_bytes: u64,
}

/// `tempopb.PartialStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PartialStatus {
    Complete = 0,
    Partial = 1,
}

/// `tempopb.SearchRequest` (the `StreamingQuerier/Search` request).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchRequest {
    #[prost(map = "string, string", tag = "1")]
    pub tags: std::collections::HashMap<String, String>,
    #[prost(uint32, tag = "2")]
    pub min_duration_ms: u32,
    #[prost(uint32, tag = "3")]
    pub max_duration_ms: u32,
    #[prost(uint32, tag = "4")]
    pub limit: u32,
    #[prost(uint32, tag = "5")]
    pub start: u32,
    #[prost(uint32, tag = "6")]
    pub end: u32,
    #[prost(string, tag = "8")]
    pub query: String,
    #[prost(uint32, tag = "9")]
    pub spans_per_span_set: u32,
    #[prost(string, repeated, tag = "11")]
    pub skip_ast_transformations: Vec<String>,
}

/// `tempopb.SearchResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchResponse {
    #[prost(message, repeated, tag = "1")]
    pub traces: Vec<TraceSearchMetadata>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<SearchMetrics>,
}

/// `tempopb.TraceSearchMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceSearchMetadata {
    #[prost(string, tag = "1")]
    pub trace_id: String,
    #[prost(string, tag = "2")]
    pub root_service_name: String,
    #[prost(string, tag = "3")]
    pub root_trace_name: String,
    #[prost(uint64, tag = "4")]
    pub start_time_unix_nano: u64,
    #[prost(uint32, tag = "5")]
    pub duration_ms: u32,
    /// Deprecated copy of `span_sets[0]`.
    #[prost(message, optional, tag = "6")]
    pub span_set: Option<SpanSet>,
    #[prost(message, repeated, tag = "7")]
    pub span_sets: Vec<SpanSet>,
    #[prost(btree_map = "string, message", tag = "8")]
    pub service_stats: std::collections::BTreeMap<String, ServiceStats>,
}

/// `tempopb.ServiceStats`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct ServiceStats {
    #[prost(uint32, tag = "1")]
    pub span_count: u32,
    #[prost(uint32, tag = "2")]
    pub error_count: u32,
}

/// `tempopb.SpanSet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanSet {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
    #[prost(uint32, tag = "2")]
    pub matched: u32,
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<crate::otlp::KeyValue>,
}

/// `tempopb.Span` (a search result span).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    #[prost(string, tag = "1")]
    pub span_id: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(uint64, tag = "3")]
    pub start_time_unix_nano: u64,
    #[prost(uint64, tag = "4")]
    pub duration_nanos: u64,
    #[prost(message, repeated, tag = "5")]
    pub attributes: Vec<crate::otlp::KeyValue>,
}

/// `tempopb.SearchMetrics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchMetrics {
    #[prost(uint32, tag = "1")]
    pub inspected_traces: u32,
    #[prost(uint64, tag = "2")]
    pub inspected_bytes: u64,
    #[prost(uint32, tag = "3")]
    pub total_blocks: u32,
    #[prost(uint32, tag = "4")]
    pub completed_jobs: u32,
    #[prost(uint32, tag = "5")]
    pub total_jobs: u32,
    #[prost(uint64, tag = "6")]
    pub total_block_bytes: u64,
    #[prost(uint64, tag = "7")]
    pub inspected_spans: u64,
}

/// `tempopb.SearchTagsRequest` (`SearchTags` and `SearchTagsV2`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagsRequest {
    #[prost(string, tag = "1")]
    pub scope: String,
    #[prost(string, tag = "2")]
    pub query: String,
    #[prost(uint32, tag = "3")]
    pub start: u32,
    #[prost(uint32, tag = "4")]
    pub end: u32,
    #[prost(uint32, tag = "5")]
    pub max_tags_per_scope: u32,
    #[prost(uint32, tag = "6")]
    pub stale_values_threshold: u32,
}

/// `tempopb.MetadataMetrics`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct MetadataMetrics {
    #[prost(uint64, tag = "1")]
    pub inspected_bytes: u64,
    #[prost(uint32, tag = "2")]
    pub total_jobs: u32,
    #[prost(uint32, tag = "3")]
    pub completed_jobs: u32,
    #[prost(uint32, tag = "4")]
    pub total_blocks: u32,
    #[prost(uint64, tag = "5")]
    pub total_block_bytes: u64,
}

/// `tempopb.SearchTagsResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagsResponse {
    #[prost(string, repeated, tag = "1")]
    pub tag_names: Vec<String>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<MetadataMetrics>,
}

/// `tempopb.SearchTagsV2Scope`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagsV2Scope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, repeated, tag = "2")]
    pub tags: Vec<String>,
}

/// `tempopb.SearchTagsV2Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagsV2Response {
    #[prost(message, repeated, tag = "1")]
    pub scopes: Vec<SearchTagsV2Scope>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<MetadataMetrics>,
}

/// `tempopb.SearchTagValuesRequest` (`SearchTagValues` and `SearchTagValuesV2`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagValuesRequest {
    #[prost(string, tag = "1")]
    pub tag_name: String,
    #[prost(string, tag = "2")]
    pub query: String,
    #[prost(uint32, tag = "4")]
    pub start: u32,
    #[prost(uint32, tag = "5")]
    pub end: u32,
    #[prost(uint32, tag = "6")]
    pub max_tag_values: u32,
    #[prost(uint32, tag = "7")]
    pub stale_value_threshold: u32,
}

/// `tempopb.SearchTagValuesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagValuesResponse {
    #[prost(string, repeated, tag = "1")]
    pub tag_values: Vec<String>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<MetadataMetrics>,
}

/// `tempopb.TagValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TagValue {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `tempopb.SearchTagValuesV2Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SearchTagValuesV2Response {
    #[prost(message, repeated, tag = "1")]
    pub tag_values: Vec<TagValue>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<MetadataMetrics>,
}
