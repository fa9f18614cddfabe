//! Log setup from `telemetry/logging`, with KrakenD's line layouts.
//!
//! * Without the namespace only warnings and errors reach stderr.
//! * With it: `level`, `prefix`, `stdout` (else stderr), `syslog` (datagrams to `/dev/log`),
//!   `format` `default` (`[PREFIX] yyyy/mm/dd - hh:mm:ss.mmm ▶ INFO message`), `logstash`
//!   (JSON lines) or `custom` (`custom_format` gologging pattern).
//! * The gin access log is KrakenD's: on unless `router.disable_access_log`, whatever
//!   `telemetry/logging` says (its level, format, `stdout` and `syslog` do not apply), always
//!   to stdout in gin's layout. Turned off, it costs nothing per request.
//!
//! Lines go through buffered non-blocking writer threads, so a slow terminal never stalls a
//! request.
//!
//! `CEPHALO_LOG` overrides the level with a tracing filter directive.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::namespaces::logging::{LogFormat, LoggingOptions};

/// Lines the non-blocking writer holds before it drops (and counts) new ones. The channel is
/// allocated up front: tracing-appender's default of 128,000 lines costs 4 MB of resident
/// memory; 16,384 lines (0.5 MB) still absorb about a second of access log at peak load.
const BUFFERED_LINES: usize = 16_384;

/// Keeps the background log writer alive; dropping it flushes pending lines.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _guards: Vec<WorkerGuard>,
}

/// The target of per-request access log events.
pub const ACCESS_TARGET: &str = "krakend::access";

/// Installs the global subscriber once (with the access log unless `access_log` is off);
/// later calls are no-ops.
pub fn init(options: Option<&LoggingOptions>, access_log: bool) -> LogGuard {
    let level = options.map_or("warn", |o| o.level.as_str());
    let filter = || {
        std::env::var("CEPHALO_LOG")
            .ok()
            .and_then(|v| EnvFilter::try_new(v).ok())
            .unwrap_or_else(|| EnvFilter::new(format!("{level},hyper=warn,h2=warn")))
            .add_directive(
                format!("{ACCESS_TARGET}=off")
                    .parse()
                    .expect("a static directive"),
            )
    };
    let line = LineFormat::from_options(options);
    let mut guards = Vec::new();
    let buffered = || NonBlockingBuilder::default().buffered_lines_limit(BUFFERED_LINES);
    let (writer, guard) = if options.is_some_and(|o| o.stdout) {
        buffered().finish(std::io::stdout())
    } else {
        buffered().finish(std::io::stderr())
    };
    guards.push(guard);
    let console = tracing_subscriber::fmt::layer()
        .event_format(line.clone())
        .with_writer(writer)
        .with_filter(filter());
    let syslog = match options.filter(|o| o.syslog) {
        Some(_) => match Syslog::connect() {
            Ok(s) => Some(
                tracing_subscriber::fmt::layer()
                    .event_format(LineFormat {
                        syslog: true,
                        ..line.clone()
                    })
                    .with_writer(s)
                    .with_filter(filter()),
            ),
            Err(e) => {
                eprintln!(
                    "ERROR: telemetry/logging: \"syslog\": true but the local syslog socket /dev/log \
                     is not usable ({e}); logging to the console only"
                );
                None
            }
        },
        None => None,
    };
    // gin writes its access log to stdout, apart from the application log.
    let access = access_log.then(|| {
        let (writer, guard) = buffered().finish(std::io::stdout());
        guards.push(guard);
        tracing_subscriber::fmt::layer()
            .event_format(line.clone())
            .with_writer(writer)
            .with_filter(
                tracing_subscriber::filter::Targets::new().with_target(ACCESS_TARGET, Level::INFO),
            )
    });
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(syslog)
        .with(access)
        .try_init();
    LogGuard { _guards: guards }
}

/// How one event becomes a line.
#[derive(Debug, Clone)]
pub struct LineFormat {
    prefix: String,
    format: LogFormat,
    /// Syslog adds its own time stamp: leave ours out.
    syslog: bool,
}

