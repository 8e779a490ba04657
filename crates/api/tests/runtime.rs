//! The routes over the runtime's sources: status, metrics, the live tail.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use api::TailMessage;
use bytes::Bytes;
use reqwest::Method;
use support::{Harness, asset, device, status_document};

#[tokio::test]
async fn status_is_the_sources_document() {
    let api = Harness::start().await;
    let (status, body) = api.get("/api/v1/status").await;
    assert_eq!(status, 200);
    assert_eq!(body, status_document());
    let bare = Harness::start_with(None, false).await;
    assert_eq!(bare.get("/api/v1/status").await.0, 404);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let api = Harness::start().await;
    let response = api.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("sse_connector_events_total 3")
    );
    let bare = Harness::start_with(None, false).await;
    assert_eq!(bare.get("/metrics").await.0, 404);
}

fn message(n: u32, payload: &[u8]) -> TailMessage {
    TailMessage {
        operation: "weather/datasets/weatherdata".to_owned(),
        destination: "plant/weather".to_owned(),
        sse_event: "reading".to_owned(),
        sse_id: n.to_string(),
        content_type: "application/json".to_owned(),
        payload: Bytes::copy_from_slice(payload),
        time: "2026-11-27T12:00:00Z".to_owned(),
    }
}

/// Reads the body until `count` events have arrived; returns (event, id, data) of each.
async fn events(response: &mut reqwest::Response, count: usize) -> Vec<(String, String, String)> {
    let mut text = String::new();
    let mut out = Vec::new();
    while out.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the feed goes on");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_owned();
                } else if let Some(v) = line.strip_prefix("id: ") {
                    id = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v.to_owned();
                }
            }
            if !event.is_empty() {
                out.push((event, id, data));
            }
        }
    }
    out
}

/// Creates the device `weather-station` and its asset `weather`, then opens the asset's
/// tail; the listener has subscribed once this returns.
async fn weather_tail(api: &Harness) -> reqwest::Response {
    create_device(api).await;
    let (status, body) = api
        .post("/api/v1/assets", &asset("weather", "weather-station"))
        .await;
    assert_eq!(status, 201, "{body}");
    let response = api
        .request(Method::GET, "/api/v1/assets/weather/tail")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

async fn create_device(api: &Harness) {
    let (status, body) = api
        .post(
            "/api/v1/devices",
            &device("weather-station", "http://127.0.0.1:9"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_tail_streams_each_message_as_an_event_and_reports_lag() {
    let api = Harness::start().await;
    let mut response = weather_tail(&api).await;
    let tx = api.tails.sender("weather");
    tx.send(message(1, br#"{"t":21.5}"#)).unwrap();
    tx.send(message(2, &[0xff, 0x00, 0x01])).unwrap();
    let got = events(&mut response, 2).await;
    assert_eq!(got[0].0, "message");
    assert_eq!(got[0].1, "1");
    let first: serde_json::Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"operation": "weather/datasets/weatherdata", "destination": "plant/weather",
            "sseEvent": "reading", "sseId": "1", "contentType": "application/json",
            "time": "2026-11-27T12:00:00Z", "payload": "{\"t\":21.5}", "payloadBase64": false})
    );
    let second: serde_json::Value = serde_json::from_str(&got[1].2).unwrap();
    assert_eq!(got[1].1, "2");
    assert_eq!(second["payload"], "/wAB");
    assert_eq!(second["payloadBase64"], true);

    // More than the channel holds while nobody reads (the test runs on one thread and sends
    // without yielding, so the listener's task cannot read in between): the reader is told
    // how many it lost.
    for n in 3..=12 {
        tx.send(message(n, b"x")).unwrap();
    }
    let got = events(&mut response, 5).await;
    assert_eq!(got[0].0, "lagged");
    assert_eq!(got[0].2, r#"{"skipped":6}"#);
    assert_eq!(got[1].0, "message");
    let next: serde_json::Value = serde_json::from_str(&got[1].2).unwrap();
    assert_eq!(next["sseId"], "9");
    assert_eq!(got[1].1, "3", "ids count the events of the feed");
}

/// The runtime's feed (the supervisor's `broadcast`, here of 4) is the tail's first hop: a reader
/// that falls behind there is told, in the SSE body, how many messages it lost.
#[tokio::test]
async fn a_lag_at_the_first_hop_reaches_the_client_as_a_lagged_event() {
    let api = Harness::start().await;
    let mut response = weather_tail(&api).await;
    let tx = api.tails.sender("weather");
    // 16 messages while the listener's task cannot run (one thread, no yield): 12 lost.
    for n in 1..=16 {
        tx.send(message(n, b"x")).unwrap();
    }
    let mut body = String::new();
    while !body.contains(r#""sseId":"16""#) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("the feed goes on in time")
            .unwrap()
            .expect("the feed goes on");
        body.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        body.starts_with("event: lagged\ndata: {\"skipped\":12}\n\n"),
        "{body}"
    );
    assert!(body.contains("event: message\nid: 1\n"), "{body}");
    assert!(body.contains(r#""sseId":"13""#), "{body}");
    assert!(!body.contains(r#""sseId":"12""#), "{body}");
}

#[tokio::test]
async fn the_tail_of_an_unknown_asset_or_without_a_source_is_404() {
    let api = Harness::start().await;
    create_device(&api).await;
    let (status, body) = api.get("/api/v1/assets/nowhere/tail").await;
    assert_eq!(status, 404, "{body}");
    let bare = Harness::start_with(None, false).await;
    assert_eq!(bare.get("/api/v1/assets/weather/tail").await.0, 404);
}

#[tokio::test]
async fn stopping_the_listener_ends_open_tails() {
    let api = Harness::start().await;
    let mut response = weather_tail(&api).await;
    api.stop();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the feed outlived the listener");
}
