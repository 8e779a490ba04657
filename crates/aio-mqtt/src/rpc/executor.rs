//! [`Executor`]: the service side of AIO's command pattern, as two tasks:
//! - the **connection task** keeps the request topics subscribed ([`super::poll_subscribed`])
//!   and hands each request to the worker over an unbounded channel, so it never waits on the
//!   worker while the worker waits on it to send replies;
//! - the **worker**, the service's own: it executes requests and publishes the replies.
//!
//! [`Executor::shutdown`] stops the worker first (it answers what it was handed), then the
//! connection (which sends the queued replies and disconnects). Dropping the executor stops
//! both without waiting.

use std::future::Future;
use std::ops::ControlFlow;

use rumqttc::v5::mqttbytes::v5::Publish;
use rumqttc::v5::{AsyncClient, EventLoop};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::session::{Session, poll_subscribed};
use crate::config::MqttConfig;

/// One request, as the worker receives it.
#[derive(Debug)]
pub struct Request {
    /// The PUBLISH on a request topic.
    pub publish: Publish,
    /// When it arrived (its message expiry counts from here).
    pub received: Instant,
}

/// The running tasks of a service.
#[derive(Debug)]
pub struct Executor {
    ready: watch::Receiver<bool>,
    worker: Option<JoinHandle<()>>,
    connection: Option<JoinHandle<()>>,
    stop_worker: CancellationToken,
    stop_connection: CancellationToken,
    _guards: [DropGuard; 2],
}

impl Executor {
    /// Serves `topics` on the connection of `client` and `eventloop` (made from `config`),
    /// handing requests to the future `worker` makes of the request channel and its stop
    /// token. `role` names the service in logs.
    pub fn start<F>(
        runtime: &tokio::runtime::Handle,
        (client, eventloop): (AsyncClient, EventLoop),
        config: MqttConfig,
        role: &'static str,
        topics: Vec<String>,
        worker: impl FnOnce(mpsc::UnboundedReceiver<Request>, CancellationToken) -> F,
    ) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (ready_tx, ready) = watch::channel(false);
        let (tx, rx) = mpsc::unbounded_channel();
        let stop_worker = CancellationToken::new();
        let stop_connection = CancellationToken::new();
        let worker = runtime.spawn(worker(rx, stop_worker.clone()));
        let stop = stop_connection.clone();
        let connection = runtime.spawn(async move {
            let mut eventloop = eventloop;
            let session = Session {
                role,
                topics,
                ready: &ready_tx,
                announce: true,
            };
            poll_subscribed(
                &mut eventloop,
                &client,
                &config,
                &session,
                &stop,
                |publish| {
                    if !session
                        .topics
                        .iter()
                        .any(|t| publish.topic.as_ref() == t.as_bytes())
                    {
                        return ControlFlow::Continue(());
                    }
                    let request = Request {
                        publish,
                        received: Instant::now(),
                    };
                    match tx.send(request) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(_) => ControlFlow::Break(()),
                    }
                },
                |_| {},
            )
            .await;
        });
        Self {
            ready,
            worker: Some(worker),
            connection: Some(connection),
            _guards: [
                stop_worker.clone().drop_guard(),
                stop_connection.clone().drop_guard(),
            ],
            stop_worker,
            stop_connection,
        }
    }

    /// Waits until the request topics are subscribed (requests sent before that are not
    /// seen).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// Whether the service is connected and subscribed right now.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Stops the worker (it answers what it was handed), then the connection (it sends the
    /// queued replies and disconnects).
    pub async fn shutdown(mut self) {
        self.stop_worker.cancel();
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
        self.stop_connection.cancel();
        if let Some(connection) = self.connection.take() {
            let _ = connection.await;
        }
    }
}
