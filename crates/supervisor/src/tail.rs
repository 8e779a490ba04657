//! The live tail: a feed of the messages forwarded for one asset, for whoever listens (the
//! web UI's tail view, `GET /api/v1/assets/{name}/tail`).
//!
//! Free when nobody listens: the stream tasks check one atomic ([`Tail::is_listening`])
//! before building anything; only then do they lock the map of feeds and copy the message
//! (the payload is a shared `Bytes`, not copied). Feeds are `broadcast` channels: a slow
//! listener loses the oldest messages, never slows the stream down, and its next receive says
//! how many it lost (`RecvError::Lagged(n)`). This is the live tail's only queue: the HTTP
//! route reads the receiver ([`Tail::feed`]) as its client takes the events and passes each
//! lag on as `event: lagged`. The message and the feed are the `tail-feed` crate's, which
//! the HTTP API reads too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tail_feed::{TailFeed, TailMessage};
use tokio::sync::broadcast;

/// Messages a listener may lag behind before it loses the oldest.
const FEED_CAPACITY: usize = 256;

/// The feeds, by asset; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Tail {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Number of feeds (assets with a sender); 0: nothing to do on the event path.
    feeds: AtomicUsize,
    senders: Mutex<HashMap<String, broadcast::Sender<TailMessage>>>,
}

impl Tail {
    /// A feed of the messages forwarded for `asset` from now on.
    pub fn subscribe(&self, asset: &str) -> broadcast::Receiver<TailMessage> {
        let mut senders = self.lock();
        senders.retain(|_, tx| tx.receiver_count() > 0);
        let receiver = senders
            .entry(asset.to_owned())
            .or_insert_with(|| broadcast::channel(FEED_CAPACITY).0)
            .subscribe();
        self.inner.feeds.store(senders.len(), Ordering::Relaxed);
        receiver
    }

    /// The messages forwarded for `asset` from now on, as a [`TailFeed`] (lags included).
    pub fn feed(&self, asset: &str) -> TailFeed {
        tail_feed::feed(self.subscribe(asset))
    }

    /// Whether anyone may listen (one relaxed load).
    #[inline]
    pub fn is_listening(&self) -> bool {
        self.inner.feeds.load(Ordering::Relaxed) > 0
    }

    /// Sends `message()` to the listeners of `asset`, if any; drops the feed when its last
    /// listener went away.
    pub(crate) fn publish(&self, asset: &str, message: impl FnOnce() -> TailMessage) {
        let mut senders = self.lock();
        let Some(tx) = senders.get(asset) else {
            return;
        };
        if tx.receiver_count() == 0 {
            senders.remove(asset);
            self.inner.feeds.store(senders.len(), Ordering::Relaxed);
            return;
        }
        let _ = tx.send(message());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<TailMessage>>> {
        self.inner
            .senders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn message(op: &str) -> TailMessage {
        TailMessage {
            operation: op.into(),
            destination: "t".into(),
            sse_event: "m".into(),
            sse_id: String::new(),
            content_type: "application/json".into(),
            payload: Bytes::from_static(b"{}"),
            time: "now".into(),
        }
    }

    #[test]
    fn listeners_get_their_asset_only_and_leaving_stops_the_work() {
        let tail = Tail::default();
        assert!(!tail.is_listening());
        let mut rx = tail.subscribe("a");
        assert!(tail.is_listening());
        tail.publish("b", || panic!("nobody listens to b"));
        tail.publish("a", || message("a/datasets/d"));
        assert_eq!(rx.try_recv().expect("message").operation, "a/datasets/d");
        drop(rx);
        tail.publish("a", || panic!("nobody listens any more"));
        assert!(!tail.is_listening());
    }

    #[test]
    fn a_listener_that_falls_behind_is_told_how_many_it_lost() {
        let tail = Tail::default();
        let mut rx = tail.subscribe("a");
        for n in 0..FEED_CAPACITY + 5 {
            tail.publish("a", || message(&format!("a/datasets/{n}")));
        }
        assert_eq!(
            rx.try_recv().err(),
            Some(broadcast::error::TryRecvError::Lagged(5))
        );
        assert_eq!(rx.try_recv().expect("message").operation, "a/datasets/5");
    }
}
