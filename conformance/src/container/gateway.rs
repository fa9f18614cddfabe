//! The gateway in its container: the Docker Hub quick start, `check -t`, a bad config, and
//! `docker stop` with a request in flight. Traffic goes to 127.0.0.1 only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::engine::{Engine, Running};
use super::{ContainerError, Harness, Target, Verdict};

const READY_LIMIT: Duration = Duration::from_secs(20);
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// `docker stop` must return within this, the in-flight request included.
const STOP_LIMIT: Duration = Duration::from_secs(2);
/// How long the slow backend holds the in-flight request.
const BACKEND_DELAY: Duration = Duration::from_millis(1000);

/// Runs the gateway checks against `target`.
pub async fn checks(harness: &mut Harness, target: &Target) {
    let engine = harness.engine.clone();
    let arch = target.arch.name();

    let (health, pid1) = match quick_start(&engine, target).await {
        Ok(pair) => pair,
        Err(e) => (
            Err(e),
            Ok(Verdict::Fail(
                "the quick-start container did not run".into(),
            )),
        ),
    };
    harness
        .check("gateway", "Hub quick start: /__health", arch, async {
            health
        })
        .await;
    harness
        .check("gateway", "PID 1 is the gateway as krakend", arch, async {
            pid1
        })
        .await;
    harness
        .check(
            "gateway",
            "check -t -c krakend.json exits 0",
            arch,
            check_config(&engine, target),
        )
        .await;
    harness
        .check(
            "gateway",
            "invalid config: non-zero exit, clear message",
            arch,
            invalid_config(&engine, target),
        )
        .await;
    harness
        .check(
            "gateway",
            "docker stop < 2 s, exit 0, in-flight request completes",
            arch,
            graceful_stop(&engine, target),
        )
        .await;
}

type Checked = Result<Verdict, ContainerError>;

/// `docker run -p 127.0.0.1::8080 -v DIR:/etc/krakend/ IMAGE` with `{ "version": 3 }`.
async fn quick_start(
    engine: &Engine,
    target: &Target,
) -> Result<(Checked, Checked), ContainerError> {
    let dir = ConfigDir::new(engine, "quickstart", "{ \"version\": 3 }\n")?;
    let mut spec = target.spec();
    spec.binds = vec![format!("{}:/etc/krakend/:ro", dir.path.display())];
    spec.publish = vec![8080];
    let running = engine.start(&spec).await?;
    let result = async {
        let port = running.host_port(8080).await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let (status, content_type, body) =
            match wait_health(&running, addr, target.limit(READY_LIMIT)).await? {
                Ok(answer) => answer,
                Err(why) => {
                    let pid1 = Verdict::Fail("the gateway did not stay up to be observed".into());
                    return Ok::<_, ContainerError>((Ok(Verdict::Fail(why)), Ok(pid1)));
                }
            };
        let health = health_rule(status, &content_type, &body);
        let pid1 = pid1_rule(
            &running
                .exec(&["cat", "/proc/1/cmdline"], Some("0:0"))
                .await?
                .stdout,
            &running
                .exec(&["cat", "/proc/1/status"], Some("0:0"))
                .await?
                .stdout_text(),
        );
        Ok((Ok(health), Ok(pid1)))
    }
    .await;
    let logs = running.logs().await.ok();
    running.remove().await?;
    match result {
        Ok((Ok(Verdict::Fail(why)), pid1)) => Ok((Ok(Verdict::Fail(with_logs(why, logs))), pid1)),
        other => other,
    }
}

