//! Sprig's date helpers with Go layout strings (`"2006-01-02T15:04:05Z07:00"`).
//!
//! A time is carried as a one-key object (`{"\u0000time": [seconds, nanos]}`, UTC) that
//! prints like Go's `time.Time` and marshals as RFC 3339. Every time is shown in UTC:
//! `Local` is taken as UTC (the container's default) and other zone names fall back to UTC,
//! as Sprig does when `time.LoadLocation` finds no zone data.

use std::time::Duration;

use serde_json::{Map, Value};

/// The helper names this module answers.
pub const NAMES: &[&str] = &[
    "now",
    "date",
    "dateInZone",
    "date_in_zone",
    "htmlDate",
    "htmlDateInZone",
    "unixEpoch",
    "toDate",
    "mustToDate",
    "duration",
];

const KEY: &str = "\u{0}time";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's zero `time.Time` (0001-01-01 00:00:00 UTC) in Unix seconds.
const ZERO_TIME: i64 = -62_135_596_800;

/// Calls helper `name` (one of [`NAMES`]).
pub fn call(name: &str, a: &[Value]) -> Result<Value, String> {
    let text = |i: usize| a.get(i).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(match name {
        "now" => now(),
        "date" => Value::String(format(&text(0), instant(a.get(1)))),
        "dateInZone" | "date_in_zone" => Value::String(format(&text(0), instant(a.get(1)))),
        "htmlDate" | "htmlDateInZone" => Value::String(format("2006-01-02", instant(a.first()))),
        "unixEpoch" => Value::String(instant(a.first()).0.to_string()),
        // Sprig's toDate gives the zero time on a mismatch; mustToDate the error.
        "toDate" | "mustToDate" => match parse(&text(0), &text(1)) {
            Ok((secs, nanos)) => time(secs, nanos),
            Err(e) if name == "mustToDate" => return Err(e),
            Err(_) => time(ZERO_TIME, 0),
        },
        // Sprig's duration: seconds as a Go duration string.
        "duration" => {
            let secs = match a.first() {
                Some(Value::String(s)) => s.trim().parse::<u64>().unwrap_or(0),
                Some(v) => v.as_f64().unwrap_or(0.0).max(0.0) as u64,
                None => 0,
            };
            Value::String(crate::config::duration::format_go_duration(
                Duration::from_secs(secs),
            ))
        }
        _ => return Err(format!("function {name:?} not defined")),
    })
}

/// The current time as a template value.
pub fn now() -> Value {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    time(since.as_secs() as i64, since.subsec_nanos())
}

/// A time value at `seconds` + `nanos` since the epoch.
pub fn time(seconds: i64, nanos: u32) -> Value {
    let mut m = Map::new();
    m.insert(KEY.into(), Value::Array(vec![seconds.into(), nanos.into()]));
    Value::Object(m)
}

/// `(seconds, nanos)` when `v` is a time value.
pub fn as_time(v: &Value) -> Option<(i64, u32)> {
    let pair = v
        .as_object()
        .filter(|m| m.len() == 1)?
        .get(KEY)?
        .as_array()?;
    Some((
        pair.first()?.as_i64()?,
        u32::try_from(pair.get(1)?.as_u64()?).ok()?,
    ))
}

/// What Sprig's `formatDate` makes of its argument: a time, integer Unix seconds, or
/// (anything else, Go floats included) the current time.
fn instant(v: Option<&Value>) -> (i64, u32) {
    match v {
        Some(v) if as_time(v).is_some() => as_time(v).unwrap_or_default(),
        Some(v @ Value::Number(_)) if super::gofmt::kind(v) == super::gofmt::Kind::Int => {
            (v.as_i64().unwrap_or(0), 0)
        }
        _ => as_time(&now()).unwrap_or_default(),
    }
}

/// Go's `Time.String()` (without the monotonic clock reading).
pub fn to_string(t: (i64, u32)) -> String {
    format("2006-01-02 15:04:05.999999999 -0700 MST", t)
}

/// Go's `Time.MarshalJSON` text (RFC 3339 with nanoseconds, trailing zeros trimmed).
pub fn to_rfc3339(t: (i64, u32)) -> String {
    format("2006-01-02T15:04:05.999999999Z07:00", t)
}

