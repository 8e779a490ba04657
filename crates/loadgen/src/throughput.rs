//! `sse-loadgen throughput`: one stream through the connector, then the same messages straight
//! to the broker by the connector's MQTT client, for each QoS; one table at the end.
//!
//! Per QoS, with one mosquitto for the whole run:
//! 1. **connector**: a fresh SSE server floods `/events`; a registry with one dataset to
//!    `bench/events` at that QoS; the subscriber starts; `sse-connector run` starts; the
//!    subscriber measures; the connector is killed.
//! 2. **ceiling**: a [`sinks::MqttPublisher`] with the connector's default settings publishes
//!    messages with the properties of the first message the connector sent (same content type,
//!    correlation data, and user properties of the same count and size) and a body of the same
//!    size stamped at publish time, one `publish().await` after the other, as the connector's
//!    stream task does; the same subscriber measures.

use std::time::Duration;

use aio_mqtt::{Message, MqttConfig, Qos};
use anyhow::Context as _;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use sinks::{MqttPublisher, Publisher as _};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Common;
use crate::clock::{now_ns, percentile};
use crate::connector::{Connector, TestRegistry};
use crate::mosquitto::Mosquitto;
use crate::payload;
use crate::sse_server::{Flood, SseServer};
use crate::subscriber::{Measured, Sample, Subscriber, Window};

/// The topic of the benchmark's dataset.
const TOPIC: &str = "bench/events";

/// Options of `throughput`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,

    /// Events measured per QoS and path, after the warm-up
    #[arg(long, default_value_t = 200_000)]
    count: u64,

    /// Events received before measuring starts
    #[arg(long, default_value_t = 20_000)]
    warmup: u64,

    /// QoS levels to measure (0, 1)
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    qos: Vec<u8>,

    /// Events per second from the server (and the ceiling's publisher); default: flat out
    #[arg(long)]
    rate: Option<u64>,

    /// Events per write of the SSE server
    #[arg(long, default_value_t = 16)]
    batch: usize,

    /// Longest time a measurement may take, in seconds
    #[arg(long, default_value_t = 120)]
    timeout: u64,

    /// Also through a transform (AIO WebAssembly map operator): `identity` hands the message
    /// back unchanged, `json` parses the payload and adds a field; each beside the
    /// transform-free run of the same QoS
    #[arg(long, value_delimiter = ',')]
    transform: Vec<TransformMode>,

    /// The module the transforms run (the test module of tests/wasm-guest)
    #[arg(long, default_value = "crates/transform/tests/guest.wasm")]
    module: std::path::PathBuf,
}

/// A transform measured by `--transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TransformMode {
    /// The map returns the message unchanged.
    Identity,
    /// The map rewrites the JSON payload.
    Json,
}

impl TransformMode {
    /// The path column of its rows.
    fn path(self) -> &'static str {
        match self {
            Self::Identity => "connector + identity",
            Self::Json => "connector + json",
        }
    }

    /// The test module's mode.
    fn mode(self) -> &'static str {
        match self {
            Self::Identity => "pass",
            Self::Json => "json",
        }
    }
}

/// One row of the table.
struct Row {
    qos: u8,
    path: &'static str,
    measured: Measured,
    /// The connector's CPU time per event read (connector rows only).
    cpu_per_event: Option<Duration>,
}

/// Runs the benchmark and prints its table.
///
/// # Errors
/// When mosquitto, the SSE server, the subscriber or the connector cannot start.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let broker = Mosquitto::start(&args.common.mosquitto)?;
    let window = Window {
        warmup: args.warmup.max(1),
        count: args.count.max(1),
    };
    let within = Duration::from_secs(args.timeout.max(1));
    let mut rows = Vec::new();
    for &level in &args.qos {
        let (qos, name) = match level {
            0 => (QoS::AtMostOnce, "Qos0"),
            1 => (QoS::AtLeastOnce, "Qos1"),
            other => anyhow::bail!("QoS {other} is not measured (0 or 1)"),
        };
        eprintln!("QoS {level}: connector…");
        let (through, cpu) =
            through_connector(&args, &broker, window, within, qos, name, None).await?;
        let sample = through.sample.clone();
        let events = u32::try_from(window.warmup + through.received).unwrap_or(u32::MAX);
        rows.push(Row {
            qos: level,
            path: "connector",
            measured: through,
            cpu_per_event: cpu.map(|cpu| cpu / events.max(1)),
        });
        for &transform in &args.transform {
            eprintln!("QoS {level}: connector with the {transform:?} transform…");
            let (measured, cpu) =
                through_connector(&args, &broker, window, within, qos, name, Some(transform))
                    .await?;
            let events = u32::try_from(window.warmup + measured.received).unwrap_or(u32::MAX);
            rows.push(Row {
                qos: level,
                path: transform.path(),
                measured,
                cpu_per_event: cpu.map(|cpu| cpu / events.max(1)),
            });
        }
        eprintln!("QoS {level}: ceiling…");
        let ceiling = ceiling(&args, &broker, window, within, qos, sample).await?;
        rows.push(Row {
            qos: level,
            path: "ceiling",
            measured: ceiling,
            cpu_per_event: None,
        });
    }
    print_table(&rows, &args);
    Ok(())
}

