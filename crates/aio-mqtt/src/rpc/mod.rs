//! AIO's command pattern (mRPC) over MQTT v5, the parts every client and service of it shares:
//! the state store and the schema registry use them, each with its own topics and payloads.
//!
//! - [`client`]: [`CommandClient`], the client of one service's [`CommandSet`]: the handle
//!   (timeout, client id, readiness, closing), the connection task, the checks of every
//!   response. A service's client is a thin typed layer over it.
//! - [`error`]: [`CommandError`], what went wrong with a command before its payload is read.
//! - [`envelope`]: the user properties and status codes of requests and responses, the one
//!   table of what each status means ([`envelope::CommandStatus`]), and the reading of a
//!   response's status.
//! - [`session`]: the polling loop of a connection that must stay subscribed (request topics
//!   for a service, response topics for a client), across reconnects and broker restarts.
//! - [`invoker`]: the client side: requests matched to responses by correlation data, each
//!   bounded by a deadline.
//! - [`executor`]: the service side: the connection task and the service's worker, started
//!   and shut down in order.
//!
//! The connection itself is built by [`crate::connection::connection`].

pub mod client;
pub mod envelope;
pub mod error;
pub mod executor;
pub mod invoker;
pub mod session;

pub use client::{CommandClient, CommandSet, DEFAULT_TIMEOUT, OutgoingRequest, PendingCommand};
pub use error::{CommandError, CommandErrorKind};
pub use executor::{Executor, Request};
pub use invoker::{InvokeError, Invoker, Pending, Reply};
pub use session::{Session, poll_subscribed};
