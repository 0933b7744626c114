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
