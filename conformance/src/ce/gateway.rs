//! The gateway under test as a child process: started as upstream starts it
//! (`<bin> run -d -c <config>`, cwd = the suite's working directory, the
//! whole environment plus `USAGE_DISABLE=1`), stopped on drop (SIGTERM, then
//! SIGKILL after a bound), its output kept in a log file for failure reports.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// Errors around the gateway process.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The binary could not be started.
    #[error("cannot start {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A port the gateway needs is taken.
    #[error("port {0} is already in use (another gateway or test still running?)")]
    PortBusy(SocketAddr),
    /// The log file could not be created.
    #[error("cannot create the gateway log {path}: {source}")]
    Log {
        /// The log path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The gateway exited before becoming ready.
    #[error("the gateway exited during start-up ({status}); last output:\n{log}")]
    Exited {
        /// Exit status.
        status: String,
        /// Tail of its output.
        log: String,
    },
    /// The readiness URL never answered 200.
    #[error(
        "the gateway was not ready at {url} within {timeout:?} (last: {last}); last output:\n{log}"
    )]
    NotReady {
        /// The polled URL.
        url: String,
        /// The bound.
        timeout: Duration,
        /// Last poll result.
        last: String,
        /// Tail of its output.
        log: String,
    },
}

/// How to start the gateway.
#[derive(Debug, Clone)]
pub struct GatewayCommand {
    /// The gateway binary.
    pub bin: PathBuf,
    /// The config file (`-c`), relative to `workdir` or absolute.
    pub config: PathBuf,
    /// The current directory of the process.
    pub workdir: PathBuf,
    /// Extra environment on top of the inherited one (`USAGE_DISABLE=1` is always set).
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go.
    pub log: PathBuf,
}

/// A running gateway; stopped when dropped, also on panic.
pub struct GatewayProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl GatewayProcess {
    /// Starts the gateway.
    pub fn spawn(command: &GatewayCommand) -> Result<Self, GatewayError> {
        let log = File::create(&command.log).map_err(|source| GatewayError::Log {
            path: command.log.clone(),
            source,
        })?;
        let log_err = log.try_clone().map_err(|source| GatewayError::Log {
            path: command.log.clone(),
            source,
        })?;
        let child = Command::new(&command.bin)
            .arg("run")
            .arg("-d")
            .arg("-c")
            .arg(&command.config)
            .current_dir(&command.workdir)
            .env("USAGE_DISABLE", "1")
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| GatewayError::Spawn {
                bin: command.bin.clone(),
                source,
            })?;
        Ok(Self {
            child: Some(child),
            log: command.log.clone(),
        })
    }

    /// The exit status if the process has already ended.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown: {e}")),
        }
    }

    /// The last `lines` lines of the gateway's output.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// The log file path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Polls `probe` (which returns `Ok(())` when ready, `Err(last)` otherwise)
    /// every 100 ms until ready, the process exits, or `timeout` passes.
    pub async fn wait_ready<F, Fut>(
        &mut self,
        url: &str,
        timeout: Duration,
        mut probe: F,
    ) -> Result<(), GatewayError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Err(GatewayError::Exited {
                    status,
                    log: self.log_tail(30),
                });
            }
            let last = match probe().await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(GatewayError::NotReady {
                    url: url.to_string(),
                    timeout,
                    last,
                    log: self.log_tail(30),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the process: SIGTERM, up to 5 s of grace, then SIGKILL. Idempotent.
    pub fn stop(&mut self) -> Option<String> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.to_string());
        }
        if let Some(pid) = Pid::from_raw(child.id() as i32) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status.to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok().map(|s| format!("{s} (killed after 5 s)"))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of a text file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Fails when one of `ports` cannot be bound on all interfaces right now.
pub fn ensure_ports_free(ports: &[u16]) -> Result<(), GatewayError> {
    for &port in ports {
        let addr = SocketAddr::from(([0, 0, 0, 0], port));
        TcpListener::bind(addr).map_err(|_| GatewayError::PortBusy(addr))?;
    }
    Ok(())
}
