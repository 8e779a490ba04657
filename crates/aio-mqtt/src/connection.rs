//! Connections for request/response traffic over MQTT: the state store and schema registry
//! clients and services, and the demo's view. Each owns its connection and polls it in one
//! task that never waits on rumqttc's request channel.

use std::time::Duration;

use rumqttc::v5::{AsyncClient, EventLoop, MqttOptions};
use rumqttc::{NetworkOptions, Outgoing, TlsConfiguration, Transport};

use crate::config::{MqttConfig, read_password};
use crate::error::MqttError;
use crate::{sat, tls};

/// Validates `config` and builds the rumqttc options every connection made from it shares:
/// client id, session, keep-alive, packet size, connect timeout, TLS, and the service account
/// token when [`MqttConfig::sat_file`] is set. User name and password are the caller's (the
/// publisher reads the password file at every connect), as are its queue limits.
///
/// # Errors
/// [`MqttError`] for an invalid setting or an unusable TLS or token file.
pub fn options(config: &MqttConfig) -> Result<MqttOptions, MqttError> {
    config.validate()?;
    let mut options = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    options
        .set_keep_alive(config.keep_alive)
        .set_clean_start(config.clean_start)
        .set_session_expiry_interval(u32::try_from(config.session_expiry.as_secs()).ok())
        .set_max_packet_size(Some(config.max_packet_size))
        .set_connection_timeout(config.connect_timeout.as_secs().max(1));
    if let Some(settings) = &config.tls {
        let tls = tls::client_config(settings)?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    if let Some(path) = &config.sat_file {
        sat::set_token(&mut options, sat::read_token(path)?);
    }
    Ok(options)
}

/// Validates `config` and builds a client and its event loop (nothing connects yet), with
/// `capacity` requests queued in rumqttc's channel before a send waits. The polling loop
/// applies token rotations with a [`SatWatch`](crate::sat::SatWatch).
///
/// TCP_NODELAY is set: request/response traffic is small messages in both directions, and
/// Nagle's algorithm with delayed ACKs would add tens of milliseconds to every round trip. The
/// password file is read here, once.
///
/// # Errors
/// [`MqttError`] for an invalid setting or an unusable TLS, password or token file.
pub fn connection(
    config: &MqttConfig,
    capacity: usize,
) -> Result<(AsyncClient, EventLoop), MqttError> {
    let mut options = options(config)?;
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    if let Some(user) = &config.username {
        let password = match &config.password_file {
            None => String::new(),
            Some(path) => read_password(path)?,
        };
        options.set_credentials(user.clone(), password);
    }
    Ok(AsyncClient::new(options, capacity))
}

/// The pause after the `failures`-th failed poll in a row, from the config's backoff.
pub fn backoff(config: &MqttConfig, failures: u32) -> Duration {
    config.reconnect.delay(failures, rand::random::<f64>())
}

/// Sends DISCONNECT and polls until it is out (at most two seconds: the broker may be gone).
pub async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) {
    if client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::v5::Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}
