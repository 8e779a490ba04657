//! Where each signal goes: endpoint resolution from AIO's and OpenTelemetry's environment
//! variables and our settings.
//!
//! # Endpoint precedence, per signal (metrics, traces, logs), highest first
//! 1. AIO's variables: `OTLP_GRPC_{METRIC,TRACE,LOG}_ENDPOINT` (gRPC, `grpc://` or
//!    `grpcs://`), then `OTLP_HTTP_{METRIC,TRACE,LOG}_ENDPOINT` (HTTP/protobuf).
//! 2. `OTEL_EXPORTER_OTLP_{METRICS,TRACES,LOGS}_ENDPOINT`, with
//!    `OTEL_EXPORTER_OTLP_{METRICS,TRACES,LOGS}_PROTOCOL` or the general protocol.
//! 3. The general endpoint: `--otlp-endpoint` / `OTEL_EXPORTER_OTLP_ENDPOINT`, then the
//!    config file's `otlpEndpoint` (the caller passes the one that applies as
//!    [`OtlpSettings::endpoint`]), with `--otlp-protocol` / `OTEL_EXPORTER_OTLP_PROTOCOL`
//!    (`http/protobuf`, the default, or `grpc`).
//!
//! A per-signal endpoint beats the general one (as in the OpenTelemetry specification), so
//! AIO's variables, which are per signal, win over `--otlp-endpoint`.
//!
//! A signal with no endpoint is not exported. `OTEL_SDK_DISABLED=true` turns every export off.
//! HTTP URLs from the per-signal variables are used as they are, except that a URL with no
//! path gets the signal path (`/v1/metrics`, `/v1/traces`, `/v1/logs`); the general endpoint
//! always gets the signal path appended, as the OpenTelemetry specification says.
//!
//! # Trust of gRPC endpoints
//! A TLS gRPC endpoint trusts the system roots and the certificates of the directory that AIO
//! mounts for its collector: `FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH` for metrics,
//! `FIRST_PARTY_OTLP_GRPC_LOG_COLLECTOR_CA_PATH` for logs and, since AIO passes no trace CA,
//! for traces too (AIO's traces go to the same first-party collector as its logs).

use std::path::PathBuf;

use crate::error::{Error, ErrorKind};

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP with protobuf bodies (port 4318 by convention).
    #[default]
    HttpProtobuf,
    /// gRPC (port 4317 by convention).
    Grpc,
}

impl std::str::FromStr for Protocol {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text.trim() {
            "http/protobuf" | "http" => Ok(Self::HttpProtobuf),
            "grpc" => Ok(Self::Grpc),
            other => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("OTLP protocol {other:?}: use http/protobuf or grpc"),
            )),
        }
    }
}

/// Where one signal is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// For HTTP the full URL (with `/v1/<signal>`); for gRPC the server's URL (`grpc://` and
    /// `grpcs://` given as `http://` and `https://`).
    pub url: String,
    /// The transport.
    pub protocol: Protocol,
    /// The CA directory a TLS gRPC endpoint trusts besides the system roots.
    pub ca_dir: Option<CaDir>,
}

/// A directory of PEM CA certificates, as AIO mounts it, and the variable that named it (for
/// messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaDir {
    /// The environment variable.
    pub variable: &'static str,
    /// The directory.
    pub path: PathBuf,
}

/// The three signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Metrics.
    Metrics,
    /// Traces.
    Traces,
    /// Logs.
    Logs,
}

impl Signal {
    fn aio_name(self) -> &'static str {
        match self {
            Self::Metrics => "METRIC",
            Self::Traces => "TRACE",
            Self::Logs => "LOG",
        }
    }

    fn otel_name(self) -> &'static str {
        match self {
            Self::Metrics => "METRICS",
            Self::Traces => "TRACES",
            Self::Logs => "LOGS",
        }
    }

    /// AIO's variable naming the CA directory of this signal's gRPC collector (traces: the
    /// log collector's, AIO passes no trace CA).
    pub fn ca_variable(self) -> &'static str {
        match self {
            Self::Metrics => "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH",
            Self::Traces | Self::Logs => "FIRST_PARTY_OTLP_GRPC_LOG_COLLECTOR_CA_PATH",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Metrics => "/v1/metrics",
            Self::Traces => "/v1/traces",
            Self::Logs => "/v1/logs",
        }
    }
}

