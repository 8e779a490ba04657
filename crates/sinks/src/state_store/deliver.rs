//! How the state store destination delivers: [`KeyValueStore`] for `statestore`'s
//! [`StateStoreClient`].
//!
//! Each call is AIO's connector behaviour (reference 4.2): `SET key value`, unconditional, no
//! `PX` expiry, no fencing token, with the client's timeout (10 s by default). The call
//! returns once the request is queued on the client's one MQTT connection, so SETs reach the
//! service in the order of the calls and the key ends with the payload of the last one; the
//! [`Delivery`] resolves when the service answers `+OK`, and fails with
//! [`PublishError::KeyValue`] on an error reply, a non-200 status or no reply in time.

use bytes::Bytes;
use statestore::{SetOptions, StateStoreClient};

use super::accepts::KeyValueStore;
use super::error::{not_applied, not_set};
use crate::contract::Delivery;
use crate::error::PublishError;

impl KeyValueStore for StateStoreClient {
    async fn set(&self, key: String, value: Bytes) -> Result<Delivery, PublishError> {
        let queued = match self
            .queue_set(key.clone(), value, SetOptions::default())
            .await
        {
            Ok(queued) => queued,
            Err(error) if error.kind() == statestore::ErrorKind::Closed => {
                return Err(PublishError::Closed);
            }
            Err(error) => return Ok(Delivery::done(Err(not_set(key, &error)))),
        };
        let (done, delivery) = Delivery::channel();
        tokio::spawn(async move {
            let result = match queued.applied().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(not_applied(key)),
                Err(error) => Err(not_set(key, &error)),
            };
            let _ = done.send(result);
        });
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use aio_mqtt::MqttConfig;
    use statestore::StateStoreClient;

    use super::*;
    use crate::state_store::KeyValueStore;

    /// No broker listens: the SET fails in time with a key-value error naming the key.
    #[tokio::test]
    async fn a_set_without_a_broker_fails_with_the_key() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = StateStoreClient::start(MqttConfig::new("127.0.0.1", port))
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let delivery = KeyValueStore::set(&client, "latest".to_owned(), Bytes::from_static(b"{}"))
            .await
            .unwrap();
        match delivery.await {
            Err(PublishError::KeyValue { key, reason }) => {
                assert_eq!(key, "latest");
                assert!(reason.contains("no connection"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        client.close();
        let closed = KeyValueStore::set(&client, "k".to_owned(), Bytes::new()).await;
        assert_eq!(closed.unwrap_err(), PublishError::Closed);
    }
}
