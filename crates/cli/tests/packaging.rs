//! What `deploy/` ships, checked without a container engine or a cluster (neither exists here
//! or in CI):
//!
//! - `deploy/Containerfile`: its instructions, parsed: a locked release build, a distroless
//!   final stage with no shell and nothing but the binary, a numeric non-root user, the entry
//!   point and command in exec form, every path the connector writes on a volume, OCI labels
//!   with the workspace's version and license.
//! - Every YAML document under `deploy/` parses and has `apiVersion` and `kind`.
//! - `deploy/kubernetes`: the pod's security settings; then its container run by the real
//!   binary in a sandbox laid out like the pod (the image's `ENV` and `WORKDIR`, the
//!   manifest's `env` and `args`, the ConfigMap and Secret volumes as kubelet mounts them,
//!   every absolute path below a temporary root, the HTTP port 0): it starts, reads the
//!   registry from the ConfigMap, listens with the token from the Secret, passes its
//!   startup and liveness probes, is not ready without its broker, and stops with 0.
//! - `deploy/aio`: the connector metadata validates against AIO's published schema (copied
//!   in `deploy/aio/schema`) and agrees with the workspace, the image and the
//!   ConnectorTemplate; the image's default command in an Akri deployment passes the
//!   metadata's readiness probe, which fails before the start and after the stop.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{Connector, LIMIT};
use serde_json::{Value, json};
use test_support::k8s_mount::K8sMount;
use tokio::process::Command;

/// The binary the image's entry point runs.
const BINARY: &str = env!("CARGO_BIN_EXE_sse-connector");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    let path = repo().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `[workspace.package]` of the root Cargo.toml.
fn workspace_package() -> toml::Table {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    manifest["workspace"]["package"].as_table().unwrap().clone()
}

fn workspace_version() -> String {
    workspace_package()["version"].as_str().unwrap().to_owned()
}

// ---- the Containerfile ----

/// One instruction: its keyword (upper case) and its arguments, continuation lines joined.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of a Containerfile: comments and blank lines dropped (also inside
/// continued instructions, as the builders do), `\` continuations joined.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let (keyword, args) = current.split_once(char::is_whitespace).unwrap();
        out.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        });
        current.clear();
    }
    assert!(current.is_empty(), "a continued instruction never ends");
    out
}

/// The build stages: each starts at a `FROM`.
fn stages(instructions: &[Instruction]) -> Vec<Vec<Instruction>> {
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for instruction in instructions {
        if instruction.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the first instruction is FROM")
            .push(instruction.clone());
    }
    stages
}

/// The arguments of each `keyword` instruction of a stage.
fn all<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|i| i.keyword == keyword)
        .map(|i| i.args.as_str())
        .collect()
}

/// The one `keyword` instruction of a stage.
fn one<'a>(stage: &'a [Instruction], keyword: &str) -> &'a str {
    match all(stage, keyword)[..] {
        [args] => args,
        ref found => panic!(
            "{} {keyword} instructions in the stage: {found:?}",
            found.len()
        ),
    }
}

/// An exec-form argument list (`["a", "b"]`); the shell form fails.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args)
        .unwrap_or_else(|e| panic!("{args:?} is not in exec form (a JSON array): {e}"))
}

/// `KEY=value` pairs (`LABEL`, `ENV`, `ARG`), double-quoted values unquoted.
fn pairs(args: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .unwrap_or_else(|| panic!("no = in {rest:?}"));
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap();
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        out.insert(key.trim().to_owned(), value.to_owned());
        rest = after.trim_start();
    }
    out
}

/// The image as it runs: the final stage's entry point, command, environment, working
/// directory, volumes, user and exposed ports.
#[derive(Debug)]
struct Image {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: BTreeMap<String, String>,
    workdir: String,
    volumes: Vec<String>,
    user: String,
    exposed: Vec<u16>,
}

fn image() -> Image {
    let stages = stages(&instructions(&read("deploy/Containerfile")));
    let last = stages.last().unwrap();
    Image {
        entrypoint: exec_form(one(last, "ENTRYPOINT")),
        cmd: exec_form(one(last, "CMD")),
        env: all(last, "ENV").into_iter().flat_map(pairs).collect(),
        workdir: one(last, "WORKDIR").to_owned(),
        volumes: all(last, "VOLUME")
            .into_iter()
            .flat_map(exec_form)
            .collect(),
        user: one(last, "USER").to_owned(),
        exposed: all(last, "EXPOSE")
            .into_iter()
            .flat_map(str::split_whitespace)
            .map(|port| port.trim_end_matches("/tcp").parse().unwrap())
            .collect(),
    }
}

