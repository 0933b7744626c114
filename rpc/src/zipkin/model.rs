//! The decoded-but-not-yet-converted Zipkin spans shared by the wire formats: JSON and protobuf
//! v2 spans become [`V2Span`]s, JSON and Thrift v1 spans become [`V1Span`]s, and one converter
//! per model turns them into OTLP. Also the ID and IP text rules the formats share.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tracecore_proto::otlp::any_value::Value;

/// A Zipkin v2 span (`zipkin2.Span`), IDs as integers; tags borrow from the body when they can.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct V2Span<'a> {
    /// High and low halves; a 64-bit trace ID has `high == 0`.
    pub trace_id: (u64, u64),
    pub id: u64,
    pub parent_id: Option<u64>,
    pub kind: V2Kind,
    pub name: String,
    /// Epoch microseconds; 0 when absent.
    pub timestamp: i64,
    /// Microseconds; 0 when absent.
    pub duration: i64,
    pub local_endpoint: Option<V2Endpoint>,
    pub remote_endpoint: Option<V2Endpoint>,
    pub annotations: Vec<V2Annotation>,
    /// In wire order; a repeated key's last value wins.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// `zipkin2.Span.Kind`; anything else a client sends is `Unspecified`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum V2Kind {
    #[default]
    Unspecified,
    Client,
    Server,
    Producer,
    Consumer,
}

/// `zipkin2.Endpoint` with IPs already in canonical text form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct V2Endpoint {
    pub service_name: String,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub port: i64,
}

/// `zipkin2.Annotation`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct V2Annotation {
    /// Epoch microseconds.
    pub timestamp: i64,
    pub value: String,
}

/// A Zipkin v1 span (`zipkincore.Span`), IDs as integers.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct V1Span {
    pub trace_id: (u64, u64),
    pub id: u64,
    /// 0 for a root span.
    pub parent_id: u64,
    pub name: String,
    /// Epoch microseconds, when the span carries it.
    pub timestamp: Option<i64>,
    pub duration: Option<i64>,
    pub annotations: Vec<V1Annotation>,
    pub binary_annotations: Vec<V1BinaryAnnotation>,
}

/// A v1 timestamped annotation (`cs`, `sr`, … or free text).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct V1Annotation {
    pub timestamp: i64,
    pub value: String,
    pub endpoint: Option<V1Endpoint>,
}

/// A v1 tag ("binary annotation") with its typed value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct V1BinaryAnnotation {
    pub key: String,
    pub value: Value,
    pub endpoint: Option<V1Endpoint>,
}

/// A v1 endpoint as the Collector keeps it: IPs as given (JSON) or printed (Thrift).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct V1Endpoint {
    pub service_name: String,
    pub ipv4: String,
    pub ipv6: String,
    pub port: i32,
}

/// A hex span ID of 1 to 16 digits (Zipkin's `ID.UnmarshalJSON` accepts short ones).
// PERFORMANCE-CRITICAL: two or three times per span; one pass, no radix machinery.
pub(crate) fn parse_hex_u64(hex: &str) -> Option<u64> {
    let bytes = hex.as_bytes();
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut value = 0u64;
    for &b in bytes {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | u64::from(digit);
    }
    Some(value)
}

/// A hex trace ID of 1 to 32 digits as (high, low): the last 16 digits are the low half.
pub(crate) fn parse_hex_trace_id(hex: &str) -> Option<(u64, u64)> {
    if hex.len() > 16 {
        let (high, low) = hex.split_at_checked(hex.len() - 16)?;
        Some((parse_hex_u64(high)?, parse_hex_u64(low)?))
    } else {
        Some((0, parse_hex_u64(hex)?))
    }
}

/// An IP as Go's `net.IP.String` prints it: IPv4 (also IPv4-mapped IPv6) dotted, IPv6 RFC 5952.
pub(crate) fn format_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
    }
}

/// A packed IP (4 or 16 bytes) in text form; `None` when empty, `Err(len)` for other lengths.
pub(crate) fn format_packed_ip(bytes: &[u8]) -> Result<Option<String>, usize> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(Some(format_ip(IpAddr::V4(Ipv4Addr::from(v4)))));
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Ok(Some(format_ip(IpAddr::V6(Ipv6Addr::from(v6)))));
    }
    if bytes.is_empty() {
        Ok(None)
    } else {
        Err(bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids() {
        assert_eq!(parse_hex_u64("a"), Some(10));
        assert_eq!(parse_hex_u64("FFFFFFFFFFFFFFFF"), Some(u64::MAX));
        assert_eq!(parse_hex_u64(""), None);
        assert_eq!(parse_hex_u64("+1"), None);
        assert_eq!(parse_hex_u64("10000000000000000"), None);
        assert_eq!(
            parse_hex_trace_id("463ac35c9f6413ad48485a3953bb6124"),
            Some((0x463a_c35c_9f64_13ad, 0x4848_5a39_53bb_6124))
        );
        assert_eq!(parse_hex_trace_id("1"), Some((0, 1)));
        assert_eq!(parse_hex_trace_id("1ffffffffffffffff"), Some((1, u64::MAX)));
        assert_eq!(parse_hex_trace_id("x0000000000000000"), None);
        assert_eq!(parse_hex_trace_id(&"1".repeat(33)), None);
        // A multi-byte character straddling the split point must not panic.
        assert_eq!(parse_hex_trace_id("ééééééééé"), None);
    }

    #[test]
    fn ips_print_like_go() {
        assert_eq!(
            format_packed_ip(&[10, 0, 0, 1]),
            Ok(Some("10.0.0.1".into()))
        );
        let mapped = Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped().octets();
        assert_eq!(format_packed_ip(&mapped), Ok(Some("1.2.3.4".into())));
        let v6: Ipv6Addr = "2001:db8::1".parse().expect("ipv6");
        assert_eq!(
            format_packed_ip(&v6.octets()),
            Ok(Some("2001:db8::1".into()))
        );
        assert_eq!(format_packed_ip(&[]), Ok(None));
        assert_eq!(format_packed_ip(&[1, 2, 3]), Err(3));
    }
}
