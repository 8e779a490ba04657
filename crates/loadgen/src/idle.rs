//! `sse-loadgen idle`: many idle streams, one connection each; the connector's resident memory
//! once the SSE server counts all of them established.
//!
//! The registry has one device and `streams` datasets on distinct paths `/s/{i}` (grouped into
//! assets of `per_asset` datasets), each to its own topic at QoS 1. The server answers every
//! path with an open stream that sends a comment every 30 s (well inside the client's 60 s idle
//! timeout). Once all are established, memory is sampled every 5 s for `hold` seconds (past one
//! round of comments), and the last and the highest readings are reported.

use std::time::Duration;

use anyhow::bail;
use tokio::time::Instant;

use crate::Common;
use crate::connector::{Connector, TestRegistry};
use crate::mosquitto::{Mosquitto, free_port};
use crate::sse_server::{Flood, SseServer};

/// Options of `idle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,

    /// Idle streams (one dataset and one connection each)
    #[arg(long, default_value_t = 10_000)]
    streams: usize,

    /// Datasets per asset
    #[arg(long, default_value_t = 100)]
    per_asset: usize,

    /// Broker: `mosquitto` (started for the run) or `embedded` (inside the connector)
    #[arg(long, default_value = "mosquitto")]
    broker: String,

    /// Longest wait for every stream to connect, in seconds
    #[arg(long, default_value_t = 300)]
    timeout: u64,

    /// How long to keep sampling memory once all are connected, in seconds
    #[arg(long, default_value_t = 40)]
    hold: u64,
}

/// Runs the benchmark and prints its table.
///
/// # Errors
/// When something cannot start, the connector exits, or not every stream connects in time.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let server = SseServer::start(
        Flood {
            events_per_connection: 0,
            batch: 1,
            rate: None,
        },
        Duration::from_secs(30),
    )?;
    let registry = TestRegistry::new(&server.base_url())?;
    let per_asset = args.per_asset.max(1);
    let streams = args.streams.max(1);
    for (asset, first) in (0..streams).step_by(per_asset).enumerate() {
        let datasets = (first..(first + per_asset).min(streams)).map(|i| {
            (
                format!("s-{i}"),
                format!("/s/{i}"),
                format!("bench/idle/{i}"),
            )
        });
        registry.add_asset(&format!("idle-{asset:04}"), datasets, "Qos1")?;
    }
    let (_mosquitto, broker, embedded_addr) = match args.broker.as_str() {
        "mosquitto" => {
            let m = Mosquitto::start(&args.common.mosquitto)?;
            let url = m.url();
            (Some(m), url, None)
        }
        "embedded" => (
            None,
            "embedded".to_owned(),
            Some(format!("127.0.0.1:{}", free_port()?)),
        ),
        other => bail!("--broker {other}: expected mosquitto or embedded"),
    };
    let mut connector = Connector::spawn(
        &args.common.connector,
        registry.path(),
        &broker,
        embedded_addr.as_deref(),
    )?;
    eprintln!(
        "connector pid {}; waiting for {streams} streams",
        connector.pid()
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout.max(1));
    let mut last_report = started;
    while server.established() < streams {
        connector.check_running()?;
        if Instant::now() >= deadline {
            bail!(
                "{} of {streams} streams connected within {} s; end of the connector's log:\n{}",
                server.established(),
                args.timeout,
                connector.log_tail()
            );
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            let (rss, _) = connector.memory_kib()?;
            eprintln!(
                "  {:>6} connected after {:>5.1} s, RSS {} MiB",
                server.established(),
                started.elapsed().as_secs_f64(),
                rss / 1024
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let connect_time = started.elapsed();
    let (at_connect, _) = connector.memory_kib()?;
    eprintln!(
        "all {streams} connected after {:.1} s; holding {} s",
        connect_time.as_secs_f64(),
        args.hold
    );

    let mut highest = at_connect;
    let mut last = at_connect;
    let hold_until = Instant::now() + Duration::from_secs(args.hold);
    while Instant::now() < hold_until {
        tokio::time::sleep(Duration::from_secs(5)).await;
        connector.check_running()?;
        (last, _) = connector.memory_kib()?;
        highest = highest.max(last);
    }
    let (_, peak) = connector.memory_kib()?;
    let still = server.established();
    connector.stop();
    server.stop().await;

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\n{streams} idle streams, broker {}, {} connected at the end\n",
        args.broker, still
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| time until all connected | {:.1} s |",
        connect_time.as_secs_f64()
    );
    println!("| RSS when all connected | {:.1} MiB |", mib(at_connect));
    println!(
        "| RSS after {} s more (last / highest sample) | {:.1} / {:.1} MiB |",
        args.hold,
        mib(last),
        mib(highest)
    );
    println!("| peak RSS (VmHWM) | {:.1} MiB |", mib(peak));
    println!(
        "| per stream (last RSS / streams) | {:.1} KiB |",
        last as f64 / streams as f64
    );
    Ok(())
}
