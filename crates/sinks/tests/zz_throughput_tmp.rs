#![allow(clippy::unwrap_used, missing_docs)]
use bytes::Bytes;
use sinks::{Message, MqttConfig, MqttPublisher, Publisher, Qos};
use std::time::{Duration, Instant};
use test_support::Mosquitto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput() {
    let broker = Mosquitto::start();
    for qos in [Qos::AtLeastOnce, Qos::AtMostOnce] {
        let mut config = MqttConfig::new("127.0.0.1", broker.port());
        config.client_id = format!("bench-{qos:?}");
        let publisher = MqttPublisher::start(config).unwrap();
        let payload = Bytes::from(format!(
            "{{\"id\":1,\"temperature\":21.5,\"pad\":\"{}\"}}",
            "x".repeat(100)
        ));
        let n = 200_000;
        let start = Instant::now();
        let mut last = None;
        for i in 0..n {
            let m = Message {
                topic: "bench/t".into(),
                qos,
                retain: false,
                expiry_secs: Some(60),
                content_type: Some("application/json".into()),
                correlation_data: None,
                user_properties: vec![
                    ("id".into(), i.to_string()),
                    ("type".into(), "t".into()),
                    ("source".into(), "s".into()),
                ],
                payload: payload.clone(),
            };
            let d = publisher.publish(m).await.unwrap();
            last = Some(d);
        }
        // Deliveries complete in order for an in-order broker; wait for the last and for idle.
        let _ = last.unwrap().await;
        while publisher.unacknowledged() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let el = start.elapsed();
        eprintln!(
            "{qos:?}: {n} msgs in {el:?} = {:.0} msg/s",
            n as f64 / el.as_secs_f64()
        );
        publisher.close().await;
    }
}
