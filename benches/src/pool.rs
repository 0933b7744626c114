//! Pre-encoded OTLP export requests for load generation.
//!
//! A load run cannot afford to generate and encode traces on its hot path, yet re-sending the same
//! bytes would pile every span onto a few thousand trace IDs. A [`PooledRequest`] is encoded once
//! and remembers where its trace IDs and timestamps sit in the buffer; [`PooledRequest::render`]
//! copies the buffer and patches those bytes, giving every send unique trace IDs and current
//! timestamps for the price of a `memcpy` and a few stores per span.

use anyhow::{Context, bail};
use prost::Message;

use crate::tracegen::{TraceGenerator, TraceManifest};

/// One encoded `ExportTraceServiceRequest` plus the byte offsets to patch.
#[derive(Clone, Debug)]
pub struct PooledRequest {
    encoded: Vec<u8>,
    spans: usize,
    traces: usize,
    /// Offsets of 16-byte trace IDs (span `trace_id` and same-trace link `trace_id`).
    trace_id_offsets: Vec<usize>,
    /// Offsets of little-endian fixed64 timestamps (span start/end, event time).
    time_offsets: Vec<usize>,
    /// The earliest timestamp in the request.
    base_time_ns: u64,
}

impl PooledRequest {
    /// Encodes `request` and indexes it. `manifests` name the trace IDs to rewrite.
    pub fn new(
        request: &tracecore_proto::otlp::ExportTraceServiceRequest,
        manifests: &[TraceManifest],
    ) -> anyhow::Result<Self> {
        let encoded = request.encode_to_vec();
        let mut pooled = PooledRequest {
            spans: manifests.iter().map(TraceManifest::span_count).sum(),
            traces: manifests.len(),
            trace_id_offsets: Vec::new(),
            time_offsets: Vec::new(),
            base_time_ns: u64::MAX,
            encoded: Vec::new(),
        };
        let ids: Vec<&[u8]> = manifests.iter().map(|m| &m.trace_id[..]).collect();
        pooled.index(&encoded, &ids)?;
        pooled.encoded = encoded;
        Ok(pooled)
    }

    /// The encoded size in bytes.
    pub fn len(&self) -> usize {
        self.encoded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.encoded.is_empty()
    }

    pub fn spans(&self) -> usize {
        self.spans
    }

    pub fn traces(&self) -> usize {
        self.traces
    }

    pub fn base_time_ns(&self) -> u64 {
        self.base_time_ns
    }

    /// The request as encoded, unpatched.
    pub fn original(&self) -> &[u8] {
        &self.encoded
    }

