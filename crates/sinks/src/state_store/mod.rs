//! The `BrokerStateStore` destination: each event's payload SET at a key of AIO's state store.
//!
//! Delivery is at least once, as for MQTT: a SET's [`Delivery`](crate::Delivery) resolves
//! only when the store replied OK, and the stream's checkpoint waits for it.
//!
//! # Layout
//! - [`accepts`]: what it accepts, `SET key value`: the [`KeyValueStore`] trait and
//!   [`AnyKeyValueStore`], any store behind one type.
//! - [`deliver`]: [`KeyValueStore`] for `statestore`'s client: queued in order, confirmed by
//!   the reply.
//! - [`error`]: how an unconfirmed SET becomes a [`PublishError`](crate::PublishError).

pub mod accepts;
pub mod deliver;
pub mod error;

pub use accepts::{AnyKeyValueStore, KeyValueStore};
