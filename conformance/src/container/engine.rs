//! The Docker engine as the checks use it: run a container to completion, start one in the
//! background, exec in it, build a derived image, save an image. Every container and image
//! the harness makes carries the run's label and is swept by [`Engine::cleanup`].

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, ImageInspect, PortBinding};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, CreateContainerOptionsBuilder,
    InspectContainerOptions, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, StopContainerOptionsBuilder,
    WaitContainerOptions,
};
use bollard::{body_full, container::LogOutput, Docker};
use futures_util::StreamExt;

use super::ContainerError;

/// Label every container and image of one harness run carries.
pub const RUN_LABEL: &str = "org.cephalo.conformance.run";
/// Label with the pid of the harness process that made a container.
pub const PID_LABEL: &str = "org.cephalo.conformance.pid";

/// A connection to the engine plus the identity of this harness run.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    run_id: String,
}

/// What to run: the `docker run` options the checks need.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub image: String,
    /// Replaces the image's ENTRYPOINT (`--entrypoint`); `Some(vec![])` clears it.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments after the image name; `None` keeps the image's CMD.
    pub cmd: Option<Vec<String>>,
    /// `--user`.
    pub user: Option<String>,
    pub env: Vec<String>,
    /// Bind mounts `host:container[:ro]`.
    pub binds: Vec<String>,
    /// Container TCP ports published on a random port of 127.0.0.1.
    pub publish: Vec<u16>,
    /// `--network host`.
    pub host_network: bool,
    /// `-i`: keep stdin open (a shell then waits for input).
    pub open_stdin: bool,
    /// `--platform`, e.g. `linux/arm64`.
    pub platform: Option<String>,
    /// `--workdir`.
    pub working_dir: Option<String>,
}

impl ContainerSpec {
    /// A spec for `image` with its own ENTRYPOINT and CMD.
    pub fn new(image: &str) -> Self {
        ContainerSpec {
            image: image.to_string(),
            ..Default::default()
        }
    }

    /// Sets the arguments after the image name.
    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.cmd = Some(args.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Sets `--entrypoint`.
    pub fn entrypoint(mut self, entrypoint: &str) -> Self {
        self.entrypoint = Some(vec![entrypoint.to_string()]);
        self
    }

    /// Sets `--user`.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    /// Sets `--platform`.
    pub fn platform(mut self, platform: Option<&str>) -> Self {
        self.platform = platform.map(str::to_string);
        self
    }
}

/// The result of a container that ran to its end.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl RunOutput {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A started container; removed (forcefully) by [`Running::remove`] or the run's sweep.
pub struct Running {
    pub name: String,
    engine: Engine,
}

impl Engine {
    /// Connects to the local engine and negotiates the API version (the engine may be older
    /// than the client).
    pub async fn connect() -> Result<Engine, ContainerError> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| ContainerError::NoEngine(e.to_string()))?
            .negotiate_version()
            .await
            .map_err(|e| ContainerError::NoEngine(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| ContainerError::NoEngine(e.to_string()))?;
        let run_id = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        Ok(Engine { docker, run_id })
    }

    /// The unique suffix of this run's container and image names.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The engine's version string.
    pub async fn version(&self) -> Result<String, ContainerError> {
        let version = self.docker.version().await.map_err(api("version"))?;
        Ok(version.version.unwrap_or_default())
    }

