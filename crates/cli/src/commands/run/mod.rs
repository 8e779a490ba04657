//! `sse-connector run`: the connector itself. Turns the registry into live streams and
//! delivers every event to its destination until stopped.
//!
//! Wiring, in order: settings → broker (embedded or external) → MQTT publisher → state store
//! (`--state-store`: the embedded service and/or the client) and schema registry
//! (`--schema-registry`: the embedded service and/or the client), side by side, since with
//! `auto` each first asks the broker whether it has its own → registry and its first
//! plan → supervisor (with the `Storage` files under the storage root, the state store client,
//! and the schema registry client that registers inferred message schemas) → registry watcher
//! → HTTP listener (listing the embedded registry's schemas). On SIGINT or SIGTERM it stops
//! reading, waits for the broker and the state store to acknowledge what is in flight and for
//! the files to be written, saves the checkpoints, then closes the publisher and the clients,
//! shuts the services down, and stops the broker, in that order, and exits 0.

pub mod akri_mode;
pub mod definitions;
pub mod embedded;
pub mod schema_registry;
pub mod services;
pub mod settings;
pub mod state_store;
pub mod status;
pub mod telemetry;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ::status::StatusBoard;
use aio_mqtt::MqttConfig;
use anyhow::Context as _;
use api::{Readiness, Token};
use clap::Args;
use registry::{RegistryPaths, Reload};
use sinks::MqttPublisher;
use sinks::file::{FileOptions, FileSinks};
use sinks::state_store::AnyKeyValueStore;
use supervisor::{Supervisor, SupervisorConfig};
use tokio_util::sync::CancellationToken;

use self::schema_registry::SchemaRegistry;
use crate::commands::registry_args::RegistryArgs;
use crate::commands::schema::RegistryCatalog;
use crate::shutdown::Shutdown;
use akri_mode::SourceChoice;
use definitions::{Change, Definitions};
use embedded::EmbeddedBroker;
use settings::{BrokerChoice, RuntimeArgs, RuntimeSettings};
use state_store::StateStore;

/// How long a stop waits for in-flight messages to be acknowledged.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    #[command(flatten)]
    runtime: RuntimeArgs,

    /// Where definitions come from: `auto` is AIO's device registry when the Akri variables
    /// are set (CONNECTOR_CONFIGURATION_MOUNT_PATH and ADR_RESOURCES_NAME_MOUNT_PATH), else
    /// the registry directory
    #[arg(long, value_enum, default_value_t = SourceChoice::Auto, env = "SSE_CONNECTOR_SOURCE", help_heading = "Registry")]
    source: SourceChoice,
}

impl RunArgs {
    /// The settings `run` resolves from these options, the environment and the config file,
    /// with the deployment's in Akri mode (`probe` finds the state directory with them).
    ///
    /// # Errors
    /// As `run`: an invalid setting, or an Akri deployment that cannot be read.
    pub fn settings(&self) -> anyhow::Result<RuntimeSettings> {
        let mut settings = self.runtime.resolve()?;
        if let Some(mode) = akri_mode::AkriMode::detect(self.source)? {
            mode.apply(&mut settings);
        }
        Ok(settings)
    }
}

/// The broker, publisher and state store the connector runs on.
pub struct Plumbing {
    /// The embedded broker, when it is used.
    pub embedded: Option<EmbeddedBroker>,
    /// The publisher.
    pub publisher: MqttPublisher,
    /// The state store of `BrokerStateStore` destinations; `None`: those operations are
    /// reported as unsupported ("no state store is configured").
    pub key_value: Option<AnyKeyValueStore>,
    /// The state store service and client behind `key_value`, stopped after the supervisor.
    pub state_store: StateStore,
    /// The schema registry service and client; the client registers the supervisor's
    /// inferred schemas (`None`: no inference). Stopped after the supervisor.
    pub schema_registry: SchemaRegistry,
    /// Where the broker listens, for people (`mqtt://127.0.0.1:1883`).
    pub broker_url: String,
    /// The connection settings the publisher uses (for a viewer to connect alike).
    pub mqtt: MqttConfig,
}

