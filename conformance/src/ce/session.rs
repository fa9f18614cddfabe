//! One suite run end to end, as upstream's runner does it: take the ports
//! lock, start the gateway (or use a running one), start the mock backend,
//! wait for readiness, run the cases, stop everything (also on panic).

use std::path::PathBuf;
use std::time::Duration;

use super::client;
use super::gateway::{self, GatewayCommand, GatewayError, GatewayProcess};
use super::lock::{PortsLock, LOCK_PATH};
use super::mock::{MockBackend, MockConfig, MockError};
use super::runner::{self, CaseResult, Report, RunOptions};
use super::spec::{SpecRequest, Suite};

/// Which gateway the cases talk to.
#[derive(Debug, Clone)]
pub enum GatewayTarget {
    /// Start this binary with the suite's config and stop it afterwards.
    Spawn {
        /// The gateway binary.
        bin: PathBuf,
        /// Extra environment variables.
        env: Vec<(String, String)>,
    },
    /// Use a gateway that is already running (e.g. in a container). Requests
    /// keep their URLs and `Host` (`localhost:8080`) but connect to this base URL.
    Existing {
        /// E.g. `http://127.0.0.1:18080`.
        base_url: String,
    },
}

/// How to run a suite.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The gateway.
    pub gateway: GatewayTarget,
    /// The mock backend to start, if any.
    pub mock: Option<MockConfig>,
    /// Polled until it answers 200. `None`: derived from the suite's config
    /// (its `port` and `router.health_path`; with `router.disable_health`, any
    /// HTTP answer on `/` counts), on 127.0.0.1 or the existing gateway's base URL.
    pub ready_url: Option<String>,
    /// Bound on start-up.
    pub ready_timeout: Duration,
    /// The ports lock to hold for the run (`None` to not lock).
    pub lock: Option<PathBuf>,
    /// Ports that must be free before spawning (the fixture's 8080 and 8090).
    pub gateway_ports: Vec<u16>,
    /// Where the gateway's output is written.
    pub log_dir: PathBuf,
}

impl SessionOptions {
    /// Spawn `bin`, mock on 127.0.0.1:8081, upstream ports, the shared lock.
    pub fn spawn(bin: impl Into<PathBuf>) -> Self {
        Self {
            gateway: GatewayTarget::Spawn {
                bin: bin.into(),
                env: Vec::new(),
            },
            mock: Some(MockConfig::new(([127, 0, 0, 1], 8081).into())),
            ready_url: None,
            ready_timeout: Duration::from_secs(30),
            lock: Some(PathBuf::from(LOCK_PATH)),
            gateway_ports: vec![8080, 8090],
            log_dir: std::env::temp_dir(),
        }
    }

    /// Talk to a running gateway at `base_url`; mock on 127.0.0.1:8081, the shared lock.
    pub fn existing(base_url: impl Into<String>) -> Self {
        let base_url = base_url.into();
        let base = base_url.trim_end_matches('/').to_string();
        Self {
            gateway: GatewayTarget::Existing { base_url: base },
            gateway_ports: Vec::new(),
            ..Self::spawn(PathBuf::new())
        }
    }
}

/// Why a suite could not run (case failures are not errors: see [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The lock file could not be taken.
    #[error("cannot take the ports lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The mock backend did not start.
    #[error(transparent)]
    Mock(#[from] MockError),
    /// The gateway did not start or become ready.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The base URL of an existing gateway is not usable.
    #[error("invalid gateway base URL {0:?}")]
    BaseUrl(String),
}