#[test]
fn the_containerfile_builds_the_locked_binary_onto_a_distroless_non_root_image() {
    let instructions = instructions(&read("deploy/Containerfile"));
    let stages = stages(&instructions);
    assert_eq!(stages.len(), 2, "a builder and the final stage");
    let (builder, last) = (&stages[0], &stages[1]);

    // The builder: the workspace's Rust, a locked release build of the binary's package.
    let rust = workspace_package()["rust-version"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = one(builder, "FROM");
    assert!(
        from.contains(&format!("rust:{rust}-")) && from.ends_with(" AS builder"),
        "{from}"
    );
    let build = all(builder, "RUN")
        .into_iter()
        .find(|run| run.contains("cargo build"))
        .expect("the builder runs cargo build");
    for flag in ["--release", "--locked", "-p sse-connector"] {
        assert!(build.contains(flag), "{flag} missing from {build}");
    }

    // The final stage: distroless, nothing run in it (it has no shell), only copies from
    // the builder, the binary at the entry point's path.
    let base = one(last, "FROM");
    assert!(base.starts_with("gcr.io/distroless/"), "{base}");
    for keyword in ["RUN", "SHELL", "ADD", "HEALTHCHECK"] {
        assert!(
            all(last, keyword).is_empty(),
            "{keyword} in the final stage"
        );
    }
    let copies = all(last, "COPY");
    assert!(
        copies.iter().all(|c| c.starts_with("--from=builder ")),
        "{copies:?}"
    );
    let image = image();
    assert_eq!(image.entrypoint, ["/sse-connector"]);
    assert_eq!(image.cmd, ["run"]);
    assert!(
        copies
            .iter()
            .any(|c| c.ends_with(&format!(" {}", image.entrypoint[0]))),
        "the binary is copied to {}: {copies:?}",
        image.entrypoint[0]
    );

    // A numeric non-root user and group (Kubernetes' runAsNonRoot can only check numbers).
    let (uid, gid) = image.user.split_once(':').unwrap();
    let (uid, gid): (u32, u32) = (uid.parse().unwrap(), gid.parse().unwrap());
    assert!(uid != 0 && gid != 0, "{}", image.user);

    // A read-only root file system: every place the connector writes by default is on a
    // volume, and so is the working directory.
    assert_eq!(image.volumes, ["/var/lib/sse-connector"]);
    let on_volume = |path: &str| image.volumes.iter().any(|v| path.starts_with(v.as_str()));
    for name in ["SSE_CONNECTOR_STATE_DIR", "SSE_CONNECTOR_REGISTRY"] {
        assert!(on_volume(&image.env[name]), "{name}={}", image.env[name]);
    }
    assert!(on_volume(&image.workdir), "{}", image.workdir);
    assert_eq!(image.exposed, [8080]);

    // OCI labels: the workspace's version (the build argument's default) and license.
    let labels: BTreeMap<String, String> = all(last, "LABEL").into_iter().flat_map(pairs).collect();
    let arg = pairs(one(last, "ARG"));
    assert_eq!(arg["VERSION"], workspace_version());
    assert_eq!(labels["org.opencontainers.image.version"], "${VERSION}");
    assert_eq!(
        labels["org.opencontainers.image.licenses"],
        workspace_package()["license"].as_str().unwrap()
    );
    for key in ["title", "description", "source", "documentation"] {
        assert!(
            !labels[&format!("org.opencontainers.image.{key}")].is_empty(),
            "{key}"
        );
    }
}

// ---- the YAML documents ----

/// Every YAML document under `deploy/`, with its file.
fn documents() -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("deploy"), &mut files);
    files.sort();
    files
        .into_iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let documents = serde_saphyr::from_multiple::<Value>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            documents
                .into_iter()
                .filter(|d| !d.is_null())
                .map(move |d| (file.clone(), d))
        })
        .collect()
}

