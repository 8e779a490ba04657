//! The rumqttc options of a client or service connection, built from the shared
//! [`MqttConfig`], and the reconnect pause. Each side owns its connection and polls it in one
//! task that never waits on rumqttc's request channel.

use std::time::Duration;

use rumqttc::v5::{AsyncClient, EventLoop, MqttOptions};
use rumqttc::{NetworkOptions, TlsConfiguration, Transport};
use sinks::MqttConfig;

use crate::error::{Error, ErrorKind, ErrorSource, Result};

/// Requests queued in rumqttc's channel before `publish().await` waits.
const REQUEST_CAPACITY: usize = 256;

/// Validates `config` and builds the client and its event loop (nothing connects yet).
///
/// # Errors
/// [`ErrorKind::Config`] for an invalid setting or an unusable TLS or password file.
pub(crate) fn build(config: &MqttConfig) -> Result<(AsyncClient, EventLoop)> {
    config.validate()?;
    let mut options = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    options
        .set_keep_alive(config.keep_alive)
        .set_clean_start(config.clean_start)
        .set_session_expiry_interval(u32::try_from(config.session_expiry.as_secs()).ok())
        .set_max_packet_size(Some(config.max_packet_size))
        .set_connection_timeout(config.connect_timeout.as_secs().max(1));
    // Small request/response messages: without TCP_NODELAY, Nagle's algorithm and delayed
    // ACKs add tens of milliseconds to every round trip.
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    if let Some(user) = &config.username {
        let password = match &config.password_file {
            None => String::new(),
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("cannot read MQTT password file {}: {e}", path.display()),
                    )
                    .with_source(ErrorSource::Io(e))
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        options.set_credentials(user.clone(), password);
    }
    if let Some(tls) = &config.tls {
        let tls = sinks::mqtt::tls::client_config(tls)?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(AsyncClient::new(options, REQUEST_CAPACITY))
}

/// The pause after the `failures`-th failed poll in a row, from the config's backoff.
pub(crate) fn backoff(config: &MqttConfig, failures: u32) -> Duration {
    config.reconnect.delay(failures, rand::random::<f64>())
}

/// Sends DISCONNECT and polls until it is out (bounded: the broker may be gone).
pub(crate) async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) {
    if client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::v5::Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => {
                        break;
                    }
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}
