//! The servers under load: the backend reached directly, the gateway and the peer proxies,
//! each rendered from its template in `bench/` and started pinned with one worker.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::probe;
use super::process::{Launch, Running};

/// One server a load generator can be pointed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Contender {
    /// The bench backend itself, no proxy in between: the reference.
    Direct,
    /// Cephalo (`krakend`).
    Cephalo,
    Nginx,
    Haproxy,
    Caddy,
}

impl Contender {
    pub const PROXIES: [Contender; 4] = [
        Contender::Cephalo,
        Contender::Nginx,
        Contender::Haproxy,
        Contender::Caddy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Direct => "direct",
            Contender::Cephalo => "cephalo",
            Contender::Nginx => "nginx",
            Contender::Haproxy => "haproxy",
            Contender::Caddy => "caddy",
        }
    }
}

impl std::fmt::Display for Contender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const NGINX_TEMPLATE: &str = include_str!("../../../bench/nginx.conf.tmpl");
const HAPROXY_TEMPLATE: &str = include_str!("../../../bench/haproxy.cfg.tmpl");
const CADDY_TEMPLATE: &str = include_str!("../../../bench/Caddyfile.tmpl");
const GATEWAY_TEMPLATE: &str = include_str!("../../../bench/gateway.json.tmpl");

/// Fills `{{name}}` placeholders; fails on an unknown or leftover placeholder.
pub fn render(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(start) = out.find("{{") {
        let end = out[start..].find("}}").map_or(out.len(), |e| start + e + 2);
        anyhow::bail!("template placeholder {} has no value", &out[start..end]);
    }
    Ok(out)
}

/// Where the binaries are and which CPU the servers run on.
pub struct Setup {
    /// The run's scratch directory (configs, logs).
    pub dir: PathBuf,
    pub backend_bin: PathBuf,
    pub gateway_bin: Option<PathBuf>,
    /// The CPU of every server (backend and contender share it).
    pub server_cpu: String,
}

/// A contender that answers on `port`; its process stops when this is dropped.
pub struct Server {
    pub port: u16,
    /// The process to measure (None for `direct`, whose process is the backend's).
    pub process: Option<Running>,
    /// Time from spawn to the first 200 on `/__health`.
    pub ready_after: Duration,
}

impl Setup {
    /// Starts the backend on a free port.
    pub fn start_backend(&self) -> Result<(Running, u16)> {
        let port = probe::free_port()?;
        let launch = Launch::new(
            "bench-backend",
            self.backend_bin.display().to_string(),
            &self.server_cpu,
        )
        .args(["--port", &port.to_string(), "--threads", "1"]);
        let mut running = launch.spawn(&self.dir.join("backend.log"))?;
        probe::wait_for_200(
            port,
            "/__health",
            Instant::now(),
            Duration::from_secs(10),
            || running.ensure_alive(),
        )
        .context("the bench backend did not come up")?;
        Ok((running, port))
    }

    /// The launch of a proxy contender listening on `port` in front of `backend_port`.
    pub fn launch(&self, contender: Contender, port: u16, backend_port: u16) -> Result<Launch> {
        let dir = self.dir.display().to_string();
        let (port_s, backend_s) = (port.to_string(), backend_port.to_string());
        let values = [
            ("dir", dir.as_str()),
            ("port", port_s.as_str()),
            ("backend_port", backend_s.as_str()),
        ];
        let cpu = &self.server_cpu;
        let write = |file: &str, template: &str| -> Result<PathBuf> {
            let path = self.dir.join(file);
            std::fs::write(&path, render(template, &values)?)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        };
        Ok(match contender {
            Contender::Direct => anyhow::bail!("direct is the backend: nothing to launch"),
            Contender::Cephalo => {
                let bin = self.gateway_bin.as_ref().context("no gateway binary")?;
                let config = write("gateway.json", GATEWAY_TEMPLATE)?;
                Launch::new("cephalo", bin.display().to_string(), cpu)
                    .args(["run", "-c"])
                    .args([config.display().to_string()])
                    // One worker, like every other contender (taskset alone also gives tokio 1).
                    .env("TOKIO_WORKER_THREADS", "1")
            }
            Contender::Nginx => {
                let config = write("nginx.conf", NGINX_TEMPLATE)?;
                Launch::new("nginx", "nginx", cpu)
                    .args(["-p", &dir, "-e"])
                    .args([
                        format!("{dir}/nginx-error.log"),
                        "-c".into(),
                        config.display().to_string(),
                    ])
            }
            Contender::Haproxy => {
                let config = write("haproxy.cfg", HAPROXY_TEMPLATE)?;
                Launch::new("haproxy", "haproxy", cpu)
                    .args(["-db", "-f"])
                    .args([config.display().to_string()])
            }
            Contender::Caddy => {
                let config = write("Caddyfile", CADDY_TEMPLATE)?;
                Launch::new("caddy", "caddy", cpu)
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .args([config.display().to_string()])
                    .env("GOMAXPROCS", "1")
                    .env("HOME", &dir)
                    .env("XDG_DATA_HOME", &dir)
                    .env("XDG_CONFIG_HOME", &dir)
            }
        })
    }