/// `/__health` answers 200 with `{"agents":{},"now":"...","status":"ok"}`.
fn health_rule(status: u16, content_type: &str, body: &[u8]) -> Verdict {
    let mut problems = Vec::new();
    if status != 200 {
        problems.push(format!("status {status}"));
    }
    if !content_type.starts_with("application/json") {
        problems.push(format!("Content-Type {content_type:?}"));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            if keys != ["agents", "now", "status"] {
                problems.push(format!("keys {keys:?}, expected [agents, now, status]"));
            }
            if map.get("agents") != Some(&serde_json::json!({})) {
                problems.push(format!("agents is {:?}", map.get("agents")));
            }
            let now = map.get("now").and_then(|v| v.as_str()).unwrap_or("");
            if now.is_empty() {
                problems.push(format!("now is {:?}", map.get("now")));
            }
            if map.get("status") != Some(&serde_json::json!("ok")) {
                problems.push(format!("status is {:?}", map.get("status")));
            }
        }
        _ => problems.push(format!(
            "body is not a JSON object: {:?}",
            String::from_utf8_lossy(body)
        )),
    }
    Verdict::from_problems(problems, String::from_utf8_lossy(body).into_owned())
}

/// PID 1 is `krakend run -c krakend.json` running as 1000:65533.
fn pid1_rule(cmdline: &[u8], status: &str) -> Verdict {
    let args = super::entrypoint::split_nul(cmdline);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    if args != ["krakend", "run", "-c", "krakend.json"] {
        problems.push(format!("PID 1 is {args:?}"));
    }
    if field("Uid:") != "1000 1000 1000 1000" || field("Gid:") != "65533 65533 65533 65533" {
        problems.push(format!("Uid {:?} Gid {:?}", field("Uid:"), field("Gid:")));
    }
    if field("Groups:") != "65533" {
        problems.push(format!("Groups {:?}", field("Groups:")));
    }
    Verdict::from_problems(problems, args.join(" "))
}

async fn check_config(engine: &Engine, target: &Target) -> Checked {
    let spec = target.spec().args(&["check", "-t", "-c", "krakend.json"]);
    let out = engine.run(&spec, target.limit(RUN_LIMIT)).await?;
    if out.exit_code == 0 {
        Ok(Verdict::Pass(first_line(&out.stdout_text())))
    } else {
        Ok(Verdict::Fail(format!(
            "exit {}: {}{}",
            out.exit_code,
            out.stdout_text(),
            out.stderr_text()
        )))
    }
}

async fn invalid_config(engine: &Engine, target: &Target) -> Checked {
    let dir = ConfigDir::new(engine, "invalid", "{ \"version\": 3, \"endpoints\": [ }\n")?;
    let mut spec = target.spec();
    spec.binds = vec![format!("{}:/etc/krakend/:ro", dir.path.display())];
    let out = engine.run(&spec, target.limit(RUN_LIMIT)).await?;
    let message = format!("{}{}", out.stderr_text(), out.stdout_text());
    Ok(invalid_config_rule(out.exit_code, &message))
}

