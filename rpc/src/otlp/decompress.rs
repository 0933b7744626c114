//! Request bodies: undo `Content-Encoding` with a hard cap on the decoded size.
//!
//! Supported: identity (absent, empty or `identity`), `gzip` (`x-gzip`, multi-member), `deflate`
//! (zlib-wrapped, as HTTP means it; `zlib` is accepted as an alias like the OpenTelemetry
//! Collector does) and `zstd` (multi-frame). Decoding stops as soon as the output would exceed
//! the cap, so a compression bomb costs at most `max_bytes` of memory and the time to inflate
//! that much.

use std::io::Read;

use bytes::Bytes;

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The decoded body is larger than the limit (HTTP 413).
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A `Content-Encoding` we do not decode (HTTP 415).
    #[error("unsupported content encoding {encoding:?}")]
    UnsupportedEncoding {
        /// The header value as sent.
        encoding: String,
    },
    /// The compressed stream is corrupt or truncated (HTTP 400).
    #[error("corrupt {encoding} request body: {reason}")]
    Corrupt {
        /// The encoding being decoded.
        encoding: &'static str,
        /// What the decoder reported.
        reason: String,
    },
}

/// The encodings [`decode_body`] understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Zlib,
    Zstd,
}

impl Encoding {
    fn parse(header: Option<&str>) -> Result<Encoding, BodyError> {
        let value = header.map(str::trim).unwrap_or("");
        let known = [
            ("", Encoding::Identity),
            ("identity", Encoding::Identity),
            ("gzip", Encoding::Gzip),
            ("x-gzip", Encoding::Gzip),
            ("deflate", Encoding::Zlib),
            ("zlib", Encoding::Zlib),
            ("zstd", Encoding::Zstd),
        ];
        known
            .iter()
            .find(|(name, _)| value.eq_ignore_ascii_case(name))
            .map(|&(_, e)| e)
            .ok_or_else(|| BodyError::UnsupportedEncoding {
                encoding: value.to_owned(),
            })
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zlib => "deflate",
            Encoding::Zstd => "zstd",
        }
    }
}

/// Decodes `body` according to `content_encoding`, failing with [`BodyError::TooLarge`] as soon
/// as the decoded size would exceed `max_bytes`.
pub fn decode_body(
    body: Bytes,
    content_encoding: Option<&str>,
    max_bytes: usize,
) -> Result<Bytes, BodyError> {
    let encoding = Encoding::parse(content_encoding)?;
    match encoding {
        Encoding::Identity => {
            if body.len() > max_bytes {
                Err(BodyError::TooLarge { limit: max_bytes })
            } else {
                Ok(body)
            }
        }
        Encoding::Gzip => read_capped(
            flate2::read::MultiGzDecoder::new(&body[..]),
            encoding,
            &body,
            max_bytes,
        ),
        Encoding::Zlib => read_capped(
            flate2::read::ZlibDecoder::new(&body[..]),
            encoding,
            &body,
            max_bytes,
        ),
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(&body[..]).map_err(|e| {
                BodyError::Corrupt {
                    encoding: encoding.name(),
                    reason: e.to_string(),
                }
            })?;
            read_capped(decoder, encoding, &body, max_bytes)
        }
    }
}

