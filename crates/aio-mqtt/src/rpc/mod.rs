//! AIO's command pattern (mRPC) over MQTT v5, the parts every client and service of it shares:
//! the state store and the schema registry use them, each with its own topics and payloads.
//!
//! - [`envelope`]: the user properties and status codes of requests and responses, and the
//!   reading of a response's status.
//! - [`session`]: the polling loop of a connection that must stay subscribed (request topics
//!   for a service, response topics for a client), across reconnects and broker restarts.
//! - [`invoker`]: the client side: requests matched to responses by correlation data, each
//!   bounded by a deadline.
//! - [`executor`]: the service side: the connection task and the service's worker, started
//!   and shut down in order.
//!
//! The connection itself is built by [`crate::connection::connection`].

pub mod envelope;
pub mod executor;
pub mod invoker;
pub mod session;

pub use executor::{Executor, Request};
pub use invoker::{InvokeError, Invoker, Pending, Reply};
pub use session::{Session, poll_subscribed};