/// The one document of `kind` named `name`.
fn document(documents: &[(PathBuf, Value)], kind: &str, name: &str) -> Value {
    let found: Vec<_> = documents
        .iter()
        .filter(|(_, d)| d["kind"] == kind && d["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{kind} {name}");
    found[0].1.clone()
}

#[test]
fn every_yaml_document_under_deploy_parses_and_says_what_it_is() {
    let documents = documents();
    let kinds: Vec<String> = documents
        .iter()
        .map(|(file, d)| {
            for field in ["apiVersion", "kind"] {
                assert!(
                    d[field].as_str().is_some_and(|v| !v.is_empty()),
                    "{}: no {field}",
                    file.display()
                );
            }
            assert!(
                d["metadata"]["name"].is_string(),
                "{}: no metadata.name",
                file.display()
            );
            d["kind"].as_str().unwrap().to_owned()
        })
        .collect();
    for kind in [
        "Namespace",
        "ConfigMap",
        "Secret",
        "StatefulSet",
        "Service",
        "ConnectorTemplate",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}

// ---- Kubernetes ----

fn statefulset() -> (Vec<(PathBuf, Value)>, Value) {
    let documents = documents();
    let set = document(&documents, "StatefulSet", "sse-connector");
    (documents, set)
}

#[test]
fn the_statefulset_runs_one_non_root_replica_on_a_read_only_root_with_its_state_on_a_volume() {
    let (documents, set) = statefulset();
    let image = image();
    assert_eq!(set["spec"]["replicas"], 1);
    let pod = &set["spec"]["template"]["spec"];
    let (uid, gid) = image.user.split_once(':').unwrap();
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"].to_string(), uid);
    assert_eq!(pod["securityContext"]["runAsGroup"].to_string(), gid);
    assert_eq!(pod["securityContext"]["fsGroup"].to_string(), gid);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert!(
        container.get("command").is_none(),
        "the image's entry point runs"
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));

    // The state directory is on the volume claim; everything else mounted is read-only.
    let claims: Vec<&str> = set["spec"]["volumeClaimTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    let state_dir = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SSE_CONNECTOR_STATE_DIR")
        .and_then(|e| e["value"].as_str())
        .expect("the state directory in the environment, for run and the probes alike");
    let mut on_claim = false;
    for mount in container["volumeMounts"].as_array().unwrap() {
        let name = mount["name"].as_str().unwrap();
        let path = mount["mountPath"].as_str().unwrap();
        if claims.contains(&name) {
            on_claim |= state_dir.starts_with(path);
        } else {
            assert_eq!(mount["readOnly"], true, "{name}");
        }
    }
    assert!(on_claim, "{state_dir} is not on a volume claim");

    // The HTTP port is the image's, behind the Service.
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(image.exposed, [u16::try_from(port).unwrap()]);
    let service = document(&documents, "Service", "sse-connector");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(container["ports"][0]["name"], "http");
    assert_eq!(set["spec"]["serviceName"], "sse-connector");

    // Exec probes run the image's binary.
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let command = &container[probe]["exec"]["command"];
        assert_eq!(command[0], image.entrypoint[0].as_str(), "{probe}");
        assert_eq!(command[1], "probe", "{probe}");
    }
}

/// A pod's file system below a temporary root, and the environment its processes get.
struct Sandbox {
    root: tempfile::TempDir,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    mounts: Vec<K8sMount>,
}

impl Sandbox {
    fn new(image: &Image) -> Self {
        let mut sandbox = Self {
            root: tempfile::tempdir().unwrap(),
            env: Vec::new(),
            workdir: PathBuf::new(),
            mounts: Vec::new(),
        };
        sandbox.workdir = sandbox.host(&image.workdir);
        std::fs::create_dir_all(&sandbox.workdir).unwrap();
        for (name, value) in &image.env {
            let value = sandbox.map(value);
            sandbox.env.push((name.clone(), value));
        }
        sandbox
    }

    /// Where an absolute path of the pod is.
    fn host(&self, path: &str) -> PathBuf {
        assert!(path.starts_with('/'), "{path}");
        self.root.path().join(path.trim_start_matches('/'))
    }

    /// A value with its absolute path, if it is one, moved into the sandbox.
    fn map(&self, value: &str) -> String {
        if value.starts_with('/') {
            self.host(value).display().to_string()
        } else {
            value.to_owned()
        }
    }

    /// A command-line argument: `--name=value` or a bare value mapped like [`Self::map`];
    /// the HTTP listener's port becomes 0 (the pod's may be taken on this machine).
    fn map_arg(&self, arg: &str) -> String {
        match arg.split_once('=') {
            Some(("--http", addr)) => {
                let (host, _) = addr.rsplit_once(':').unwrap();
                format!("--http={host}:0")
            }
            Some((name, value)) if name.starts_with("--") => format!("{name}={}", self.map(value)),
            _ => self.map(arg),
        }
    }

