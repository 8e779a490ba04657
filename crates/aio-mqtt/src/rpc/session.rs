//! [`poll_subscribed`]: the polling loop of a request/response connection that must stay
//! subscribed. At every CONNACK it subscribes again (a broker restarted without sessions has
//! forgotten the subscriptions), without ever waiting on rumqttc's request channel (the
//! polling task is what drains it); the SUBACK makes the connection ready; a failed poll makes
//! it not ready and waits the config's backoff before polling again. Before each connect it
//! reads the service account token (when configured), and a rotated token reconnects at once
//! (see [`crate::sat`]). At the end it says goodbye (DISCONNECT).

use std::ops::ControlFlow;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::MqttConfig;
use crate::connection;
use crate::sat::SatWatch;

/// One connection's loop: who it is (for the logs) and what it keeps subscribed.
#[derive(Debug)]
pub struct Session<'a> {
    /// What the connection serves, for people: `state store`, `schema registry client`...
    pub role: &'a str,
    /// The topic filters, subscribed at QoS 1 at every connection.
    pub topics: Vec<String>,
    /// `true` from each SUBACK that granted every filter until the connection is lost.
    pub ready: &'a watch::Sender<bool>,
    /// Services say at `info` when they connect; clients at `debug`.
    pub announce: bool,
}

/// Polls `eventloop` until `stop` is cancelled or `on_publish` breaks, keeping `session`'s
/// topics subscribed. `on_publish` gets every incoming PUBLISH; `on_subscribed` is called
/// with the connection's number (1 for the first) once its subscriptions are granted. Then
/// marks the session not ready and disconnects (sending what was queued first, within two
/// seconds).
pub async fn poll_subscribed(
    eventloop: &mut EventLoop,
    client: &AsyncClient,
    config: &MqttConfig,
    session: &Session<'_>,
    stop: &CancellationToken,
    mut on_publish: impl FnMut(Publish) -> ControlFlow<()>,
    mut on_subscribed: impl FnMut(u32),
) {
    let role = session.role;
    let filters: Vec<Filter> = session
        .topics
        .iter()
        .map(|topic| Filter::new(topic.clone(), QoS::AtLeastOnce))
        .collect();
    let (mut failures, mut connections) = (0u32, 0u32);
    let mut sat = SatWatch::new(config.sat_file.as_deref());
    let mut connecting = true;
    loop {
        if connecting && let Err(error) = sat.apply(&mut eventloop.options) {
            tracing::warn!(%error, "{role} connects with the previous token");
        }
        connecting = false;
        let event = tokio::select! {
            () = stop.cancelled() => break,
            () = sat.changed() => {
                session.ready.send_replace(false);
                if let Err(error) = sat.reconnect(eventloop) {
                    tracing::warn!(%error, "{role} keeps its connection");
                }
                continue;
            }
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                connections = connections.saturating_add(1);
                let broker = format!("{}:{}", config.host, config.port);
                if session.announce {
                    tracing::info!(%broker, "{role} connected to the MQTT broker");
                } else {
                    tracing::debug!(%broker, "{role} connected to the MQTT broker");
                }
                if let Err(error) = client.try_subscribe_many(filters.clone()) {
                    tracing::warn!(%error, "{role} cannot subscribe");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let ok = ack
                    .return_codes
                    .iter()
                    .all(|code| matches!(code, SubscribeReasonCode::Success(_)));
                if !ok {
                    tracing::error!(codes = ?ack.return_codes,
                        "the broker refused the subscriptions of the {role}");
                }
                session.ready.send_replace(ok);
                if ok {
                    on_subscribed(connections);
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if on_publish(publish).is_break() {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => {
                session.ready.send_replace(false);
                connecting = true;
                failures = failures.saturating_add(1);
                if failures == 1 {
                    tracing::warn!(%error, "{role} lost the MQTT broker; reconnecting");
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(connection::backoff(config, failures)) => {}
                }
            }
        }
    }
    session.ready.send_replace(false);
    connection::disconnect(client, eventloop).await;
}