/// Runs `suite` and returns its report; `on_result` sees each case as it ends,
/// `progress` receives human progress messages (for stderr).
pub async fn run_suite(
    suite: &Suite,
    session: &SessionOptions,
    run: &RunOptions,
    mut on_result: impl FnMut(&CaseResult),
    mut progress: impl FnMut(&str),
) -> Result<Report, SessionError> {
    let _lock = match &session.lock {
        Some(path) => Some(
            PortsLock::acquire(path, || {
                progress(&format!("waiting for the ports lock {}", path.display()))
            })
            .map_err(|source| SessionError::Lock {
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };

    let mut run = run.clone();
    let mut gateway = match &session.gateway {
        GatewayTarget::Spawn { bin, env } => {
            gateway::ensure_ports_free(&session.gateway_ports)?;
            let log = session.log_dir.join(format!(
                "cephalo-ce-{}-{}.log",
                suite.name,
                std::process::id()
            ));
            progress(&format!(
                "starting {} run -d -c {} (cwd {}), log {}",
                bin.display(),
                suite.config_arg().display(),
                suite.workdir.display(),
                log.display()
            ));
            Some(GatewayProcess::spawn(&GatewayCommand {
                bin: bin.clone(),
                config: suite.config_arg(),
                workdir: suite.workdir.clone(),
                env: env.clone(),
                log,
            })?)
        }
        GatewayTarget::Existing { base_url } => {
            let url =
                url::Url::parse(base_url).map_err(|_| SessionError::BaseUrl(base_url.clone()))?;
            let host = url
                .host_str()
                .ok_or_else(|| SessionError::BaseUrl(base_url.clone()))?;
            let port = url.port_or_known_default().unwrap_or(80);
            run.client.connect_to = Some(format!("{host}:{port}"));
            progress(&format!("using the running gateway at {base_url}"));
            None
        }
    };

    let mock = match &session.mock {
        Some(config) => {
            let mock = MockBackend::start(config.clone()).await?;
            progress(&format!("mock backend listening on {}", mock.addr()));
            Some(mock)
        }
        None => None,
    };

    let probe_client = client::ClientOptions {
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let (ready_url, any_status) = match (&session.ready_url, &session.gateway) {
        (Some(url), _) => (url.clone(), false),
        (None, GatewayTarget::Existing { base_url }) => {
            let probe = suite.readiness_probe();
            (format!("{base_url}{}", probe.path), probe.any_status)
        }
        (None, GatewayTarget::Spawn { .. }) => {
            let probe = suite.readiness_probe();
            let url = format!("http://127.0.0.1:{}{}", probe.port, probe.path);
            (url, probe.any_status)
        }
    };
    let probe = || {
        let request = SpecRequest {
            url: ready_url.clone(),
            ..Default::default()
        };
        let probe_client = probe_client.clone();
        async move {
            match client::send(&request, &probe_client).await {
                Ok(r) if r.status == 200 || any_status => Ok(()),
                Ok(r) => Err(format!("status {}", r.status)),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    progress(&format!("waiting for {ready_url}"));
    match gateway.as_mut() {
        Some(process) => {
            process
                .wait_ready(&ready_url, session.ready_timeout, probe)
                .await?
        }
        None => wait_ready_existing(&ready_url, session.ready_timeout, probe).await?,
    }
    progress(&format!(
        "gateway ready; running {} of the {} cases of {}",
        suite.cases.iter().filter(|c| run.selects(&c.name)).count(),
        suite.cases.len(),
        suite.specs_dir.display()
    ));

    let report = runner::run_cases(&suite.cases, &run, &mut on_result).await;
    if let Some(mut process) = gateway.take() {
        if let Some(status) = process.stop() {
            progress(&format!("gateway stopped: {status}"));
        }
    }
    // Free the fixed mock port before the next suite binds it.
    if let Some(mock) = mock {
        mock.shutdown().await;
    }
    Ok(report)
}

async fn wait_ready_existing<F, Fut>(
    url: &str,
    timeout: Duration,
    mut probe: F,
) -> Result<(), GatewayError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(()) => return Ok(()),
            Err(last) if std::time::Instant::now() >= deadline => {
                return Err(GatewayError::NotReady {
                    url: url.into(),
                    timeout,
                    last,
                    log: String::new(),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