    /// `argv` run as the container runs it: the image's binary, the pod's environment only.
    fn command(&self, image: &Image, argv: &[String]) -> Command {
        assert_eq!(argv[0], image.entrypoint[0], "{argv:?}");
        let mut command = Command::new(BINARY);
        command
            .args(argv[1..].iter().map(|a| self.map_arg(a)))
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.workdir);
        command
    }

    /// Runs an exec probe.
    async fn probe(&self, image: &Image, argv: &[String]) -> Output {
        let output = tokio::time::timeout(LIMIT, self.command(image, argv).output())
            .await
            .expect("the probe answers")
            .unwrap();
        assert_ne!(
            output.status.code(),
            Some(2),
            "{argv:?} is not a valid command line: {output:?}"
        );
        output
    }

    /// Runs an exec probe until it passes.
    async fn until_passes(&self, image: &Image, argv: &[String]) -> Output {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let output = self.probe(image, argv).await;
            if output.status.success() {
                return output;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{argv:?} still fails after {LIMIT:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// A Secret's `stringData`. Empty values are placeholders the user must fill; only the HTTP
/// token is one, and the test fills it as a user would.
fn secret_data(documents: &[(PathBuf, Value)], name: &str) -> BTreeMap<String, String> {
    let secret = document(documents, "Secret", name);
    secret["stringData"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| {
            let value = value.as_str().unwrap();
            if value.is_empty() {
                assert_eq!((name, key.as_str()), ("sse-connector-http-token", "token"));
                (key.clone(), "a-token-the-user-chose".to_owned())
            } else {
                (key.clone(), value.to_owned())
            }
        })
        .collect()
}

/// The files of a pod volume, as kubelet projects them; `None` for a volume claim.
fn volume_files(documents: &[(PathBuf, Value)], volume: &Value) -> Option<Vec<(String, String)>> {
    if let Some(config_map) = volume.get("configMap") {
        let map = document(documents, "ConfigMap", config_map["name"].as_str().unwrap());
        let data = map["data"].as_object().unwrap();
        return Some(
            data.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
        );
    }
    if let Some(secret) = volume.get("secret") {
        let data = secret_data(documents, secret["secretName"].as_str().unwrap());
        return Some(data.into_iter().collect());
    }
    if let Some(projected) = volume.get("projected") {
        let mut files = Vec::new();
        for source in projected["sources"].as_array().unwrap() {
            let secret = &source["secret"];
            let data = secret_data(documents, secret["name"].as_str().unwrap());
            for item in secret["items"].as_array().unwrap() {
                let key = item["key"].as_str().unwrap();
                files.push((item["path"].as_str().unwrap().to_owned(), data[key].clone()));
            }
        }
        return Some(files);
    }
    None
}

/// The value of a JSON log line's `addr` field.
fn logged_addr(line: &str) -> std::net::SocketAddr {
    let value: Value = serde_json::from_str(line).unwrap();
    let addr = value["fields"]["addr"]
        .as_str()
        .or_else(|| value["addr"].as_str())
        .unwrap_or_else(|| panic!("no addr in {line}"));
    addr.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statefulsets_container_starts_with_its_mounts_and_passes_its_probes_but_readiness() {
    let (documents, set) = statefulset();
    let image = image();
    let pod = &set["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mut sandbox = Sandbox::new(&image);
    for variable in container["env"].as_array().unwrap() {
        let value = sandbox.map(variable["value"].as_str().unwrap());
        sandbox
            .env
            .push((variable["name"].as_str().unwrap().to_owned(), value));
    }
    for mount in container["volumeMounts"].as_array().unwrap() {
        let name = &mount["name"];
        let path = sandbox.host(mount["mountPath"].as_str().unwrap());
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| &v["name"] == name);
        match volume.and_then(|v| volume_files(&documents, v)) {
            Some(files) => {
                let files: Vec<(&str, &str)> = files
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                sandbox.mounts.push(K8sMount::create(path, &files));
            }
            None => std::fs::create_dir_all(path).unwrap(),
        }
    }
    let probe = |name: &str| strings(&container[name]["exec"]["command"]);
    let (startup, liveness, readiness) = (
        probe("startupProbe"),
        probe("livenessProbe"),
        probe("readinessProbe"),
    );

    // Before the start, every probe fails.
    for argv in [&liveness, &readiness] {
        let output = sandbox.probe(&image, argv).await;
        assert_eq!(output.status.code(), Some(1), "{argv:?}: {output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).starts_with("not running: "));
    }

    let argv: Vec<String> = image
        .entrypoint
        .iter()
        .cloned()
        .chain(strings(&container["args"]))
        .collect();
    let mut connector = Connector::spawn(sandbox.command(&image, &argv), false, false).await;
    // The registry from the ConfigMap, its credentials from the projected Secret.
    connector
        .wait_for_log("valid: 1 device, 1 asset, 1 data operation on 1 stream, 0 warnings")
        .await;
    // Beyond loopback, with the token from its Secret (without one it would not start).
    let http = logged_addr(&connector.wait_for_log("HTTP listener ready").await);
    assert!(http.ip().is_unspecified(), "{http}");
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], http.port()));
    assert_eq!(common::http_get(local, "/api/v1/status").await.0, 401);

    // Started and live; not ready: the manifest's broker is not reachable from here.
    sandbox.until_passes(&image, &startup).await;
    let live = sandbox.probe(&image, &liveness).await;
    assert!(live.status.success(), "{live:?}");
    assert!(String::from_utf8_lossy(&live.stdout).starts_with("live: heartbeat "));
    let ready = sandbox.probe(&image, &readiness).await;
    assert_eq!(ready.status.code(), Some(1), "{ready:?}");
    assert_eq!(
        String::from_utf8_lossy(&ready.stderr),
        "not ready: not connected to the MQTT broker\n"
    );
    let (status, body) = common::http_get(local, "/readyz").await;
    assert_eq!(
        (status, body.trim()),
        (503, "not ready: not connected to the MQTT broker")
    );

    assert!(connector.terminate().await.success());
    for argv in [&liveness, &readiness] {
        let output = sandbox.probe(&image, argv).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{argv:?} after the stop: {output:?}"
        );
    }
}

// ---- AIO ----

fn metadata() -> Value {
    serde_json::from_str(&read("deploy/aio/connector-metadata.json")).unwrap()
}

#[test]
fn the_connector_metadata_follows_aios_published_schema() {
    let metadata = metadata();
    let schema: Value = serde_json::from_str(&read(
        "deploy/aio/schema/aio-connector-metadata-11.0-preview.json",
    ))
    .unwrap();
    assert_eq!(metadata["$schema"], schema["$id"]);
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&metadata)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // The schema does catch a broken document.
    let mut broken = metadata.clone();
    broken["inboundEndpoints"][0]["datasets"]["destinations"]["supportedDestinations"] =
        json!(["Kafka"]);
    broken
        .as_object_mut()
        .unwrap()
        .remove("supportedArchitectures");
    assert_eq!(validator.iter_errors(&broken).count(), 2);
}

