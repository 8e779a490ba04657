//! A subscriber for people: the live view of `sse-connector demo`.
//!
//! It receives what arrives on a topic filter and hands it over a bounded channel; when the
//! reader falls behind, the newest messages are dropped and counted rather than buffered
//! without limit (a view may skip lines; the data path never uses this type). It subscribes
//! again after every reconnect.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::Event;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::MqttConfig;
use crate::error::MqttError;

/// Messages held for a slow reader before newer ones are dropped.
const VIEW_BUFFER: usize = 1024;

/// One message as the broker delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// Content type property.
    pub content_type: Option<String>,
    /// User properties, in order.
    pub user_properties: Vec<(String, String)>,
}

impl Received {
    /// The first user property called `name`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.user_properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A subscription; dropping it disconnects.
#[derive(Debug)]
pub struct MqttSubscriber {
    messages: mpsc::Receiver<Received>,
    task: JoinHandle<()>,
}

impl Drop for MqttSubscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MqttSubscriber {
    /// Connects with `config` (its client id gets a `-view` suffix) and subscribes to
    /// `filter`. Connection problems are retried in the background.
    ///
    /// # Errors
    /// [`MqttError`] for an invalid setting or an unusable CA, certificate, key or password
    /// file.
    pub fn start(config: &MqttConfig, filter: &str) -> Result<Self, MqttError> {
        let mut view = config.clone();
        view.client_id = format!("{}-view", config.client_id);
        view.clean_start = true;
        let (client, mut eventloop) = crate::connection::connection(&view, 16)?;
        let (tx, messages) = mpsc::channel(VIEW_BUFFER);
        let filter = filter.to_owned();
        let task = tokio::spawn(async move {
            let mut dropped = 0u64;
            let mut sat = crate::sat::SatWatch::new(view.sat_file.as_deref());
            if let Err(error) = sat.apply(&mut eventloop.options) {
                tracing::debug!(%error, "view connects with the token read at start");
            }
            loop {
                let polled = tokio::select! {
                    () = sat.changed() => {
                        if let Err(error) = sat.reconnect(&mut eventloop) {
                            tracing::debug!(%error, "view keeps its connection");
                        }
                        continue;
                    }
                    polled = eventloop.poll() => polled,
                };
                match polled {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        // Never wait on the request channel from the polling task.
                        let _ = client
                            .try_subscribe_many([Filter::new(filter.clone(), QoS::AtMostOnce)]);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let properties = publish.properties.unwrap_or_default();
                        let received = Received {
                            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                            payload: publish.payload,
                            content_type: properties.content_type,
                            user_properties: properties.user_properties,
                        };
                        match tx.try_send(received) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                dropped += 1;
                                if dropped.is_power_of_two() {
                                    tracing::warn!(
                                        dropped,
                                        "live view is behind; skipping messages"
                                    );
                                }
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(%error, "view subscription disconnected; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        if let Err(error) = sat.apply(&mut eventloop.options) {
                            tracing::debug!(%error, "view reconnects with the previous token");
                        }
                    }
                }
            }
        });
        Ok(Self { messages, task })
    }

    /// The next message; `None` once the subscription has ended.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<Received> {
        self.messages.recv().await
    }
}
