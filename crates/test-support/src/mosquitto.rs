//! A real mosquitto broker on a free loopback port, for integration tests.
//!
//! Each [`Mosquitto`] writes its own configuration into a temporary directory (anonymous
//! clients, `max_inflight_messages 1000`, `set_tcp_nodelay true` (request/response round trips
//! without Nagle's delay), no persistence unless started with
//! [`Mosquitto::start_persistent`]) and runs `mosquitto -c` on it. The process is killed when
//! the value is dropped. [`Mosquitto::stop`] (graceful), [`Mosquitto::kill`] (a crash) and
//! [`Mosquitto::restart`] keep the port, for broker-restart tests. Without persistence a
//! restarted broker has lost every session; with it, sessions, subscriptions and queued
//! messages survive a graceful stop.
//!
//! The binary is `$MOSQUITTO` if set, else `mosquitto` from `/usr/sbin`, `/usr/local/sbin` or
//! the `PATH`. Without it every test that starts a broker fails with a message saying so: a
//! test skipped silently would pass without testing anything. The calls block briefly (they wait for the port); they are fine inside tokio's
//! multi-threaded test runtime.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A mosquitto process owned by a test.
#[derive(Debug)]
pub struct Mosquitto {
    dir: TempDir,
    addr: SocketAddr,
    child: Option<Child>,
    persistent: bool,
    /// Lines added to the configuration (e.g. an ACL file, a packet size limit).
    extra: String,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOSQUITTO") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "MOSQUITTO={} is not a file; this test needs the mosquitto binary",
            path.display()
        );
        return path;
    }
    let mut candidates = vec![
        PathBuf::from("/usr/sbin/mosquitto"),
        PathBuf::from("/usr/local/sbin/mosquitto"),
    ];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("mosquitto")));
    }
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test needs mosquitto, found neither in /usr/sbin, /usr/local/sbin nor the \
                 PATH: install it (apt-get install mosquitto) or set MOSQUITTO to its path"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

impl Mosquitto {
    /// Starts mosquitto on a free loopback port and waits until it accepts connections.
    ///
    /// # Panics
    /// When mosquitto is not installed or does not start.
    pub fn start() -> Self {
        Self::start_with(false, "", &[])
    }

    /// Like [`start`](Self::start), with `extra` lines appended to the configuration, e.g.
    /// `max_packet_size 4096`, and `files` (name, content) written into the broker's
    /// temporary directory first (see [`dir`](Self::dir)); `{dir}` in `extra` stands for that
    /// directory, e.g. `acl_file {dir}/acl`.
    ///
    /// # Panics
    /// When mosquitto is not installed or does not start.
    pub fn start_configured(extra: &str, files: &[(&str, &str)]) -> Self {
        Self::start_with(false, extra, files)
    }

    /// Like [`start`](Self::start), with persistence in the temporary directory: a graceful
    /// [`stop`](Self::stop) saves sessions and queued messages for the next start.
    ///
    /// # Panics
    /// When mosquitto is not installed or does not start.
    pub fn start_persistent() -> Self {
        Self::start_with(true, "", &[])
    }

    fn start_with(persistent: bool, extra: &str, files: &[(&str, &str)]) -> Self {
        // The port is free when probed; another process may take it before mosquitto binds,
        // so try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let mut broker = Self {
                dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
                addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
                child: None,
                persistent,
                extra: String::new(),
            };
            broker.extra = extra.replace("{dir}", &broker.dir.path().display().to_string());
            for (name, content) in files {
                let path = broker.dir.path().join(name);
                fs::write(&path, content)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            }
            match broker.spawn() {
                Ok(()) => return broker,
                Err(error) => last_error = error,
            }
        }
        panic!("mosquitto did not start: {last_error}");
    }

    /// The broker's temporary directory (configuration, log, persistence).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Asks the broker to read its configuration files again (SIGHUP): an edited ACL file
    /// takes effect for connected clients.
    pub fn reload(&self) {
        if let Some(child) = &self.child {
            let sent = Command::new("kill")
                .arg("-HUP")
                .arg(child.id().to_string())
                .status()
                .is_ok_and(|s| s.success());
            assert!(sent, "cannot send SIGHUP to mosquitto");
        }
    }

    /// `host:port` of the listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listener's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `mqtt://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Stops the broker gracefully (SIGTERM; a persistent broker saves its state), killing it
    /// after five seconds. Does nothing when stopped.
    pub fn stop(&mut self) {
        if let Some(child) = &mut self.child {
            let terminated = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .is_ok_and(|s| s.success());
            let deadline = Instant::now() + Duration::from_secs(5);
            while terminated && Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.kill();
    }

    /// Kills the broker with SIGKILL, like a crash. Does nothing when stopped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port (killing it first if it runs; call
    /// [`stop`](Self::stop) before for a graceful restart).
    ///
    /// # Panics
    /// When it does not come back within ten seconds.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                // The old socket may linger briefly.
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("mosquitto did not restart on {}: {error}", self.addr),
            }
        }
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    fn spawn(&mut self) -> Result<(), String> {
        let config = self.dir.path().join("mosquitto.conf");
        let log = self.dir.path().join("mosquitto.log");
        // `user root` keeps root (when tests run as root) from switching to the `mosquitto`
        // user, which cannot write the persistence file into our directory; as another user
        // it has no effect.
        let persistence = if self.persistent {
            format!(
                "persistence true\npersistence_location {}/\n",
                self.dir.path().display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n\
             max_queued_messages 100000\nset_tcp_nodelay true\n{persistence}user root\n\
             log_dest stderr\n\
             log_type error\nlog_type warning\n{extra}\n",
            port = self.addr.port(),
            extra = self.extra,
        );
        fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let stderr = fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(binary())
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                format!("cannot run mosquitto: {e}; install mosquitto: apt-get install mosquitto")
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if !self.is_running() || Instant::now() > deadline {
                self.kill();
                let output = fs::read_to_string(&log).unwrap_or_default();
                return Err(format!(
                    "mosquitto on {} exited or timed out: {output}",
                    self.addr
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}