/// Starts the broker (when embedded), the publisher, the state store (`--state-store`) and
/// the schema registry (`--schema-registry`).
///
/// # Errors
/// When the embedded broker cannot bind its address, the publisher's settings are invalid, or
/// the embedded state store or schema registry cannot open its directory.
pub async fn start_plumbing(settings: &RuntimeSettings) -> anyhow::Result<Plumbing> {
    let (embedded, mut config) = match &settings.broker {
        BrokerChoice::Embedded(addr) => {
            let (broker, local) = embedded::start(*addr).await?;
            tracing::info!(addr = %local, "embedded MQTT broker ready");
            (
                Some(broker),
                MqttConfig::new(local.ip().to_string(), local.port()),
            )
        }
        BrokerChoice::External(config) => (None, (**config).clone()),
    };
    config.client_id.clone_from(&settings.client_id);
    config.session_expiry = settings.session_expiry;
    config.keep_alive = settings.keep_alive;
    let scheme = if config.tls.is_some() {
        "mqtts"
    } else {
        "mqtt"
    };
    let broker_url = format!("{scheme}://{}:{}", config.host, config.port);
    let publisher =
        MqttPublisher::start(config.clone()).context("cannot start the MQTT publisher")?;
    let broker = services::Broker {
        url: &broker_url,
        embedded: embedded.is_some(),
    };
    // Side by side: with `auto`, each waits for the broker's answer to its probe.
    let (state_store, schema_registry) = tokio::try_join!(
        StateStore::start(settings.state_store, &config, broker, &settings.state_dir),
        SchemaRegistry::start(
            settings.schema_registry,
            &config,
            broker,
            &settings.state_dir,
            &settings.schema_namespace,
        ),
    )?;
    Ok(Plumbing {
        embedded,
        publisher,
        key_value: state_store.client.clone().map(AnyKeyValueStore::new),
        state_store,
        schema_registry,
        broker_url,
        mqtt: config,
    })
}

