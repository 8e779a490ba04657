//! Settings of an MQTT connection, validated before anything connects, and the reconnect
//! backoff as a pure function.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{MqttError, MqttErrorKind};

/// TLS settings of the broker connection. Server certificates are always verified, against the
/// system's roots plus `ca_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Extra trusted CA certificates (PEM), for brokers with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM, leaf first), for brokers that authenticate clients by
    /// certificate. Needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// Private key of the client certificate (PEM: PKCS#8, PKCS#1 or SEC1; or encrypted
    /// PKCS#8 with `client_key_password_file`).
    pub client_key: Option<PathBuf>,
    /// File holding the password of an encrypted `client_key` (`BEGIN ENCRYPTED PRIVATE
    /// KEY`), trailing line breaks removed; never logged.
    pub client_key_password_file: Option<PathBuf>,
}

/// Reconnect delays: exponential from `min` to `max`, each drawn at random from its upper
/// half so that many connectors restarted together do not reconnect in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub min: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// Delay before reconnect attempt `attempt` (1 = after the first failure); `jitter` in
    /// `[0, 1]` picks a point in the upper half of the exponential step.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let step = self.min.saturating_mul(1u32 << exponent).min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        step.mul_f64(0.5 + 0.5 * jitter).max(self.min.min(step))
    }
}

/// How to reach and talk to the broker. Build with [`MqttConfig::new`] or
/// [`MqttConfig::from_url`], adjust the public fields, and let whatever connects (the
/// destination's publisher, [`connection`](crate::connection::connection)) validate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Broker host name or IP address (also the name checked in the server certificate).
    pub host: String,
    /// Broker TCP port.
    pub port: u16,
    /// TLS settings; `None` for plain TCP.
    pub tls: Option<TlsSettings>,
    /// User name of the CONNECT packet.
    pub username: Option<String>,
    /// File holding the password (trailing line breaks removed). Read at every connect, so a
    /// rotated password is picked up without a restart; never logged.
    pub password_file: Option<PathBuf>,
    /// Kubernetes service account token file: when set, every CONNECT authenticates with the
    /// method `K8S-SAT` and the token (read at each connect; a rotation reconnects, see
    /// [`sat`](crate::sat)). Never logged.
    pub sat_file: Option<PathBuf>,
    /// Client identifier; keep it stable so the broker can resume the session.
    pub client_id: String,
    /// Keep-alive interval (5 s to 65,535 s).
    pub keep_alive: Duration,
    /// How long the broker keeps the session after a disconnect.
    pub session_expiry: Duration,
    /// Clean start: `false` (the default) asks the broker to resume the previous session.
    pub clean_start: bool,
    /// Most messages accepted and not yet acknowledged (QoS 1) or written (QoS 0). When it is
    /// reached, the publisher of the MQTT destination waits: this is the backpressure. The
    /// broker's Receive Maximum lowers the number actually sent without acknowledgement.
    pub max_in_flight: u16,
    /// Largest MQTT packet sent or received (rumqttc's default of 10 KiB is too small for
    /// events).
    pub max_packet_size: u32,
    /// Time allowed for TCP, TLS and CONNACK.
    pub connect_timeout: Duration,
    /// Reconnect delays.
    pub reconnect: Backoff,
    /// Time the publisher's `close` waits for acknowledgements.
    pub close_timeout: Duration,
}

/// Default client identifier.
pub const DEFAULT_CLIENT_ID: &str = "sse-connector";

