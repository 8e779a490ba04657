//! Logs: `tracing` to standard error, human or JSON, filtered by `RUST_LOG` or a level, and
//! optionally to OTLP.
//!
//! [`init`] runs first thing in `main`, before any settings file is read; what only the
//! settings know is applied later through the global handle: [`set_level`] (the config
//! file's level, ignored when `RUST_LOG` is set), [`set_format`], and the OTLP log bridge
//! (attached by [`Telemetry`](crate::Telemetry) when a log endpoint is configured).
//!
//! Both formatters see every span (so either can be switched to at any time: the JSON one
//! needs its own formatted span fields), and only the active one writes events.
//!
//! What is logged where: connection lifecycle at `info`, retries at `warn`, every event at
//! `trace` only. Secrets are never a field of any log line (they are read from files at
//! connect time and only handed to the HTTP client).

use std::io::IsTerminal as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use tracing::Subscriber;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::error::{Error, ErrorKind};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event (the default).
    #[default]
    Human,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`...).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "human" | "text" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("log format {other:?}: use human or json"),
            )),
        }
    }
}

/// What [`init`] needs.
#[derive(Debug, Clone, Copy)]
pub struct LogSettings<'a> {
    /// The format; `None`: human, and [`set_format`] may change it later.
    pub format: Option<LogFormat>,
    /// A level (`trace`…`error`) or filter directives; `RUST_LOG` wins over it.
    pub level: Option<&'a str>,
    /// The filter when neither `RUST_LOG` nor a level is given.
    pub default_filter: &'a str,
}

struct State {
    filter: reload::Handle<EnvFilter, Registry>,
    json: &'static AtomicBool,
    from_env: bool,
    level_given: bool,
    format_given: bool,
}

static STATE: OnceLock<State> = OnceLock::new();
static JSON: AtomicBool = AtomicBool::new(false);
static BRIDGE: OnceLock<OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>> = OnceLock::new();

/// The filter of `level` (a level or directives).
///
/// # Errors
/// Invalid directives.
pub fn filter(level: &str) -> Result<EnvFilter, Error> {
    EnvFilter::try_new(level.trim()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("log level {level:?}: {e}"),
        )
    })
}

/// The filter directives of a log `level` for the connector: a plain level (`trace`, `debug`,
/// `info`, `warn`, `error`, `off`) applies to `targets` (the connector's own crates), and
/// other crates stay at `warn` (or the level, when it is quieter); anything else is taken as
/// directives, as `RUST_LOG` would be.
pub fn level_directives(level: &str, targets: &[&str]) -> String {
    let level = level.trim();
    let lower = level.to_ascii_lowercase();
    match lower.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => {
            let others = if matches!(lower.as_str(), "error" | "off") {
                lower.as_str()
            } else {
                "warn"
            };
            let mut directives = others.to_owned();
            for target in targets {
                directives.push_str(&format!(",{target}={lower}"));
            }
            directives
        }
        _ => level.to_owned(),
    }
}

/// Installs the global subscriber: `RUST_LOG` if set (an invalid one is reported and
/// ignored), else `settings.level`, else `settings.default_filter`. Only the first call
/// installs anything.
///
/// # Errors
/// When `settings.level` is invalid.
pub fn init(settings: LogSettings<'_>) -> Result<(), Error> {
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let from_env = match env.as_deref().map(filter) {
        Some(Ok(_)) => true,
        Some(Err(error)) => {
            eprintln!("warning: ignoring RUST_LOG ({error})");
            false
        }
        None => false,
    };
    let active = match (from_env, env.as_deref(), settings.level) {
        (true, Some(env), _) => filter(env)?,
        (_, _, Some(level)) => filter(level)?,
        _ => filter(settings.default_filter)?,
    };
    let (filter_layer, handle) = reload::Layer::new(active);
    JSON.store(settings.format == Some(LogFormat::Json), Ordering::Relaxed);
    let ansi = std::io::stderr().is_terminal();
    let human = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(std::io::stderr)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false);
    let installed = tracing_subscriber::registry()
        .with(filter_layer)
        .with(Switch {
            json: &JSON,
            human,
            json_layer: json,
        })
        .with(Bridge)
        .try_init()
        .is_ok();
    if installed {
        let _ = STATE.set(State {
            filter: handle,
            json: &JSON,
            from_env,
            level_given: settings.level.is_some(),
            format_given: settings.format.is_some(),
        });
    }
    Ok(())
}

/// Applies a level from a settings file: ignored when `RUST_LOG` or a command-line level
/// was given at [`init`] (they take precedence).
///
/// # Errors
/// When `level` is invalid.
pub fn set_level(level: &str) -> Result<(), Error> {
    let new = filter(level)?;
    if let Some(state) = STATE.get()
        && !state.from_env
        && !state.level_given
    {
        state
            .filter
            .reload(new)
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("log level: {e}")))?;
    }
    Ok(())
}

/// Applies a format from a settings file: ignored when one was given at [`init`].
pub fn set_format(format: LogFormat) {
    if let Some(state) = STATE.get()
        && !state.format_given
    {
        state
            .json
            .store(format == LogFormat::Json, Ordering::Relaxed);
    }
}

/// Sends log events to `provider` from now on (once per process).
pub(crate) fn attach_otlp(provider: &SdkLoggerProvider) {
    let _ = BRIDGE.set(OpenTelemetryTracingBridge::new(provider));
}

/// Events of these targets never go to OTLP: they are the exporters' own HTTP stack, and
/// forwarding them would export the logs of exporting logs.
const NOT_EXPORTED: [&str; 8] = [
    "hyper",
    "reqwest",
    "h2",
    "tonic",
    "tower",
    "rustls",
    "opentelemetry",
    "telemetry",
];

/// The OTLP bridge, once attached.
struct Bridge;

impl<S> Layer<S> for Bridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if let Some(bridge) = BRIDGE.get() {
            let target = event.metadata().target();
            if !NOT_EXPORTED.iter().any(|t| target.starts_with(t)) {
                bridge.on_event(event, ctx);
            }
        }
    }
}

/// Two formatters, one active for events; both see spans.
struct Switch<H, J> {
    json: &'static AtomicBool,
    human: H,
    json_layer: J,
}

impl<S, H, J> Layer<S> for Switch<H, J>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    H: Layer<S>,
    J: Layer<S>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.human.on_new_span(attrs, id, ctx.clone());
        self.json_layer.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.human.on_record(span, values, ctx.clone());
        self.json_layer.on_record(span, values, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.human.on_enter(id, ctx.clone());
        self.json_layer.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.human.on_exit(id, ctx.clone());
        self.json_layer.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.human.on_close(id.clone(), ctx.clone());
        self.json_layer.on_close(id, ctx);
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if self.json.load(Ordering::Relaxed) {
            self.json_layer.on_event(event, ctx);
        } else {
            self.human.on_event(event, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!("JSON".parse::<LogFormat>().ok(), Some(LogFormat::Json));
        assert_eq!("human".parse::<LogFormat>().ok(), Some(LogFormat::Human));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn a_level_applies_to_our_targets() {
        assert_eq!(
            level_directives("DEBUG", &["a", "b"]),
            "warn,a=debug,b=debug"
        );
        assert_eq!(level_directives("error", &["a"]), "error,a=error");
        assert_eq!(level_directives("a=trace", &["a"]), "a=trace");
    }

    #[test]
    fn levels_and_directives_parse() {
        assert!(filter("debug").is_ok());
        assert!(filter("warn,supervisor=trace").is_ok());
        assert!(filter("supervisor=loud").is_err());
    }
}
