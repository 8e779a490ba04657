//! `sse-connector demo`: the whole product on one machine, with nothing to set up.
//!
//! It starts the embedded MQTT broker, a simulated SSE device ([`device`]), writes a registry
//! with a device and an asset for it ([`demo_registry`]), runs the connector on them exactly as
//! `run` does, with the web UI on loopback, and shows every message that reaches the broker
//! ([`view`]). The banner gives the web UI's address: it is the first thing a new user sees.
//! The registry is a real one: edit its files (or use the web UI) while the demo runs and
//! watch the connector apply the change.

pub mod demo_registry;
pub mod device;
pub mod view;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ::registry::RegistryPaths;
use aio_mqtt::MqttSubscriber;
use anyhow::Context as _;
use api::HttpListen;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::commands::run::definitions::Definitions;
use crate::commands::run::settings::{
    BrokerChoice, DEFAULT_EMBEDDED_BROKER, RuntimeSettings, SchemaRegistryMode, StateStoreMode,
};
use crate::commands::run::{serve, start_plumbing};
use crate::shutdown::Shutdown;
use crate::values;
use device::SimulatedDevice;
use view::View;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this long (e.g. 30s) instead of waiting for Ctrl-C
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    duration: Option<Duration>,

    /// Address of the embedded broker; when the default is busy, a free port is used
    /// [default: 127.0.0.1:1883]
    #[arg(long, value_name = "ADDR")]
    broker_addr: Option<SocketAddr>,

    /// Directory for the demo's registry and state, kept after the demo [default: a temporary
    /// directory, removed at the end]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Address of the web UI and HTTP API, or `off`; when the default is busy, a free port is
    /// used [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR|off")]
    http: Option<HttpListen>,
}

/// Where the web UI is served when `--http` is not given (the default of `run`).
const DEFAULT_HTTP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Runs the demo until Ctrl-C or `--duration`.
///
/// # Errors
/// When the broker, the device or the connector cannot start.
pub async fn run(args: DemoArgs, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let stop_device = CancellationToken::new();
    let _stop_device_on_exit = stop_device.clone().drop_guard();
    let device = SimulatedDevice::start(SocketAddr::from(([127, 0, 0, 1], 0)), stop_device)
        .await
        .context("cannot start the simulated device")?;

    let temporary;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("sse-connector-demo-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            temporary.path().to_path_buf()
        }
    };
    let registry_dir = dir.join("registry");
    demo_registry::write(&registry_dir, &device.address()).with_context(|| {
        format!(
            "cannot write the demo registry in {}",
            registry_dir.display()
        )
    })?;

    let http = http_listen(args.http)?;
    let settings = RuntimeSettings {
        broker: BrokerChoice::Embedded(broker_addr(args.broker_addr)),
        client_id: "sse-connector-demo".to_owned(),
        source_id: None,
        session_expiry: Duration::from_secs(3600),
        keep_alive: Duration::from_secs(30),
        state_dir: dir.join("state"),
        storage_root: dir.join("state").join("storage"),
        storage_max_file_bytes: sinks::file::DEFAULT_MAX_FILE_BYTES,
        refused_retry: supervisor::supervisor::DEFAULT_REFUSED_RETRY,
        state_store: StateStoreMode::Embedded,
        schema_registry: SchemaRegistryMode::Embedded,
        schema_namespace: schema_registry::DEFAULT_NAMESPACE.to_owned(),
        http: http.listen,
        http_token_file: None,
        http_allowed_hosts: Vec::new(),
        telemetry: Default::default(),
    };
    let plumbing = start_plumbing(&settings).await?;
    let mut subscription = MqttSubscriber::start(&plumbing.mqtt, "demo/#")
        .context("cannot subscribe to the demo topics")?;
    banner(&device, &registry_dir, &plumbing.broker_url, &http);

    let stop = CancellationToken::new();
    let viewer = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut view = View::new();
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    received = subscription.recv() => match received {
                        Some(message) => {
                            if view.show(&message).is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                }
            }
            view.shown()
        }
    });
    let until = async {
        match args.duration {
            Some(duration) => {
                tokio::select! {
                    _ = shutdown.requested() => {}
                    () = tokio::time::sleep(duration) => {}
                }
            }
            None => {
                shutdown.requested().await;
            }
        }
    };
    serve(
        &settings,
        Definitions::Directory(RegistryPaths::new(&registry_dir)),
        plumbing,
        until,
    )
    .await?;
    stop.cancel();
    let shown = viewer.await.unwrap_or(0);
    eprintln!("demo stopped: {shown} messages reached the broker and were shown");
    if args.dir.is_some() {
        eprintln!("the demo registry and state are kept in {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The broker address: the one asked for, else the default when it is free, else any free
/// loopback port (so the demo runs beside another broker).
fn broker_addr(asked: Option<SocketAddr>) -> SocketAddr {
    if let Some(addr) = asked {
        return addr;
    }
    match std::net::TcpListener::bind(DEFAULT_EMBEDDED_BROKER) {
        Ok(_) => DEFAULT_EMBEDDED_BROKER,
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

/// The web UI's listener, and the default address when it was busy (for the banner).
struct WebUi {
    listen: HttpListen,
    default_busy: bool,
}

/// The web UI's address: the one asked for (or none with `off`; port 0 is a free port), else
/// [`DEFAULT_HTTP`] when it is free, else a free loopback port (so the demo runs beside `run`
/// or another demo). The port is probed here and bound by the connector moments later.
fn http_listen(asked: Option<HttpListen>) -> anyhow::Result<WebUi> {
    let (addr, default_busy) = match asked {
        Some(HttpListen::On(addr)) if addr.port() == 0 => (free_port(addr.ip())?, false),
        Some(listen) => (listen, false),
        None if TcpListener::bind(DEFAULT_HTTP).is_ok() => (HttpListen::On(DEFAULT_HTTP), false),
        None => (free_port(DEFAULT_HTTP.ip())?, true),
    };
    Ok(WebUi {
        listen: addr,
        default_busy,
    })
}

/// A port free on `ip` now, so that the banner can name it before the connector binds it.
fn free_port(ip: IpAddr) -> anyhow::Result<HttpListen> {
    TcpListener::bind(SocketAddr::new(ip, 0))
        .and_then(|listener| listener.local_addr())
        .map(HttpListen::On)
        .with_context(|| format!("cannot find a free port on {ip} for the web UI"))
}

fn banner(device: &SimulatedDevice, registry: &std::path::Path, broker: &str, ui: &WebUi) {
    let port = broker.rsplit(':').next().unwrap_or("1883");
    let (web_ui, watch) = match ui.listen {
        HttpListen::Off => (String::new(), "Watch"),
        HttpListen::On(addr) => {
            let busy = if ui.default_busy {
                format!(" ({DEFAULT_HTTP} is busy)")
            } else {
                String::new()
            };
            (
                format!("web UI    http://{addr}/{busy}\n  "),
                "Open the web UI for the device, the asset, their health and live messages.\n  \
                 Or watch",
            )
        }
    };
    eprintln!(
        "sse-connector demo\n  \
         {web_ui}\
         device    {} (simulated: /api/readings, /events)\n  \
         registry  {}\n  \
         broker    {broker} (embedded)\n\n  \
         {watch} with any MQTT client:  mosquitto_sub -V mqttv5 -p {port} -t 'demo/#' -F '%t %p %P'\n  \
         Edit the registry while it runs; Ctrl-C to stop.\n",
        device.address(),
        registry.display(),
    );
}
