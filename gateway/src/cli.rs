//! The command line: the same commands, flags and exit codes as KrakenD's
//! (0 ok, 1 invalid config or failed check, 2 usage error).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::Gateway;
use crate::config::{self, ServiceConfig};
use crate::server::{self, ServerSettings};

/// Cephalo: a KrakenD-compatible API gateway.
#[derive(Debug, Parser)]
#[command(name = "krakend", version = VERSION_LINE, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway with a configuration file.
    Run(RunArgs),
    /// Validate a configuration file.
    #[command(visible_alias = "validate")]
    Check(CheckArgs),
    /// Print the version, the KrakenD version matched and the Rust version.
    Version,
    /// Check Go plugin compatibility (not supported: Cephalo cannot load Go plugins).
    CheckPlugin(PluginArgs),
    /// Test Go plugins (not supported: Cephalo cannot load Go plugins).
    TestPlugin(PluginArgs),
    /// Audit a configuration for security-relevant settings.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Path to the configuration file (JSON, YAML or TOML by extension).
    #[arg(short = 'c', long = "config")]
    config: PathBuf,
    /// Enable the debug endpoint `/__debug/*`.
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    /// Listen on this port instead of the configured one.
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// Rebuild the router when the config file (or its Flexible Configuration files)
    /// changes, and swap it in without dropping requests; a broken change keeps the running
    /// router (not KrakenD CE behaviour).
    #[arg(long = "watch")]
    watch: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Path to the configuration file.
    #[arg(short = 'c', long = "config")]
    config: PathBuf,
    /// Print the parsed configuration.
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    /// Build the real router and report route conflicts.
    #[arg(short = 't', long = "test-gin-routes")]
    test_routes: bool,
    /// Indent the printed configuration (with -d).
    #[arg(short = 'i', long = "indent")]
    indent: bool,
    /// Lint the configuration against the built-in schema rules (offline), and list ignored
    /// namespaces and unknown keys.
    #[arg(short = 'l', long = "lint", conflicts_with_all = ["lint_schema", "lint_no_network"])]
    lint: bool,
    /// Lint against a local JSON schema file instead of the built-in rules.
    #[arg(
        short = 's',
        long = "lint-schema",
        value_name = "PATH",
        conflicts_with = "lint_no_network"
    )]
    lint_schema: Option<PathBuf>,
    /// Lint with the schema embedded in the binary (the lint never uses the network).
    #[arg(short = 'n', long = "lint-no-network")]
    lint_no_network: bool,
}

#[derive(Debug, Args)]
struct PluginArgs {
    /// Anything KrakenD's plugin commands accept.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Path to the configuration file.
    #[arg(short = 'c', long = "config")]
    config: PathBuf,
    /// Comma-separated rule ids to ignore.
    #[arg(short = 'i', long = "ignore", value_delimiter = ',')]
    ignore: Vec<String>,
    /// Comma-separated severities to report (CRITICAL, HIGH, MEDIUM, LOW).
    #[arg(
        short = 's',
        long = "severity",
        value_delimiter = ',',
        default_value = "CRITICAL,HIGH,MEDIUM,LOW"
    )]
    severity: Vec<crate::audit::Severity>,
    /// Go template for the report, over `.Recommendations` (`.Rule`, `.Severity`, `.Message`).
    #[arg(short = 'f', long = "format", default_value = crate::audit::DEFAULT_FORMAT)]
    format: String,
    /// Exit with status 1 when a reported finding is at or above this severity.
    #[arg(long = "fail-on", value_name = "SEVERITY")]
    fail_on: Option<crate::audit::Severity>,
}

const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (KrakenD-compatible 2.13.8; ",
    env!("CEPHALO_RUSTC_VERSION"),
    ")"
);

/// Parses arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Run(a) => run(a),
        Command::Check(a) => check(a),
        Command::Version => {
            println!("Cephalo {}", crate::VERSION);
            println!("KrakenD-compatible {}", crate::COMPAT_VERSION);
            println!("{}", crate::RUSTC_VERSION);
            ExitCode::SUCCESS
        }
        Command::CheckPlugin(_) | Command::TestPlugin(_) => {
            eprintln!(
                "Cephalo cannot load KrakenD Go plugins (.so files built with Go's plugin package): \
                 they need the Go runtime of the exact KrakenD build. Port plugin logic to a backend \
                 service or to a Cephalo feature instead."
            );
            ExitCode::from(1)
        }
        Command::Audit(a) => audit(a),
    }
}