async fn through_connector(
    args: &Args,
    broker: &Mosquitto,
    window: Window,
    within: Duration,
    qos: QoS,
    qos_name: &str,
    transform: Option<TransformMode>,
) -> anyhow::Result<(Measured, Option<Duration>)> {
    let server = SseServer::start(
        Flood {
            events_per_connection: (window.warmup + window.count) * 2,
            batch: args.batch,
            rate: args.rate,
        },
        Duration::from_secs(30),
    )?;
    let registry = TestRegistry::new(&server.base_url())?;
    let configuration = transform
        .map(|t| registry.add_transform(&args.module, t.mode()))
        .transpose()?;
    registry.add_asset_with(
        "bench",
        [("events".to_owned(), "/events".to_owned(), TOPIC.to_owned())],
        qos_name,
        configuration.as_deref(),
    )?;
    let subscriber = Subscriber::start(broker.addr(), TOPIC, qos, window, within).await?;
    let mut connector =
        Connector::spawn(&args.common.connector, registry.path(), &broker.url(), None)?;
    let measured = subscriber.finish().await?;
    // Read before the kill: CPU used for everything received (startup is a few ms of it).
    let cpu = connector.cpu_time().ok();
    if measured.received < window.count {
        connector.check_running()?;
        eprintln!(
            "warning: {} of {} events in {} s; end of the connector's log:\n{}",
            measured.received,
            window.count,
            within.as_secs(),
            connector.log_tail()
        );
    }
    connector.stop();
    server.stop().await;
    Ok((measured, cpu))
}

async fn ceiling(
    args: &Args,
    broker: &Mosquitto,
    window: Window,
    within: Duration,
    qos: QoS,
    sample: Option<Sample>,
) -> anyhow::Result<Measured> {
    let sample =
        sample.context("the connector sent nothing to copy the ceiling's messages from")?;
    let subscriber = Subscriber::start(broker.addr(), TOPIC, qos, window, within).await?;
    let mut config = MqttConfig::from_url(&broker.url())?;
    config.client_id = "sse-loadgen-ceiling".to_owned();
    let publisher = MqttPublisher::start(config)?;
    let mut status = publisher.status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| *s == sinks::ConnectionStatus::Connected),
    )
    .await
    .context("the ceiling's publisher did not connect within 10 s")??;
    let stop = CancellationToken::new();
    let producer = tokio::spawn(produce(
        publisher.clone(),
        sample,
        match qos {
            QoS::AtMostOnce => Qos::AtMostOnce,
            _ => Qos::AtLeastOnce,
        },
        (window.warmup + window.count) * 2,
        args.rate,
        stop.clone(),
    ));
    let measured = subscriber.finish().await?;
    stop.cancel();
    let _ = producer.await;
    let _ = tokio::time::timeout(Duration::from_secs(15), publisher.close()).await;
    Ok(measured)
}

/// Publishes up to `total` look-alike messages, one after the other.
async fn produce(
    publisher: MqttPublisher,
    sample: Sample,
    qos: Qos,
    total: u64,
    rate: Option<u64>,
    stop: CancellationToken,
) {
    let start = Instant::now();
    for seq in 0..total {
        if stop.is_cancelled() {
            break;
        }
        if let Some(rate) = rate.filter(|r| *r > 0) {
            let due = start + Duration::from_secs_f64(seq as f64 / rate as f64);
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(due) => {}
            }
        }
        let mut body = Vec::with_capacity(payload::SIZE + 16);
        payload::write(&mut body, seq, now_ns());
        let message = Message {
            topic: sample.topic.clone(),
            qos,
            retain: false,
            expiry_secs: Some(10),
            content_type: sample.content_type.clone(),
            correlation_data: sample.correlation_data.clone(),
            user_properties: sample.user_properties.clone(),
            payload: Bytes::from(body),
        };
        let published = tokio::select! {
            () = stop.cancelled() => break,
            published = publisher.publish(message) => published,
        };
        // The delivery is not awaited: the window of the publisher paces this loop.
        if published.is_err() {
            break;
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn print_table(rows: &[Row], args: &Args) {
    let pace = match args.rate {
        Some(rate) => format!("{rate} events/s offered"),
        None => "flat out".to_owned(),
    };
    println!(
        "\n{} events measured after {} of warm-up, {}, {} B bodies\n",
        args.count,
        args.warmup,
        pace,
        payload::SIZE
    );
    println!(
        "| QoS | path | events | events/s | p50 ms | p99 ms | missing | vs ceiling | vs no transform | connector CPU per event |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for row in rows {
        let m = &row.measured;
        let ceiling = rows
            .iter()
            .find(|r| r.qos == row.qos && r.path == "ceiling")
            .map(|r| r.measured.rate())
            .filter(|r| *r > 0.0);
        let ratio = ceiling
            .map(|c| format!("{:.0} %", 100.0 * m.rate() / c))
            .unwrap_or_default();
        let plain = rows
            .iter()
            .find(|r| r.qos == row.qos && r.path == "connector")
            .map(|r| r.measured.rate())
            .filter(|r| *r > 0.0 && row.path.starts_with("connector + "))
            .map(|p| format!("{:.0} %", 100.0 * m.rate() / p))
            .unwrap_or_default();
        let cpu = row
            .cpu_per_event
            .map(|d| format!("{:.1} µs", d.as_secs_f64() * 1e6))
            .unwrap_or_default();
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            row.qos,
            row.path,
            m.received,
            m.rate(),
            ms(percentile(&m.latencies, 50.0)),
            ms(percentile(&m.latencies, 99.0)),
            m.missing,
            ratio,
            plain,
            cpu
        );
    }
}
