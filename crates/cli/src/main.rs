//! The `sse-connector` binary: the command line over the connector's crates.
//!
//! It is the outermost layer of the pipeline (DESIGN 2): it parses the command line, sets up
//! logging and the tokio runtime, runs one command and turns its outcome into an exit status.
//! `anyhow` is used here and nowhere in the libraries.
//!
//! # Layout
//! - `main.rs`: [`Cli`] (one [`Command`] variant per subcommand), logging (`telemetry::logs`:
//!   `--log-format`, `--log-level`, `RUST_LOG`), the runtime, and
//!   how errors become exit statuses (1 for failures, 2 for usage errors).
//! - [`commands`]: one module per subcommand, each with its clap `Args` and its `run`:
//!   - [`commands::tap`]: print a stream (URL, file or stdin) as JSON lines.
//!   - [`commands::validate`]: check a registry; every problem as `FILE: RESOURCE: path: msg`.
//!   - [`commands::device`]: `device create|endpoint add|list|show|delete`.
//!   - [`commands::asset`]: `asset create|dataset add|event-group add|event add|list|show|delete`.
//!   - [`commands::secret`]: `secret set NAME --from-file F`.
//!   - [`commands::trust`]: `trust add LIST CERT.pem`.
//!   - [`commands::state`]: `state get|set|del|keys|watch`: the broker's state store.
//!   - [`commands::schema`]: `schema list|show`: the schema registry's message schemas.
//!   - [`commands::status`]: `status`: configuration status and health, from the status files.
//!   - [`commands::probe`]: `probe ready|live`: exec probes, from the heartbeat file of `run`.
//!   - [`commands::registry_args`]: `--registry/--secrets/--trust`, shared by the five above;
//!     opening the registry and reporting writes.
//!   - [`commands::resource`]: `list`, `show`, `delete`, shared by `device` and `asset`.
//! - [`output`]: the JSON-lines printer of `tap`: line shapes, flushing, broken pipes.
//! - [`table`]: the plain-text table of the `list` commands.
//! - [`values`]: parsers for option values (durations, byte sizes, headers).
//! - [`shutdown`]: Ctrl-C / SIGTERM as a graceful stop; a second signal exits at once.
//!
//! A new command is a module in `commands/`, a variant of [`Command`] and an arm in
//! [`dispatch`].

#![forbid(unsafe_code)]

/// Message headers are allocated by the stream tasks and freed by the MQTT task; jemalloc's
/// thread caches make that cheap where glibc's allocator contends, at the same memory for
/// 10,000 idle streams (BENCHMARKS.md measures both).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod commands;
mod output;
mod shutdown;
mod table;
mod values;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use telemetry::logs::{LogFormat, LogSettings};

use crate::commands::UsageError;
use crate::shutdown::Shutdown;

/// What is logged when `RUST_LOG` is not set: our own progress at `info`, everything else
/// from `warn`. The client's own per-stream lines are left out because `tap` reports the
/// same reconnects and failures in one line each.
const DEFAULT_LOG_FILTER: &str = "warn,sse_connector=info,sse_client=info,sse_parser=info,sse_client::stream=error,\
     supervisor=info,sinks=info,broker=info,api=info,registry=info,statestore=info,telemetry=info";

/// The connector's own crates: what `--log-level LEVEL` (and the config file's `logLevel`)
/// sets; other crates stay at `warn`.
pub const LOG_TARGETS: [&str; 12] = [
    "sse_connector",
    "sse_client",
    "sse_parser",
    "supervisor",
    "sinks",
    "broker",
    "api",
    "registry",
    "statestore",
    "schema",
    "status",
    "telemetry",
];

/// What `state` logs when `RUST_LOG` is not set.
const STATE_LOG_FILTER: &str = "error";

