//! The contract between the supervisor and every destination: [`Delivery`], which resolves
//! when the destination has taken responsibility for what it was given, and [`Publisher`], the
//! MQTT destination as the supervisor sees it (the MQTT publisher, or a test double).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aio_mqtt::Message;
use tokio::sync::oneshot;

use crate::error::PublishError;

/// Something that delivers [`Message`]s: the MQTT publisher, or a test double.
pub trait Publisher: Clone + Send + Sync + 'static {
    /// Queues `message` for sending and returns its [`Delivery`].
    ///
    /// Waits while the publisher's queue or in-flight window is full: this is the connector's
    /// backpressure, which stops reading from the SSE socket when the broker is slow or down.
    ///
    /// # Errors
    /// [`PublishError`] when the publisher has shut down; the message is handed back.
    fn publish(
        &self,
        message: Message,
    ) -> impl Future<Output = Result<Delivery, PublishError>> + Send;
}

/// Resolves when the destination has taken responsibility for one message: PUBACK for QoS 1,
/// written to the connection for QoS 0.
#[derive(Debug)]
pub struct Delivery {
    done: oneshot::Receiver<Result<(), PublishError>>,
}

impl Delivery {
    /// A delivery and the sender that completes it.
    pub fn channel() -> (oneshot::Sender<Result<(), PublishError>>, Self) {
        let (tx, done) = oneshot::channel();
        (tx, Self { done })
    }

    /// A delivery that has already completed.
    pub fn done(result: Result<(), PublishError>) -> Self {
        let (tx, delivery) = Self::channel();
        let _ = tx.send(result);
        delivery
    }
}

impl Future for Delivery {
    type Output = Result<(), PublishError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.done)
            .poll(cx)
            .map(|result| result.unwrap_or(Err(PublishError::Closed)))
    }
}
