//! Duration literals: Prometheus syntax first, Go syntax as the fallback (TEMPO-SPEC §3.1).
//!
//! * Prometheus: integer amounts with units `y w d h m s ms`, each at most once and from the
//!   largest to the smallest (`1h30m`, `2w`, `1y` = 365 days); `0` alone is zero.
//! * Go: amounts with optional fractions and units `ns us µs ms s m h` in any order
//!   (`1.5s`, `250us`, `1h0m0s`, `.5s`).
//!
//! Both reject results that do not fit an `i64` of nanoseconds. The sign is never part of the
//! literal (negative durations are a unary minus).

const NS: u64 = 1;
const US: u64 = 1_000 * NS;
const MS: u64 = 1_000 * US;
const S: u64 = 1_000 * MS;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;
const W: u64 = 7 * D;
const Y: u64 = 365 * D;

/// Nanoseconds of a duration literal such as `1h30m` or `1.5s`, or `None`.
pub fn parse_duration(s: &str) -> Option<i64> {
    parse_prometheus(s).or_else(|| parse_go(s))
}

fn parse_prometheus(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s.as_bytes();
    let mut total: u64 = 0;
    let mut last_rank = 0;
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let value: u64 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.iter().take_while(|b| !b.is_ascii_digit()).count();
        let (rank, mult) = match &rest[..unit_len] {
            b"y" => (1, Y),
            b"w" => (2, W),
            b"d" => (3, D),
            b"h" => (4, H),
            b"m" => (5, M),
            b"s" => (6, S),
            b"ms" => (7, MS),
            _ => return None,
        };
        rest = &rest[unit_len..];
        if rank <= last_rank {
            return None;
        }
        last_rank = rank;
        if value > (1u64 << 63) / mult {
            return None;
        }
        total = total.checked_add(value * mult)?;
        if total > i64::MAX as u64 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

fn parse_go(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return None;
        }
        // integer part
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut value: u64 = 0;
        for b in rest[..int_len].bytes() {
            if value > (1u64 << 63) / 10 {
                return None;
            }
            value = value * 10 + u64::from(b - b'0');
            if value > 1u64 << 63 {
                return None;
            }
        }
        let pre = int_len > 0;
        rest = &rest[int_len..];
        // fraction
        let (mut fraction, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for b in after_dot[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                if fraction > (i64::MAX as u64) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(b - b'0');
                if next > i64::MAX as u64 {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            post = frac_len > 0;
            rest = &after_dot[frac_len..];
        }
        if !pre && !post {
            return None;
        }
        // unit
        let unit_len = rest
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if unit_len == 0 {
            return None;
        }
        let unit = match &rest[..unit_len] {
            "ns" => NS,
            "us" | "µs" | "μs" => US,
            "ms" => MS,
            "s" => S,
            "m" => M,
            "h" => H,
            _ => return None,
        };
        rest = &rest[unit_len..];
        if value > (1u64 << 63) / unit {
            return None;
        }
        value *= unit;
        if fraction > 0 {
            // float64 keeps nanosecond accuracy for fractions of an hour, as in Go
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let extra = (fraction as f64 * (unit as f64 / scale)) as u64;
            value = value.checked_add(extra)?;
            if value > 1u64 << 63 {
                return None;
            }
        }
        total = total.checked_add(value)?;
        if total > 1u64 << 63 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_forms() {
        assert_eq!(parse_duration("100ms"), Some(100_000_000));
        assert_eq!(parse_duration("1h30m"), Some((90 * M) as i64));
        assert_eq!(parse_duration("1d"), Some(D as i64));
        assert_eq!(parse_duration("2w"), Some((2 * W) as i64));
        assert_eq!(parse_duration("1y"), Some(Y as i64));
        assert_eq!(parse_duration("1y2w3d4h5m6s7ms"), {
            Some((Y + 2 * W + 3 * D + 4 * H + 5 * M + 6 * S + 7 * MS) as i64)
        });
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("0s"), Some(0));
        // out of order: Prometheus refuses, Go accepts the s/m mix
        assert_eq!(parse_duration("30s1m"), Some((90 * S) as i64));
        // d after h is out of order and Go has no `d`
        assert_eq!(parse_duration("1h1d"), None);
        // 300 years overflow i64 nanoseconds
        assert_eq!(parse_duration("300y"), None);
    }

    #[test]
    fn go_forms() {
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("1.s"), Some(1_000_000_000));
        assert_eq!(parse_duration("250us"), Some(250_000));
        assert_eq!(parse_duration("250µs"), Some(250_000));
        assert_eq!(parse_duration("7ns"), Some(7));
        assert_eq!(parse_duration("1h0m0s"), Some(H as i64));
        assert_eq!(parse_duration("1m30.5s"), Some((90 * S + 500 * MS) as i64));
        assert_eq!(parse_duration("1.000000001s"), Some(1_000_000_001));
        assert_eq!(parse_duration("2562047h47m16.854775807s"), Some(i64::MAX));
        assert_eq!(parse_duration("2562047h47m16.854775808s"), None);
    }

    #[test]
    fn not_durations() {
        for s in [
            "", "s", "1", "1.5", "1e3s", "1x", "1ms2", "1..5s", "1.5d", "1sm", ".s",
        ] {
            assert_eq!(parse_duration(s), None, "{s}");
        }
    }
}