/// Streams Server-Sent Events from HTTP(S) devices into MQTT v5, using the Azure IoT
/// Operations data model.
#[derive(Debug, Parser)]
#[command(
    name = "sse-connector",
    version,
    arg_required_else_help = true,
    after_help = "Run `sse-connector <COMMAND> --help` for the options and examples of a command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Log format: `human` (one line per event) or `json` (one object per line)
    /// [default: human]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format, env = "SSE_CONNECTOR_LOG_FORMAT")]
    log_format: Option<LogFormat>,

    /// Log level of the connector (trace, debug, info, warn, error) or filter directives;
    /// RUST_LOG, when set, wins [default: info]
    #[arg(
        long,
        global = true,
        value_name = "LEVEL",
        env = "SSE_CONNECTOR_LOG_LEVEL"
    )]
    log_level: Option<String>,
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    text.parse().map_err(|e: telemetry::Error| e.to_string())
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print the events of a stream (URL, file or stdin) as JSON lines
    #[command(
        long_about = "Print the events of a stream as JSON lines, one object per event.\n\n\
                      SOURCE is an http(s):// URL (read like the connector reads a device: \
                      TLS, credentials, reconnects with Last-Event-ID), a file, or - for \
                      standard input (for example a capture made with `curl -N`)."
    )]
    Tap(commands::tap::TapArgs),

    /// Check the registry: every problem, one per line; exit 1 if any is an error
    #[command(
        long_about = "Read every definition, secret and trust list of the registry from \
                      scratch and print every problem as `FILE: RESOURCE: field.path: what \
                      is wrong`, then a one-line summary. Exit 0 when there is no error \
                      (warnings alone never fail), 1 otherwise."
    )]
    Validate(commands::validate::ValidateArgs),

    /// Run the connector: stream every dataset and event of the registry to the broker
    #[command(
        long_about = "Run the connector: open the SSE streams of every dataset and event in the \
                      registry and deliver each event to its destination (MQTT v5, AIO's \
                      message format), at least once for QoS 1. With no broker configured it \
                      starts an embedded MQTT broker on 127.0.0.1:1883. Registry changes are \
                      applied live; only what changed restarts. SIGINT/SIGTERM stop it after \
                      in-flight messages are acknowledged and checkpoints saved."
    )]
    Run(Box<commands::run::RunArgs>),

    /// Try it all with nothing to set up: a simulated device, the embedded broker, the
    /// connector, and a live view of the messages
    #[command(
        long_about = "Start the embedded MQTT broker, a simulated SSE device, a registry with \
                      a device and an asset for it, and the connector, and show every message \
                      that reaches the broker. Edit the registry while it runs to see the \
                      connector apply the change. Ctrl-C (or --duration) stops it."
    )]
    Demo(commands::demo::DemoArgs),

    /// Create, change, list, show and delete devices and their endpoints
    #[command(
        long_about = "Create, change, list, show and delete devices (Azure Device Registry \
                      `Device` resources) and their SSE inbound endpoints. Every change is \
                      validated with the whole registry and refused, with `validate`'s \
                      message, when it would add an error."
    )]
    Device(commands::device::DeviceArgs),

    /// Create, change, list, show and delete assets, datasets, event groups and events
    #[command(
        long_about = "Create, change, list, show and delete assets (Azure Device Registry \
                      `Asset` resources) with their datasets, event groups and events. Every \
                      change is validated with the whole registry and refused, with \
                      `validate`'s message, when it would add an error."
    )]
    Asset(commands::asset::AssetArgs),

    /// Store a secret (a user name, password, certificate or key) for endpoints to name
    Secret(commands::secret::SecretArgs),

    /// Add CA certificates to a trust list for endpoints to name
    Trust(commands::trust::TrustArgs),

    /// Get, set, delete, list and watch keys of the broker's state store
    #[command(
        long_about = "Read and change the broker's state store (AIO's state store protocol), \
                      where BrokerStateStore datasets keep their latest payload: get, set and \
                      del a key, watch its changes, and list the keys of the embedded state \
                      store. The broker is resolved like `run` resolves it; by default the \
                      embedded broker of a connector running here (mqtt://127.0.0.1:1883)."
    )]
    State(commands::state::StateArgs),

    /// List and show the message schemas of the schema registry
    #[command(
        long_about = "List and show the message schemas the connector registered: from the \
                      embedded registry's files in the state directory (STATE_DIR/schemas), \
                      or, for `show`, from any schema registry on a broker (AIO's schema \
                      registry protocol) with --broker."
    )]
    Schema(commands::schema::SchemaArgs),

    /// Show the status and health of every device endpoint, asset, dataset and event
    #[command(
        long_about = "Show what works and what does not: the configuration status (errors \
                      only a definition change fixes) and the runtime health (Available, \
                      Degraded, Unavailable with AIO's reason codes) of every device \
                      endpoint, asset, dataset and event, the streams, and the problems in \
                      the definitions, from the status files a running connector keeps in \
                      STATE_DIR/status. --json prints the report of GET /api/v1/status."
    )]
    Status(commands::status::StatusArgs),

    /// Exec probe: exit 0 when the connector running here is live (`live`) or ready (`ready`)
    #[command(
        long_about = "Exec probe for Kubernetes and AIO: checks the heartbeat file a running \
                      connector rewrites every 2 s in its state directory \
                      (STATE_DIR/heartbeat.json). `live`: the heartbeat is at most 15 s old. \
                      `ready`: also, the connector is connected to its broker. Prints one \
                      line saying why; exit 0 when the check passes, 1 otherwise. Takes the \
                      options and environment of `run` to find the state directory as `run` \
                      does."
    )]
    Probe(Box<commands::probe::ProbeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `state` reports its failures itself, once; the client's reconnect warnings would
    // only repeat them.
    let level = cli
        .log_level
        .as_deref()
        .map(|level| telemetry::logs::level_directives(level, &LOG_TARGETS));
    if let Err(error) = telemetry::logs::init(LogSettings {
        format: cli.log_format,
        level: level.as_deref(),
        default_filter: match cli.command {
            Command::State(_) => STATE_LOG_FILTER,
            _ => DEFAULT_LOG_FILTER,
        },
    }) {
        let mut command = Cli::command();
        command
            .error(
                clap::error::ErrorKind::ValueValidation,
                format!("--log-level: {error}"),
            )
            .exit();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return report(&anyhow::Error::new(error).context("cannot start the runtime"));
        }
    };
    let result = runtime.block_on(dispatch(cli.command));
    // A read of standard input may still block a runtime thread; do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(error) => match error.downcast_ref::<UsageError>() {
            Some(usage) => usage_exit(usage),
            None => report(&error),
        },
    }
}

