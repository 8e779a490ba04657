//! The precedence of every setting, in one place: the command-line option, then the
//! environment, then the config file, then the default.
//!
//! An option with a variable of the option's format (`SSE_CONNECTOR_*`, and AIO's
//! `AIO_MQTT_CLIENT_ID`, `AIO_TLS_*`, ...) has it read by clap, so it arrives as the option.
//! The environment step is for variables in a format of their own: AIO's numbers of seconds
//! (`AIO_MQTT_KEEP_ALIVE`), the broker URL of `AIO_BROKER_HOSTNAME` and its companions, and
//! `OTEL_METRIC_EXPORT_INTERVAL` in milliseconds.
//!
//! Each source is read only when every source above it gave nothing, so a value that is
//! overridden is never validated. An error names where the value came from: the option, the
//! variable, or the config file and its key.

use std::fmt::Display;

use super::config_file::FileValue;

/// One setting being resolved: the value of the highest source that gave one so far. Call
/// the steps in order: [`option`](Self::option) (or [`parse_option`](Self::parse_option)),
/// [`env`](Self::env), [`file`](Self::file) (or [`parse_file`](Self::parse_file)), then
/// [`or`](Self::or) or [`or_else`](Self::or_else) for the default, or [`found`](Self::found)
/// for a setting without one.
#[derive(Debug)]
#[must_use]
pub(super) struct Setting<T>(Option<T>);

impl<T> Setting<T> {
    /// Starts with the command-line option (or the variable clap reads for it).
    pub(super) fn option(value: Option<T>) -> Self {
        Self(value)
    }

    /// Starts with an option that clap takes as text, parsed by `parse`.
    ///
    /// # Errors
    /// `NAME: ` and what `parse` says.
    pub(super) fn parse_option<V, E: Display>(
        name: &str,
        value: Option<V>,
        parse: impl FnOnce(V) -> Result<T, E>,
    ) -> anyhow::Result<Self> {
        value
            .map(parse)
            .transpose()
            .map(Self)
            .map_err(|e| anyhow::anyhow!("{name}: {e:#}"))
    }

    /// Then the environment, read by `read` only when the option gave nothing.
    ///
    /// # Errors
    /// What `read` says; it names the variable.
    pub(super) fn env(
        self,
        read: impl FnOnce() -> anyhow::Result<Option<T>>,
    ) -> anyhow::Result<Self> {
        match self.0 {
            Some(_) => Ok(self),
            None => read().map(Self),
        }
    }

    /// Then the config file's value as it is, when nothing above gave one.
    pub(super) fn file(self, value: FileValue<'_, T>) -> Self {
        match self.0 {
            Some(_) => self,
            None => Self(value.value),
        }
    }

    /// Then the config file's value parsed by `parse`, when nothing above gave one.
    ///
    /// # Errors
    /// `config file PATH: KEY: ` and what `parse` says.
    pub(super) fn parse_file<V, E: Display>(
        self,
        value: FileValue<'_, V>,
        parse: impl FnOnce(V) -> Result<T, E>,
    ) -> anyhow::Result<Self> {
        match self.0 {
            Some(_) => Ok(self),
            None => value.parse(parse).map(Self),
        }
    }

    /// The value, else `default`.
    pub(super) fn or(self, default: T) -> T {
        self.0.unwrap_or(default)
    }

    /// The value, else the default `default` makes (from settings resolved before).
    pub(super) fn or_else(self, default: impl FnOnce() -> T) -> T {
        self.0.unwrap_or_else(default)
    }

    /// The value, `None` when no source gave one (a setting without a default).
    pub(super) fn found(self) -> Option<T> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::super::config_file::ConfigFile;
    use super::*;
    use crate::values;

    /// A duration of each kind of source: typed option, variable in seconds, file text.
    fn keep_alive(
        option: Option<Duration>,
        env: Option<&str>,
        file: &ConfigFile,
    ) -> anyhow::Result<Duration> {
        Ok(Setting::option(option)
            .env(|| {
                env.map(|text| {
                    text.parse()
                        .map(Duration::from_secs)
                        .map_err(|_| anyhow::anyhow!("KEEP_ALIVE={text:?}"))
                })
                .transpose()
            })?
            .parse_file(
                file.value("keepAlive", file.keep_alive.as_deref()),
                values::duration,
            )?
            .or(Duration::from_secs(30)))
    }

    fn file(text: &str) -> (tempfile::NamedTempFile, ConfigFile) {
        let temp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(temp.path(), text).unwrap();
        let file = ConfigFile::read(Some(temp.path())).unwrap();
        (temp, file)
    }

    #[test]
    fn option_beats_environment_beats_file_beats_default() {
        let (_temp, with_file) = file("keepAlive: 3s\n");
        let none = ConfigFile::default();
        let secs = Duration::from_secs;
        assert_eq!(
            keep_alive(Some(secs(1)), Some("2"), &with_file).unwrap(),
            secs(1)
        );
        assert_eq!(keep_alive(None, Some("2"), &with_file).unwrap(), secs(2));
        assert_eq!(keep_alive(None, None, &with_file).unwrap(), secs(3));
        assert_eq!(keep_alive(None, None, &none).unwrap(), secs(30));
    }

    #[test]
    fn an_overridden_source_is_not_read() {
        let (_temp, bad_file) = file("keepAlive: soon\n");
        let secs = Duration::from_secs;
        assert_eq!(
            keep_alive(Some(secs(1)), Some("x"), &bad_file).unwrap(),
            secs(1)
        );
        assert_eq!(keep_alive(None, Some("2"), &bad_file).unwrap(), secs(2));
        let env = keep_alive(None, Some("x"), &bad_file).unwrap_err();
        assert_eq!(format!("{env:#}"), "KEEP_ALIVE=\"x\"");
    }

    #[test]
    fn errors_name_the_option_or_the_file_and_key() {
        let (temp, bad_file) = file("keepAlive: soon\n");
        let error = keep_alive(None, None, &bad_file).unwrap_err().to_string();
        let expected = format!(
            "config file {}: keepAlive: `soon` is not",
            temp.path().display()
        );
        assert!(error.starts_with(&expected), "{error}");
        let option = Setting::<u8>::parse_option("--level", Some("high"), str::parse).unwrap_err();
        assert!(option.to_string().starts_with("--level: "), "{option}");
    }

    #[test]
    fn every_kind_of_setting_follows_the_rule() {
        let (_temp, file) = file("clientId: from-file\nhttp: 127.0.0.1:1\n");
        // Text taken as it is: option, file, default.
        let id = |option: Option<&str>, file: &ConfigFile| {
            Setting::option(option.map(str::to_owned))
                .file(file.value("clientId", file.client_id.clone()))
                .or_else(|| "default".to_owned())
        };
        assert_eq!(id(Some("option"), &file), "option");
        assert_eq!(id(None, &file), "from-file");
        assert_eq!(id(None, &ConfigFile::default()), "default");
        // Text parsed from the option and from the file; no default.
        let http = |option: Option<&str>, file: &ConfigFile| {
            Setting::parse_option("--http", option, str::parse::<api::HttpListen>)
                .unwrap()
                .parse_file(file.value("http", file.http.as_deref()), str::parse)
                .unwrap()
                .found()
                .map(|listen| listen.to_string())
        };
        assert_eq!(http(Some("off"), &file).as_deref(), Some("off"));
        assert_eq!(http(None, &file).as_deref(), Some("127.0.0.1:1"));
        assert_eq!(http(None, &ConfigFile::default()), None);
    }
}
