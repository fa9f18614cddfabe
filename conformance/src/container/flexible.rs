//! Flexible Configuration in the container, as the Docker Hub page shows it: the FC
//! environment variables on `run` with a mounted multi-file tree (its compose example), a
//! template error stopping the start, and a derived image built with the page's two-stage
//! `Dockerfile` (`krakend check -d -t -c krakend.tmpl` at build time, the `FC_OUT` file
//! served at run time). The tree is the repository's `examples/flexible-config/`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};

use super::engine::{ContainerSpec, Engine, RUN_LABEL};
use super::gateway::{first_line, http_get, wait_health, with_logs, ConfigDir};
use super::{ContainerError, Harness, Target, Verdict};

/// The example tree: (path relative to the project directory, contents).
const TREE: [(&str, &str); 5] = [
    (
        "krakend.tmpl",
        include_str!("../../../examples/flexible-config/krakend.tmpl"),
    ),
    (
        "config/settings/service.json",
        include_str!("../../../examples/flexible-config/config/settings/service.json"),
    ),
    (
        "config/settings/endpoints.json",
        include_str!("../../../examples/flexible-config/config/settings/endpoints.json"),
    ),
    (
        "config/partials/service_extra_config.json",
        include_str!("../../../examples/flexible-config/config/partials/service_extra_config.json"),
    ),
    (
        "config/templates/static_endpoint.tmpl",
        include_str!("../../../examples/flexible-config/config/templates/static_endpoint.tmpl"),
    ),
];

/// Where the compose example's variables point when the project is mounted at /etc/krakend.
const MOUNTED_ENV: [&str; 5] = [
    "FC_ENABLE=1",
    "FC_OUT=/tmp/krakend.json",
    "FC_PARTIALS=/etc/krakend/config/partials",
    "FC_SETTINGS=/etc/krakend/config/settings",
    "FC_TEMPLATES=/etc/krakend/config/templates",
];

const READY_LIMIT: Duration = Duration::from_secs(20);
const RUN_LIMIT: Duration = Duration::from_secs(30);
const BUILD_LIMIT: Duration = Duration::from_secs(120);

type Checked = Result<Verdict, ContainerError>;

/// Runs the Flexible Configuration checks against `target`.
pub async fn checks(harness: &mut Harness, target: &Target) {
    let engine = harness.engine.clone();
    let arch = target.arch.name();
    harness
        .check(
            "fc",
            "FC env vars + mounted tree: run -c krakend.tmpl serves the rendered endpoints",
            arch,
            mounted_tree(&engine, target),
        )
        .await;
    harness
        .check(
            "fc",
            "FC template error: non-zero exit naming file:line",
            arch,
            template_error(&engine, target),
        )
        .await;
    harness
        .check(
            "fc",
            "Hub Dockerfile: check -d -t -c krakend.tmpl at build, FC_OUT file served",
            arch,
            hub_dockerfile(&engine, target),
        )
        .await;
}

/// The compose example: the project mounted at /etc/krakend, FC variables, `run -d -c
/// krakend.tmpl`; the endpoints answer and `FC_OUT` holds the rendered config.
async fn mounted_tree(engine: &Engine, target: &Target) -> Checked {
    let dir = ConfigDir::tree(engine, "fc-mounted", &TREE)?;
    let mut spec = target.spec().args(&["run", "-d", "-c", "krakend.tmpl"]);
    spec.binds = vec![format!("{}:/etc/krakend/:ro", dir.path.display())];
    spec.env = MOUNTED_ENV.iter().map(|v| v.to_string()).collect();
    spec.publish = vec![8080];
    serve_and_probe(engine, &spec, target, true).await
}

/// A template calling an unknown function: the start fails and says where.
async fn template_error(engine: &Engine, target: &Target) -> Checked {
    let (broken, line) = break_template(TREE[0].1);
    let mut files = TREE.to_vec();
    files[0].1 = &broken;
    let dir = ConfigDir::tree(engine, "fc-broken", &files)?;
    let mut spec = target.spec().args(&["check", "-t", "-c", "krakend.tmpl"]);
    spec.binds = vec![format!("{}:/etc/krakend/:ro", dir.path.display())];
    spec.env = MOUNTED_ENV.iter().map(|v| v.to_string()).collect();
    let out = engine.run(&spec, target.limit(RUN_LIMIT)).await?;
    let message = format!("{}{}", out.stderr_text(), out.stdout_text());
    Ok(template_error_rule(out.exit_code, &message, line))
}