impl MqttConfig {
    /// Defaults for `host:port`: plain TCP, anonymous, client id `sse-connector`, keep-alive
    /// 30 s, session expiry 1 h, 1,000 messages in flight, 16 MiB packets.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            tls: None,
            username: None,
            password_file: None,
            sat_file: None,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            keep_alive: Duration::from_secs(30),
            session_expiry: Duration::from_secs(3600),
            clean_start: false,
            max_in_flight: 1000,
            max_packet_size: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            reconnect: Backoff::default(),
            close_timeout: Duration::from_secs(10),
        }
    }

    /// Settings from `mqtt://host[:port]` (port 1883 by default) or `mqtts://host[:port]`
    /// (TLS with the system roots, port 8883 by default).
    ///
    /// # Errors
    /// [`MqttErrorKind::InvalidConfig`] for another scheme, a missing host, user information
    /// (use `username` and `password_file`), or a path, query or fragment.
    pub fn from_url(url: &str) -> Result<Self, MqttError> {
        let invalid = |why: &str| {
            MqttError::new(
                MqttErrorKind::InvalidConfig,
                format!("broker URL {}: {why}", redact(url)),
            )
        };
        let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        let (tls, default_port) = match parsed.scheme() {
            "mqtt" => (None, 1883),
            "mqtts" => (Some(TlsSettings::default()), 8883),
            other => return Err(invalid(&format!("scheme {other} is not mqtt or mqtts"))),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "credentials do not belong in the URL; use a username and a password file",
            ));
        }
        if !matches!(parsed.path(), "" | "/")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(invalid("only mqtt[s]://host[:port] is accepted"));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("no host")),
        };
        let mut config = Self::new(host, parsed.port().unwrap_or(default_port));
        config.tls = tls;
        Ok(config)
    }

    /// Checks every setting; called by everything that connects.
    ///
    /// # Errors
    /// [`MqttErrorKind::InvalidConfig`] naming the first setting out of range;
    /// [`MqttErrorKind::SatFile`] when the token file cannot be opened.
    pub fn validate(&self) -> Result<(), MqttError> {
        let invalid = |msg: String| Err(MqttError::new(MqttErrorKind::InvalidConfig, msg));
        if self.host.trim().is_empty() {
            return invalid("MQTT broker host is empty".into());
        }
        if self.port == 0 {
            return invalid("MQTT broker port 0 is not valid".into());
        }
        if self.client_id.is_empty() || self.client_id.len() > 65_535 {
            return invalid("MQTT client id must have 1 to 65,535 bytes".into());
        }
        let keep_alive = self.keep_alive.as_secs();
        if !(5..=65_535).contains(&keep_alive) {
            return invalid(format!(
                "MQTT keep-alive of {keep_alive} s is outside 5 s to 65,535 s"
            ));
        }
        if u32::try_from(self.session_expiry.as_secs()).is_err() {
            return invalid("MQTT session expiry is longer than 4,294,967,295 s".into());
        }
        if self.max_in_flight == 0 {
            return invalid("MQTT max in-flight must be at least 1".into());
        }
        if self.max_packet_size < 1024 {
            return invalid(format!(
                "MQTT max packet size of {} bytes is below 1,024",
                self.max_packet_size
            ));
        }
        if self.connect_timeout < Duration::from_secs(1) {
            return invalid("MQTT connect timeout must be at least 1 s".into());
        }
        if self.reconnect.min.is_zero() || self.reconnect.min > self.reconnect.max {
            return invalid("MQTT reconnect backoff needs 0 < min <= max".into());
        }
        if self.password_file.is_some() && self.username.is_none() {
            return invalid("an MQTT password file is given without a username".into());
        }
        if let Some(tls) = &self.tls {
            if tls.client_cert.is_some() != tls.client_key.is_some() {
                return invalid(
                    "an MQTT client certificate needs both the certificate and the key".into(),
                );
            }
            if tls.client_key_password_file.is_some() && tls.client_key.is_none() {
                return invalid("an MQTT client key password file is given without a key".into());
            }
        }
        if let Some(path) = &self.sat_file {
            // Only opened: the token itself is read at each connect.
            std::fs::File::open(path).map_err(|e| {
                MqttError::new(
                    MqttErrorKind::SatFile,
                    format!(
                        "cannot read the service account token file {}: {e}",
                        path.display()
                    ),
                )
                .with_source(crate::error::MqttErrorSource::Io(e))
            })?;
        }
        if self.tls.is_none() && (self.username.is_some() || self.sat_file.is_some()) {
            tracing::warn!(
                host = %self.host,
                "MQTT credentials are sent without TLS; use mqtts outside a trusted network"
            );
        }
        Ok(())
    }
}

