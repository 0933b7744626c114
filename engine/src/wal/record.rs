//! WAL record framing.
//!
//! ```text
//! record  := body_len:u32le  crc32c(body):u32le  body
//! body    := version:u8  flags:u8  payload          (flags bit 0: payload is one zstd frame)
//! payload := tenant_len:u8 tenant  count:u32le  fragment*count
//! fragment:= trace_id[16] span_count:u32le start:u64le end:u64le otlp_len:u32le otlp
//! ```
//! A zero `body_len` marks the end of the written part of a segment (O_DIRECT padding).

use bytes::{Buf, Bytes};

use crate::fragment::TraceFragment;

/// Current record format version.
pub const RECORD_VERSION: u8 = 1;
/// Bytes before the body.
pub const RECORD_HEADER_BYTES: usize = 8;
/// Largest body accepted at replay; anything larger is corruption.
pub const MAX_RECORD_BODY_BYTES: usize = 1 << 30;
const FLAG_ZSTD: u8 = 1;
const FRAGMENT_HEADER_BYTES: usize = 16 + 4 + 8 + 8 + 4;

/// One decoded record: a tenant's fragments from one group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalEntry {
    pub tenant: String,
    pub fragments: Vec<TraceFragment>,
}

/// Appends one framed record for `tenant`'s `fragments` to `out`.
///
/// The payload is zstd-compressed when it is at least `compress_min_bytes` long and compression
/// actually shrinks it.
// PERFORMANCE-CRITICAL: called once per tenant per group commit; copies each fragment once.
pub fn encode_record(
    out: &mut Vec<u8>,
    tenant: &str,
    fragments: &[TraceFragment],
    compress_min_bytes: usize,
) {
    let tenant_bytes = &tenant.as_bytes()[..tenant.len().min(255)];
    let payload_len = 1
        + tenant_bytes.len()
        + 4
        + fragments
            .iter()
            .map(|f| FRAGMENT_HEADER_BYTES + f.otlp.len())
            .sum::<usize>();
    let mut payload = Vec::with_capacity(payload_len);
    payload.push(tenant_bytes.len() as u8);
    payload.extend_from_slice(tenant_bytes);
    payload.extend_from_slice(&(fragments.len() as u32).to_le_bytes());
    for f in fragments {
        payload.extend_from_slice(&f.trace_id);
        payload.extend_from_slice(&f.span_count.to_le_bytes());
        payload.extend_from_slice(&f.start_unix_nano.to_le_bytes());
        payload.extend_from_slice(&f.end_unix_nano.to_le_bytes());
        payload.extend_from_slice(&(f.otlp.len() as u32).to_le_bytes());
        payload.extend_from_slice(&f.otlp);
    }
    let (flags, payload) = if payload.len() >= compress_min_bytes {
        match zstd::bulk::compress(&payload, 1) {
            Ok(compressed) if compressed.len() < payload.len() => (FLAG_ZSTD, compressed),
            _ => (0, payload),
        }
    } else {
        (0, payload)
    };
    let body_len = 2 + payload.len();
    out.reserve(RECORD_HEADER_BYTES + body_len);
    let header_at = out.len();
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    let body_at = out.len();
    out.push(RECORD_VERSION);
    out.push(flags);
    out.extend_from_slice(&payload);
    let crc = crc32c::crc32c(&out[body_at..]);
    out[header_at + 4..header_at + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record truncated: need {need} bytes, {have} left")]
    Truncated { need: usize, have: usize },
    #[error("record length {0} is out of range")]
    BadLength(usize),
    #[error("record checksum mismatch")]
    BadChecksum,
    #[error("unknown record version {0}")]
    BadVersion(u8),
    #[error("record payload is malformed: {0}")]
    Malformed(&'static str),
}

/// Outcome of reading the record at the start of a byte slice.
#[derive(Debug)]
pub enum RecordRead {
    /// A valid record and the number of bytes it occupied.
    Record { entry: WalEntry, len: usize },
    /// Clean end of the written part (no bytes, or zero padding).
    End,
}

/// Reads the record at the start of `bytes`, validating length and checksum.
pub fn read_record(bytes: &[u8]) -> Result<RecordRead, RecordError> {
    if bytes.is_empty() {
        return Ok(RecordRead::End);
    }
    if bytes.len() < RECORD_HEADER_BYTES {
        if bytes.iter().all(|&b| b == 0) {
            return Ok(RecordRead::End);
        }
        return Err(RecordError::Truncated {
            need: RECORD_HEADER_BYTES,
            have: bytes.len(),
        });
    }
    let body_len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if body_len == 0 {
        if bytes.iter().all(|&b| b == 0) {
            return Ok(RecordRead::End);
        }
        return Err(RecordError::BadLength(0));
    }
    if !(2..=MAX_RECORD_BODY_BYTES).contains(&body_len) {
        return Err(RecordError::BadLength(body_len));
    }
    let have = bytes.len() - RECORD_HEADER_BYTES;
    if have < body_len {
        return Err(RecordError::Truncated {
            need: body_len,
            have,
        });
    }
    let body = &bytes[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + body_len];
    if crc32c::crc32c(body) != crc {
        return Err(RecordError::BadChecksum);
    }
    let entry = decode_record_body(body)?;
    Ok(RecordRead::Record {
        entry,
        len: RECORD_HEADER_BYTES + body_len,
    })
}

/// Decodes a checksum-verified record body.
pub fn decode_record_body(body: &[u8]) -> Result<WalEntry, RecordError> {
    // `read_record` never passes fewer than 2 bytes; a direct caller might.
    let [version, flags, rest @ ..] = body else {
        return Err(RecordError::BadLength(body.len()));
    };
    let (version, flags) = (*version, *flags);
    if version != RECORD_VERSION {
        return Err(RecordError::BadVersion(version));
    }
    let payload: Bytes = if flags & FLAG_ZSTD != 0 {
        let decoded = zstd::stream::decode_all(rest)
            .map_err(|_| RecordError::Malformed("zstd payload does not decode"))?;
        Bytes::from(decoded)
    } else if flags == 0 {
        Bytes::copy_from_slice(rest)
    } else {
        return Err(RecordError::Malformed("unknown flags"));
    };
    decode_payload(payload)
}

fn decode_payload(mut p: Bytes) -> Result<WalEntry, RecordError> {
    let need = |p: &Bytes, n: usize| {
        if p.remaining() < n {
            Err(RecordError::Malformed("payload shorter than its fields"))
        } else {
            Ok(())
        }
    };
    need(&p, 1)?;
    let tenant_len = p.get_u8() as usize;
    need(&p, tenant_len + 4)?;
    let tenant = std::str::from_utf8(&p[..tenant_len])
        .map_err(|_| RecordError::Malformed("tenant is not utf-8"))?
        .to_string();
    p.advance(tenant_len);
    let count = p.get_u32_le() as usize;
    let mut fragments = Vec::with_capacity(count.min(p.remaining() / FRAGMENT_HEADER_BYTES));
    for _ in 0..count {
        need(&p, FRAGMENT_HEADER_BYTES)?;
        let mut trace_id = [0u8; 16];
        p.copy_to_slice(&mut trace_id);
        let span_count = p.get_u32_le();
        let start_unix_nano = p.get_u64_le();
        let end_unix_nano = p.get_u64_le();
        let len = p.get_u32_le() as usize;
        need(&p, len)?;
        let otlp = p.split_to(len);
        fragments.push(TraceFragment {
            trace_id,
            span_count,
            start_unix_nano,
            end_unix_nano,
            otlp,
        });
    }
    if p.has_remaining() {
        return Err(RecordError::Malformed("trailing bytes after fragments"));
    }
    Ok(WalEntry { tenant, fragments })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fragment(seed: u8, len: usize) -> TraceFragment {
        TraceFragment {
            trace_id: [seed; 16],
            span_count: seed as u32 + 1,
            start_unix_nano: 1_700_000_000_000_000_000 + seed as u64,
            end_unix_nano: 1_700_000_001_000_000_000 + seed as u64,
            otlp: Bytes::from(vec![seed; len]),
        }
    }

    #[test]
    fn round_trips_plain_and_compressed() {
        for min in [usize::MAX, 0] {
            let frags = vec![fragment(1, 10), fragment(2, 5000)];
            let mut out = Vec::new();
            encode_record(&mut out, "tenant-a", &frags, min);
            match read_record(&out).unwrap() {
                RecordRead::Record { entry, len } => {
                    assert_eq!(len, out.len());
                    assert_eq!(entry.tenant, "tenant-a");
                    assert_eq!(entry.fragments, frags);
                }
                RecordRead::End => panic!("expected a record"),
            }
        }
    }

    #[test]
    fn zero_padding_is_a_clean_end() {
        assert!(matches!(
            read_record(&[0u8; 4096]).unwrap(),
            RecordRead::End
        ));
        assert!(matches!(read_record(&[0u8; 3]).unwrap(), RecordRead::End));
        assert!(matches!(read_record(&[]).unwrap(), RecordRead::End));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let mut out = Vec::new();
        encode_record(&mut out, "t", &[fragment(7, 300)], usize::MAX);
        for cut in 1..out.len() {
            let r = read_record(&out[..cut]);
            assert!(
                r.is_err()
                    || matches!(r, Ok(RecordRead::End)) && out[..cut].iter().all(|&b| b == 0),
                "cut at {cut}"
            );
        }
        for bit in 0..out.len() * 8 {
            let mut flipped = out.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(read_record(&flipped).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn a_body_shorter_than_its_header_is_an_error() {
        assert_eq!(decode_record_body(&[]), Err(RecordError::BadLength(0)));
        assert_eq!(decode_record_body(&[1]), Err(RecordError::BadLength(1)));
        assert!(decode_record_body(&[1, 0]).is_err());
    }
}