/// The first line using a settings value, piped into a function that does not exist; and
/// that line's 1-based number.
fn break_template(template: &str) -> (String, usize) {
    let mut line_no = 0;
    let lines: Vec<String> = template
        .lines()
        .enumerate()
        .map(|(i, l)| match l.find("}}") {
            Some(at) if line_no == 0 && l.contains("{{ .service.") => {
                line_no = i + 1;
                format!("{} | cephaloNoSuchFunction {}", &l[..at], &l[at..])
            }
            _ => l.to_string(),
        })
        .collect();
    (lines.join("\n") + "\n", line_no)
}

fn template_error_rule(exit_code: i64, message: &str, line: usize) -> Verdict {
    let mut problems = Vec::new();
    if exit_code == 0 {
        problems.push("exited 0".to_string());
    }
    let place = format!("krakend.tmpl:{line}");
    if !message.contains(&place) || !message.contains("cephaloNoSuchFunction") {
        problems.push(format!(
            "message does not name {place} and the function: {:?}",
            message.trim()
        ));
    }
    Verdict::from_problems(
        problems,
        format!("exit {exit_code}: {}", first_line(message)),
    )
}

/// The Hub page's two-stage Dockerfile over our image, built once with the classic builder
/// (no pull: `FROM` names the locally loaded image), then run with its default command.
async fn hub_dockerfile(engine: &Engine, target: &Target) -> Checked {
    let tag = format!(
        "cephalo-conformance-fc:{}-{}",
        target.arch.name(),
        engine.run_id()
    );
    let dockerfile =
        hub_dockerfile_text(&target.image, &format!("{RUN_LABEL}={}", engine.run_id()));
    let mut context: Vec<(&str, &[u8], u32)> = vec![("Dockerfile", dockerfile.as_bytes(), 0o644)];
    context.extend(TREE.iter().map(|(p, c)| (*p, c.as_bytes(), 0o644)));
    let build = engine.build(&tag, &context, target.platform.as_deref());
    match tokio::time::timeout(target.limit(BUILD_LIMIT), build).await {
        Err(_) => {
            return Err(ContainerError::Timeout {
                what: format!("docker build {tag}"),
                limit: target.limit(BUILD_LIMIT),
            })
        }
        Ok(Err(ContainerError::Build { detail, .. })) => {
            return Ok(Verdict::Fail(format!(
                "the Hub Dockerfile did not build: {detail}"
            )))
        }
        Ok(built) => built?,
    }
    let mut spec = ContainerSpec::new(&tag).platform(target.platform.as_deref());
    spec.publish = vec![8080];
    serve_and_probe(engine, &spec, target, false).await
}

/// The Hub page's Dockerfile for `image`. The builder stage carries the run's label so that
/// its intermediate images are swept with the rest of the run (the final image gets it from
/// the build options).
fn hub_dockerfile_text(image: &str, label: &str) -> String {
    format!(
        r#"FROM {image} AS builder
LABEL {label}

COPY krakend.tmpl .
COPY config .

# Save temporary output file to /tmp to avoid permission errors
RUN FC_ENABLE=1 \
    FC_OUT=/tmp/krakend.json \
    FC_PARTIALS="/etc/krakend/partials" \
    FC_SETTINGS="/etc/krakend/settings" \
    FC_TEMPLATES="/etc/krakend/templates" \
    krakend check -d -t -c krakend.tmpl

# Copy the output file only and discard any other files
FROM {image}
COPY --from=builder /tmp/krakend.json .
"#
    )
}

/// Starts `spec`, waits for `/__health`, asks every endpoint of the example's catalog and
/// compares with the settings' data; with `fc_out`, also reads `/tmp/krakend.json` back.
async fn serve_and_probe(
    engine: &Engine,
    spec: &ContainerSpec,
    target: &Target,
    fc_out: bool,
) -> Checked {
    let running = engine.start(spec).await?;
    let result = async {
        let port = running.host_port(8080).await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(why) = wait_health(&running, addr, target.limit(READY_LIMIT)).await? {
            return Ok(Verdict::Fail(why));
        }
        let mut problems = probe_catalog(addr).await;
        if fc_out {
            let out = running.exec(&["cat", "/tmp/krakend.json"], None).await?;
            problems.extend(rendered_rule(&out.stdout));
        }
        Ok::<_, ContainerError>(Verdict::from_problems(
            problems,
            format!("{} endpoints answered", catalog().len()),
        ))
    }
    .await;
    let logs = running.logs().await.ok();
    running.remove().await?;
    match result? {
        Verdict::Fail(why) => Ok(Verdict::Fail(with_logs(why, logs))),
        other => Ok(other),
    }
}