/// A URL for messages, without anything between `//` and `@`.
fn redact(url: &str) -> String {
    match (url.find("//"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}//…@{}", &url[..start], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Reads a password file (a few bytes, read at each connection): the content without
/// trailing line breaks.
///
/// # Errors
/// [`MqttErrorKind::PasswordFile`] when the file cannot be read or is not UTF-8.
pub fn read_password(path: &std::path::Path) -> Result<String, MqttError> {
    let bytes = std::fs::read(path).map_err(|e| {
        MqttError::new(
            MqttErrorKind::PasswordFile,
            format!("cannot read MQTT password file {}: {e}", path.display()),
        )
        .with_source(crate::error::MqttErrorSource::Io(e))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        MqttError::new(
            MqttErrorKind::PasswordFile,
            format!("MQTT password file {} is not UTF-8", path.display()),
        )
    })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_url_reads_scheme_host_and_port() {
        let plain = MqttConfig::from_url("mqtt://broker.local").expect("valid");
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls.is_some()),
            ("broker.local", 1883, false)
        );
        let tls = MqttConfig::from_url("mqtts://10.0.0.5:9883").expect("valid");
        assert_eq!(
            (tls.host.as_str(), tls.port, tls.tls.is_some()),
            ("10.0.0.5", 9883, true)
        );
        let v6 = MqttConfig::from_url("mqtt://[::1]:1884/").expect("valid");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1884));
    }

    #[test]
    fn from_url_refuses_what_it_cannot_honour() {
        for url in [
            "http://broker:1883",
            "mqtt://",
            "mqtt://user:secret@broker:1883",
            "mqtt://broker:1883/topic",
            "mqtt://broker:1883?x=1",
            "broker:1883",
        ] {
            let error = MqttConfig::from_url(url).expect_err(url);
            assert_eq!(error.kind(), MqttErrorKind::InvalidConfig, "{url}");
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn validate_names_the_bad_setting() {
        let ok = MqttConfig::new("localhost", 1883);
        assert!(ok.validate().is_ok());
        type Change = fn(&mut MqttConfig);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.host.clear(), "host"),
            (|c| c.port = 0, "port"),
            (|c| c.client_id.clear(), "client id"),
            (|c| c.keep_alive = Duration::from_secs(1), "keep-alive"),
            (|c| c.max_in_flight = 0, "in-flight"),
            (|c| c.max_packet_size = 10, "packet size"),
            (|c| c.reconnect.min = Duration::ZERO, "backoff"),
            (|c| c.password_file = Some("p".into()), "username"),
            (
                |c| c.sat_file = Some("/no/such/token".into()),
                "/no/such/token",
            ),
            (
                |c| {
                    c.tls = Some(TlsSettings {
                        client_key_password_file: Some("pw".into()),
                        ..TlsSettings::default()
                    })
                },
                "without a key",
            ),
            (
                |c| {
                    c.tls = Some(TlsSettings {
                        client_cert: Some("c".into()),
                        ..TlsSettings::default()
                    })
                },
                "key",
            ),
        ];
        for (change, word) in cases {
            let mut config = ok.clone();
            change(&mut config);
            let error = config.validate().expect_err(word);
            assert!(
                error.to_string().contains(word),
                "{error} should name {word}"
            );
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_in_the_upper_half() {
        let backoff = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(backoff.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(backoff.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(backoff.delay(50, 1.0), Duration::from_secs(2));
        assert_eq!(backoff.delay(50, 0.0), Duration::from_secs(1));
        assert_eq!(backoff.delay(u32::MAX, 7.0), Duration::from_secs(2));
    }

    #[test]
    fn password_file_loses_its_line_break() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\r\n").expect("write");
        assert_eq!(read_password(&path).expect("read"), "s3cret");
        let missing = read_password(&dir.path().join("none")).expect_err("missing");
        assert_eq!(missing.kind(), MqttErrorKind::PasswordFile);
    }
}