    /// The image's inspect document, or `None` when the engine does not have it.
    pub async fn inspect_image(&self, image: &str) -> Result<Option<ImageInspect>, ContainerError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(Some(inspect)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(api("inspect image")(e)),
        }
    }

    /// Runs `spec` to its end (at most `limit`) and returns its exit code and output.
    pub async fn run(
        &self,
        spec: &ContainerSpec,
        limit: Duration,
    ) -> Result<RunOutput, ContainerError> {
        let name = self.create(spec, "run").await?;
        let result = tokio::time::timeout(limit, self.attach_start_wait(&name)).await;
        let removed = self.remove_container(&name).await;
        let output = result.map_err(|_| ContainerError::Timeout {
            what: format!("container {name} ({})", describe(spec)),
            limit,
        })??;
        removed?;
        Ok(output)
    }

    /// Starts `spec` in the background.
    pub async fn start(&self, spec: &ContainerSpec) -> Result<Running, ContainerError> {
        let name = self.create(spec, "bg").await?;
        let running = Running {
            name: name.clone(),
            engine: self.clone(),
        };
        self.docker
            .start_container(&name, None)
            .await
            .map_err(api("start container"))?;
        Ok(running)
    }

    /// Builds `tag` from an in-memory context (`files` of `(path, contents, mode)`, which
    /// must include the `Dockerfile`), with the classic builder and no pull.
    pub async fn build(
        &self,
        tag: &str,
        files: &[(&str, &[u8], u32)],
        platform: Option<&str>,
    ) -> Result<(), ContainerError> {
        let context = tar_context(files)?;
        let labels = HashMap::from([(RUN_LABEL.to_string(), self.run_id.clone())]);
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels);
        if let Some(platform) = platform {
            options = options.platform(platform);
        }
        let mut stream =
            self.docker
                .build_image(options.build(), None, Some(body_full(context.into())));
        let mut log = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| ContainerError::Build {
                tag: tag.to_string(),
                detail: format!("{e}\n{log}"),
            })?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(ContainerError::Build {
                    tag: tag.to_string(),
                    detail: format!("{error}\n{log}"),
                });
            }
            if let Some(line) = info.stream {
                log.push_str(&line);
            }
        }
        Ok(())
    }

    /// `docker save` of `image`, as one tar in memory.
    pub async fn save(&self, image: &str) -> Result<Vec<u8>, ContainerError> {
        let mut stream = self.docker.export_image(image);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(api("save image"))?);
        }
        Ok(bytes)
    }

    /// Removes every container and image this run made (labelled with its run id).
    pub async fn cleanup(&self) -> Result<(), ContainerError> {
        let filter = HashMap::from([(
            "label".to_string(),
            vec![format!("{RUN_LABEL}={}", self.run_id)],
        )]);
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(api("list containers"))?;
        for container in containers {
            if let Some(id) = container.id {
                self.remove_container(&id).await?;
            }
        }
        let images = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::default().filters(&filter).build(),
            ))
            .await
            .map_err(api("list images"))?;
        for image in images {
            let _ = self
                .docker
                .remove_image(
                    &image.id,
                    Some(RemoveImageOptionsBuilder::default().force(true).build()),
                    None,
                )
                .await;
        }
        Ok(())
    }

    /// Removes containers left by harness runs that were killed (their process is gone),
    /// and returns how many.
    pub async fn cleanup_stale(&self) -> Result<usize, ContainerError> {
        let filter = HashMap::from([("label".to_string(), vec![PID_LABEL.to_string()])]);
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(api("list containers"))?;
        let mut removed = 0;
        for container in containers {
            let pid = container
                .labels
                .as_ref()
                .and_then(|l| l.get(PID_LABEL))
                .cloned()
                .unwrap_or_default();
            let alive = !pid.is_empty() && std::path::Path::new("/proc").join(&pid).exists();
            if let (false, Some(id)) = (alive, container.id) {
                self.remove_container(&id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn create(&self, spec: &ContainerSpec, kind: &str) -> Result<String, ContainerError> {
        let name = format!(
            "cephalo-conformance-{}-{kind}-{:x}",
            self.run_id,
            next_serial()
        );
        let mut port_bindings = HashMap::new();
        let mut exposed = Vec::new();
        for port in &spec.publish {
            let key = format!("{port}/tcp");
            exposed.push(key.clone());
            port_bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some("0".into()),
                }]),
            );
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            user: spec.user.clone(),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            open_stdin: Some(spec.open_stdin),
            working_dir: spec.working_dir.clone(),
            attach_stdin: Some(false),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            labels: Some(HashMap::from([
                (RUN_LABEL.to_string(), self.run_id.clone()),
                (PID_LABEL.to_string(), std::process::id().to_string()),
            ])),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(HostConfig {
                binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
                port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
                network_mode: spec.host_network.then(|| "host".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut options = CreateContainerOptionsBuilder::default().name(&name);
        if let Some(platform) = &spec.platform {
            options = options.platform(platform);
        }
        self.docker
            .create_container(Some(options.build()), body)
            .await
            .map_err(|e| ContainerError::Api {
                what: format!("create container ({})", describe(spec)),
                detail: e.to_string(),
            })?;
        Ok(name)
    }

    async fn attach_start_wait(&self, name: &str) -> Result<RunOutput, ContainerError> {
        // Attached before the start, the stream carries all of the output. No `logs` replay:
        // dockerd may send a line written while it switches from replay to stream twice
        // (seen once: the shim's one error line came back doubled).
        let attach = self
            .docker
            .attach_container(
                name,
                Some(
                    AttachContainerOptionsBuilder::default()
                        .stream(true)
                        .logs(false)
                        .stdout(true)
                        .stderr(true)
                        .build(),
                ),
            )
            .await
            .map_err(api("attach container"))?;
        self.docker
            .start_container(name, None)
            .await
            .map_err(api("start container"))?;
        let (stdout, stderr) = collect(attach.output).await?;
        let exit_code = self.wait_exit(name).await?;
        Ok(RunOutput {
            exit_code,
            stdout,
            stderr,
        })
    }

    /// Waits for the container to stop and returns its exit code.
    pub async fn wait_exit(&self, name: &str) -> Result<i64, ContainerError> {
        let mut wait = self
            .docker
            .wait_container(name, None::<WaitContainerOptions>);
        // A non-zero exit comes back as an error item; the inspect below is the truth.
        while wait.next().await.is_some() {}
        let inspect = self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .map_err(api("inspect container"))?;
        let state = inspect.state.unwrap_or_default();
        if state.running == Some(true) {
            return Err(ContainerError::Api {
                what: format!("wait for {name}"),
                detail: "still running".into(),
            });
        }
        Ok(state.exit_code.unwrap_or(-1))
    }

    async fn remove_container(&self, name: &str) -> Result<(), ContainerError> {
        match self
            .docker
            .remove_container(
                name,
                Some(
                    RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(api("remove container")(e)),
        }
    }
}

impl Running {
    /// Runs `cmd` in the container as `user` (default: the container's user) and returns
    /// its exit code and output.
    pub async fn exec(
        &self,
        cmd: &[&str],
        user: Option<&str>,
    ) -> Result<RunOutput, ContainerError> {
        let docker = &self.engine.docker;
        let created = docker
            .create_exec(
                &self.name,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    user,
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(api("create exec"))?;
        let StartExecResults::Attached { output, .. } = docker
            .start_exec(&created.id, None)
            .await
            .map_err(api("start exec"))?
        else {
            unreachable!("exec started attached");
        };
        let (stdout, stderr) = collect(output).await?;
        let inspect = docker
            .inspect_exec(&created.id)
            .await
            .map_err(api("inspect exec"))?;
        Ok(RunOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            stdout,
            stderr,
        })
    }

    /// The host port that container port `port`/tcp is published on (127.0.0.1).
    pub async fn host_port(&self, port: u16) -> Result<u16, ContainerError> {
        let inspect = self
            .engine
            .docker
            .inspect_container(&self.name, None::<InspectContainerOptions>)
            .await
            .map_err(api("inspect container"))?;
        inspect
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|ports| ports.get(&format!("{port}/tcp")).cloned().flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| ContainerError::Api {
                what: format!("published port of {port}/tcp in {}", self.name),
                detail: "not published".into(),
            })
    }

    /// Whether the container is still running.
    pub async fn is_running(&self) -> Result<bool, ContainerError> {
        let inspect = self
            .engine
            .docker
            .inspect_container(&self.name, None::<InspectContainerOptions>)
            .await
            .map_err(api("inspect container"))?;
        Ok(inspect.state.and_then(|s| s.running).unwrap_or(false))
    }

    /// `docker stop -t <grace>`; returns when the container has stopped.
    pub async fn stop(&self, grace_seconds: i32) -> Result<(), ContainerError> {
        self.engine
            .docker
            .stop_container(
                &self.name,
                Some(
                    StopContainerOptionsBuilder::default()
                        .t(grace_seconds)
                        .build(),
                ),
            )
            .await
            .map_err(api("stop container"))
    }

    /// Waits (at most `limit`) for the container to exit; returns its exit code.
    pub async fn wait_exit(&self, limit: Duration) -> Result<i64, ContainerError> {
        tokio::time::timeout(limit, self.engine.wait_exit(&self.name))
            .await
            .map_err(|_| ContainerError::Timeout {
                what: format!("exit of {}", self.name),
                limit,
            })?
    }

    /// The container's output so far (stdout, stderr).
    pub async fn logs(&self) -> Result<RunOutput, ContainerError> {
        let stream = self.engine.docker.logs(
            &self.name,
            Some(bollard::query_parameters::LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let (stdout, stderr) = collect(Box::pin(stream)).await?;
        Ok(RunOutput {
            exit_code: -1,
            stdout,
            stderr,
        })
    }

    /// Removes the container (killing it if needed).
    pub async fn remove(self) -> Result<(), ContainerError> {
        self.engine.remove_container(&self.name).await
    }
}

async fn collect(
    mut output: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
) -> Result<(Vec<u8>, Vec<u8>), ContainerError> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(item) = output.next().await {
        match item.map_err(api("read output"))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                stdout.extend_from_slice(&message)
            }
            LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok((stdout, stderr))
}

fn tar_context(files: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, ContainerError> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        builder
            .append_data(&mut header, path, *contents)
            .map_err(|e| ContainerError::Io(format!("build context: {e}")))?;
    }
    builder
        .into_inner()
        .map_err(|e| ContainerError::Io(format!("build context: {e}")))
}

fn next_serial() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// `docker run` style one-line description of a spec, for messages.
pub fn describe(spec: &ContainerSpec) -> String {
    let mut parts = vec!["docker run".to_string()];
    if let Some(user) = &spec.user {
        parts.push(format!("--user {user}"));
    }
    if let Some(entrypoint) = &spec.entrypoint {
        parts.push(format!("--entrypoint {}", entrypoint.join(" ")));
    }
    if spec.host_network {
        parts.push("--network host".into());
    }
    parts.push(spec.image.clone());
    if let Some(cmd) = &spec.cmd {
        parts.extend(cmd.iter().map(|a| {
            if a.is_empty() || a.contains(' ') {
                format!("{a:?}")
            } else {
                a.clone()
            }
        }));
    }
    parts.join(" ")
}

fn api(what: &'static str) -> impl Fn(bollard::errors::Error) -> ContainerError {
    move |e| ContainerError::Api {
        what: what.to_string(),
        detail: e.to_string(),
    }
}