/// The endpoints the settings declare: (path with parameters filled in, expected body).
fn catalog() -> Vec<(String, Value)> {
    let settings: Value = serde_json::from_str(TREE[2].1).expect("the example settings are JSON");
    settings["catalog"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    let path = fill_params(e["path"].as_str().unwrap_or(""));
                    let mut body: Map<String, Value> =
                        e["data"].as_object().cloned().unwrap_or_default();
                    // The backend (the gateway's own /__health) contributes `status` only.
                    body.insert("status".into(), Value::String("ok".into()));
                    (path, Value::Object(body))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `/a/{id}` -> `/a/id-value`.
fn fill_params(pattern: &str) -> String {
    pattern
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!("{name}-value"),
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

async fn probe_catalog(addr: SocketAddr) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, expected) in catalog() {
        match http_get(addr, &path, Duration::from_secs(5)).await {
            Ok((200, _, body)) => match serde_json::from_slice::<Value>(&body) {
                Ok(got) if got == expected => {}
                _ => problems.push(format!(
                    "{path}: body {:?}, expected {expected}",
                    String::from_utf8_lossy(&body)
                )),
            },
            Ok((status, _, body)) => problems.push(format!(
                "{path}: status {status}: {:?}",
                String::from_utf8_lossy(&body)
            )),
            Err(e) => problems.push(format!("{path}: {e}")),
        }
    }
    problems
}

/// The `FC_OUT` file is the rendered config: JSON with the service name and one endpoint
/// per catalog entry.
fn rendered_rule(bytes: &[u8]) -> Vec<String> {
    let service: Value = serde_json::from_str(TREE[1].1).expect("the example settings are JSON");
    let Ok(rendered) = serde_json::from_slice::<Value>(bytes) else {
        return vec![format!(
            "FC_OUT /tmp/krakend.json is not JSON: {:?}",
            String::from_utf8_lossy(bytes)
        )];
    };
    let mut problems = Vec::new();
    if rendered["name"] != service["name"] {
        problems.push(format!("FC_OUT name is {}", rendered["name"]));
    }
    let paths: Vec<&str> = rendered["endpoints"]
        .as_array()
        .map(|l| l.iter().filter_map(|e| e["endpoint"].as_str()).collect())
        .unwrap_or_default();
    if paths.len() != catalog().len() {
        problems.push(format!("FC_OUT endpoints are {paths:?}"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_comes_from_the_example_settings() {
        let list = catalog();
        assert!(list.len() >= 2, "{list:?}");
        assert!(list
            .iter()
            .all(|(p, b)| p.starts_with('/') && b["status"] == "ok"));
        assert_eq!(
            fill_params("/fc/regions/{region}"),
            "/fc/regions/region-value"
        );
    }

    #[test]
    fn the_broken_template_breaks_a_settings_line() {
        let (broken, line) = break_template(TREE[0].1);
        assert!(line > 1);
        let at = broken.lines().nth(line - 1).unwrap();
        assert!(at.contains("| cephaloNoSuchFunction }}"), "{at}");
        assert!(matches!(
            template_error_rule(
                1,
                "template: krakend.tmpl:4: function \"cephaloNoSuchFunction\" not defined",
                4
            ),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            template_error_rule(0, "krakend.tmpl:4 cephaloNoSuchFunction", 4),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            template_error_rule(1, "parse error", 4),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn the_dockerfile_is_the_hub_pages_with_our_label() {
        let text = hub_dockerfile_text("cephalo:1.2.3", "a=b");
        assert!(text.starts_with("FROM cephalo:1.2.3 AS builder\nLABEL a=b\n"));
        assert!(text.contains("krakend check -d -t -c krakend.tmpl\n"));
        assert!(text.ends_with("FROM cephalo:1.2.3\nCOPY --from=builder /tmp/krakend.json .\n"));
    }

    #[test]
    fn rendered_config_must_list_every_catalog_endpoint() {
        let service: Value = serde_json::from_str(TREE[1].1).unwrap();
        let endpoints: Vec<Value> = catalog()
            .iter()
            .map(|(p, _)| serde_json::json!({ "endpoint": p }))
            .collect();
        let ok = serde_json::json!({"name": service["name"], "endpoints": endpoints});
        assert!(rendered_rule(ok.to_string().as_bytes()).is_empty());
        let short = serde_json::json!({"name": service["name"], "endpoints": endpoints[1..]});
        assert_eq!(rendered_rule(short.to_string().as_bytes()).len(), 1);
        let renamed = serde_json::json!({"name": "other", "endpoints": endpoints});
        assert_eq!(rendered_rule(renamed.to_string().as_bytes()).len(), 1);
        assert_eq!(rendered_rule(b"{ not json").len(), 1);
    }
}
