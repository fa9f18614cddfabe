//! Go's `time.ParseDuration` syntax (`"3s"`, `"1h30m"`, `"150us"`), which KrakenD configs use.

use std::time::Duration;

/// Go's `time.Duration.String()`: `0s`, `850ns`, `612.375µs`, `1.5ms`, `2.25s`, `1m30s`,
/// `2h0m0.5s`.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let fraction = |whole: u128, frac: u128, digits: usize, unit: &str| {
        let frac = format!("{frac:0digits$}");
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            format!("{whole}{unit}")
        } else {
            format!("{whole}.{frac}{unit}")
        }
    };
    match nanos {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => fraction(n / 1_000, n % 1_000, 3, "µs"),
        n if n < 1_000_000_000 => fraction(n / 1_000_000, n % 1_000_000, 6, "ms"),
        n => {
            let secs = n / 1_000_000_000;
            let seconds = fraction(secs % 60, n % 1_000_000_000, 9, "s");
            match (secs / 3600, secs / 60 % 60) {
                (0, 0) => seconds,
                (0, m) => format!("{m}m{seconds}"),
                (h, m) => format!("{h}h{m}m{seconds}"),
            }
        }
    }
}

/// Parses a Go duration string. Negative durations are rejected: no setting accepts them.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(format!("negative duration {text:?}"));
    }
    let mut rest = s;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("invalid duration {text:?}"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration {text:?}")),
            other => return Err(format!("unknown unit {other:?} in duration {text:?}")),
        };
        total_nanos += number * scale;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(format!("duration {text:?} is out of range"));
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_duration_string() {
        let f = |n: u64| format_go_duration(Duration::from_nanos(n));
        assert_eq!(f(0), "0s");
        assert_eq!(f(850), "850ns");
        assert_eq!(f(612_375), "612.375µs");
        assert_eq!(f(1_000), "1µs");
        assert_eq!(f(1_500_000), "1.5ms");
        assert_eq!(f(2_250_000_000), "2.25s");
        assert_eq!(f(90_000_000_000), "1m30s");
        assert_eq!(f(7_200_500_000_000), "2h0m0.5s");
        assert_eq!(f(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn parses_go_units() {
        assert_eq!(parse_go_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_go_duration("150us"), Ok(Duration::from_micros(150)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "3", "s", "3x", "-1s", "1.2.3s", "ms3"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} should fail");
        }
    }
}