/// Runs the connector until a stop signal.
///
/// # Errors
/// When the settings are invalid, the broker cannot start, or the registry cannot be read at
/// all. Problems in definitions are reported and do not stop the connector.
pub async fn run(args: RunArgs, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let mut settings = args.runtime.resolve()?;
    let definitions = match akri_mode::AkriMode::detect(args.source)? {
        Some(mode) => {
            mode.apply(&mut settings);
            Definitions::Akri(Box::new(mode))
        }
        None => Definitions::Directory(args.registry.paths()),
    };
    self::telemetry::apply_log_settings(&settings)?;
    if let Definitions::Akri(mode) = &definitions {
        mode.log_start();
    }
    let plumbing = start_plumbing(&settings).await?;
    let signal = async move {
        let signal = shutdown.requested().await;
        tracing::info!(?signal, "stopping: waiting for in-flight messages");
    };
    serve(&settings, definitions, plumbing, signal).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the connector on started plumbing until `stop` completes, then stops cleanly: stops
/// reading, waits for in-flight messages to be acknowledged, saves the checkpoints, closes
/// the publisher and the clients, shuts the services down, stops the embedded broker.
///
/// # Errors
/// When the state directory or the definitions cannot be used, the HTTP listener cannot
/// start, or (Akri mode) the deployment breaks a rule of the contract; in that last case the
/// connector first stops cleanly.
pub async fn serve(
    settings: &RuntimeSettings,
    definitions: Definitions,
    plumbing: Plumbing,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.state_dir).with_context(|| {
        format!(
            "cannot create the state directory {}",
            settings.state_dir.display()
        )
    })?;
    tracing::info!(broker = %plumbing.broker_url, "publishing");
    let mut feed = definitions.start().await?;
    let snapshot = feed.first.clone();
    report_problems(&snapshot.problems);
    tracing::info!("{}", snapshot.summary());

    let file_options = FileOptions {
        max_file_bytes: settings.storage_max_file_bytes,
        ..FileOptions::default()
    };
    let files = FileSinks::new(&settings.storage_root, file_options);
    tracing::debug!(root = %settings.storage_root.display(), "storage root");
    let telemetry = self::telemetry::start(settings)?;
    let source_id = settings.source_id.as_ref().unwrap_or(&settings.client_id);
    let mut supervisor_config = SupervisorConfig::new(&settings.state_dir, source_id);
    supervisor_config.refused_retry = settings.refused_retry;
    let mut supervisor = Supervisor::new(supervisor_config, plumbing.publisher.clone())
        .with_files(files.clone())
        .with_tracer(telemetry.tracer());
    self::telemetry::attach(&telemetry, &supervisor);
    if let Some(store) = plumbing.key_value.clone() {
        supervisor = supervisor.with_key_value(store);
    }
    if let Some(client) = plumbing.schema_registry.client.clone() {
        supervisor = supervisor.with_schemas(client);
    }
    // Akri mode: the replica that takes a device endpoint over resumes from its checkpoint.
    if feed.adr.is_some()
        && let Some(shared) = plumbing.state_store.shared_checkpoints(source_id).await
    {
        supervisor = supervisor.with_shared_checkpoints(shared);
    }
    let applied = supervisor.apply(&snapshot.plan);
    log_applied(&applied);
    let board = status::board(
        &settings.client_id,
        &plumbing.broker_url,
        &feed.shown,
        plumbing.publisher.clone(),
    );
    board.set_services(::status::report::ServicesStatus {
        state_store: plumbing.state_store.decision.status(),
        schema_registry: plumbing.schema_registry.decision.status(),
    });
    status::record(&board, snapshot.clone(), &applied, &supervisor);
    let stop_status = CancellationToken::new();
    let status_files = ::status::files::spawn_writer(
        board.clone(),
        settings.state_dir.clone(),
        stop_status.clone(),
    );

    let stop_report = CancellationToken::new();
    let reporter = feed.adr.clone().map(|(adr, index)| {
        tokio::spawn(::akri::report::run(
            adr,
            board.clone(),
            index,
            ::akri::report::ReportSettings::default(),
            stop_report.clone(),
        ))
    });

    let stop_http = CancellationToken::new();
    let http = start_http(
        settings,
        feed.writable.as_ref(),
        plumbing.publisher.clone(),
        plumbing.schema_registry.catalog(),
        board.clone(),
        self::telemetry::http(&telemetry, &supervisor),
        stop_http.clone(),
    )
    .await?;

    // `probe live|ready`: a heartbeat file from now on, removed when `serve` returns.
    let _heartbeat = crate::commands::probe::Heartbeat::start(
        &settings.state_dir,
        Arc::new(BrokerReadiness(plumbing.publisher.clone())),
    );
    tokio::pin!(stop);
    let mut fatal = None;
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(change) = feed.changes.recv() => match change {
                Change::Reload(reload) => apply_reload(&mut supervisor, &board, reload),
                Change::Failed(error) => {
                    tracing::warn!(%error, "the definitions could not be read again; the running plan stays");
                }
                Change::Fatal(error) => {
                    tracing::error!("{error:#}; stopping");
                    fatal = Some(error);
                    break;
                }
            },
        }
    }
    stop_report.cancel();
    if let Some(task) = reporter {
        let _ = task.await;
    }
    let drained = supervisor.shutdown_within(STOP_GRACE).await;
    stop_status.cancel();
    let _ = status_files.await;
    if !drained {
        tracing::warn!(
            "some messages were not acknowledged in time; their events will be read again at the next start"
        );
    }
    files.close().await;
    let unacknowledged = plumbing.publisher.close().await;
    if unacknowledged > 0 {
        tracing::warn!(unacknowledged, "messages left unacknowledged at stop");
    }
    telemetry.shutdown().await;
    // Clients first (nothing is left for them to send), then the services.
    plumbing.schema_registry.close_client();
    plumbing.state_store.shutdown().await;
    plumbing.schema_registry.shutdown().await;
    stop_http.cancel();
    if let Some(task) = http {
        let _ = task.await;
    }
    if let Some(broker) = plumbing.embedded {
        broker.shutdown().await;
    }
    tracing::info!("stopped");
    fatal.map_or(Ok(()), Err)
}

