//! Log setup: level from `telemetry/logging` (quiet, `warn`, without it), `CEPHALO_LOG`
//! overrides with a tracing filter directive.

use tracing_subscriber::EnvFilter;

use crate::config::namespaces::logging::LoggingOptions;

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(options: Option<&LoggingOptions>) {
    let level = options.map_or("warn", |o| o.level.as_str());
    let filter = std::env::var("CEPHALO_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{level},hyper=warn,h2=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false);
    let result = if options.is_some_and(|o| o.stdout) {
        builder.with_writer(std::io::stdout).try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
    let _ = result;
}
