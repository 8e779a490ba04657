//! [`Invoker`]: the client side of AIO's command pattern. A request carries 16 random bytes
//! of correlation data; the response that echoes them on one of the client's response topics
//! resolves it. A request is sent only once the response topics are subscribed (so its
//! response cannot be missed) and everything it waits for is bounded by its deadline.
//!
//! The owner runs the connection ([`super::poll_subscribed`] with [`Invoker::ready`]) and
//! hands each incoming PUBLISH to [`Invoker::take_response`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

/// A response as it arrived.
#[derive(Debug)]
pub struct Reply {
    /// The payload.
    pub payload: Bytes,
    /// Its content type property.
    pub content_type: Option<String>,
    /// Its user properties (the envelope).
    pub user_properties: Vec<(String, String)>,
}

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The connection was not ready (connected and subscribed) before the deadline.
    #[error("no connection to the MQTT broker")]
    NotConnected,
    /// rumqttc's request channel stayed full until the deadline.
    #[error("the request could not be queued")]
    NotQueued,
    /// No response before the deadline.
    #[error("no response")]
    NoResponse,
    /// The invoker was closed.
    #[error("closed")]
    Closed,
}

type Waiters = Mutex<HashMap<Bytes, oneshot::Sender<Reply>>>;

fn lock(waiters: &Waiters) -> MutexGuard<'_, HashMap<Bytes, oneshot::Sender<Reply>>> {
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Requests in flight on one connection, by correlation data. Clones share them.
#[derive(Debug, Clone)]
pub struct Invoker {
    client: AsyncClient,
    response_topics: Arc<[String]>,
    waiters: Arc<Waiters>,
    ready: Arc<watch::Sender<bool>>,
    stop: CancellationToken,
}

impl Invoker {
    /// An invoker sending with `client`, whose responses arrive on `response_topics`.
    pub fn new(client: AsyncClient, response_topics: Vec<String>) -> Self {
        Self {
            client,
            response_topics: response_topics.into(),
            waiters: Arc::new(Mutex::new(HashMap::new())),
            ready: Arc::new(watch::channel(false).0),
            stop: CancellationToken::new(),
        }
    }

    /// The client requests are sent with.
    pub fn client(&self) -> &AsyncClient {
        &self.client
    }

    /// The topics responses arrive on (to keep subscribed).
    pub fn response_topics(&self) -> &[String] {
        &self.response_topics
    }

    /// Whether the response topics are subscribed; the connection loop sets it.
    pub fn ready(&self) -> &watch::Sender<bool> {
        &self.ready
    }

    /// Waits until the response topics are subscribed (or the invoker is closed).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_ready(&self) {
        let mut ready = self.ready.subscribe();
        tokio::select! {
            _ = ready.wait_for(|r| *r) => {}
            () = self.stop.cancelled() => {}
        }
    }

    /// Cancelled by [`close`](Self::close): the connection loop stops on it.
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Fails every request in flight and every later one with [`InvokeError::Closed`].
    pub fn close(&self) {
        self.stop.cancel();
        self.ready.send_replace(false);
        lock(&self.waiters).clear();
    }

    /// Publishes a request to `topic` (QoS 1) once the connection is ready, with the
    /// properties `properties` builds around its correlation data.
    ///
    /// # Errors
    /// [`InvokeError::NotConnected`], [`InvokeError::NotQueued`] at `deadline`;
    /// [`InvokeError::Closed`].
    ///
    /// # Cancel safety
    /// Dropping the future forgets the request; one already queued may still be executed.
    pub async fn send(
        &self,
        topic: &str,
        payload: Bytes,
        properties: impl FnOnce(Bytes) -> PublishProperties,
        deadline: Instant,
    ) -> Result<Pending, InvokeError> {
        if self.is_closed() {
            return Err(InvokeError::Closed);
        }
        let mut ready = self.ready.subscribe();
        tokio::select! {
            waited = timeout_at(deadline, ready.wait_for(|r| *r)) => match waited {
                Err(_) => return Err(InvokeError::NotConnected),
                Ok(Err(_)) => return Err(InvokeError::Closed),
                Ok(Ok(_)) => {}
            },
            () = self.stop.cancelled() => return Err(InvokeError::Closed),
        }
        let correlation = Bytes::from(rand::random::<[u8; 16]>().to_vec());
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(correlation.clone(), tx);
        let pending = Pending {
            waiters: Arc::clone(&self.waiters),
            correlation: correlation.clone(),
            reply: rx,
            deadline,
        };
        let publish = self.client.publish_with_properties(
            topic.to_owned(),
            QoS::AtLeastOnce,
            false,
            payload,
            properties(correlation),
        );
        match timeout_at(deadline, publish).await {
            Err(_) => Err(InvokeError::NotQueued),
            Ok(Err(_)) => Err(InvokeError::Closed),
            Ok(Ok(())) => Ok(pending),
        }
    }

    /// Resolves the request `publish` answers, when it is a response on one of the response
    /// topics (exact topics, or filters for services whose request topics vary, like the
    /// device registry's `…/{device}/{endpoint}/{command}`); any other PUBLISH is handed
    /// back.
    pub fn take_response(&self, publish: Publish) -> Option<Publish> {
        let topic = std::str::from_utf8(&publish.topic).unwrap_or_default();
        if !self
            .response_topics
            .iter()
            .any(|filter| filter == topic || rumqttc::v5::mqttbytes::matches(topic, filter))
        {
            return Some(publish);
        }
        let properties = publish.properties.unwrap_or_default();
        if let Some(correlation) = properties.correlation_data
            && let Some(waiter) = lock(&self.waiters).remove(&correlation)
        {
            let _ = waiter.send(Reply {
                payload: publish.payload,
                content_type: properties.content_type,
                user_properties: properties.user_properties,
            });
        }
        None
    }
}

/// A request sent, waiting for its response. Dropping it forgets the request.
#[derive(Debug)]
pub struct Pending {
    waiters: Arc<Waiters>,
    correlation: Bytes,
    reply: oneshot::Receiver<Reply>,
    deadline: Instant,
}

impl Pending {
    /// The response.
    ///
    /// # Errors
    /// [`InvokeError::NoResponse`] at the deadline; [`InvokeError::Closed`].
    pub async fn reply(mut self) -> Result<Reply, InvokeError> {
        match timeout_at(self.deadline, &mut self.reply).await {
            Err(_) => Err(InvokeError::NoResponse),
            Ok(Err(_)) => Err(InvokeError::Closed),
            Ok(Ok(reply)) => Ok(reply),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        lock(&self.waiters).remove(&self.correlation);
    }
}
