//! The connector under test: the registry written for a run, and `sse-connector run` as a
//! child process (its log in a file; killed when dropped).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};
use tempfile::TempDir;

/// A temporary registry: one device whose endpoint is the loadgen's SSE server.
#[derive(Debug)]
pub struct TestRegistry {
    dir: TempDir,
}

const DEVICE: &str = "bench-source";
const ENDPOINT: &str = "sse";

impl TestRegistry {
    /// A registry with the device at `base_url` and no asset yet.
    ///
    /// # Errors
    /// When the files cannot be written.
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        std::fs::create_dir_all(dir.path().join("devices"))?;
        std::fs::create_dir_all(dir.path().join("assets"))?;
        std::fs::write(
            dir.path().join("devices").join(format!("{DEVICE}.yaml")),
            format!(
                "apiVersion: namespaces.deviceregistry.microsoft.com/v1\n\
                 kind: Device\n\
                 metadata:\n  name: {DEVICE}\n  namespace: azure-iot-operations\n\
                 spec:\n  endpoints:\n    inbound:\n      {ENDPOINT}:\n\
                 \x20       endpointType: Microsoft.SSEHttp\n\
                 \x20       address: {base_url}\n"
            ),
        )?;
        Ok(Self { dir })
    }

    /// Adds asset `name` with one dataset per `(dataset, data source, topic)`, all at `qos`
    /// (`Qos0` or `Qos1`).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_asset(
        &self,
        name: &str,
        datasets: impl IntoIterator<Item = (String, String, String)>,
        qos: &str,
    ) -> anyhow::Result<()> {
        self.add_asset_with(name, datasets, qos, None)
    }

    /// [`add_asset`](Self::add_asset), every dataset with `configuration` as its
    /// `datasetConfiguration` when given.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_asset_with(
        &self,
        name: &str,
        datasets: impl IntoIterator<Item = (String, String, String)>,
        qos: &str,
        configuration: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut yaml = format!(
            "apiVersion: namespaces.deviceregistry.microsoft.com/v1\n\
             kind: Asset\n\
             metadata:\n  name: {name}\n  namespace: azure-iot-operations\n\
             spec:\n  deviceRef:\n    deviceName: {DEVICE}\n    endpointName: {ENDPOINT}\n\
             \x20 datasets:\n"
        );
        for (dataset, source, topic) in datasets {
            if let Some(configuration) = configuration {
                let quoted = serde_json::to_string(configuration)?;
                let _ = write!(
                    yaml,
                    "    - name: {dataset}\n      datasetConfiguration: {quoted}\n"
                );
            } else {
                let _ = writeln!(yaml, "    - name: {dataset}");
            }
            let _ = write!(
                yaml,
                "      dataSource: {source}\n      destinations:\n\
                 \x20       - target: Mqtt\n          configuration:\n\
                 \x20           topic: {topic}\n            qos: {qos}\n"
            );
        }
        std::fs::write(
            self.dir.path().join("assets").join(format!("{name}.yaml")),
            yaml,
        )?;
        Ok(())
    }

    /// Installs `module` as `modules/bench-1.0.0.wasm` and a graph running its map with
    /// `mode` (`pass` or `json`, the test module's modes); returns the `datasetConfiguration`
    /// that uses it.
    ///
    /// # Errors
    /// When the module cannot be copied or a file cannot be written.
    pub fn add_transform(&self, module: &Path, mode: &str) -> anyhow::Result<String> {
        let modules = self.dir.path().join("modules");
        let graphs = self.dir.path().join("graphs");
        std::fs::create_dir_all(&modules)?;
        std::fs::create_dir_all(&graphs)?;
        std::fs::copy(module, modules.join("bench-1.0.0.wasm"))
            .with_context(|| format!("cannot copy the module {}", module.display()))?;
        std::fs::write(
            graphs.join("bench.yaml"),
            "operations:\n\
             \x20 - { operationType: source, name: source }\n\
             \x20 - { operationType: map, name: map, module: \"bench:1.0.0\" }\n\
             \x20 - { operationType: sink, name: sink }\n\
             connections:\n\
             \x20 - { from: { name: source }, to: { name: map } }\n\
             \x20 - { from: { name: map }, to: { name: sink } }\n",
        )?;
        Ok(serde_json::json!({"transform": {
            "graph": "graphs/bench.yaml",
            "configuration": {"map": {"mode": mode}}
        }})
        .to_string())
    }

    /// The registry directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A running `sse-connector run`.
#[derive(Debug)]
pub struct Connector {
    child: Child,
    log: PathBuf,
    _state: TempDir,
}

impl Connector {
    /// Runs `binary run --registry REGISTRY --broker BROKER --state-dir TMP --http off`, its
    /// standard error into a log file. `broker` is `mqtt://HOST:PORT`, or `embedded` with
    /// `embedded_addr`.
    ///
    /// # Errors
    /// When the binary is missing or cannot be started.
    pub fn spawn(
        binary: &Path,
        registry: &Path,
        broker: &str,
        embedded_addr: Option<&str>,
    ) -> anyhow::Result<Self> {
        if !binary.is_file() {
            bail!(
                "{} is missing: build it with `cargo build --release -p sse-connector`",
                binary.display()
            );
        }
        let state = tempfile::tempdir().context("temporary directory")?;
        let log = state.path().join("connector.log");
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(binary);
        command
            .arg("run")
            .arg("--registry")
            .arg(registry)
            .arg("--broker")
            .arg(broker)
            .arg("--state-dir")
            .arg(state.path().join("state"))
            .arg("--http")
            .arg("off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        if let Some(addr) = embedded_addr {
            command.arg("--embedded-broker-addr").arg(addr);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Self {
            child,
            log,
            _state: state,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the end of the log when the process has exited.
    ///
    /// # Errors
    /// When the connector is no longer running.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "the connector exited ({status}); end of its log:\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Resident memory now and at its peak, in KiB (`VmRSS`, `VmHWM` of `/proc/PID/status`).
    ///
    /// # Errors
    /// When the status file cannot be read (the process is gone).
    pub fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .context("cannot read the connector's /proc status")?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        };
        match (field("VmRSS:"), field("VmHWM:")) {
            (Some(rss), Some(hwm)) => Ok((rss, hwm)),
            _ => bail!("no VmRSS/VmHWM in the connector's /proc status"),
        }
    }

    /// CPU time (user + system) the process has used so far, from `/proc/PID/stat` (clock
    /// ticks of 10 ms, Linux's fixed `USER_HZ` of 100).
    ///
    /// # Errors
    /// When the stat file cannot be read or parsed (the process is gone).
    pub fn cpu_time(&self) -> anyhow::Result<std::time::Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .context("cannot read the connector's /proc stat")?;
        // The command name (field 2) may hold spaces; count fields after its closing ')'.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
        match (ticks(11), ticks(12)) {
            (Some(user), Some(system)) => {
                Ok(std::time::Duration::from_millis((user + system) * 10))
            }
            _ => bail!("unexpected /proc stat format"),
        }
    }

    /// Kills the process and waits for it.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