fn load(path: &Path) -> Result<ServiceConfig, ExitCode> {
    config::load(path).map_err(|e| {
        eprintln!("ERROR: {e}");
        ExitCode::from(1)
    })
}

fn run(args: RunArgs) -> ExitCode {
    let mut cfg = match load(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let file_port = cfg.port;
    if let Some(p) = args.port {
        cfg.port = p;
    }
    let _log_guard = crate::logging::init(cfg.logging.as_ref(), cfg.router.access_log);
    for (path, ns) in &cfg.ignored_namespaces {
        if is_security_namespace(ns) {
            // Ignoring these changes who may call the endpoint: say so loudly.
            tracing::warn!("{path}: security namespace {ns:?} is not implemented by Cephalo and is NOT enforced");
        } else {
            tracing::debug!("{path}: namespace {ns:?} is not implemented by Cephalo; ignored");
        }
    }
    let runtime = match crate::runtime::build(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ERROR: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let registry = cfg.metrics.as_ref().map(|m| {
            Arc::new(crate::metrics::Registry::new(crate::metrics::Layers {
                router: !m.router_disabled,
                proxy: !m.proxy_disabled,
                backend: !m.backend_disabled,
            }))
        });
        if let (Some(m), Some(r)) = (&cfg.metrics, &registry) {
            if let Err(e) = start_metrics(m, r).await {
                eprintln!("ERROR: {}: {e}", cfg.file.display());
                return ExitCode::from(1);
            }
        }
        let gateway = match Gateway::build_metered(&cfg, args.debug, registry.as_deref()) {
            Ok(g) => Arc::new(arc_swap::ArcSwap::from_pointee(g)),
            Err(conflicts) => {
                for c in conflicts {
                    eprintln!("ERROR: {}: {c}", cfg.file.display());
                }
                return ExitCode::from(1);
            }
        };
        let tls = match cfg.tls.as_ref().map(crate::tls::acceptor).transpose() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ERROR: {}: {e}", cfg.file.display());
                return ExitCode::from(1);
            }
        };
        if args.watch {
            let debug = args.debug;
            let registry = registry.clone();
            let build = move |cfg: &ServiceConfig| {
                let fresh = registry.as_ref().map(|r| r.fresh());
                let gateway = Gateway::build_metered(cfg, debug, fresh.as_ref())?;
                if let (Some(r), Some(f)) = (&registry, fresh) {
                    r.adopt(f);
                }
                Ok(gateway)
            };
            tokio::spawn(crate::watch::watch(
                args.config.clone(),
                gateway.clone(),
                file_port,
                Box::new(build),
            ));
        }
        let addr = server::bind_address(cfg.listen_ip, cfg.port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) if cfg.listen_ip.is_none() => {
                match tokio::net::TcpListener::bind(("0.0.0.0", cfg.port)).await {
                    Ok(l) => l,
                    Err(_) => {
                        eprintln!("ERROR: cannot listen on port {}: {e}", cfg.port);
                        return ExitCode::from(1);
                    }
                }
            }
            Err(e) => {
                eprintln!("ERROR: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        tracing::info!(
            "Cephalo {} (KrakenD-compatible {}) listening on {}, {} endpoints",
            crate::VERSION,
            crate::COMPAT_VERSION,
            listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            cfg.endpoints.len()
        );
        let settings = ServerSettings {
            read_header_timeout: cfg.read_header_timeout,
            read_timeout: cfg.read_timeout,
            idle_timeout: cfg.idle_timeout,
            max_header_bytes: cfg.max_header_bytes,
            h2c: cfg.use_h2c || cfg.router.use_h2c,
            shutdown_grace: shutdown_grace(&cfg),
            write_timeout: cfg.write_timeout,
            tls,
        };
        match server::serve(gateway, listener, settings, server::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ERROR: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// Starts the configured metrics listeners.
async fn start_metrics(
    m: &crate::config::namespaces::metrics::MetricsOptions,
    registry: &Arc<crate::metrics::Registry>,
) -> Result<(), String> {
    use crate::metrics::server;
    let mut addrs = Vec::new();
    if let Some(a) = &m.stats_address {
        addrs.push(
            server::parse_listen(a)
                .ok_or_else(|| format!("telemetry/metrics: bad listen_address {a:?}"))?,
        );
    }
    for (ip, port) in &m.prometheus {
        let a = format!("{}:{port}", ip.as_deref().unwrap_or("0.0.0.0"));
        addrs.push(
            a.parse()
                .map_err(|_| format!("telemetry/opentelemetry: bad prometheus address {a:?}"))?,
        );
    }
    addrs.dedup();
    if let Some(every) = m.collection_time {
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                registry.handlers().aggregate();
            }
        });
    }
    for a in addrs {
        server::serve(a, registry.clone())
            .await
            .map_err(|e| format!("cannot serve metrics on {a}: {e}"))?;
    }
    Ok(())
}

