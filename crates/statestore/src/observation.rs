//! Key observations: what KEYNOTIFY delivers, as a channel per observed key.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use aio_mqtt::hlc::HlcTimestamp;
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::protocol::{self, find_property, property};
use crate::resp3::Notification;

/// Notifications held for a slow observer before newer ones are dropped (and logged).
pub(crate) const OBSERVATION_BUFFER: usize = 1024;

/// A change of an observed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNotification {
    /// The key.
    pub key: Bytes,
    /// SET with the new value, or DELETE.
    pub operation: Notification,
    /// The key's version after the change (`__ts`), when the service sent one.
    pub version: Option<HlcTimestamp>,
}

/// The notifications of one observed key, from [`StateStoreClient::observe`](crate::StateStoreClient::observe); also a
/// [`Stream`]. Ends when the client shuts down or the key is unobserved.
#[derive(Debug)]
pub struct KeyObservation {
    pub(crate) key: Bytes,
    pub(crate) notifications: mpsc::Receiver<KeyNotification>,
}

impl KeyObservation {
    /// The observed key.
    pub fn key(&self) -> &Bytes {
        &self.key
    }

    /// The next change; `None` once the observation has ended.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<KeyNotification> {
        self.notifications.recv().await
    }
}

impl Stream for KeyObservation {
    type Item = KeyNotification;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.notifications.poll_recv(cx)
    }
}

/// Hands a notification to the observer of its key; drops it (logged) when the observer is
/// [`OBSERVATION_BUFFER`] behind, and forgets observers that were dropped.
pub(crate) fn deliver(
    observers: &Mutex<HashMap<Bytes, mpsc::Sender<KeyNotification>>>,
    key: Bytes,
    payload: &Bytes,
    properties: &[(String, String)],
) {
    let operation = match Notification::parse(payload) {
        Ok(operation) => operation,
        Err(error) => {
            tracing::warn!(%error, "ignoring an unreadable key notification");
            return;
        }
    };
    let version = find_property(properties, property::TIMESTAMP).and_then(protocol::parse_hlc);
    let mut observers = observers.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(observer) = observers.get(&key) else {
        return;
    };
    match observer.try_send(KeyNotification {
        key: key.clone(),
        operation,
        version,
    }) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(key = %String::from_utf8_lossy(&key),
                "key observer is behind; dropping a notification");
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            observers.remove(&key);
        }
    }
}