    /// Starts a contender and waits for its first 200 on `/__health` (at most 5 s).
    pub fn start(&self, contender: Contender, backend: (&Running, u16)) -> Result<Server> {
        if contender == Contender::Direct {
            return Ok(Server {
                port: backend.1,
                process: None,
                ready_after: Duration::ZERO,
            });
        }
        let port = probe::free_port()?;
        let launch = self.launch(contender, port, backend.1)?;
        let log = self.dir.join(format!("{}.log", contender.name()));
        let started = Instant::now();
        let mut running = launch.spawn(&log)?;
        let ready = probe::wait_for_200(port, "/__health", started, Duration::from_secs(5), || {
            running.ensure_alive()
        });
        let ready_after = match ready {
            Ok(after) => after,
            Err(error) => {
                let tail = log_tail(&log);
                anyhow::bail!("{contender} did not become healthy: {error:#}\nlog tail:\n{tail}");
            }
        };
        Ok(Server {
            port,
            process: Some(running),
            ready_after,
        })
    }
}

impl Server {
    /// The pid whose memory is measured (the backend's for `direct`).
    pub fn pid(&self, backend: &Running) -> u32 {
        self.process.as_ref().unwrap_or(backend).pid()
    }
}

/// The last lines of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: [(&str, &str); 3] = [
        ("dir", "/tmp/x"),
        ("port", "18080"),
        ("backend_port", "18000"),
    ];

    #[test]
    fn every_template_renders_completely() {
        for template in [
            NGINX_TEMPLATE,
            HAPROXY_TEMPLATE,
            CADDY_TEMPLATE,
            GATEWAY_TEMPLATE,
        ] {
            let text = render(template, &VALUES).unwrap();
            assert!(!text.contains("{{"));
            assert!(
                text.contains("18000"),
                "every contender proxies to the backend"
            );
        }
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        let error = render("listen {{port}} {{nope}}", &VALUES).unwrap_err();
        assert!(error.to_string().contains("{{nope}}"), "{error}");
    }

    #[test]
    fn nginx_keeps_upstream_connections_alive() {
        let text = render(NGINX_TEMPLATE, &VALUES).unwrap();
        for needle in [
            "keepalive 1024;",
            "proxy_http_version 1.1;",
            "proxy_set_header Connection \"\";",
            "worker_processes 1;",
        ] {
            assert!(text.contains(needle), "nginx.conf lacks {needle}");
        }
    }

    #[test]
    fn gateway_config_is_valid_json_with_the_three_scenarios() {
        let text = render(GATEWAY_TEMPLATE, &VALUES).unwrap();
        let config: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(config["port"], 18080);
        let endpoints: Vec<&str> = config["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["endpoint"].as_str().unwrap())
            .collect();
        assert_eq!(endpoints, ["/noop", "/json", "/aggregate"]);
        let aggregate = &config["endpoints"][2];
        assert_eq!(aggregate["timeout"], "500ms");
        assert_eq!(aggregate["backend"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn peers_listen_on_loopback_only() {
        assert!(render(NGINX_TEMPLATE, &VALUES)
            .unwrap()
            .contains("listen 127.0.0.1:18080;"));
        assert!(render(HAPROXY_TEMPLATE, &VALUES)
            .unwrap()
            .contains("bind 127.0.0.1:18080"));
        assert!(render(CADDY_TEMPLATE, &VALUES)
            .unwrap()
            .contains("bind 127.0.0.1"));
    }
}