impl LineFormat {
    /// The layout configured by `options` (KrakenD's default without them).
    pub fn from_options(options: Option<&LoggingOptions>) -> Self {
        Self {
            prefix: options.map(|o| o.prefix.clone()).unwrap_or_default(),
            format: options.map(|o| o.format.clone()).unwrap_or_default(),
            syslog: false,
        }
    }

    /// Renders one line (without the newline) for `level`, `target` and `message` at `now`.
    pub fn render(&self, level: Level, target: &str, message: &str, now: SystemTime) -> String {
        let mut out = String::with_capacity(message.len() + 48);
        let time = CivilTime::from(now);
        // The gin access log keeps its own layout in every format, as KrakenD's.
        if target == ACCESS_TARGET {
            let rest = message.strip_prefix("[GIN] ").unwrap_or(message);
            let _ = write!(out, "[GIN] {} {rest}", time.layout("2006/01/02 - 15:04:05"));
            return out;
        }
        let module = self.prefix.trim_matches(['[', ']']);
        let module = if module.is_empty() { "KRAKEND" } else { module };
        match &self.format {
            LogFormat::Default => {
                if !self.prefix.is_empty() {
                    out.push_str(&self.prefix);
                    out.push(' ');
                }
                if !self.syslog {
                    out.push_str(&time.layout("2006/01/02 - 15:04:05.000"));
                    out.push(' ');
                }
                let _ = write!(out, "▶ {:.4} {message}", level_name(level));
            }
            LogFormat::Logstash => {
                let _ = write!(
                    out,
                    "{{\"@timestamp\":\"{}\", \"@version\": 1, \"level\": \"{}\", \"message\": {}, \"module\": {}}}",
                    time.layout("2006-01-02T15:04:05.000+00:00"),
                    level_name(level),
                    serde_json::Value::from(message),
                    serde_json::Value::from(module),
                );
            }
            LogFormat::Custom(pattern) => {
                render_pattern(&mut out, pattern, level, module, message, &time);
            }
        }
        out
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// Expands gologging verbs: `%{time[:layout]}`, `%{level[:.Ns]}`, `%{message}`, `%{module}`,
/// `%{program}`, `%{pid}`, `%{color...}` (no colours: empty).
fn render_pattern(
    out: &mut String,
    pattern: &str,
    level: Level,
    module: &str,
    message: &str,
    time: &CivilTime,
) {
    let mut rest = pattern;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return;
        };
        let verb = &rest[start + 2..start + end];
        let (name, arg) = verb.split_once(':').unwrap_or((verb, ""));
        let text = match name {
            "time" => time.layout(if arg.is_empty() {
                "2006-01-02T15:04:05.000Z07:00"
            } else {
                arg
            }),
            "level" => level_name(level).to_string(),
            "message" => message.to_string(),
            "module" => module.to_string(),
            "program" => "krakend".to_string(),
            "pid" => std::process::id().to_string(),
            "color" => String::new(),
            _ => format!("%{{{verb}}}"),
        };
        // `%{level:.4s}`: precision truncates.
        match arg
            .strip_prefix('.')
            .and_then(|a| a.trim_end_matches('s').parse::<usize>().ok())
        {
            Some(n) if name != "time" => out.extend(text.chars().take(n)),
            _ => out.push_str(&text),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
}

/// A UTC calendar time with milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct CivilTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

impl From<SystemTime> for CivilTime {
    fn from(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() as i64;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = crate::civil::civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            millis: d.subsec_millis(),
        }
    }
}

impl CivilTime {
    /// Formats with a Go layout (`2006 01 02 15 04 05 .000 Z07:00 MST` are understood).
    pub fn layout(&self, layout: &str) -> String {
        let mut out = String::new();
        let mut rest = layout;
        let tokens: [(&str, String); 9] = [
            ("2006", format!("{:04}", self.year)),
            ("Z07:00", "Z".into()),
            ("-07:00", "+00:00".into()),
            (".000", format!(".{:03}", self.millis)),
            ("MST", "UTC".into()),
            ("01", format!("{:02}", self.month)),
            ("02", format!("{:02}", self.day)),
            ("15", format!("{:02}", self.hour)),
            ("04", format!("{:02}", self.minute)),
        ];
        'outer: while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("05") {
                let _ = write!(out, "{:02}", self.second);
                rest = r;
                continue;
            }
            for (tok, val) in &tokens {
                if let Some(r) = rest.strip_prefix(tok) {
                    out.push_str(val);
                    rest = r;
                    continue 'outer;
                }
            }
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        let meta = event.metadata();
        let line = self.render(*meta.level(), meta.target(), &visitor.0, SystemTime::now());
        writeln!(writer, "{line}")
    }
}

struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// Datagrams to the local syslog socket, one per line, with the level's priority.
#[derive(Clone)]
struct Syslog {
    socket: std::sync::Arc<std::os::unix::net::UnixDatagram>,
}

impl Syslog {
    fn connect() -> std::io::Result<Self> {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        socket.connect("/dev/log")?;
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket: std::sync::Arc::new(socket),
        })
    }
}

struct SyslogLine {
    socket: std::sync::Arc<std::os::unix::net::UnixDatagram>,
    priority: u8,
}

impl std::io::Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // facility local3 (19), like KrakenD's syslog backend; dropped when the socket is full.
        let text = String::from_utf8_lossy(buf);
        let msg = format!("<{}>krakend: {}", 19 * 8 + self.priority, text.trim_end());
        let _ = self.socket.send(msg.as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> Self::Writer {
        self.make_line(6)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        self.make_line(match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        })
    }
}

impl Syslog {
    fn make_line(&self, priority: u8) -> SyslogLine {
        SyslogLine {
            socket: self.socket.clone(),
            priority,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // 2024-02-29 13:05:09.042 UTC
    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_709_211_909_042)
    }

    fn fmt(format: LogFormat, prefix: &str) -> LineFormat {
        LineFormat {
            prefix: prefix.into(),
            format,
            syslog: false,
        }
    }

    #[test]
    fn default_layout_matches_gologging() {
        let l = fmt(LogFormat::Default, "[KRAKEND]");
        assert_eq!(
            l.render(Level::WARN, "gateway", "hello", at()),
            "[KRAKEND] 2024/02/29 - 13:05:09.042 ▶ WARN hello"
        );
        assert_eq!(
            l.render(Level::ERROR, "gateway", "x", at()),
            "[KRAKEND] 2024/02/29 - 13:05:09.042 ▶ ERRO x"
        );
    }

    #[test]
    fn logstash_is_one_json_object() {
        let l = fmt(LogFormat::Logstash, "[KRAKEND]");
        let line = l.render(Level::INFO, "gateway", "a \"quoted\" msg", at());
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["@timestamp"], "2024-02-29T13:05:09.042+00:00");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "a \"quoted\" msg");
        assert_eq!(v["module"], "KRAKEND");
        assert_eq!(v["@version"], 1);
    }

    #[test]
    fn custom_patterns_expand_verbs() {
        let l = fmt(
            LogFormat::Custom("%{time:2006-01-02 15:04:05} %{color}%{level:.4s}%{color:reset} [%{module}] %{message}".into()),
            "[GW]",
        );
        assert_eq!(
            l.render(Level::DEBUG, "gateway", "m", at()),
            "2024-02-29 13:05:09 DEBU [GW] m"
        );
    }

    #[test]
    fn access_log_keeps_the_gin_layout() {
        let l = fmt(LogFormat::Logstash, "");
        assert_eq!(
            l.render(Level::INFO, ACCESS_TARGET, "[GIN] | 200 | x", at()),
            "[GIN] 2024/02/29 - 13:05:09 | 200 | x"
        );
    }

    #[test]
    fn civil_dates_across_eras() {
        let t = CivilTime::from(UNIX_EPOCH);
        assert_eq!(
            t.layout("2006-01-02 15:04:05.000"),
            "1970-01-01 00:00:00.000"
        );
        let t = CivilTime::from(UNIX_EPOCH + Duration::from_secs(951_868_800)); // 2000-03-01
        assert_eq!(t.layout("2006/01/02"), "2000/03/01");
    }
}
