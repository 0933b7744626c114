//! Trace IDs as Tempo reads them from URLs and queries (TEMPO-SPEC §1.4).

use std::fmt;

/// A 16-byte trace ID. Shorter IDs are left-padded with zero bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// Why a textual trace ID was refused; the messages are Tempo's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceIdError {
    #[error(
        "trace IDs can only contain hex characters: invalid character '{ch}' at position {position}"
    )]
    NotHex { ch: char, position: usize },
    #[error("trace IDs can't be larger than 128 bits")]
    TooLong,
    #[error("trace ID is empty")]
    Empty,
}

impl TraceId {
    /// Parses a hex trace ID the way Tempo does: hex only, an odd length gets a leading `0`,
    /// at most 32 hex digits after that, shorter IDs are left-padded with zero bytes.
    pub fn parse_hex(text: &str) -> Result<TraceId, TraceIdError> {
        if text.is_empty() {
            return Err(TraceIdError::Empty);
        }
        for (position, ch) in text.chars().enumerate() {
            if !ch.is_ascii_hexdigit() {
                return Err(TraceIdError::NotHex { ch, position });
            }
        }
        let digits = text.as_bytes();
        let padded_len = digits.len() + digits.len() % 2;
        if padded_len > 32 {
            return Err(TraceIdError::TooLong);
        }
        let mut id = [0u8; 16];
        // Walk from the last digit backwards, filling bytes from the end.
        let mut byte_index = 16;
        let mut i = digits.len();
        while i > 0 {
            let low = hex_value(digits[i - 1]);
            let high = if i >= 2 { hex_value(digits[i - 2]) } else { 0 };
            byte_index -= 1;
            id[byte_index] = (high << 4) | low;
            i = i.saturating_sub(2);
        }
        Ok(TraceId(id))
    }

    /// Builds an ID from raw bytes of at most 16, left-padding shorter ones.
    pub fn from_slice(bytes: &[u8]) -> Option<TraceId> {
        if bytes.len() > 16 {
            return None;
        }
        let mut id = [0u8; 16];
        id[16 - bytes.len()..].copy_from_slice(bytes);
        Some(TraceId(id))
    }

    /// Lowercase hex, 32 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_left_padded_and_odd_lengths_get_a_leading_zero() {
        let a = TraceId::parse_hex("1234").unwrap();
        let b = TraceId::parse_hex("0001234").unwrap();
        let c = TraceId::parse_hex("00000000000000000000000000001234").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.0[14..], [0x12, 0x34]);
        assert_eq!(TraceId::parse_hex("abc").unwrap().0[14..], [0x0a, 0xbc]);
    }

    #[test]
    fn rejects_non_hex_and_oversized_ids() {
        assert_eq!(
            TraceId::parse_hex("12x4").unwrap_err().to_string(),
            "trace IDs can only contain hex characters: invalid character 'x' at position 2"
        );
        assert_eq!(
            TraceId::parse_hex(&"1".repeat(33)).unwrap_err(),
            TraceIdError::TooLong
        );
        assert!(TraceId::parse_hex(&"f".repeat(32)).is_ok());
    }
}
