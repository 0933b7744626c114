//! Re-wraps validated spans into one [`TraceFragment`] per trace.
//!
//! Spans are grouped by trace with a stable counting sort, so each trace's spans stay in
//! request order and therefore in runs of (resource, scope). Each resource run becomes one
//! `ResourceSpans` entry holding one `ScopeSpans` per scope run; resource, scope and span bodies
//! are copied verbatim. A first pass lists the runs with their encoded sizes; the second writes
//! every fragment of the request into one `BytesMut` of exactly the right size and splits each
//! off as a `Bytes` view of that one allocation.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use tracecore_engine::TraceFragment;

use super::SkimError;
use super::walk::Index;
use super::wire::{len_field_size, put_len_header};

/// One `ResourceSpans` or `ScopeSpans` entry to write, with its encoded body size.
enum Run {
    /// Opens a `ResourceSpans` of resource entry `resource`; its scope runs follow.
    Resource { resource: usize, len: usize },
    /// A `ScopeSpans` of scope entry `scope` holding `order[spans]`.
    Scope {
        scope: usize,
        spans: Range<usize>,
        len: usize,
    },
}

// PERFORMANCE-CRITICAL: linear in spans with a constant number of per-request allocations
// (the order, the run list, the output buffer, the shard lists); nothing per span or per trace
// beyond pushing the fragment.
/// Builds the per-shard fragments for a validated request.
pub(super) fn emit(
    body: &Bytes,
    index: &Index,
    shards: usize,
    shard_of: impl Fn(&[u8; 16]) -> usize,
) -> Result<Vec<Vec<TraceFragment>>, SkimError> {
    let mut per_shard: Vec<Vec<TraceFragment>> = (0..shards).map(|_| Vec::new()).collect();
    if index.spans.is_empty() {
        return Ok(per_shard);
    }
    let (offsets, order) = group_by_trace(index);
    let (runs, run_offsets, total) = plan(index, &offsets, &order);

    let mut out = BytesMut::with_capacity(total);
    for (t, trace) in index.traces.iter().enumerate() {
        let trace_runs = run_range(&run_offsets, t);
        for run in runs.get(trace_runs).unwrap_or_default() {
            write_run(&mut out, body, index, &order, run);
        }
        let shard = shard_of(&trace.id);
        let Some(list) = per_shard.get_mut(shard) else {
            return Err(SkimError::ShardOutOfRange { shard, shards });
        };
        list.push(TraceFragment {
            trace_id: trace.id,
            span_count: trace.span_count,
            start_unix_nano: trace.start_min,
            end_unix_nano: trace.end_max,
            otlp: out.split().freeze(),
        });
    }
    debug_assert!(out.is_empty(), "planned sizes match written sizes");
    Ok(per_shard)
}

fn run_range(offsets: &[usize], t: usize) -> Range<usize> {
    let start = offsets.get(t).copied().unwrap_or(0);
    let end = offsets.get(t + 1).copied().unwrap_or(start);
    start..end
}

/// Stable counting sort: returns `(offsets, order)` where `order[offsets[t]..offsets[t + 1]]`
/// are trace `t`'s span indexes in request order.
fn group_by_trace(index: &Index) -> (Vec<usize>, Vec<u32>) {
    let mut offsets = Vec::with_capacity(index.traces.len() + 1);
    let mut sum = 0usize;
    offsets.push(0);
    for t in &index.traces {
        sum += t.span_count as usize;
        offsets.push(sum);
    }
    let mut cursor = offsets.clone();
    let mut order = vec![0u32; index.spans.len()];
    for (i, span) in index.spans.iter().enumerate() {
        if let Some(c) = cursor.get_mut(span.trace as usize)
            && let Some(slot) = order.get_mut(*c)
        {
            // The walk caps the span count far below u32::MAX (it is bounded by the body size).
            *slot = i as u32;
            *c += 1;
        }
    }
    (offsets, order)
}