    /// A copy whose trace IDs are XOR-ed with a mix of `unique` (distinct values give distinct
    /// IDs) and whose timestamps are moved so the request starts at `start_ns`.
    // PERFORMANCE-CRITICAL: runs once per sent request; no allocation besides the output copy.
    pub fn render(&self, unique: u64, start_ns: u64) -> Vec<u8> {
        let mut out = self.encoded.clone();
        let mask = splitmix64(unique).to_le_bytes();
        for &off in &self.trace_id_offsets {
            for (b, m) in out[off..off + 8].iter_mut().zip(mask) {
                *b ^= m;
            }
        }
        let shift = start_ns.wrapping_sub(self.base_time_ns);
        for &off in &self.time_offsets {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&out[off..off + 8]);
            let t = u64::from_le_bytes(raw).wrapping_add(shift);
            out[off..off + 8].copy_from_slice(&t.to_le_bytes());
        }
        out
    }

    fn index(&mut self, buf: &[u8], ids: &[&[u8]]) -> anyhow::Result<()> {
        for rs in fields(buf, 0) {
            let rs = rs?;
            if rs.number != 1 {
                continue;
            }
            for ss in sub_fields(buf, &rs) {
                let ss = ss?;
                if ss.number != 2 {
                    continue;
                }
                for span in sub_fields(buf, &ss) {
                    let span = span?;
                    if span.number == 2 {
                        self.index_span(buf, &span, ids)?;
                    }
                }
            }
        }
        if self.time_offsets.is_empty() {
            bail!("request has no spans");
        }
        Ok(())
    }

    fn index_span(&mut self, buf: &[u8], span: &Field, ids: &[&[u8]]) -> anyhow::Result<()> {
        for f in sub_fields(buf, span) {
            let f = f?;
            match (f.number, f.wire) {
                (1, WIRE_LEN) if f.len == 16 => self.trace_id_offsets.push(f.offset),
                (7 | 8, WIRE_I64) => self.time(buf, f.offset)?,
                (11, WIRE_LEN) => {
                    for e in sub_fields(buf, &f) {
                        let e = e?;
                        if (e.number, e.wire) == (1, WIRE_I64) {
                            self.time(buf, e.offset)?;
                        }
                    }
                }
                (13, WIRE_LEN) => {
                    for l in sub_fields(buf, &f) {
                        let l = l?;
                        let same_trace = (l.number, l.wire, l.len) == (1, WIRE_LEN, 16)
                            && ids.contains(&&buf[l.offset..l.offset + 16]);
                        if same_trace {
                            self.trace_id_offsets.push(l.offset);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn time(&mut self, buf: &[u8], offset: usize) -> anyhow::Result<()> {
        let raw: [u8; 8] = buf
            .get(offset..offset + 8)
            .and_then(|s| s.try_into().ok())
            .context("truncated fixed64")?;
        self.base_time_ns = self.base_time_ns.min(u64::from_le_bytes(raw));
        self.time_offsets.push(offset);
        Ok(())
    }
}

/// Generates `requests` pooled requests of `traces_per_request` traces each.
pub fn build_pool(
    seed: u64,
    requests: usize,
    traces_per_request: usize,
) -> anyhow::Result<Vec<PooledRequest>> {
    let mut generator = TraceGenerator::new(seed);
    (0..requests)
        .map(|_| {
            let (request, manifests) = generator.request(traces_per_request);
            PooledRequest::new(&request, &manifests)
        })
        .collect()
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

/// One protobuf field: where its value starts in the whole buffer, and its length.
struct Field {
    number: u64,
    wire: u8,
    offset: usize,
    len: usize,
}

fn sub_fields<'a>(buf: &'a [u8], parent: &Field) -> FieldIter<'a> {
    FieldIter {
        buf,
        pos: parent.offset,
        end: parent.offset + parent.len,
    }
}

fn fields(buf: &[u8], start: usize) -> FieldIter<'_> {
    FieldIter {
        buf,
        pos: start,
        end: buf.len(),
    }
}

struct FieldIter<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl FieldIter<'_> {
    fn varint(&mut self) -> anyhow::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos).filter(|_| self.pos < self.end) else {
                bail!("truncated varint at {}", self.pos);
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("varint too long at {}", self.pos)
    }

    fn next_field(&mut self) -> anyhow::Result<Field> {
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let number = key >> 3;
        let (offset, len) = match wire {
            WIRE_VARINT => {
                let start = self.pos;
                self.varint()?;
                (start, self.pos - start)
            }
            WIRE_I64 => (self.pos, 8),
            WIRE_LEN => {
                let len = usize::try_from(self.varint()?).context("length overflows usize")?;
                (self.pos, len)
            }
            WIRE_I32 => (self.pos, 4),
            other => bail!("unsupported wire type {other} at {}", self.pos),
        };
        if offset + len > self.end {
            bail!("field {number} overruns its message at {offset}");
        }
        if wire != WIRE_VARINT {
            self.pos = offset + len;
        }
        Ok(Field {
            number,
            wire,
            offset,
            len,
        })
    }
}

impl Iterator for FieldIter<'_> {
    type Item = anyhow::Result<Field>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let field = self.next_field();
        if field.is_err() {
            self.pos = self.end;
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use tracecore_proto::otlp::ExportTraceServiceRequest;

    use super::*;

    #[test]
    fn render_rewrites_ids_and_times_consistently() {
        let mut generator = TraceGenerator::with_start_time(5, 1_700_000_000_000_000_000);
        let (request, manifests) = generator.request(4);
        let pooled = PooledRequest::new(&request, &manifests).unwrap();
        assert_eq!(
            pooled.spans(),
            manifests.iter().map(|m| m.span_count()).sum::<usize>()
        );
        assert!(pooled.trace_id_offsets.len() >= pooled.spans());
        assert!(pooled.time_offsets.len() >= 2 * pooled.spans());

        let start = 1_800_000_000_000_000_000;
        let a = ExportTraceServiceRequest::decode(pooled.render(1, start).as_slice()).unwrap();
        let b = ExportTraceServiceRequest::decode(pooled.render(2, start).as_slice()).unwrap();
        let spans = |r: &ExportTraceServiceRequest| -> Vec<tracecore_proto::otlp::Span> {
            r.resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| ss.spans.clone())
                .collect()
        };
        let (orig, sa, sb) = (spans(&request), spans(&a), spans(&b));
        assert_eq!(orig.len(), sa.len());
        let ids_a: HashSet<_> = sa.iter().map(|s| s.trace_id.clone()).collect();
        let ids_b: HashSet<_> = sb.iter().map(|s| s.trace_id.clone()).collect();
        assert_eq!(ids_a.len(), manifests.len());
        assert!(ids_a.is_disjoint(&ids_b));
        let min_start = sa.iter().map(|s| s.start_time_unix_nano).min().unwrap();
        assert_eq!(min_start, start);
        for (o, n) in orig.iter().zip(&sa) {
            assert_eq!(o.span_id, n.span_id);
            assert_eq!(o.name, n.name);
            assert_eq!(
                o.end_time_unix_nano - o.start_time_unix_nano,
                n.end_time_unix_nano - n.start_time_unix_nano
            );
            for link in &n.links {
                if orig.iter().any(|s| s.span_id == link.span_id) {
                    assert_eq!(
                        link.trace_id, n.trace_id,
                        "same-trace links follow the rewrite"
                    );
                }
            }
        }
    }

    #[test]
    fn build_pool_indexes_every_request() {
        let pool = build_pool(1, 3, 2).unwrap();
        assert_eq!(pool.len(), 3);
        assert!(pool.iter().all(|p| p.traces() == 2 && !p.is_empty()));
    }
}