/// A bad config must end the container with a non-zero code and a message that says
/// which file and what is wrong.
fn invalid_config_rule(exit_code: i64, message: &str) -> Verdict {
    let lower = message.to_lowercase();
    let names_file = lower.contains("krakend.json");
    let says_what = [
        "syntax",
        "parse",
        "invalid",
        "expected",
        "unexpected",
        "line",
        "column",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let mut problems = Vec::new();
    if exit_code == 0 {
        problems.push("exited 0".to_string());
    }
    if !names_file || !says_what {
        problems.push(format!(
            "message does not name the file and the error: {:?}",
            message.trim()
        ));
    }
    Verdict::from_problems(
        problems,
        format!("exit {exit_code}: {}", first_line(message)),
    )
}

/// Host network, a slow loopback backend, one request in flight, then `docker stop`.
async fn graceful_stop(engine: &Engine, target: &Target) -> Checked {
    let backend = SlowBackend::start().await?;
    let port = free_port()?;
    let config = serde_json::json!({
        "version": 3,
        "port": port,
        "timeout": "5s",
        "endpoints": [{
            "endpoint": "/slow",
            "backend": [{ "host": [format!("http://{}", backend.addr)], "url_pattern": "/slow" }]
        }]
    });
    let dir = ConfigDir::new(engine, "stop", &format!("{config:#}\n"))?;
    let mut spec = target.spec();
    spec.binds = vec![format!("{}:/etc/krakend/:ro", dir.path.display())];
    spec.host_network = true;
    let running = engine.start(&spec).await?;
    let result = stop_while_busy(&running, &backend, port, target).await;
    let logs = running.logs().await.ok();
    running.remove().await?;
    match result? {
        Verdict::Fail(why) => Ok(Verdict::Fail(with_logs(why, logs))),
        other => Ok(other),
    }
}

async fn stop_while_busy(
    running: &Running,
    backend: &SlowBackend,
    port: u16,
    target: &Target,
) -> Checked {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if let Err(why) = wait_health(running, addr, target.limit(READY_LIMIT)).await? {
        return Ok(Verdict::Fail(why));
    }
    let request = tokio::spawn(http_get(addr, "/slow", Duration::from_secs(15)));
    if tokio::time::timeout(Duration::from_secs(5), backend.arrived.notified())
        .await
        .is_err()
    {
        return Ok(Verdict::Fail(
            "the request never reached the backend through the gateway".into(),
        ));
    }
    let started = Instant::now();
    running.stop(10).await?;
    let took = started.elapsed();
    let exit = running.wait_exit(Duration::from_secs(15)).await?;
    let response = request
        .await
        .map_err(|e| ContainerError::Io(e.to_string()))?;
    let mut problems = Vec::new();
    if took > STOP_LIMIT {
        problems.push(format!("docker stop took {:.2} s", took.as_secs_f64()));
    }
    if exit != 0 {
        problems.push(format!("exit code {exit}"));
    }
    match response {
        Ok((200, _, _)) => {}
        Ok((status, _, body)) => problems.push(format!(
            "in-flight request got {status}: {:?}",
            String::from_utf8_lossy(&body)
        )),
        Err(e) => problems.push(format!("in-flight request failed: {e}")),
    }
    Ok(Verdict::from_problems(
        problems,
        format!("docker stop took {:.2} s", took.as_secs_f64()),
    ))
}

/// Polls `/__health` until it answers 200 (or the container dies, or `limit` passes).
pub(super) async fn wait_health(
    running: &Running,
    addr: SocketAddr,
    limit: Duration,
) -> Result<Result<(u16, String, Vec<u8>), String>, ContainerError> {
    let deadline = Instant::now() + limit;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        match http_get(addr, "/__health", Duration::from_secs(2)).await {
            Ok(answer) if answer.0 == 200 => return Ok(Ok(answer)),
            Ok((status, _, _)) => last = format!("status {status}"),
            Err(e) => last = e,
        }
        if !running.is_running().await? {
            return Ok(Err(format!(
                "the container exited before /__health answered ({last})"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Err(format!(
        "/__health on {addr} not 200 within {limit:?} ({last})"
    )))
}

/// `GET path` over HTTP/1.1 to a loopback address: (status, content type, body).
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    limit: Duration,
) -> Result<(u16, String, Vec<u8>), String> {
    assert!(addr.ip().is_loopback(), "tests only talk to loopback");
    let exchange = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = Request::get(path)
            .header("Host", format!("localhost:{}", addr.port()))
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, content_type, body.to_vec()))
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

/// A loopback backend that holds every request for [`BACKEND_DELAY`] and tells when one
/// arrived.
struct SlowBackend {
    addr: SocketAddr,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowBackend {
    async fn start() -> Result<SlowBackend, ContainerError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| ContainerError::Io(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ContainerError::Io(e.to_string()))?;
        let arrived = Arc::new(Notify::new());
        let notify = arrived.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let notify = notify.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                            let notify = notify.clone();
                            async move {
                                notify.notify_one();
                                tokio::time::sleep(BACKEND_DELAY).await;
                                Ok::<_, std::convert::Infallible>(
                                    Response::builder()
                                        .header("Content-Type", "application/json")
                                        .body(Full::new(Bytes::from_static(b"{\"slow\":true}")))
                                        .expect("static response"),
                                )
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(SlowBackend {
            addr,
            arrived,
            task,
        })
    }
}

impl Drop for SlowBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A throw-away directory of config files, readable by the container's krakend user.
pub(super) struct ConfigDir {
    pub(super) path: PathBuf,
}

impl ConfigDir {
    /// A directory holding only `krakend.json`.
    fn new(engine: &Engine, name: &str, contents: &str) -> Result<ConfigDir, ContainerError> {
        ConfigDir::tree(engine, name, &[("krakend.json", contents)])
    }

    /// A directory holding `files` (`relative/path`, contents), sub-directories made as
    /// needed; directories 0755, files 0644.
    pub(super) fn tree(
        engine: &Engine,
        name: &str,
        files: &[(&str, &str)],
    ) -> Result<ConfigDir, ContainerError> {
        use std::os::unix::fs::PermissionsExt;
        let path =
            std::env::temp_dir().join(format!("cephalo-conformance-{}-{name}", engine.run_id()));
        let dir = ConfigDir { path };
        let io = |p: &Path, e: std::io::Error| ContainerError::Io(format!("{}: {e}", p.display()));
        let open = |p: &Path| {
            std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| io(p, e))
        };
        open(&dir.path)?;
        for (relative, contents) in files {
            let file = dir.path.join(relative);
            let mut parent = file.parent();
            let mut missing = Vec::new();
            while let Some(p) = parent.filter(|p| !p.exists()) {
                missing.push(p.to_path_buf());
                parent = p.parent();
            }
            for p in missing.iter().rev() {
                open(p)?;
            }
            std::fs::write(&file, contents).map_err(|e| io(&file, e))?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| io(&file, e))?;
        }
        Ok(dir)
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Path::new(&self.path));
    }
}

