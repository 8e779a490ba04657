//! What the state store destination accepts: `SET key value`, through any [`KeyValueStore`]
//! (DESIGN 3.4, reference 4.2).
//!
//! Each event of a dataset whose destination is `BrokerStateStore { key }` becomes one
//! `SET key payload`: unconditional, no expiry, no fencing token. AIO's state store client
//! implements [`KeyValueStore`] ([`deliver`](super::deliver)); the supervisor holds it as an
//! [`AnyKeyValueStore`] so that its own type does not change with the store.
//!
//! Delivery is at least once, as for MQTT: the [`Delivery`] of a SET resolves only when the
//! store replied OK, and the stream's checkpoint waits for it. A SET that fails stalls the
//! checkpoint, so the event (and the SET) comes again at the next start.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::contract::Delivery;
use crate::error::PublishError;

/// A store that keeps the latest value of a key: AIO's state store, or a test double.
///
/// Implementations must apply the SETs of one key in the order of the calls (one MQTT
/// connection and QoS 1 give that for AIO's state store), so that the value left at the key is
/// the payload of the last event.
pub trait KeyValueStore: Clone + Send + Sync + 'static {
    /// Queues `SET key value` and returns its [`Delivery`], which resolves with `Ok(())` when
    /// the store replied OK, or with [`PublishError::KeyValue`] when it replied with an error
    /// or did not reply in time.
    ///
    /// Waits while the store's queue is full: the connector's backpressure, as for
    /// [`Publisher::publish`](crate::Publisher::publish).
    ///
    /// # Errors
    /// [`PublishError::Closed`] when the store has shut down.
    ///
    /// # Cancel safety
    /// Dropping the future before it completes may or may not have queued the SET; no
    /// [`Delivery`] is returned then, so the checkpoint does not count it.
    fn set(
        &self,
        key: String,
        value: Bytes,
    ) -> impl Future<Output = Result<Delivery, PublishError>> + Send;
}

/// The boxed future of a type-erased SET.
type SetFuture<'a> = Pin<Box<dyn Future<Output = Result<Delivery, PublishError>> + Send + 'a>>;

/// What [`AnyKeyValueStore`] holds: [`KeyValueStore`] with a boxed future, so that it can be a
/// trait object.
trait ErasedStore: Send + Sync {
    fn set_boxed(&self, key: String, value: Bytes) -> SetFuture<'_>;
}

impl<K: KeyValueStore> ErasedStore for K {
    fn set_boxed(&self, key: String, value: Bytes) -> SetFuture<'_> {
        Box::pin(self.set(key, value))
    }
}

/// Any [`KeyValueStore`], behind one type: lets the runtime take a store without a type
/// parameter. A SET costs one extra allocation (the boxed future), small beside the round
/// trip to the store.
#[derive(Clone)]
pub struct AnyKeyValueStore {
    inner: Arc<dyn ErasedStore>,
}

impl AnyKeyValueStore {
    /// Wraps `store`. Wrapping an `AnyKeyValueStore` again adds a layer; pass it as it is.
    pub fn new(store: impl KeyValueStore) -> Self {
        Self {
            inner: Arc::new(store),
        }
    }
}

impl std::fmt::Debug for AnyKeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyKeyValueStore").finish_non_exhaustive()
    }
}

impl KeyValueStore for AnyKeyValueStore {
    fn set(
        &self,
        key: String,
        value: Bytes,
    ) -> impl Future<Output = Result<Delivery, PublishError>> + Send {
        self.inner.set_boxed(key, value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<Vec<(String, Bytes)>>>);

    impl KeyValueStore for Memory {
        async fn set(&self, key: String, value: Bytes) -> Result<Delivery, PublishError> {
            self.0
                .lock()
                .map_err(|_| PublishError::Closed)?
                .push((key, value));
            Ok(Delivery::done(Ok(())))
        }
    }

    #[tokio::test]
    async fn any_store_forwards_to_the_store() {
        let memory = Memory::default();
        let any = AnyKeyValueStore::new(memory.clone());
        let delivery = any
            .set("k".into(), Bytes::from_static(b"v"))
            .await
            .expect("queued");
        assert_eq!(delivery.await, Ok(()));
        let stored = memory.0.lock().expect("lock").clone();
        assert_eq!(stored, [("k".to_owned(), Bytes::from_static(b"v"))]);
    }
}