/// Formats UTC time `t` with Go layout `layout`.
pub fn format(layout: &str, t: (i64, u32)) -> String {
    let (secs, nanos) = t;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = crate::civil::civil_from_days(days);
    let (hour, minute, second) = (sod / 3600, sod / 60 % 60, sod % 60);
    let yday = days - days_from_year_start(year);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[(days + 4).rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let b = layout.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &layout[i..];
        let starts = |p: &str| rest.starts_with(p);
        let (text, used): (String, usize) = if starts("January") {
            (month_name.into(), 7)
        } else if starts("Jan") {
            (month_name[..3].into(), 3)
        } else if starts("Monday") {
            (weekday.into(), 6)
        } else if starts("Mon") {
            (weekday[..3].into(), 3)
        } else if starts("MST") {
            ("UTC".into(), 3)
        } else if starts("2006") {
            (format!("{year:04}"), 4)
        } else if starts("002") {
            (format!("{:03}", yday + 1), 3)
        } else if starts("01") {
            (format!("{month:02}"), 2)
        } else if starts("02") {
            (format!("{day:02}"), 2)
        } else if starts("03") {
            (format!("{hour12:02}"), 2)
        } else if starts("04") {
            (format!("{minute:02}"), 2)
        } else if starts("05") {
            (format!("{second:02}"), 2)
        } else if starts("06") {
            (format!("{:02}", year.rem_euclid(100)), 2)
        } else if starts("15") {
            (format!("{hour:02}"), 2)
        } else if starts("__2") {
            (format!("{:>3}", yday + 1), 3)
        } else if starts("_2") && !starts("_2006") {
            (format!("{day:>2}"), 2)
        } else if starts("1") {
            (month.to_string(), 1)
        } else if starts("2") {
            (day.to_string(), 1)
        } else if starts("3") {
            (hour12.to_string(), 1)
        } else if starts("4") {
            (minute.to_string(), 1)
        } else if starts("5") {
            (second.to_string(), 1)
        } else if starts("PM") {
            (if hour >= 12 { "PM" } else { "AM" }.into(), 2)
        } else if starts("pm") {
            (if hour >= 12 { "pm" } else { "am" }.into(), 2)
        } else if let Some(zone) = ["-07:00:00", "-070000", "-07:00", "-0700", "-07"]
            .iter()
            .find(|z| starts(z))
        {
            (zone.replace('7', "0").replace('-', "+"), zone.len())
        } else if let Some(zone) = ["Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07"]
            .iter()
            .find(|z| starts(z))
        {
            ("Z".into(), zone.len())
        } else if let Some(width) = fraction(rest) {
            let digits = format!("{nanos:09}");
            let kept = &digits[..width];
            let text = if rest.as_bytes()[1] == b'9' {
                let trimmed = kept.trim_end_matches('0');
                if trimmed.is_empty() {
                    String::new()
                } else {
                    format!("{}{trimmed}", &rest[..1])
                }
            } else {
                format!("{}{kept}", &rest[..1])
            };
            (text, width + 1)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            (c.to_string(), c.len_utf8())
        };
        out.push_str(&text);
        i += used;
    }
    out
}

