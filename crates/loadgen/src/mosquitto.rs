//! A mosquitto for one run: a free loopback port, no persistence, 1,000 messages in flight per
//! client (mosquitto's default of 20 would measure the broker's window, not the connector), and
//! a queue deep enough that a subscriber briefly behind the publisher loses nothing.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tempfile::TempDir;

/// A running mosquitto; killed when dropped.
#[derive(Debug)]
pub struct Mosquitto {
    addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

/// A free loopback port (free when probed).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

impl Mosquitto {
    /// Starts `binary` and waits (at most 10 s) until it accepts connections.
    ///
    /// # Errors
    /// When mosquitto cannot be started or does not listen in time.
    pub fn start(binary: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_inflight_messages 1000\nmax_queued_messages 1000000\n\
                 log_dest stderr\nlog_type error\nlog_type warning\n",
                addr.port()
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("mosquitto.log"))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut broker = Self {
            addr,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(addr).is_ok() {
                return Ok(broker);
            }
            if let Ok(Some(status)) = broker.child.try_wait() {
                bail!("mosquitto exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("mosquitto did not listen on {addr} within 10 s")
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
