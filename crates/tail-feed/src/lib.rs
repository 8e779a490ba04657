//! The live tail's feed: [`TailMessage`], one message forwarded for an asset as the tail shows
//! it; [`TailItem`], what a reader gets (a message, or how many it lost); and [`TailFeed`],
//! the stream of items made by [`feed`] from a `broadcast` receiver.
//!
//! Place in the pipeline: the supervisor's stream tasks send [`TailMessage`]s to the
//! listeners of an asset (`supervisor::Tail`); the HTTP API's live tail route reads a
//! [`TailFeed`] through its `TailSource` trait. Both use these types, so nothing copies a
//! message from one shape into another, and neither crate depends on the other. No runtime
//! here (only `tokio::sync`).
//!
//! # Layout
//! One file: the two types, the feed and [`feed`].
#![forbid(unsafe_code)]

use bytes::Bytes;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// One message forwarded for an asset, as the live tail shows it.
#[derive(Debug, Clone)]
pub struct TailMessage {
    /// `asset/datasets/name` or `asset/eventGroups/group/events/name`.
    pub operation: String,
    /// Where it went: the MQTT topic, the state store key or the file path.
    pub destination: String,
    /// The SSE event type.
    pub sse_event: String,
    /// The SSE event id (may be empty).
    pub sse_id: String,
    /// The payload's content type.
    pub content_type: String,
    /// The payload, as forwarded (shared, not copied).
    pub payload: Bytes,
    /// When it was forwarded, RFC 3339.
    pub time: String,
}

/// One item of a live tail.
#[derive(Debug, Clone)]
pub enum TailItem {
    /// A message forwarded for the asset.
    Message(TailMessage),
    /// The feed fell behind: this many messages (the oldest) were skipped before the next.
    Lagged(u64),
}

/// A live tail: the items of one asset from now on, until the runtime stops. Its reader
/// takes items as fast as its client does, so a feed must not queue anything of its own: a
/// lag anywhere must reach the reader as [`TailItem::Lagged`], never be hidden.
pub type TailFeed = BoxStream<'static, TailItem>;

/// The feed of `receiver`: each message as [`TailItem::Message`], and each lag of the channel
/// (the receiver fell more than its capacity behind) as [`TailItem::Lagged`] with the count.
/// Ends when the channel closes. No task, no queue of its own: dropping the feed drops the
/// receiver, which is how the sender learns that nobody listens any more.
pub fn feed(receiver: broadcast::Receiver<TailMessage>) -> TailFeed {
    Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(message) => TailItem::Message(message),
                Err(RecvError::Lagged(skipped)) => TailItem::Lagged(skipped),
                Err(RecvError::Closed) => return None,
            };
            Some((item, receiver))
        },
    ))
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;

    use super::*;

    fn message(operation: &str) -> TailMessage {
        TailMessage {
            operation: operation.into(),
            destination: "t".into(),
            sse_event: "m".into(),
            sse_id: String::new(),
            content_type: "application/json".into(),
            payload: Bytes::from_static(b"{}"),
            time: "now".into(),
        }
    }

    #[tokio::test]
    async fn a_lag_reaches_the_reader_and_a_closed_channel_ends_the_feed() {
        let (tx, rx) = broadcast::channel(2);
        let mut items = feed(rx);
        for n in 0..3 {
            tx.send(message(&format!("a/datasets/{n}"))).expect("send");
        }
        drop(tx);
        assert!(matches!(items.next().await, Some(TailItem::Lagged(1))));
        for n in 1..3 {
            match items.next().await {
                Some(TailItem::Message(m)) => assert_eq!(m.operation, format!("a/datasets/{n}")),
                other => panic!("expected message {n}, got {other:?}"),
            }
        }
        assert!(items.next().await.is_none());
    }
}