/// What the caller resolved from its options and config file.
#[derive(Debug, Clone, Default)]
pub struct OtlpSettings {
    /// The general endpoint (option, `OTEL_EXPORTER_OTLP_ENDPOINT`, config file).
    pub endpoint: Option<String>,
    /// The general protocol (option, `OTEL_EXPORTER_OTLP_PROTOCOL`, config file).
    pub protocol: Option<Protocol>,
}

/// The endpoint of each signal; `None`: not exported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtlpEndpoints {
    /// Metrics.
    pub metrics: Option<Endpoint>,
    /// Traces.
    pub traces: Option<Endpoint>,
    /// Logs.
    pub logs: Option<Endpoint>,
}

impl OtlpEndpoints {
    /// Resolves the endpoints from the process environment and `settings` (see the module
    /// documentation for the precedence).
    ///
    /// # Errors
    /// An invalid protocol name.
    pub fn resolve(settings: &OtlpSettings) -> Result<Self, Error> {
        Self::resolve_with(settings, |name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) with `env` as the environment (for tests).
    ///
    /// # Errors
    /// An invalid protocol name.
    pub fn resolve_with(
        settings: &OtlpSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(Self::default());
        }
        let general_protocol = match var("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(text) if settings.protocol.is_none() => text.parse()?,
            _ => settings.protocol.unwrap_or_default(),
        };
        let signal = |signal: Signal| -> Result<Option<Endpoint>, Error> {
            let grpc = var(&format!("OTLP_GRPC_{}_ENDPOINT", signal.aio_name()));
            let http = var(&format!("OTLP_HTTP_{}_ENDPOINT", signal.aio_name()));
            let found = if let Some(url) = grpc {
                Some((grpc_url(&url), Protocol::Grpc))
            } else if let Some(url) = http {
                Some((with_path_if_none(&url, signal), Protocol::HttpProtobuf))
            } else if let Some(url) = var(&format!(
                "OTEL_EXPORTER_OTLP_{}_ENDPOINT",
                signal.otel_name()
            )) {
                let protocol = match var(&format!(
                    "OTEL_EXPORTER_OTLP_{}_PROTOCOL",
                    signal.otel_name()
                )) {
                    Some(text) => text.parse()?,
                    None => general_protocol,
                };
                Some((endpoint_url(&url, protocol, signal, false), protocol))
            } else {
                settings
                    .endpoint
                    .as_deref()
                    .filter(|url| !url.trim().is_empty())
                    .map(|url| {
                        (
                            endpoint_url(url, general_protocol, signal, true),
                            general_protocol,
                        )
                    })
            };
            Ok(found.map(|(url, protocol)| {
                let ca_dir = (protocol == Protocol::Grpc)
                    .then(|| var(signal.ca_variable()))
                    .flatten()
                    .map(|path| CaDir {
                        variable: signal.ca_variable(),
                        path: PathBuf::from(path.trim()),
                    });
                Endpoint {
                    url,
                    protocol,
                    ca_dir,
                }
            }))
        };
        Ok(Self {
            metrics: signal(Signal::Metrics)?,
            traces: signal(Signal::Traces)?,
            logs: signal(Signal::Logs)?,
        })
    }
}

fn endpoint_url(url: &str, protocol: Protocol, signal: Signal, append: bool) -> String {
    match protocol {
        Protocol::Grpc => grpc_url(url),
        Protocol::HttpProtobuf if append => {
            format!("{}{}", url.trim().trim_end_matches('/'), signal.path())
        }
        Protocol::HttpProtobuf => with_path_if_none(url, signal),
    }
}