/// In-flight requests get the longest endpoint timeout, at least 10 s, to finish.
fn shutdown_grace(cfg: &ServiceConfig) -> Duration {
    cfg.endpoints
        .iter()
        .map(|e| e.timeout)
        .max()
        .unwrap_or_default()
        .max(Duration::from_secs(10))
}

fn check(args: CheckArgs) -> ExitCode {
    println!("Parsing configuration file: {}", args.config.display());
    let cfg = match load(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if args.debug {
        print_summary(&cfg, args.indent);
    }
    if args.lint || args.lint_no_network || args.lint_schema.is_some() {
        let schema_text = match &args.lint_schema {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("ERROR: cannot read the schema {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            },
            None => crate::lint::BUILTIN_RULES.to_string(),
        };
        let schema: serde_json::Value = match serde_json::from_str(&schema_text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ERROR: the schema is not valid JSON: {e}");
                return ExitCode::from(1);
            }
        };
        let tree = match config::load_tree(&args.config) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return ExitCode::from(1);
            }
        };
        let violations = crate::lint::validate(&schema, &tree);
        for v in &violations {
            eprintln!("Lint error: {}: {}", v.path, v.message);
        }
        if !violations.is_empty() {
            eprintln!(
                "ERROR: {}: {} schema violation{}",
                args.config.display(),
                violations.len(),
                if violations.len() == 1 { "" } else { "s" }
            );
            return ExitCode::from(1);
        }
        println!("Lint: the configuration follows the schema rules.");
        for key in &cfg.unknown_keys {
            println!("Lint: {key}: unknown key (ignored; a typo?)");
        }
        if cfg.ignored_namespaces.is_empty() {
            println!("Lint: every extra_config namespace is implemented.");
        } else {
            println!("Lint: namespaces Cephalo does not implement (ignored at run time):");
            for (path, ns) in &cfg.ignored_namespaces {
                println!("  - {path}: {ns}");
            }
        }
    }
    if args.test_routes {
        match Gateway::build(&cfg, args.debug) {
            Ok(g) => {
                if args.debug {
                    for (m, p) in g.routes() {
                        println!("  {m:<7} {p}");
                    }
                }
                println!("Routes OK!");
            }
            Err(conflicts) => {
                for c in conflicts {
                    eprintln!("ERROR: {}: {c}", args.config.display());
                }
                return ExitCode::from(1);
            }
        }
    }
    println!("Syntax OK!");
    ExitCode::SUCCESS
}

fn print_summary(cfg: &ServiceConfig, indent: bool) {
    let pad = if indent { "    " } else { "  " };
    println!(
        "Service: {:?}, port {}, timeout {:?}, cache_ttl {:?}",
        cfg.name, cfg.port, cfg.timeout, cfg.cache_ttl
    );
    println!("Endpoints: {}", cfg.endpoints.len());
    for e in &cfg.endpoints {
        println!(
            "{pad}{} {} (timeout {:?}, output {:?})",
            e.method, e.endpoint, e.timeout, e.output_encoding
        );
        for b in &e.backends {
            println!(
                "{pad}{pad}{} {}{} ({:?})",
                b.method,
                b.hosts.join(","),
                b.url_pattern_raw,
                b.encoding
            );
        }
    }
}

fn audit(args: AuditArgs) -> ExitCode {
    let (cfg, tree) = match config::load_tree(&args.config)
        .and_then(|t| config::from_tree(&t, &args.config).map(|c| (c, t)))
    {
        Ok(ct) => ct,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return ExitCode::from(1);
        }
    };
    let mut findings = crate::audit::run(&cfg, &tree, is_security_namespace);
    findings.retain(|f| {
        !args.ignore.iter().any(|i| i == f.rule) && args.severity.contains(&f.severity)
    });
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(b.rule)));
    match crate::audit::render(&findings, &args.format) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("ERROR: --format: {e}");
            return ExitCode::from(2);
        }
    }
    match args.fail_on {
        Some(level) if findings.iter().any(|f| f.severity >= level) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// Namespaces whose absence weakens access control or input validation.
fn is_security_namespace(ns: &str) -> bool {
    ["auth/", "security/", "validation/", "qos/ratelimit"]
        .iter()
        .any(|p| ns.starts_with(p))
}
