//! `sse-loadgen`: the load benchmarks of `sse-connector run` (results in `BENCHMARKS.md`).
//!
//! It stands outside the pipeline and drives all of it: its own SSE server feeds a release
//! `sse-connector run` process, which publishes to a mosquitto started for the run, and an
//! MQTT subscriber in this process measures what arrives.
//!
//! - `throughput`: one stream of ~150 B JSON events, QoS 0 and QoS 1: events/s and p50/p99
//!   latency from the server's write to the subscriber's receipt; then, in the same run, the
//!   ceiling: the same messages published straight to the broker by the connector's own MQTT
//!   client ([`sinks::MqttPublisher`]), measured by the same subscriber.
//! - `idle`: thousands of idle streams (one connection each); the connector's resident memory
//!   once the server counts every connection established.
//!
//! Everything listens on loopback only; every wait is bounded in time and every loop in count.
//!
//! # Layout
//! - `main.rs`: the command line and the file-descriptor limit.
//! - `clock`: one monotonic nanosecond clock for write and receipt times; percentiles.
//! - `payload`: the ~150 B JSON event body carrying its sequence number and write time.
//! - `mosquitto`: a mosquitto process on a free loopback port, killed on drop.
//! - `sse_server`: the SSE server: a flood on `/events`, idle streams on every other path.
//! - `subscriber`: the measuring MQTT subscriber (rumqttc).
//! - `connector`: the registry written for a run and the `sse-connector run` child process.
//! - `throughput`, `idle`: the two benchmarks.

#![forbid(unsafe_code)]

mod clock;
mod connector;
mod idle;
mod mosquitto;
mod payload;
mod sse_server;
mod subscriber;
mod throughput;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Load benchmarks of `sse-connector run` against a local mosquitto.
#[derive(Debug, Parser)]
#[command(name = "sse-loadgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
enum Command {
    /// One stream flat out through the connector, QoS 0 and QoS 1, against the raw client ceiling
    Throughput(throughput::Args),
    /// Many idle streams: the connector's resident memory once all are connected
    Idle(idle::Args),
}

/// Options both benchmarks share.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The `sse-connector` binary (build it with `cargo build --release -p sse-connector`)
    #[arg(long, default_value = "target/release/sse-connector")]
    connector: PathBuf,

    /// The mosquitto binary
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Throughput(args) => throughput::run(args).await,
            Command::Idle(args) => idle::run(args).await,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit on open files to the hard limit. The connector is spawned from this
/// process and inherits the raised limit; each idle stream is one socket on either side.
fn raise_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => eprintln!("open-file limit: {limit}"),
        Err(error) => eprintln!("warning: cannot raise the open-file limit: {error}"),
    }
}