/// Runs one command inside the runtime.
async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        // Only `tap` runs until stopped; the others keep the default Ctrl-C behaviour.
        Command::Tap(args) => commands::tap::run(args, Shutdown::install()).await,
        Command::Run(args) => commands::run::run(*args, Shutdown::install()).await,
        Command::Demo(args) => commands::demo::run(args, Shutdown::install()).await,
        // `state watch` installs its own stop handling; the others keep Ctrl-C's default.
        Command::State(args) => commands::state::run(args).await,
        Command::Schema(args) => commands::schema::run(args).await,
        Command::Status(args) => commands::status::run(&args),
        Command::Probe(args) => commands::probe::run(&args),
        // The registry commands do a few small file operations each and finish at once.
        Command::Validate(args) => commands::validate::run(args),
        Command::Device(args) => commands::device::run(args),
        Command::Asset(args) => commands::asset::run(args),
        Command::Secret(args) => commands::secret::run(args),
        Command::Trust(args) => commands::trust::run(args),
    }
}

/// Runtime worker threads: `TOKIO_WORKER_THREADS` when set, else one core fewer than the
/// machine has (at least one). The connector usually shares its machine with the broker, and a
/// stream task and the MQTT task that acknowledges its messages hand work back and forth for
/// every event: measured on 2 cores, one worker gives 20–30 % more QoS 1 throughput than two
/// (BENCHMARKS.md).
fn worker_threads() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |cores| cores.get().saturating_sub(1))
                .max(1)
        })
}

/// Prints a failure and returns exit status 1.
fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

/// Reports a usage error the way clap reports its own (usage line, exit status 2).
fn usage_exit(usage: &UsageError) -> ! {
    let cli = Cli::command();
    let mut command = Some(cli.clone());
    for name in usage.command.split(' ') {
        command = command.and_then(|c| c.find_subcommand(name).cloned());
    }
    let mut command = match command {
        Some(sub) => sub.bin_name(format!("sse-connector {}", usage.command)),
        None => cli,
    };
    command
        .error(clap::error::ErrorKind::ValueValidation, &usage.message)
        .exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_log_filter_parses() {
        assert!(telemetry::logs::filter(DEFAULT_LOG_FILTER).is_ok());
        assert!(
            telemetry::logs::filter(&telemetry::logs::level_directives("debug", &LOG_TARGETS))
                .is_ok()
        );
    }
}