/// `grpc://` and `grpcs://` (as AIO passes them) as `http://` and `https://`.
fn grpc_url(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("grpcs://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("grpc://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

fn with_path_if_none(url: &str, signal: Signal) -> String {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(parsed) if parsed.path() == "/" || parsed.path().is_empty() => {
            format!("{}{}", url.trim_end_matches('/'), signal.path())
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(settings: &OtlpSettings, vars: &[(&str, &str)]) -> OtlpEndpoints {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtlpEndpoints::resolve_with(settings, |name| vars.get(name).cloned()).expect("resolves")
    }

    fn http(url: &str) -> Option<Endpoint> {
        Some(Endpoint {
            url: url.to_owned(),
            protocol: Protocol::HttpProtobuf,
            ca_dir: None,
        })
    }

    fn grpc(url: &str, ca_dir: Option<(&'static str, &str)>) -> Option<Endpoint> {
        Some(Endpoint {
            url: url.to_owned(),
            protocol: Protocol::Grpc,
            ca_dir: ca_dir.map(|(variable, path)| CaDir {
                variable,
                path: path.into(),
            }),
        })
    }

    #[test]
    fn nothing_configured_nothing_exported() {
        assert_eq!(
            resolve(&OtlpSettings::default(), &[]),
            OtlpEndpoints::default()
        );
    }

    #[test]
    fn general_endpoint_gets_signal_paths() {
        let settings = OtlpSettings {
            endpoint: Some("http://collector:4318/".into()),
            protocol: None,
        };
        let e = resolve(&settings, &[]);
        assert_eq!(e.metrics, http("http://collector:4318/v1/metrics"));
        assert_eq!(e.traces, http("http://collector:4318/v1/traces"));
        assert_eq!(e.logs, http("http://collector:4318/v1/logs"));
    }

    #[test]
    fn per_signal_variables_win_aio_first() {
        let settings = OtlpSettings {
            endpoint: Some("http://general:4318".into()),
            protocol: None,
        };
        let e = resolve(
            &settings,
            &[
                ("OTLP_HTTP_METRIC_ENDPOINT", "http://aio:4318"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "http://std:4318/custom",
                ),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://std:4318/custom",
                ),
            ],
        );
        assert_eq!(e.metrics, http("http://aio:4318/v1/metrics"));
        assert_eq!(e.traces, http("http://std:4318/custom"));
        assert_eq!(e.logs, http("http://general:4318/v1/logs"));
    }

    #[test]
    fn grpc_endpoints() {
        const METRICS_CA: &str = "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH";
        const LOG_CA: &str = "FIRST_PARTY_OTLP_GRPC_LOG_COLLECTOR_CA_PATH";
        let e = resolve(
            &OtlpSettings::default(),
            &[
                ("OTLP_GRPC_METRIC_ENDPOINT", "grpcs://collector:4317"),
                ("OTLP_GRPC_TRACE_ENDPOINT", "grpcs://collector:4317"),
                ("OTLP_GRPC_LOG_ENDPOINT", "grpc://collector:4317"),
                ("OTLP_HTTP_LOG_ENDPOINT", "http://collector:4318"),
                (METRICS_CA, "/var/run/metrics-ca"),
                (LOG_CA, "/var/run/log-ca"),
            ],
        );
        assert_eq!(
            e.metrics,
            grpc(
                "https://collector:4317",
                Some((METRICS_CA, "/var/run/metrics-ca"))
            )
        );
        // Traces trust the log collector's CA: AIO passes no trace CA.
        assert_eq!(
            e.traces,
            grpc("https://collector:4317", Some((LOG_CA, "/var/run/log-ca")))
        );
        assert_eq!(
            e.logs,
            grpc("http://collector:4317", Some((LOG_CA, "/var/run/log-ca")))
        );
        // A CA directory is for gRPC only.
        let e = resolve(
            &OtlpSettings::default(),
            &[
                ("OTLP_HTTP_METRIC_ENDPOINT", "https://collector:4318"),
                (METRICS_CA, "/var/run/metrics-ca"),
            ],
        );
        assert_eq!(e.metrics, http("https://collector:4318/v1/metrics"));
        let e = resolve(
            &OtlpSettings::default(),
            &[
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "ignored: passed by the caller",
                ),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4317"),
            ],
        );
        assert_eq!(e.logs, grpc("http://c:4317", None));
        assert!(
            OtlpEndpoints::resolve_with(&OtlpSettings::default(), |n| {
                (n == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "carrier-pigeon".to_owned())
            })
            .is_err()
        );
    }

    #[test]
    fn disabled_sdk_exports_nothing() {
        let settings = OtlpSettings {
            endpoint: Some("http://general:4318".into()),
            protocol: None,
        };
        assert_eq!(
            resolve(&settings, &[("OTEL_SDK_DISABLED", "true")]),
            OtlpEndpoints::default()
        );
    }
}
