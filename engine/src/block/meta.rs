//! `meta.json`: the description of one block, written last as its commit point.
//!
//! Field names follow Tempo's `meta.json` (TEMPO-SPEC §5.7) where a field has a Tempo meaning;
//! tracecore adds `version`, exact nanosecond times, `totalSpans` and the trace-ID range.
//! Readers ignore unknown fields, and every field but `format`, `blockID` and `tenantID` has a
//! default, so metas written by other versions (or Tempo itself) still parse; check
//! [`BlockMeta::version`] before reading the block's data with this module.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::BlockError;

/// The contents of `<tenant>/<blockID>/meta.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// Encoding of the block (`"tc2"`; `"tc1"` blocks are still read).
    pub format: String,
    /// Version of the block schema (`"tc2"`).
    #[serde(default)]
    pub version: String,
    /// Random UUID v4, canonical text form.
    #[serde(rename = "blockID")]
    pub block_id: String,
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    /// Min span start, RFC 3339 UTC, whole seconds (rounded down).
    #[serde(default)]
    pub start_time: String,
    /// Max span end, RFC 3339 UTC, whole seconds (rounded up, so it never ends early).
    #[serde(default)]
    pub end_time: String,
    /// Exact min span start, unix nanoseconds.
    #[serde(default)]
    pub start_time_unix_nano: u64,
    /// Exact max span end, unix nanoseconds.
    #[serde(default)]
    pub end_time_unix_nano: u64,
    /// Number of traces.
    #[serde(default)]
    pub total_objects: u64,
    /// Number of spans (= Parquet rows).
    #[serde(default)]
    pub total_spans: u64,
    /// Size of `data.parquet` in bytes.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub compaction_level: u32,
    /// Legacy Tempo field, always 0 for Parquet blocks.
    #[serde(default)]
    pub index_page_size: u32,
    /// Number of row groups.
    #[serde(default)]
    pub total_records: u32,
    /// Number of bloom objects (`bloom-0` … `bloom-(N-1)`).
    #[serde(default)]
    pub bloom_shards: u32,
    /// The Parquet footer length: the little-endian u32 just before the trailing `PAR1`.
    #[serde(default)]
    pub footer_size: u32,
    /// 1: spans are deduplicated within the block.
    #[serde(default)]
    pub replication_factor: u32,
    /// Smallest trace ID in the block, 32 lowercase hex digits.
    #[serde(rename = "minTraceID", default)]
    pub min_trace_id: String,
    /// Largest trace ID in the block, 32 lowercase hex digits.
    #[serde(rename = "maxTraceID", default)]
    pub max_trace_id: String,
}

impl BlockMeta {
    /// `meta.json` bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("BlockMeta has only strings and integers")
    }

    /// Parses `meta.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BlockError> {
        serde_json::from_slice(bytes).map_err(|e| BlockError::InvalidMeta(e.to_string()))
    }

    /// Object names relative to the bucket root: `(meta.json, data.parquet, bloom-0)`.
    /// `<tenant>/<block id>/tags.json`, the block's [`super::BlockTagIndex`].
    pub fn tag_index_path(&self) -> String {
        format!("{}/{}/tags.json", self.tenant_id, self.block_id)
    }

    pub fn object_paths(&self) -> (String, String, String) {
        let dir = format!("{}/{}", self.tenant_id, self.block_id);
        (
            format!("{dir}/meta.json"),
            format!("{dir}/data.parquet"),
            format!("{dir}/bloom-0"),
        )
    }
}

/// RFC 3339 UTC text of `unix_nano` truncated to whole seconds.
pub(crate) fn rfc3339_seconds_floor(unix_nano: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(unix_nano / 1_000_000_000);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// RFC 3339 UTC text of `unix_nano` rounded up to whole seconds.
pub(crate) fn rfc3339_seconds_ceil(unix_nano: u64) -> String {
    let time: SystemTime = UNIX_EPOCH + Duration::from_secs(unix_nano.div_ceil(1_000_000_000));
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockMeta {
        BlockMeta {
            format: "tc1".into(),
            version: "tc1".into(),
            block_id: "0c2b8a4e-5f5e-4a36-9d26-7b2f8a3f1c11".into(),
            tenant_id: "single-tenant".into(),
            start_time: rfc3339_seconds_floor(1_714_557_603_250_000_000),
            end_time: rfc3339_seconds_ceil(1_714_559_398_000_000_001),
            start_time_unix_nano: 1_714_557_603_250_000_000,
            end_time_unix_nano: 1_714_559_398_000_000_001,
            total_objects: 18342,
            total_spans: 200_001,
            size: 104_857_600,
            compaction_level: 0,
            index_page_size: 0,
            total_records: 2,
            bloom_shards: 1,
            footer_size: 61234,
            replication_factor: 1,
            min_trace_id: "00".repeat(16),
            max_trace_id: "ff".repeat(16),
        }
    }

    #[test]
    fn json_round_trip_and_field_names() {
        let meta = sample();
        let bytes = meta.to_json_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let object = value.as_object().expect("object");
        for key in [
            "format",
            "version",
            "blockID",
            "tenantID",
            "startTime",
            "endTime",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "totalObjects",
            "totalSpans",
            "size",
            "compactionLevel",
            "indexPageSize",
            "totalRecords",
            "bloomShards",
            "footerSize",
            "replicationFactor",
            "minTraceID",
            "maxTraceID",
        ] {
            assert!(object.contains_key(key), "missing {key} in {value}");
        }
        assert_eq!(object.len(), 19, "unexpected extra fields in {value}");
        assert_eq!(value["startTime"], "2024-05-01T10:00:03Z");
        assert_eq!(value["endTime"], "2024-05-01T10:29:59Z");
        assert_eq!(value["startTimeUnixNano"], 1_714_557_603_250_000_000u64);
        assert_eq!(BlockMeta::from_json(&bytes).expect("parse"), meta);
    }

    #[test]
    fn unknown_fields_are_ignored_and_tempo_metas_parse() {
        let tempo = br#"{"format":"vParquet4","blockID":"0c2b8a4e-5f5e-4a36-9d26-7b2f8a3f1c11",
            "tenantID":"single-tenant","startTime":"2024-05-01T10:00:03Z","endTime":"2024-05-01T10:29:58Z",
            "totalObjects":18342,"size":104857600,"compactionLevel":0,"indexPageSize":0,"totalRecords":2,
            "bloomShards":3,"footerSize":61234,"dedicatedColumns":[{"s":"resource","n":"k8s.cluster.name"}],
            "replicationFactor":1,"minID":"AAAA"}"#;
        let meta = BlockMeta::from_json(tempo).expect("tempo meta parses");
        assert_eq!(meta.format, "vParquet4");
        assert_eq!(meta.version, "");
        assert_eq!(meta.bloom_shards, 3);
        assert!(BlockMeta::from_json(b"{").is_err());
        assert!(BlockMeta::from_json(br#"{"format":"tc1"}"#).is_err());
    }

    #[test]
    fn object_paths_follow_tempo_layout() {
        let (meta, data, bloom) = sample().object_paths();
        assert_eq!(
            meta,
            "single-tenant/0c2b8a4e-5f5e-4a36-9d26-7b2f8a3f1c11/meta.json"
        );
        assert_eq!(
            data,
            "single-tenant/0c2b8a4e-5f5e-4a36-9d26-7b2f8a3f1c11/data.parquet"
        );
        assert_eq!(
            bloom,
            "single-tenant/0c2b8a4e-5f5e-4a36-9d26-7b2f8a3f1c11/bloom-0"
        );
    }
}