/// Lists every trace's runs with their sizes: `(runs, run offsets per trace, total bytes)`.
fn plan(index: &Index, offsets: &[usize], order: &[u32]) -> (Vec<Run>, Vec<usize>, usize) {
    let scope_of = |i: usize| {
        order
            .get(i)
            .and_then(|&s| index.spans.get(s as usize))
            .map(|s| s.scope as usize)
    };
    let resource_of = |scope: usize| index.scopes.get(scope).map(|s| s.resource as usize);
    let span_size = |i: usize| {
        order
            .get(i)
            .and_then(|&s| index.spans.get(s as usize))
            .map_or(0, |s| len_field_size(s.body.len()))
    };

    let mut runs = Vec::new();
    let mut run_offsets = Vec::with_capacity(index.traces.len() + 1);
    run_offsets.push(0);
    let mut total = 0usize;
    for t in 0..index.traces.len() {
        let Range { start: mut i, end } = run_range(offsets, t);
        while i < end {
            let Some(resource) = scope_of(i).and_then(resource_of) else {
                break;
            };
            let resource_run = runs.len();
            runs.push(Run::Resource { resource, len: 0 });
            let mut resource_len = resource_header_size(index, resource);
            while i < end {
                let Some(scope) = scope_of(i) else { break };
                if resource_of(scope) != Some(resource) {
                    break;
                }
                let first = i;
                let mut scope_len = scope_header_size(index, scope);
                while i < end && scope_of(i) == Some(scope) {
                    scope_len += span_size(i);
                    i += 1;
                }
                runs.push(Run::Scope {
                    scope,
                    spans: first..i,
                    len: scope_len,
                });
                resource_len += len_field_size(scope_len);
            }
            if let Some(Run::Resource { len, .. }) = runs.get_mut(resource_run) {
                *len = resource_len;
            }
            total += len_field_size(resource_len);
        }
        run_offsets.push(runs.len());
    }
    (runs, run_offsets, total)
}

/// Size of a `ResourceSpans` body without its scope spans: resource parts and schema URL.
fn resource_header_size(index: &Index, resource: usize) -> usize {
    index.resources.get(resource).map_or(0, |r| {
        parts_size(&index.resource_parts, r.parts.clone()) + opt_size(r.schema_url.as_ref())
    })
}

/// Size of a `ScopeSpans` body without its spans: scope parts and schema URL.
fn scope_header_size(index: &Index, scope: usize) -> usize {
    index.scopes.get(scope).map_or(0, |s| {
        parts_size(&index.scope_parts, s.parts.clone()) + opt_size(s.schema_url.as_ref())
    })
}

fn parts_size(parts: &[Range<usize>], which: Range<usize>) -> usize {
    parts
        .get(which)
        .unwrap_or_default()
        .iter()
        .map(|p| len_field_size(p.len()))
        .sum()
}

fn opt_size(range: Option<&Range<usize>>) -> usize {
    range.map_or(0, |r| len_field_size(r.len()))
}

/// Writes one run. A `ResourceSpans` writes its resource and schema URL before its scope spans
/// (field order is free in protobuf), so no run needs closing.
fn write_run(out: &mut BytesMut, body: &Bytes, index: &Index, order: &[u32], run: &Run) {
    match *run {
        Run::Resource { resource, len } => {
            put_len_header(out, 1, len);
            if let Some(r) = index.resources.get(resource) {
                put_parts(out, body, 1, &index.resource_parts, r.parts.clone());
                if let Some(url) = &r.schema_url {
                    put_field(out, body, 3, url.clone());
                }
            }
        }
        Run::Scope {
            scope,
            ref spans,
            len,
        } => {
            put_len_header(out, 2, len);
            if let Some(s) = index.scopes.get(scope) {
                put_parts(out, body, 1, &index.scope_parts, s.parts.clone());
                if let Some(url) = &s.schema_url {
                    put_field(out, body, 3, url.clone());
                }
            }
            for &span in order.get(spans.clone()).unwrap_or_default() {
                if let Some(span) = index.spans.get(span as usize) {
                    put_field(out, body, 2, span.body.clone());
                }
            }
        }
    }
}

fn put_parts(
    out: &mut BytesMut,
    body: &Bytes,
    field: u8,
    parts: &[Range<usize>],
    which: Range<usize>,
) {
    for part in parts.get(which).unwrap_or_default() {
        put_field(out, body, field, part.clone());
    }
}

fn put_field(out: &mut BytesMut, body: &Bytes, field: u8, range: Range<usize>) {
    let bytes = body.get(range).unwrap_or_default();
    put_len_header(out, field, bytes.len());
    out.extend_from_slice(bytes);
}
