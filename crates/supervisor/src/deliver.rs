//! The destinations the runtime can deliver to: the MQTT publisher, always; a key-value store
//! for `BrokerStateStore` and the files for `Storage`, when configured. One [`Sinks`] is shared
//! (cloned) by every stream task.

use model::destination::Sink;
use sinks::file::FileSinks;
use sinks::state_store::{AnyKeyValueStore, KeyValueStore as _};
use sinks::{Delivery, PublishError, Publisher};

use crate::forward::Outgoing;

/// Why no key-value store takes `BrokerStateStore` operations.
pub const NO_KEY_VALUE_STORE: &str = "no state store is configured";
/// Why no files take `Storage` operations.
pub const NO_STORAGE_ROOT: &str = "no storage root is configured";

/// The publisher and the optional stores.
#[derive(Debug, Clone)]
pub(crate) struct Sinks<P> {
    pub publisher: P,
    pub key_value: Option<AnyKeyValueStore>,
    pub files: Option<FileSinks>,
}

impl<P: Publisher> Sinks<P> {
    /// Only the publisher.
    pub fn new(publisher: P) -> Self {
        Self {
            publisher,
            key_value: None,
            files: None,
        }
    }

    /// Why operations with `sink` cannot run here; `None` when they can.
    pub fn unsupported(&self, sink: &Sink) -> Option<&'static str> {
        match sink {
            Sink::Mqtt { .. } => None,
            Sink::BrokerStateStore { .. } => self.key_value.is_none().then_some(NO_KEY_VALUE_STORE),
            Sink::Storage { .. } => self.files.is_none().then_some(NO_STORAGE_ROOT),
        }
    }

    /// Hands `outgoing` to its destination; waits while that destination is full.
    ///
    /// # Errors
    /// The destination's [`PublishError`]: closed, or (files) a refused path. A destination
    /// that is not configured answers [`PublishError::Closed`]; the router never sends there.
    pub async fn send(&self, outgoing: Outgoing) -> Result<Delivery, PublishError> {
        match outgoing {
            Outgoing::Mqtt(message) => self.publisher.publish(message).await,
            Outgoing::KeyValue { key, value } => match &self.key_value {
                Some(store) => store.set(key, value).await,
                None => Err(PublishError::Closed),
            },
            Outgoing::File { path, line } => match &self.files {
                Some(files) => files.append(&path, line).await,
                None => Err(PublishError::Closed),
            },
        }
    }
}