/// A free TCP port on 127.0.0.1 (for a host-network gateway).
pub fn free_port() -> Result<u16, ContainerError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| ContainerError::Io(e.to_string()))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| ContainerError::Io(e.to_string()))
}

pub(super) fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

pub(super) fn with_logs(why: String, logs: Option<super::engine::RunOutput>) -> String {
    match logs {
        Some(logs) => {
            let text = format!("{}{}", logs.stdout_text(), logs.stderr_text());
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("{why}\ncontainer log tail:\n{}", tail.join("\n"))
        }
        None => why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_needs_the_documented_shape() {
        let ok = br#"{"agents":{},"now":"2026-11-24 10:00:00.1 +0000 UTC m=+1.0","status":"ok"}"#;
        assert!(matches!(
            health_rule(200, "application/json; charset=utf-8", ok),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            health_rule(500, "application/json", ok),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            health_rule(200, "text/plain", ok),
            Verdict::Fail(_)
        ));
        let extra = br#"{"agents":{},"now":"x","status":"ok","v":1}"#;
        assert!(matches!(
            health_rule(200, "application/json", extra),
            Verdict::Fail(_)
        ));
        let bad = br#"{"agents":{},"now":"","status":"ok"}"#;
        assert!(matches!(
            health_rule(200, "application/json", bad),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn pid1_must_be_the_gateway_as_krakend() {
        let status =
            "Uid:\t1000\t1000\t1000\t1000\nGid:\t65533\t65533\t65533\t65533\nGroups:\t65533 \n";
        assert!(matches!(
            pid1_rule(b"krakend\0run\0-c\0krakend.json\0", status),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            pid1_rule(b"/bin/sh\0/usr/bin/krakend\0", status),
            Verdict::Fail(_)
        ));
        let root = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n";
        assert!(matches!(
            pid1_rule(b"krakend\0run\0-c\0krakend.json\0", root),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn invalid_config_needs_non_zero_and_a_message_naming_file_and_error() {
        let msg =
            "ERROR parsing the configuration file: krakend.json: syntax error at line 1, column 32";
        assert!(matches!(invalid_config_rule(1, msg), Verdict::Pass(_)));
        assert!(matches!(invalid_config_rule(0, msg), Verdict::Fail(_)));
        assert!(matches!(invalid_config_rule(1, "panic"), Verdict::Fail(_)));
    }
}