/// Go's `time.Parse` for the layout elements `format` knows; zone names read as UTC.
pub fn parse(layout: &str, value: &str) -> Result<(i64, u32), String> {
    let fail = || {
        format!(
            "parsing time {} as {}: cannot parse",
            super::gofmt::quote(value),
            super::gofmt::quote(layout)
        )
    };
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64);
    let (mut nanos, mut offset, mut pm) = (0u32, 0i64, None::<bool>);
    let mut v = value;
    let mut l = layout;
    // Reads up to `max` digits (at least `min`).
    fn digits(v: &mut &str, min: usize, max: usize) -> Option<i64> {
        let n = v.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let (d, rest) = v.split_at(n);
        *v = rest;
        d.parse().ok()
    }
    fn word(v: &mut &str, names: &[&str], len: Option<usize>) -> Option<usize> {
        names.iter().position(|n| {
            let n = len.map_or(*n, |k| &n[..k]);
            let hit = v.len() >= n.len() && v[..n.len()].eq_ignore_ascii_case(n);
            if hit {
                *v = &v[n.len()..];
            }
            hit
        })
    }
    while !l.is_empty() {
        let starts = |p: &str| l.starts_with(p);
        let used = if starts("January") {
            month = word(&mut v, &MONTHS, None).ok_or_else(fail)? as i64 + 1;
            7
        } else if starts("Jan") {
            month = word(&mut v, &MONTHS, Some(3)).ok_or_else(fail)? as i64 + 1;
            3
        } else if starts("Monday") {
            word(&mut v, &DAYS, None).ok_or_else(fail)?;
            6
        } else if starts("Mon") {
            word(&mut v, &DAYS, Some(3)).ok_or_else(fail)?;
            3
        } else if starts("MST") {
            let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
            if n < 3 {
                return Err(fail());
            }
            v = &v[n..];
            3
        } else if starts("2006") {
            year = digits(&mut v, 4, 4).ok_or_else(fail)?;
            4
        } else if starts("01")
            || starts("02")
            || starts("03")
            || starts("04")
            || starts("05")
            || starts("06")
            || starts("15")
        {
            let n = digits(&mut v, 2, 2).ok_or_else(fail)?;
            match &l[..2] {
                "01" => month = n,
                "02" => day = n,
                "03" => hour = n,
                "04" => minute = n,
                "05" => second = n,
                "06" => year = n + if n >= 69 { 1900 } else { 2000 },
                _ => hour = n,
            }
            2
        } else if starts("_2") && !starts("_2006") {
            v = v.strip_prefix(' ').unwrap_or(v);
            day = digits(&mut v, 1, 2).ok_or_else(fail)?;
            2
        } else if let Some(field) = ["1", "2", "3", "4", "5"].iter().position(|d| starts(d)) {
            let n = digits(&mut v, 1, 2).ok_or_else(fail)?;
            match field {
                0 => month = n,
                1 => day = n,
                2 => hour = n,
                3 => minute = n,
                _ => second = n,
            }
            1
        } else if starts("PM") || starts("pm") {
            pm = Some(word(&mut v, &["PM", "AM"], None).ok_or_else(fail)? == 0);
            2
        } else if let Some(zone) = ["Z07:00", "-07:00", "Z0700", "-0700", "Z07", "-07"]
            .iter()
            .find(|z| starts(z))
        {
            if zone.starts_with('Z') && v.starts_with('Z') {
                v = &v[1..];
            } else {
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(fail()),
                };
                v = &v[1..];
                let h = digits(&mut v, 2, 2).ok_or_else(fail)?;
                let colon = zone.contains(':');
                if colon {
                    v = v.strip_prefix(':').ok_or_else(fail)?;
                }
                let m = if zone.ends_with("07") {
                    0
                } else {
                    digits(&mut v, 2, 2).ok_or_else(fail)?
                };
                offset = sign * (h * 3600 + m * 60);
            }
            zone.len()
        } else if let Some(width) = fraction(l) {
            if v.starts_with(['.', ',']) {
                v = &v[1..];
                let n = v.bytes().take_while(u8::is_ascii_digit).count();
                let frac = &v[..n];
                nanos = format!("{frac:0<9}")[..9].parse().unwrap_or(0);
                v = &v[n..];
            } else if l.as_bytes()[1] == b'0' {
                return Err(fail());
            }
            width + 1
        } else {
            let c = l.chars().next().unwrap_or(' ');
            v = v.strip_prefix(c).ok_or_else(fail)?;
            c.len_utf8()
        };
        let seconds_field = l.starts_with("05") || (l.starts_with('5') && used == 1);
        l = &l[used..];
        // Go reads a fraction after the seconds even when the layout has none.
        let fraction_follows =
            v.len() >= 2 && v.starts_with(['.', ',']) && v.as_bytes()[1].is_ascii_digit();
        if seconds_field && fraction_follows && fraction(l).is_none() {
            let n = 1 + v[1..].bytes().take_while(u8::is_ascii_digit).count();
            nanos = format!("{:0<9}", &v[1..n])[..9].parse().unwrap_or(0);
            v = &v[n..];
        }
    }
    if !v.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            super::gofmt::quote(value),
            super::gofmt::quote(v)
        ));
    }
    if let Some(pm) = pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(format!(
            "parsing time {}: value out of range",
            super::gofmt::quote(value)
        ));
    }
    let days = days_from_year_start(year) + day_of_year(year, month) + day - 1;
    Ok((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        nanos,
    ))
}

/// Days before the first of `month` in `year`.
fn day_of_year(year: i64, month: i64) -> i64 {
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    BEFORE[(month - 1) as usize] + i64::from(leap && month > 2)
}

/// `.000`/`,999`-style fractional seconds at the start of `rest`: their digit count.
fn fraction(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    if b.len() < 2 || !(b[0] == b'.' || b[0] == b',') || !(b[1] == b'0' || b[1] == b'9') {
        return None;
    }
    let width = b[1..].iter().take_while(|&&c| c == b[1]).count();
    let next = b.get(1 + width);
    (width <= 9 && !next.is_some_and(u8::is_ascii_digit)).then_some(width)
}

