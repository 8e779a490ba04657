//! [`CommandClient`]: the client of one AIO service (the state store, the schema registry,
//! the next one) over its own MQTT v5 connection, generic over the service's [`CommandSet`].
//!
//! What every such client does is here: the connection task, which keeps the response topics
//! (and any other topics of the command set) subscribed across reconnects; requests that wait
//! for that subscription, carry 16 random bytes of correlation data and are bounded by the
//! handle's timeout; the reading of a response's `__stat` and content type; closing. What is
//! the service's stays in its crate: its topics, its request properties and payloads, and
//! its errors, mapped from [`CommandError`].
//!
//! A command set that receives other messages than responses (the state store's key
//! notifications) names their topics in [`CommandSet::other_topics`] and handles them in
//! [`CommandSet::on_other`]; one that does not leaves the defaults, which subscribe nothing
//! and cost nothing.
//!
//! # Example: a client of a new command set
//! ```no_run
//! use aio_mqtt::MqttConfig;
//! use aio_mqtt::rpc::{CommandClient, CommandError, CommandSet};
//! use rumqttc::v5::mqttbytes::v5::PublishProperties;
//!
//! /// A service answering `greet` with a greeting, in plain text.
//! #[derive(Debug)]
//! struct Greeter;
//!
//! impl CommandSet for Greeter {
//!     const SERVICE: &'static str = "greeter";
//!     fn response_topics(&self, client_id: &str) -> Vec<String> {
//!         vec![format!("clients/{client_id}/greeter/greet")]
//!     }
//!     fn accepts_content_type(content_type: &str) -> bool {
//!         content_type == "text/plain"
//!     }
//! }
//!
//! /// The typed client: the handle's methods from the macro, the commands by hand.
//! #[derive(Debug, Clone)]
//! pub struct GreeterClient {
//!     client: CommandClient<Greeter>,
//! }
//!
//! aio_mqtt::command_client_handle!(GreeterClient);
//!
//! impl GreeterClient {
//!     pub async fn greet(&self, name: &str) -> Result<String, CommandError> {
//!         let payload = name.to_owned().into();
//!         let reply = self
//!             .client
//!             .invoke("greet", "greeter/greet", payload, |request| PublishProperties {
//!                 response_topic: Some(format!("clients/{}/greeter/greet", request.client_id)),
//!                 message_expiry_interval: Some(request.expiry_secs()),
//!                 user_properties: request.envelope(),
//!                 correlation_data: Some(request.correlation),
//!                 ..PublishProperties::default()
//!             })
//!             .await?;
//!         Ok(String::from_utf8_lossy(&reply.payload).into_owned())
//!     }
//! }
//!
//! # async fn run() -> Result<(), CommandError> {
//! let client = CommandClient::start(MqttConfig::new("localhost", 1883), Greeter)?;
//! let greeter = GreeterClient { client }.with_timeout(std::time::Duration::from_secs(2));
//! println!("{}", greeter.greet("world").await?);
//! # Ok(())
//! # }
//! ```

use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::EventLoop;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use tokio::time::Instant;
use tokio_util::sync::DropGuard;

use super::envelope::{self, StatusProblem, property, response_status};
use super::error::{CommandError, CommandErrorKind};
use super::invoker::{InvokeError, Invoker, Pending, Reply};
use super::session::{Session, poll_subscribed};
use crate::config::MqttConfig;
use crate::connection;
use crate::hlc::{HlcTimestamp, HybridLogicalClock};

/// Default time a request waits for its response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocol version of the command envelope (`__protVer`).
const PROTOCOL_VERSION: &str = "1.0";

/// What a [`CommandClient`] needs to know of a service, and the service's own state and
/// handling of messages that are not responses. Only the first three items are required.
pub trait CommandSet: std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The service in messages and logs: `state store`, `schema registry`.
    const SERVICE: &'static str;

    /// Requests queued in rumqttc's channel before a send waits.
    const QUEUE_CAPACITY: usize = 256;

    /// The topics the responses to client `client_id` arrive on.
    fn response_topics(&self, client_id: &str) -> Vec<String>;

    /// Whether a response's content type is the protocol's (a response without one passes).
    fn accepts_content_type(content_type: &str) -> bool;

    /// Topic filters of other messages for client `client_id` (notifications), subscribed
    /// with the response topics; none by default.
    fn other_topics(&self, _client_id: &str) -> Vec<String> {
        Vec::new()
    }

    /// A PUBLISH that is not a response, on one of [`other_topics`](Self::other_topics), for
    /// `client`. Called from the connection task: it must not wait.
    fn on_other(&self, _client: &CommandClient<Self>, _publish: Publish) {}

    /// The subscriptions of `client` were granted again after a reconnect (the service may
    /// have forgotten the client). Called from the connection task: requests must be sent
    /// from a task of their own, since their responses arrive through this one.
    fn on_resubscribed(&self, _client: &CommandClient<Self>) {}

    /// The connection ended because the client was closed.
    fn on_closed(&self) {}
}