/// Applies a new snapshot of the definitions to the running supervisor.
fn apply_reload<P: sinks::Publisher>(
    supervisor: &mut Supervisor<P>,
    board: &StatusBoard,
    reload: Reload,
) {
    report_problems(&reload.snapshot.problems);
    if reload.diff.is_empty() {
        tracing::debug!("definitions read again: no change to the plan");
        status::record(
            board,
            reload.snapshot,
            &supervisor::Applied::default(),
            supervisor,
        );
        return;
    }
    tracing::info!("definitions changed: {}", reload.snapshot.summary());
    let applied = supervisor.apply(&reload.snapshot.plan);
    log_applied(&applied);
    status::record(board, reload.snapshot, &applied, supervisor);
}

fn report_problems(problems: &[model::Problem]) {
    for problem in problems {
        if problem.is_error() {
            tracing::error!("{problem}");
        } else {
            tracing::warn!("{problem}");
        }
    }
}

fn log_applied(applied: &supervisor::Applied) {
    for url in &applied.started {
        tracing::info!(%url, "stream started");
    }
    for url in &applied.updated {
        tracing::info!(%url, "stream updated");
    }
    for url in &applied.stopped {
        tracing::info!(%url, "stream stopped");
    }
    for unsupported in &applied.unsupported {
        tracing::warn!(
            operation = %unsupported.operation,
            sink = unsupported.sink,
            "destination not available ({}): the operation's events are not delivered",
            unsupported.reason
        );
    }
}

/// Ready when the broker connection is up.
struct BrokerReadiness(MqttPublisher);

impl Readiness for BrokerReadiness {
    fn not_ready(&self) -> Option<String> {
        (!self.0.is_connected()).then(|| "not connected to the MQTT broker".to_owned())
    }
}

/// Serves the HTTP listener, with the embedded schema registry's `catalog` when there is one.
async fn start_http(
    settings: &RuntimeSettings,
    writable: Option<&RegistryPaths>,
    publisher: MqttPublisher,
    catalog: Option<::schema_registry::Catalog>,
    board: StatusBoard,
    observed: self::telemetry::HttpTelemetry,
    stop: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let api::HttpListen::On(addr) = settings.http else {
        return Ok(None);
    };
    // The token file wins; else the token itself from SSE_CONNECTOR_HTTP_TOKEN (a Kubernetes
    // secret as an environment variable). Never from the command line.
    let token = match settings.http_token_file.as_deref() {
        Some(file) => Some(Token::from_file(file)?),
        None => std::env::var(api::listen::TOKEN_ENV)
            .ok()
            .map(|value| Token::new(&value))
            .transpose()?,
    };
    // The CRUD routes write the registry directory that `serve` watches; in Akri mode the
    // device registry owns the definitions and the API only reads.
    let mut sources = api::Sources::new(Arc::new(BrokerReadiness(publisher)));
    if let Some(paths) = writable {
        sources = sources.with_registry(paths.clone());
    }
    sources = sources.with_status(Arc::new(status::BoardStatus(board)));
    sources = observed.add_to(sources);
    if let Some(catalog) = catalog {
        sources = sources.with_schemas(Arc::new(RegistryCatalog::new(catalog)));
    }
    let access = api::Access {
        token,
        allowed_hosts: settings.http_allowed_hosts.clone(),
    };
    let (_, task) = api::serve_with(addr, access, sources, stop).await?;
    Ok(Some(task))
}
