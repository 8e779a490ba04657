//! The overview's reply time with 10,000 data operations: a measurement for `BENCHMARKS.md`
//! ("The overview with 10,000 operations"), not a test of a limit, so it is ignored by
//! default and asserts only that the replies are right. Run it on a release build:
//!
//! ```console
//! cargo test --release -p sse-connector --test overview_scale -- --ignored --nocapture
//! ```
//!
//! One device, 100 assets of 100 datasets (10,000 operations) on 100 stream paths (each
//! stream shared by one dataset of every asset), the embedded broker; the streams are idle
//! (connected, no events). Once every operation is `Available`, `GET /api/v1/overview`,
//! `GET /api/v1/rates?group=asset&limit=1000` and `GET /api/v1/rates?asset=a0&limit=1000` are
//! each timed over plain loopback HTTP (connect, request, whole reply read), 40 times each,
//! with the rate ring running; the minimum, median, 90th percentile and maximum are
//! printed.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Broker, Connector, Options, http_get};
use test_support::{Response, SseServer};

const ASSETS: usize = 100;
const DATASETS: usize = 100;
const RUNS: usize = 40;

fn summary(label: &str, mut times: Vec<Duration>, bytes: usize) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms ({} runs, {} KiB)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(times[times.len() - 1]),
        times.len(),
        bytes / 1024
    );
}

async fn time(http: std::net::SocketAddr, path: &str) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let (status, body) = http_get(http, path).await;
        times.push(start.elapsed());
        assert_eq!(status, 200, "{path}: {body}");
        bytes = body.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (times, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it on a release build (see the module's docs)"]
async fn overview_reply_time_with_10000_operations() {
    let server = SseServer::http([]).await;
    server.set_fallback(Response::sse().chunk("retry: 1000\n\n").hang());
    let registry = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = registry.path();
    common::write_atomic(
        &r.join("devices/plant.yaml"),
        &common::device("plant", "sse", &server.url(""), &[]),
    );
    for a in 0..ASSETS {
        let mut asset = common::asset_head(&format!("a{a}"), "plant", "sse", &[]);
        asset.push_str("  datasets:\n");
        for d in 0..DATASETS {
            asset.push_str(&common::dataset(
                &format!("d{d}"),
                &format!("/s/{d}"),
                &format!("scale/a{a}/d{d}"),
                &[],
            ));
        }
        common::write_atomic(&r.join(format!("assets/a{a}.yaml")), &asset);
    }
    let connector = Connector::start(&Options::new(r, state.path(), Broker::Embedded).http()).await;
    let http = connector.http.unwrap();

    let operations = ASSETS * DATASETS;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (status, body) = http_get(http, "/api/v1/overview").await;
        assert_eq!(status, 200, "{body}");
        let overview: serde_json::Value = serde_json::from_str(&body).unwrap();
        let counts = &overview["counts"]["operations"];
        if counts["total"] == operations && counts["Available"] == operations {
            assert_eq!(overview["counts"]["assets"]["Available"], ASSETS);
            assert_eq!(overview["attentionTotal"], 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every operation is Available: {counts}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Samples in the ring: the sampler has run a few times.
    tokio::time::sleep(Duration::from_secs(12)).await;

    let (times, bytes) = time(http, "/api/v1/overview").await;
    summary("GET /api/v1/overview", times, bytes);
    let (times, bytes) = time(http, "/api/v1/rates?group=asset&limit=1000").await;
    summary("GET /api/v1/rates?group=asset&limit=1000", times, bytes);
    let (times, bytes) = time(http, "/api/v1/rates?asset=a0&limit=1000").await;
    summary("GET /api/v1/rates?asset=a0&limit=1000", times, bytes);
    let (_, body) = http_get(http, "/api/v1/rates?group=asset&limit=1000").await;
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["total"], ASSETS);
    assert_eq!(page["items"][0]["operations"], DATASETS);
    drop(connector);
}