/// A client of the command set `C`; cheap to clone (clones share the connection). Dropping the
/// last clone ends the connection.
#[derive(Debug)]
pub struct CommandClient<C: CommandSet> {
    inner: Arc<Inner<C>>,
    timeout: Duration,
}

impl<C: CommandSet> Clone for CommandClient<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            timeout: self.timeout,
        }
    }
}

#[derive(Debug)]
struct Inner<C> {
    invoker: Invoker,
    client_id: String,
    clock: HybridLogicalClock,
    commands: C,
    _stop_on_drop: DropGuard,
}

/// What a request's properties are made of, for [`CommandClient::send`].
#[derive(Debug)]
pub struct OutgoingRequest<'a> {
    /// The client's MQTT client id.
    pub client_id: &'a str,
    /// The correlation data the response will echo.
    pub correlation: Bytes,
    /// Now, on the client's hybrid logical clock.
    pub timestamp: HlcTimestamp,
    /// How long the request waits for its response.
    pub timeout: Duration,
}

impl OutgoingRequest<'_> {
    /// The Message Expiry Interval: the timeout in whole seconds, rounded up.
    pub fn expiry_secs(&self) -> u32 {
        envelope::expiry_secs(self.timeout)
    }

    /// The envelope's user properties, in the SDKs' order: `__srcId`, `__ts`, `__protVer`
    /// = `1.0`, `$partition` = the client id.
    pub fn envelope(&self) -> Vec<(String, String)> {
        vec![
            (property::SOURCE_ID.to_owned(), self.client_id.to_owned()),
            (property::TIMESTAMP.to_owned(), self.timestamp.to_string()),
            (
                property::PROTOCOL_VERSION.to_owned(),
                PROTOCOL_VERSION.to_owned(),
            ),
            ("$partition".to_owned(), self.client_id.to_owned()),
        ]
    }
}

