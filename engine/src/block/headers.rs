//! Dictionary keys of the `resource`, `scope` and `service_name` columns, from the raw
//! resource / scope bytes of a parsed trace.
//!
//! The columns store the prost re-encoding of the decoded resource (scope), which differs from
//! the received bytes when a sender encodes differently (field order, explicit defaults,
//! unknown fields). Decoding and re-encoding costs ~1 µs per resource, and a trace of 20 spans
//! repeats ~5 resources, so the result is cached per distinct raw encoding, together with the
//! dictionary keys of the current batch.

use std::collections::HashMap;

use prost::Message as _;
use tracecore_proto::otlp::{AnyValue, InstrumentationScope, Resource, any_value};

use super::columns::Interner;
use super::error::BlockError;
use super::hash::SeededXxh3;
use super::otlp::{Header, TraceRecords};
use super::schema::{encode_resource, encode_scope};
use super::wire::{invalid, put_varint};

/// Distinct raw encodings cached per kind before the cache is dropped and rebuilt.
const MAX_CACHED: usize = 4096;

/// A resource or scope as stored, with its keys in the batch `batch`.
struct Resolved {
    /// The `resource` / `scope` column value.
    value: Box<[u8]>,
    /// `service.name` (resources only).
    service: Box<[u8]>,
    /// The resource's first `service.name` is a non-empty string (so `service` is exactly
    /// TraceQL's `resource.service.name`).
    service_exact: bool,
    batch: u64,
    key: i32,
    service_key: i32,
}

/// The stored column value and (resources only) the `service.name` of a header, and whether
/// that name is exact (see `Resolved::service_exact`).
type Stored = (Box<[u8]>, Box<[u8]>, bool);

/// Interners the keys are taken from (the current batch's dictionaries).
pub(crate) struct Dictionaries<'a> {
    pub batch: u64,
    pub names: &'a mut Interner,
    pub resources: &'a mut Interner,
    pub scopes: &'a mut Interner,
}

/// Per-encoder cache from raw resource / scope encodings to their stored form and keys.
#[derive(Default)]
pub(crate) struct HeaderCache {
    resources: HashMap<Box<[u8]>, Resolved, SeededXxh3>,
    scopes: HashMap<Box<[u8]>, Resolved, SeededXxh3>,
    raw: Vec<u8>,
    /// Some resolved resource had no exact `service.name`.
    inexact_service: bool,
}

impl HeaderCache {
    /// Fills `resource_keys` ((resource key, service name key) per `ResourceSpans`) and
    /// `scope_keys` (per `ScopeSpans`) for the trace `trace`, parsed from `input`.
    pub(crate) fn resolve(
        &mut self,
        trace: &TraceRecords,
        input: &[u8],
        dicts: &mut Dictionaries<'_>,
        resource_keys: &mut Vec<(i32, i32)>,
        scope_keys: &mut Vec<i32>,
    ) -> Result<(), BlockError> {
        resource_keys.clear();
        scope_keys.clear();
        for header in &trace.resources {
            raw_key(trace, input, header, &mut self.raw);
            let entry = lookup(&mut self.resources, &self.raw, || {
                stored_resource(trace, input, header)
            })?;
            if entry.batch != dicts.batch {
                entry.key = dicts.resources.intern(&entry.value);
                entry.service_key = dicts.names.intern(&entry.service);
                entry.batch = dicts.batch;
            }
            self.inexact_service |= !entry.service_exact;
            resource_keys.push((entry.key, entry.service_key));
        }
        for header in &trace.scopes {
            raw_key(trace, input, header, &mut self.raw);
            let entry = lookup(&mut self.scopes, &self.raw, || {
                stored_scope(trace, input, header)
            })?;
            if entry.batch != dicts.batch {
                entry.key = dicts.scopes.intern(&entry.value);
                entry.batch = dicts.batch;
            }
            scope_keys.push(entry.key);
        }
        Ok(())
    }

    /// Every resource resolved so far has a non-empty string `service.name`: the
    /// `service_name` column alone answers `resource.service.name`.
    pub(crate) fn service_names_exact(&self) -> bool {
        !self.inexact_service
    }
}

/// The cache entry for `raw`, computed by `compute` on a miss.
// PERFORMANCE-CRITICAL: once per `ResourceSpans` / `ScopeSpans`; a hit costs one xxh3 of the
// raw bytes and one comparison, no allocation.
fn lookup<'m>(
    map: &'m mut HashMap<Box<[u8]>, Resolved, SeededXxh3>,
    raw: &[u8],
    compute: impl FnOnce() -> Result<Stored, BlockError>,
) -> Result<&'m mut Resolved, BlockError> {
    if !map.contains_key(raw) {
        let (value, service, service_exact) = compute()?;
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(
            raw.into(),
            Resolved {
                value,
                service,
                service_exact,
                batch: u64::MAX,
                key: 0,
                service_key: 0,
            },
        );
    }
    map.get_mut(raw)
        .ok_or_else(|| invalid(0, "header cache lost an entry it just inserted"))
}

/// A cache key that identifies the header: presence, length and bytes of the message, then
/// the schema URL.
fn raw_key(trace: &TraceRecords, input: &[u8], header: &Header, out: &mut Vec<u8>) {
    out.clear();
    match header.message {
        Some(message) => {
            let bytes = trace.bytes(input, message);
            out.push(1);
            put_varint(bytes.len() as u64, out);
            out.extend_from_slice(bytes);
        }
        None => out.push(0),
    }
    out.extend_from_slice(trace.bytes(input, header.schema_url));
}

fn schema_url<'a>(
    trace: &'a TraceRecords,
    input: &'a [u8],
    header: &Header,
) -> Result<&'a str, BlockError> {
    std::str::from_utf8(trace.bytes(input, header.schema_url))
        .map_err(|_| invalid(0, "schema_url is not valid utf-8"))
}

#[cold]
fn stored_resource(
    trace: &TraceRecords,
    input: &[u8],
    header: &Header,
) -> Result<Stored, BlockError> {
    let resource = header
        .message
        .map(|m| Resource::decode(trace.bytes(input, m)))
        .transpose()
        .map_err(|e| invalid(0, format!("resource: {e}")))?;
    let mut value = Vec::new();
    encode_resource(
        resource.as_ref(),
        schema_url(trace, input, header)?,
        &mut value,
    );
    let service = resource
        .as_ref()
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.as_bytes()),
            _ => None,
        })
        .unwrap_or_default();
    Ok((value.into(), service.into(), !service.is_empty()))
}

#[cold]
fn stored_scope(trace: &TraceRecords, input: &[u8], header: &Header) -> Result<Stored, BlockError> {
    let scope = header
        .message
        .map(|m| InstrumentationScope::decode(trace.bytes(input, m)))
        .transpose()
        .map_err(|e| invalid(0, format!("scope: {e}")))?;
    let mut value = Vec::new();
    encode_scope(
        scope.as_ref(),
        schema_url(trace, input, header)?,
        &mut value,
    );
    Ok((value.into(), Box::default(), true))
}