fn days_from_year_start(year: i64) -> i64 {
    // Days from 1970-01-01 to January 1st of `year` (Hinnant's days-from-civil).
    let y = year - 1;
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = 306; // March-based day of year of January 1st.
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2009-11-10 23:04:05.123456789 UTC (the Go playground's time, plus nanos).
    const T: (i64, u32) = (1_257_894_245, 123_456_789);

    #[test]
    fn go_layouts() {
        assert_eq!(format("2006-01-02", T), "2009-11-10");
        assert_eq!(
            format("2006-01-02T15:04:05Z07:00", T),
            "2009-11-10T23:04:05Z"
        );
        assert_eq!(
            format("Mon Jan _2 15:04:05 MST 2006", T),
            "Tue Nov 10 23:04:05 UTC 2009"
        );
        assert_eq!(
            format("Monday, January 2, 2006 3:04PM", T),
            "Tuesday, November 10, 2009 11:04PM"
        );
        assert_eq!(
            format("02/01/06 03:04:05.000 pm -0700", T),
            "10/11/09 11:04:05.123 pm +0000"
        );
        assert_eq!(format("15:04:05.999999999", T), "23:04:05.123456789");
        assert_eq!(format("15:04:05.999", (T.0, 0)), "23:04:05");
        assert_eq!(format("15:04:05,000000", T), "23:04:05,123456");
        assert_eq!(format("002 __2 _2 2", T), "314 314 10 10");
        assert_eq!(format("-07:00 Z0700", T), "+00:00 Z");
        assert_eq!(to_string(T), "2009-11-10 23:04:05.123456789 +0000 UTC");
        assert_eq!(to_rfc3339((0, 500_000_000)), "1970-01-01T00:00:00.5Z");
        assert_eq!(format("2006-01-02 Mon", (951_782_400, 0)), "2000-02-29 Tue");
    }

    #[test]
    fn parses_go_layouts_as_time_parse() {
        // Expected (Unix seconds, nanoseconds) from Go 1.19's time.Parse.
        let cases = [
            ("2006-01-02", "2017-12-31", (1_514_678_400, 0)),
            (
                "2006-01-02T15:04:05Z07:00",
                "2009-11-10T23:04:05+02:00",
                (1_257_887_045, 0),
            ),
            (
                "2006-01-02 15:04:05",
                "2009-11-10 23:04:05.25",
                (1_257_894_245, 250_000_000),
            ),
            (
                "Jan _2 2006 3:04PM",
                "Feb  3 2013 7:54PM",
                (1_359_921_240, 0),
            ),
            (
                "02/01/06 15:04:05.000 -0700",
                "10/11/09 23:04:05.123 -0130",
                (1_257_899_645, 123_000_000),
            ),
        ];
        for (layout, value, want) in cases {
            assert_eq!(parse(layout, value), Ok(want), "{layout} {value}");
        }
        assert!(parse("2006-01-02", "nope").is_err());
        assert!(parse("2006-01-02", "2017-12-31 extra").is_err());
        // toDate falls back to Go's zero time; mustToDate reports the error.
        let zero = call("toDate", &["2006-01-02".into(), "nope".into()]).unwrap();
        assert_eq!(
            to_string(as_time(&zero).unwrap()),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        assert!(call("mustToDate", &["2006-01-02".into(), "nope".into()]).is_err());
        assert_eq!(call("duration", &[Value::from(95)]).unwrap(), "1m35s");
        assert_eq!(call("duration", &["3700".into()]).unwrap(), "1h1m40s");
    }

    #[test]
    fn sprig_date_arguments() {
        let t = time(T.0, T.1);
        let d = |a: Vec<Value>| call("date", &a).unwrap();
        assert_eq!(d(vec!["2006-01-02".into(), t.clone()]), "2009-11-10");
        assert_eq!(d(vec!["2006".into(), Value::from(0)]), "1970");
        assert_eq!(
            call("dateInZone", &["15:04".into(), t.clone(), "UTC".into()]).unwrap(),
            "23:04"
        );
        assert_eq!(
            call("unixEpoch", std::slice::from_ref(&t)).unwrap(),
            "1257894245"
        );
        assert_eq!(call("htmlDate", &[t]).unwrap(), "2009-11-10");
        // Anything but a time or an integer is "now", as Sprig's formatDate does.
        let year = d(vec!["2006".into(), super::super::gofmt::float(0.0)]);
        assert!(year.as_str().unwrap() >= "2026", "{year}");
        assert!(as_time(&now()).is_some());
    }
}