#[test]
fn the_metadata_the_template_and_the_image_agree() {
    let metadata = metadata();
    let template = document(&documents(), "ConnectorTemplate", "sse-connector");
    assert_eq!(
        template["apiVersion"], "akri.iotoperations.azure.com/v1",
        "{template}"
    );
    let version = workspace_version();
    assert_eq!(metadata["version"], version.as_str());

    // The endpoint type this connector serves, at one version.
    let endpoints = metadata["inboundEndpoints"].as_array().unwrap();
    let types = template["spec"]["deviceInboundEndpointTypes"]
        .as_array()
        .unwrap();
    assert_eq!((endpoints.len(), types.len()), (1, 1));
    assert_eq!(endpoints[0]["endpointType"], "Microsoft.SSEHttp");
    assert_eq!(types[0]["endpointType"], endpoints[0]["endpointType"]);
    assert_eq!(types[0]["version"], endpoints[0]["version"]);

    // The image and its tag.
    let settings = &template["spec"]["runtimeConfiguration"]["managedConfigurationSettings"];
    let image = &settings["imageConfigurationSettings"];
    assert_eq!(
        image["imageName"],
        metadata["imageConfigurationSettings"]["imageName"]
    );
    assert_eq!(image["tagDigestSettings"]["tag"], version.as_str());
    assert_eq!(
        metadata["imageConfigurationSettings"]["tag"],
        version.as_str()
    );
    assert!(
        template["spec"]["connectorMetadataRef"]
            .as_str()
            .unwrap()
            .ends_with(&format!("-metadata:{version}"))
    );

    // Replicas, allocation, log level, trust settings, the broker with SAT.
    assert!(image["replicas"].as_u64().unwrap() >= 1);
    assert!(
        settings["allocation"]["policy"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(metadata["recommendedAllocationPolicy"].as_str().unwrap())
    );
    assert!(settings["allocation"]["bucketSize"].as_u64().unwrap() >= 1);
    assert!(settings["trustSettings"]["trustListSecretRef"].is_string());
    let level = template["spec"]["diagnostics"]["logs"]["level"]
        .as_str()
        .unwrap();
    assert!(["trace", "debug", "info", "warn", "error"].contains(&level));
    let mqtt = &template["spec"]["mqttConnectionConfiguration"];
    assert_eq!(mqtt["authentication"]["method"], "ServiceAccountToken");
    assert_eq!(mqtt["tls"]["mode"], "Enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_an_akri_deployment_the_images_command_passes_the_metadatas_readiness_probe() {
    const CONNECTOR_ID: &str = "sse-connector-0f3c-0";
    let image = image();
    let readiness =
        strings(&metadata()["imageConfigurationSettings"]["readinessProbe"]["exec"]["command"]);
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..broker::BrokerConfig::default()
    })
    .await
    .unwrap();

    // The mounts and variables Akri gives the pod (no device endpoint allocated yet).
    let mut sandbox = Sandbox::new(&image);
    let configuration = sandbox.host("/etc/akri/config/connector_configuration");
    let allocation = sandbox.host("/etc/akri/config/adr_resources_names");
    let volume = sandbox.host("/mnt/state");
    std::fs::create_dir_all(&volume).unwrap();
    let connection = json!({
        "host": format!("127.0.0.1:{}", broker.local_addr().port()),
        "keepAliveSeconds": 10,
        "maxInflightMessages": 100,
        "protocol": "mqtt",
        "sessionExpirySeconds": 60,
        "tls": {"mode": "Disabled"}
    })
    .to_string();
    let volumes = volume.display().to_string();
    sandbox.mounts.push(K8sMount::create(
        &configuration,
        &[
            ("MQTT_CONNECTION_CONFIGURATION", connection.as_str()),
            ("DIAGNOSTICS", r#"{"logs":{"level":"info"}}"#),
            ("PERSISTENT_VOLUME_MOUNT_PATH", volumes.as_str()),
        ],
    ));
    sandbox
        .mounts
        .push(K8sMount::create(&allocation, &[] as &[(&str, &str)]));
    for (name, value) in [
        (
            "AZURE_EXTENSION_RESOURCEID",
            "/subscriptions/0/aio".to_owned(),
        ),
        ("CONNECTOR_ID", CONNECTOR_ID.to_owned()),
        ("CONNECTOR_NAMESPACE", "azure-iot-operations".to_owned()),
        (
            "CONNECTOR_CONFIGURATION_MOUNT_PATH",
            configuration.display().to_string(),
        ),
        (
            "ADR_RESOURCES_NAME_MOUNT_PATH",
            allocation.display().to_string(),
        ),
        // The pod's loopback port 8080 may be taken on this machine.
        ("SSE_CONNECTOR_HTTP", "off".to_owned()),
    ] {
        sandbox.env.push((name.to_owned(), value));
    }

    let before = sandbox.probe(&image, &readiness).await;
    assert_eq!(before.status.code(), Some(1), "{before:?}");

    // The image's entry point and command, nothing else.
    let argv: Vec<String> = image.entrypoint.iter().chain(&image.cmd).cloned().collect();
    let mut connector = Connector::spawn(sandbox.command(&image, &argv), false, false).await;
    connector.wait_for_log("running as an Akri connector").await;
    let ready = sandbox.until_passes(&image, &readiness).await;
    assert_eq!(String::from_utf8_lossy(&ready.stdout), "ready\n");
    // The probe found the heartbeat where Akri mode keeps its state, not in the image's
    // default state directory.
    assert!(volume.join(CONNECTOR_ID).join("heartbeat.json").is_file());

    assert!(connector.terminate().await.success());
    let after = sandbox.probe(&image, &readiness).await;
    assert_eq!(after.status.code(), Some(1), "{after:?}");
    broker.shutdown().await;
}
