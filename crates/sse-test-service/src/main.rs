//! The `sse-test-service` binary: serves the contract-test API of [`sse_test_service`] on
//! `--host`:`--port` (default `127.0.0.1:8000`) until `DELETE /` or Ctrl-C.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use sse_test_service::Service;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Test service for the SSE contract tests (github.com/launchdarkly/sse-contract-tests),
/// over the sse-connector SSE client.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The port to listen on.
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The address to listen on; `0.0.0.0` when the harness runs on another host or container.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let service = Service::new().map_err(|e| e.to_string())?;
    let listener = TcpListener::bind((args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%address, capabilities = ?sse_test_service::CAPABILITIES, "test service listening");

    let shutdown = service.shutdown_token();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("interrupted");
            shutdown.cancel();
        }
    });
    service
        .serve(listener)
        .await
        .map_err(|e| format!("serving on {address} failed: {e}"))
}
