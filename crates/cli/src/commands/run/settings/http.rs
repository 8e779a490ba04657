//! The HTTP settings: the listener's address, its token file, and the host names it answers
//! to.

use std::path::PathBuf;

use anyhow::Context as _;
use api::{AllowedHost, HttpListen};
use clap::Args;

use super::config_file::ConfigFile;
use super::precedence::Setting;

/// The HTTP listener options of `run`.
#[derive(Debug, Clone, Args)]
pub(super) struct HttpArgs {
    /// HTTP listener address, or `off` [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR|off", env = "SSE_CONNECTOR_HTTP")]
    http: Option<String>,

    /// File holding the bearer token of the HTTP listener (required beyond loopback)
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_HTTP_TOKEN_FILE")]
    http_token_file: Option<PathBuf>,

    /// A DNS name (or address) the HTTP listener is reached by, beyond its address, loopback
    /// and localhost, e.g. the machine's name or a reverse proxy's; requests naming any other
    /// host are refused (DNS rebinding). Repeat it, or separate names with commas
    #[arg(
        long = "http-allowed-host",
        value_name = "NAME",
        env = "SSE_CONNECTOR_HTTP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    http_allowed_hosts: Vec<String>,
}

/// The HTTP settings, resolved.
#[derive(Debug)]
pub(super) struct HttpSettings {
    pub(super) listen: HttpListen,
    pub(super) token_file: Option<PathBuf>,
    pub(super) allowed_hosts: Vec<AllowedHost>,
}

impl HttpArgs {
    /// The options (and their variables), then the config file.
    pub(super) fn resolve(&self, file: &ConfigFile) -> anyhow::Result<HttpSettings> {
        let listen =
            Setting::parse_option("--http", self.http.as_deref(), str::parse::<HttpListen>)?
                .parse_file(file.value("http", file.http.as_deref()), str::parse)?
                .found();
        let listen = match listen {
            Some(listen) => listen,
            None => api::listen::DEFAULT_HTTP_ADDR.parse().context("--http")?,
        };
        let options = (!self.http_allowed_hosts.is_empty()).then_some(&self.http_allowed_hosts[..]);
        let allowed_hosts = Setting::parse_option("--http-allowed-host", options, allowed_hosts)?
            .parse_file(
                file.value("httpAllowedHosts", file.http_allowed_hosts.as_deref()),
                allowed_hosts,
            )?
            .or_else(Vec::new);
        Ok(HttpSettings {
            listen,
            token_file: Setting::option(self.http_token_file.clone())
                .file(file.value("httpTokenFile", file.http_token_file.clone()))
                .found(),
            allowed_hosts,
        })
    }
}

/// Each name as an [`AllowedHost`].
fn allowed_hosts(names: &[String]) -> Result<Vec<AllowedHost>, api::ApiError> {
    names.iter().map(|name| name.parse()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::RuntimeSettings;
    use super::super::tests::{config, resolve};

    #[test]
    fn allowed_http_hosts_from_options_or_file() {
        let names = |s: &RuntimeSettings| -> Vec<String> {
            s.http_allowed_hosts
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert!(resolve(&[]).unwrap().http_allowed_hosts.is_empty());
        let options = resolve(&[
            "--http-allowed-host",
            "GW.plant.example",
            "--http-allowed-host",
            "proxy.example,10.0.0.5",
        ])
        .unwrap();
        assert_eq!(
            names(&options),
            ["gw.plant.example", "proxy.example", "10.0.0.5"]
        );
        let file = config("httpAllowedHosts: [gw.plant.example, \"fd00::5\"]\n");
        let path = file.path().to_str().unwrap();
        let from_file = resolve(&["--config", path]).unwrap();
        assert_eq!(names(&from_file), ["gw.plant.example", "[fd00::5]"]);
        let option_wins =
            resolve(&["--config", path, "--http-allowed-host", "other.example"]).unwrap();
        assert_eq!(names(&option_wins), ["other.example"]);
        let error = resolve(&["--http-allowed-host", "http://gw:8080"]).unwrap_err();
        assert!(
            format!("{error:#}").contains("--http-allowed-host"),
            "{error:#}"
        );
    }
}