impl<C: CommandSet> CommandClient<C> {
    /// Validates `config` and connects in the background (requests wait for the connection,
    /// within their timeout). `config.client_id` is used as is and must be unique on the
    /// broker.
    ///
    /// # Errors
    /// [`CommandErrorKind::Config`] for an invalid setting, an unusable TLS or password file,
    /// or outside a tokio runtime.
    pub fn start(config: MqttConfig, commands: C) -> Result<Self, CommandError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            CommandError::new(
                CommandErrorKind::Config,
                format!("the {} client needs a tokio runtime", C::SERVICE),
            )
        })?;
        let (client, eventloop) = connection::connection(&config, C::QUEUE_CAPACITY)?;
        let response_topics = commands.response_topics(&config.client_id);
        let mut topics = response_topics.clone();
        topics.extend(commands.other_topics(&config.client_id));
        let invoker = Invoker::new(client, response_topics);
        let inner = Arc::new(Inner {
            _stop_on_drop: invoker.stop().clone().drop_guard(),
            invoker,
            client_id: config.client_id.clone(),
            clock: HybridLogicalClock::new(),
            commands,
        });
        runtime.spawn(run(eventloop, Arc::downgrade(&inner), topics, config));
        Ok(Self {
            inner,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A handle for the connection task, while the client has clones.
    fn upgrade(inner: &Weak<Inner<C>>) -> Option<Self> {
        let inner = inner.upgrade()?;
        Some(Self {
            inner,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A handle on the same connection whose requests wait `timeout` for their response.
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            timeout,
        }
    }

    /// The request timeout of this handle.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The MQTT client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The command set, with its state.
    pub fn commands(&self) -> &C {
        &self.inner.commands
    }

    /// Waits until connected and subscribed (or closed).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ready(&self) {
        self.inner.invoker.wait_ready().await;
    }

    /// Disconnects (for every clone); pending and later requests fail with
    /// [`CommandErrorKind::Closed`].
    pub fn close(&self) {
        self.inner.invoker.close();
    }

    /// Publishes `payload` to `topic` once the connection is ready (waiting at most the
    /// timeout), with the properties `properties` makes, and returns what waits for the
    /// response. Requests sent one after the other reach the service in that order (one
    /// connection, QoS 1). `command` names the request in errors.
    ///
    /// # Errors
    /// [`CommandErrorKind::Timeout`] when there is no connection, or no room in the queue,
    /// within the timeout; [`CommandErrorKind::Closed`].
    ///
    /// # Cancel safety
    /// Dropping the future forgets the request; one already queued may still be executed.
    pub async fn send(
        &self,
        command: &'static str,
        topic: &str,
        payload: Bytes,
        properties: impl FnOnce(OutgoingRequest<'_>) -> PublishProperties,
    ) -> Result<PendingCommand<C>, CommandError> {
        let inner = &self.inner;
        let timeout = self.timeout;
        let outgoing = |correlation| {
            properties(OutgoingRequest {
                client_id: &inner.client_id,
                correlation,
                timestamp: inner.clock.now(),
                timeout,
            })
        };
        let deadline = Instant::now() + timeout;
        let pending = inner
            .invoker
            .send(topic, payload, outgoing, deadline)
            .await
            .map_err(|e| failed::<C>(command, e, timeout))?;
        Ok(PendingCommand {
            pending,
            command,
            timeout,
            commands: PhantomData,
        })
    }

    /// Publishes a telemetry message of the service (QoS 1, not retained) on the client's
    /// connection once it is ready (waiting at most the timeout), with the properties
    /// `properties` makes from the client id and a timestamp of the client's clock. Returns
    /// when the message is queued on the connection; rumqttc re-sends it until the broker
    /// acknowledges it, across reconnects. `what` names the message in errors.
    ///
    /// # Errors
    /// [`CommandErrorKind::Timeout`] when there is no connection within the timeout;
    /// [`CommandErrorKind::Closed`].
    pub async fn publish(
        &self,
        what: &'static str,
        topic: &str,
        payload: Bytes,
        properties: impl FnOnce(&str, HlcTimestamp) -> PublishProperties,
    ) -> Result<(), CommandError> {
        let inner = &self.inner;
        let closed = || {
            CommandError::new(
                CommandErrorKind::Closed,
                format!("{what}: the {} client has shut down", C::SERVICE),
            )
        };
        if inner.invoker.is_closed() {
            return Err(closed());
        }
        if tokio::time::timeout(self.timeout, inner.invoker.wait_ready())
            .await
            .is_err()
        {
            return Err(CommandError::new(
                CommandErrorKind::Timeout,
                format!("{what}: not connected within {:?}", self.timeout),
            ));
        }
        let properties = properties(&inner.client_id, inner.clock.now());
        let publish = inner.invoker.client().publish_with_properties(
            topic.to_owned(),
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            false,
            payload,
            properties,
        );
        match tokio::time::timeout(self.timeout, publish).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(closed()),
            Err(_) => Err(CommandError::new(
                CommandErrorKind::Timeout,
                format!("{what}: not queued within {:?}", self.timeout),
            )),
        }
    }

    /// [`send`](Self::send), then [`PendingCommand::reply`].
    ///
    /// # Errors
    /// As both. Cancel safe: dropping the future forgets the request, which may still be
    /// executed.
    pub async fn invoke(
        &self,
        command: &'static str,
        topic: &str,
        payload: Bytes,
        properties: impl FnOnce(OutgoingRequest<'_>) -> PublishProperties,
    ) -> Result<Reply, CommandError> {
        self.send(command, topic, payload, properties)
            .await?
            .reply()
            .await
    }
}

/// The handle of a service's typed client, forwarded to the
/// [`CommandClient`](crate::rpc::CommandClient) in its only field, `client`: `with_timeout`,
/// `timeout`, `client_id`, `ready` and `close`. Every service's client has them, with the
/// same meaning, so they are written once (see the [module example](crate::rpc::client)).
#[macro_export]
macro_rules! command_client_handle {
    ($client:ty) => {
        impl $client {
            /// A handle on the same connection whose requests wait `timeout` for their
            /// response (also their message expiry, in whole seconds rounded up).
            #[must_use]
            pub fn with_timeout(&self, timeout: ::std::time::Duration) -> Self {
                Self {
                    client: self.client.with_timeout(timeout),
                }
            }

            /// The request timeout of this handle.
            pub fn timeout(&self) -> ::std::time::Duration {
                self.client.timeout()
            }

            /// The MQTT client id.
            pub fn client_id(&self) -> &str {
                self.client.client_id()
            }

            /// Waits until connected and subscribed (or closed).
            ///
            /// # Cancel safety
            /// Cancel safe.
            pub async fn ready(&self) {
                self.client.ready().await;
            }

            /// Disconnects (for every clone); pending and later requests fail as closed
            /// (`ErrorKind::Closed`).
            pub fn close(&self) {
                self.client.close();
            }
        }
    };
}

/// A request sent, waiting for its response; dropping it forgets the request.
#[derive(Debug)]
pub struct PendingCommand<C> {
    pending: Pending,
    command: &'static str,
    timeout: Duration,
    commands: PhantomData<fn() -> C>,
}

impl<C: CommandSet> PendingCommand<C> {
    /// The command, as named to [`CommandClient::send`].
    pub fn command(&self) -> &'static str {
        self.command
    }

    /// The response, once its `__stat` is 200 and its content type the protocol's.
    ///
    /// # Errors
    /// [`CommandErrorKind::Timeout`] at the deadline; [`CommandErrorKind::Closed`];
    /// [`CommandErrorKind::Status`]; [`CommandErrorKind::UnexpectedResponse`].
    pub async fn reply(self) -> Result<Reply, CommandError> {
        let reply = self
            .pending
            .reply()
            .await
            .map_err(|e| failed::<C>(self.command, e, self.timeout))?;
        check_reply::<C>(self.command, &reply)?;
        Ok(reply)
    }
}

/// The error of a request that got no response.
fn failed<C: CommandSet>(command: &str, error: InvokeError, timeout: Duration) -> CommandError {
    match error {
        InvokeError::Closed => CommandError::new(
            CommandErrorKind::Closed,
            format!("{command}: the {} client has shut down", C::SERVICE),
        ),
        waited => CommandError::new(
            CommandErrorKind::Timeout,
            format!("{command}: {waited} within {timeout:?}"),
        ),
    }
}

/// Checks a response's `__stat`, then its content type.
fn check_reply<C: CommandSet>(command: &str, reply: &Reply) -> Result<(), CommandError> {
    let unexpected = |what: String| {
        CommandError::new(
            CommandErrorKind::UnexpectedResponse,
            format!("{command}: {what}"),
        )
    };
    match response_status(&reply.user_properties) {
        Ok(()) => {}
        Err(StatusProblem::Malformed(what)) => return Err(unexpected(what)),
        Err(StatusProblem::Refused { status, detail }) => {
            return Err(CommandError::status(C::SERVICE, command, status, &detail));
        }
    }
    match &reply.content_type {
        Some(content_type) if !C::accepts_content_type(content_type) => Err(unexpected(format!(
            "the response content type is {content_type}"
        ))),
        _ => Ok(()),
    }
}

/// The connection task: polls, resolves responses, hands other messages to the command set,
/// re-subscribes after reconnects; ends when the client is closed or its last clone dropped.
async fn run<C: CommandSet>(
    mut eventloop: EventLoop,
    inner: Weak<Inner<C>>,
    topics: Vec<String>,
    config: MqttConfig,
) {
    let Some(invoker) = inner.upgrade().map(|inner| inner.invoker.clone()) else {
        return;
    };
    let client = invoker.client().clone();
    let role = format!("{} client", C::SERVICE);
    let session = Session {
        role: &role,
        topics,
        ready: invoker.ready(),
        announce: false,
    };
    poll_subscribed(
        &mut eventloop,
        &client,
        &config,
        &session,
        invoker.stop(),
        |publish| {
            // Only a command set with other topics gets here: responses are resolved first.
            if let Some(other) = invoker.take_response(publish)
                && let Some(client) = CommandClient::upgrade(&inner)
            {
                client.commands().on_other(&client, other);
            }
            ControlFlow::Continue(())
        },
        |connection| {
            if connection > 1
                && let Some(client) = CommandClient::upgrade(&inner)
            {
                client.commands().on_resubscribed(&client);
            }
        },
    )
    .await;
    // Wake every waiter: their requests will not be answered on this connection.
    invoker.close();
    if let Some(inner) = inner.upgrade() {
        inner.commands.on_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy command set: the checks of every response, whatever the service.
    #[derive(Debug)]
    struct Toy;

    impl CommandSet for Toy {
        const SERVICE: &'static str = "toy service";
        fn response_topics(&self, client_id: &str) -> Vec<String> {
            vec![format!("clients/{client_id}/toy")]
        }
        fn accepts_content_type(content_type: &str) -> bool {
            content_type == "text/plain"
        }
    }

    fn reply(status: Option<&str>, content_type: Option<&str>) -> Reply {
        let mut user_properties = vec![
            ("__stMsg".to_owned(), "bad header".to_owned()),
            ("__propName".to_owned(), "Correlation Data".to_owned()),
        ];
        if let Some(status) = status {
            user_properties.push(("__stat".to_owned(), status.to_owned()));
        }
        Reply {
            payload: Bytes::from_static(b"hi"),
            content_type: content_type.map(str::to_owned),
            user_properties,
        }
    }

    #[test]
    fn replies_are_checked_by_status_then_content_type() {
        for content_type in [None, Some("text/plain")] {
            assert!(check_reply::<Toy>("ping", &reply(Some("200"), content_type)).is_ok());
        }
        let refused = check_reply::<Toy>("ping", &reply(Some("503"), Some("application/json")))
            .expect_err("503");
        assert_eq!(refused.kind(), CommandErrorKind::Status(503));
        assert_eq!(refused.status_code(), Some(503));
        assert_eq!(
            refused.to_string(),
            "the toy service answered ping with status 503: bad header (property Correlation Data)"
        );
        for (status, content_type, what) in [
            (None, None, "ping: the response has no __stat"),
            (
                Some("abc"),
                None,
                "ping: the response status \"abc\" is not a number",
            ),
            (
                Some("200"),
                Some("application/json"),
                "ping: the response content type is application/json",
            ),
        ] {
            let error = check_reply::<Toy>("ping", &reply(status, content_type)).expect_err(what);
            assert_eq!(error.kind(), CommandErrorKind::UnexpectedResponse);
            assert_eq!(error.status_code(), None);
            assert_eq!(error.to_string(), what);
        }
    }

    #[test]
    fn requests_without_response_name_the_command_and_the_wait() {
        let timeout = Duration::from_millis(1500);
        let closed = failed::<Toy>("ping", InvokeError::Closed, timeout);
        assert_eq!(closed.kind(), CommandErrorKind::Closed);
        assert_eq!(
            closed.to_string(),
            "ping: the toy service client has shut down"
        );
        for waited in [
            InvokeError::NotConnected,
            InvokeError::NotQueued,
            InvokeError::NoResponse,
        ] {
            let error = failed::<Toy>("ping", waited, timeout);
            assert_eq!(error.kind(), CommandErrorKind::Timeout);
            assert_eq!(error.to_string(), format!("ping: {waited} within 1.5s"));
        }
    }

    #[test]
    fn the_envelope_is_the_sdks() {
        let request = OutgoingRequest {
            client_id: "me",
            correlation: Bytes::from_static(&[7; 16]),
            timestamp: HlcTimestamp {
                millis: 1_777_630_530_123,
                counter: 0,
                node_id: Arc::from("node"),
            },
            timeout: Duration::from_millis(2_500),
        };
        assert_eq!(request.expiry_secs(), 3);
        let pairs: Vec<_> = request
            .envelope()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            pairs,
            [
                "__srcId=me",
                "__ts=001777630530123:00000:node",
                "__protVer=1.0",
                "$partition=me"
            ]
        );
    }

    #[tokio::test]
    async fn a_client_outside_a_runtime_or_closed_says_so() {
        let config = MqttConfig::new("localhost", 1);
        let outside = std::thread::spawn(move || CommandClient::start(config, Toy).err())
            .join()
            .ok()
            .flatten()
            .expect("no runtime");
        assert_eq!(outside.kind(), CommandErrorKind::Config);
        assert_eq!(
            outside.to_string(),
            "the toy service client needs a tokio runtime"
        );

        let client = CommandClient::start(MqttConfig::new("localhost", 1), Toy).expect("starts");
        let three = Duration::from_secs(3);
        assert_eq!(client.with_timeout(three).timeout(), three);
        assert_eq!(client.timeout(), DEFAULT_TIMEOUT);
        client.close();
        client.ready().await;
        let error = client
            .invoke("ping", "toy", Bytes::new(), |_| {
                PublishProperties::default()
            })
            .await
            .expect_err("closed");
        assert_eq!(error.kind(), CommandErrorKind::Closed);
    }
}