/// Reads at most `max_bytes + 1` bytes from `decoder`; one byte more than the limit proves the
/// body is too large without inflating the rest.
fn read_capped(
    decoder: impl Read,
    encoding: Encoding,
    compressed: &[u8],
    max_bytes: usize,
) -> Result<Bytes, BodyError> {
    // Typical OTLP protobuf compresses 4-10x; start there and let the Vec grow if needed.
    let guess = compressed.len().saturating_mul(6).min(max_bytes);
    let mut out = Vec::with_capacity(guess);
    let cap = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Corrupt {
            encoding: encoding.name(),
            reason: e.to_string(),
        })?;
    if out.len() > max_bytes {
        return Err(BodyError::TooLarge { limit: max_bytes });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory write")
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory write")
    }

    fn sample() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn every_encoding_round_trips() {
        let data = sample();
        let zstd_body = zstd::encode_all(&data[..], 3).expect("in-memory");
        let cases: Vec<(Option<&str>, Vec<u8>)> = vec![
            (None, data.clone()),
            (Some(""), data.clone()),
            (Some("identity"), data.clone()),
            (Some("gzip"), gzip(&data)),
            (Some(" GZip "), gzip(&data)),
            (Some("x-gzip"), gzip(&data)),
            (Some("deflate"), zlib(&data)),
            (Some("zlib"), zlib(&data)),
            (Some("zstd"), zstd_body),
        ];
        for (encoding, body) in cases {
            let out = decode_body(Bytes::from(body), encoding, data.len())
                .unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
            assert_eq!(out.as_ref(), data.as_slice(), "{encoding:?}");
        }
    }

    #[test]
    fn limit_is_inclusive_and_applies_to_every_encoding() {
        let data = sample();
        for (encoding, body) in [
            (None, data.clone()),
            (Some("gzip"), gzip(&data)),
            (Some("deflate"), zlib(&data)),
            (
                Some("zstd"),
                zstd::encode_all(&data[..], 1).expect("in-memory"),
            ),
        ] {
            let body = Bytes::from(body);
            assert!(decode_body(body.clone(), encoding, data.len()).is_ok());
            let err = decode_body(body, encoding, data.len() - 1).expect_err("one byte too many");
            assert!(
                matches!(err, BodyError::TooLarge { limit } if limit == data.len() - 1),
                "{encoding:?}: {err}"
            );
        }
    }

    #[test]
    fn gzip_bomb_of_one_gib_is_stopped_early() {
        // 1024 gzip members of 1 MiB of zeros each: a valid 1 GiB body about 1 MiB in size.
        let member = gzip(&vec![0u8; 1 << 20]);
        let body: Vec<u8> = member
            .iter()
            .copied()
            .cycle()
            .take(member.len() * 1024)
            .collect();
        assert!(body.len() < 4 << 20);
        let started = Instant::now();
        let err = decode_body(Bytes::from(body), Some("gzip"), 4 << 20).expect_err("bomb");
        assert!(
            matches!(err, BodyError::TooLarge { limit } if limit == 4 << 20),
            "{err}"
        );
        // Inflating the whole GiB would take seconds; stopping after 4 MiB takes milliseconds.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn zstd_and_deflate_bombs_are_stopped() {
        let frame = zstd::encode_all(&vec![0u8; 1 << 20][..], 1).expect("in-memory");
        let body: Vec<u8> = frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * 1024)
            .collect();
        let err = decode_body(Bytes::from(body), Some("zstd"), 1 << 20).expect_err("bomb");
        assert!(matches!(err, BodyError::TooLarge { .. }), "{err}");

        let body = zlib(&vec![0u8; 64 << 20]);
        let err = decode_body(Bytes::from(body), Some("deflate"), 1 << 20).expect_err("bomb");
        assert!(matches!(err, BodyError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn unknown_encodings_are_named() {
        let err = decode_body(Bytes::from_static(b"x"), Some("br"), 10).expect_err("br");
        assert_eq!(err.to_string(), "unsupported content encoding \"br\"");
        let err = decode_body(Bytes::from_static(b"x"), Some("gzip, zstd"), 10).expect_err("list");
        assert!(
            matches!(err, BodyError::UnsupportedEncoding { .. }),
            "{err}"
        );
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let data = sample();
        let mut truncated = gzip(&data);
        truncated.truncate(truncated.len() / 2);
        let mut flipped = zlib(&data);
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff;
        let mut garbage_tail = gzip(&data);
        garbage_tail.extend_from_slice(b"not gzip");
        for (encoding, body) in [
            ("gzip", truncated),
            ("deflate", flipped),
            ("gzip", garbage_tail),
            ("zstd", b"definitely not zstd".to_vec()),
            ("gzip", b"definitely not gzip".to_vec()),
        ] {
            let err = decode_body(Bytes::from(body), Some(encoding), 1 << 30)
                .expect_err("corrupt stream");
            assert!(
                matches!(err, BodyError::Corrupt { .. }),
                "{encoding}: {err}"
            );
            assert!(err.to_string().starts_with("corrupt "), "{err}");
        }
    }
}
