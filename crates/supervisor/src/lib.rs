//! The connector runtime: turns a [`Plan`](model::Plan) into live SSE streams whose events are
//! delivered, at least once, to their destinations.
//!
//! Place in the pipeline: `registry` → `model` (plan) → **supervisor** (streams, routing,
//! checkpoints) → `sinks` (MQTT, state store, files). It depends on `sse-client` for the
//! connections, on a [`sinks::Publisher`] for MQTT, and optionally on a
//! [`sinks::KeyValueStore`] (`BrokerStateStore`) and [`sinks::FileSinks`] (`Storage`).
//!
//! ```text
//! Supervisor::apply(plan) ──► one task per stream (distinct URL + credentials + trust)
//!    stream_task: SSE events ──► router ──► projection? ──► forward ──► Publisher (Message)
//!                     ▲                                            ├──► KeyValueStore (SET)
//!                     │                                            └──► FileSinks (line)
//!                     └── stop reading at N in flight      deliveries ──► checkpoint (file)
//! ```
//!
//! Use: [`Supervisor::new`] with a [`SupervisorConfig`] and a publisher, optionally
//! [`Supervisor::with_key_value`], [`Supervisor::with_files`] and [`Supervisor::with_schemas`]
//! (message schemas inferred, registered and referenced in `dataschema`), then
//! [`Supervisor::apply`] each plan (the first one and every change), and
//! [`Supervisor::shutdown`] at the end.
//! [`Supervisor::streams`] shows each stream's [`StreamState`] and [`StreamStats`].
//!
//! # Telemetry
//! [`Supervisor::metrics`] gives the counters to `telemetry` (AIO's metric names; read at
//! collection time, nothing but relaxed atomics on the event path: per stream events, bytes
//! and errors, per operation forwarded, failed, bytes out and a latency histogram from the
//! event's arrival to its delivery). [`Supervisor::with_tracer`] adds a span per connection
//! attempt and per forwarded message of a sampled event, whose `traceparent` the MQTT
//! message carries. [`Supervisor::tail`] feeds an asset's forwarded messages to a listener;
//! free when nobody listens.
//! Operations whose destination was not given are reported as [`Unsupported`].
//!
//! # Delivery
//! A stream's checkpoint (its last event id) moves past an event only when every message of
//! that event, for every operation, and of every event before it, was delivered (for QoS 1:
//! acknowledged by the broker; for the state store: its OK reply; for a file: the line
//! written and flushed to disk). It is saved under `STATE_DIR/checkpoints/`, one file per
//! stream identity (URL, credentials, trust), and sent as `Last-Event-ID` when the stream
//! starts again. With [`Supervisor::with_shared_checkpoints`] it is also kept in AIO's state
//! store under a lease with fencing tokens, so the replica that takes a device endpoint over
//! resumes from it, and a replica that lost it can never move it back. A failed delivery is retried in the process, in event order, while the
//! stream stops reading; one that no retry can fix goes to `STATE_DIR/dead-letter/` and the
//! stream goes on; nothing is skipped. QoS 0 messages count as delivered once written: at most
//! once for those.
//!
//! # Layout
//! - [`supervisor`](mod@supervisor): [`Supervisor`], [`SupervisorConfig`]; plan changes.
//! - `stream_task.rs`: the task of one stream: connect, read, route, publish, track, retry.
//! - `dead_letter.rs`: the dead-letter files of messages no retry can deliver.
//! - `connections.rs`: the cache of SSE connections: secrets read at connect time, clients
//!   shared by credentials and trust list.
//! - `router.rs`: which operations take an event.
//! - `projection.rs`: data points (JSON Pointer projection) and its decisions.
//! - `forward.rs`: event + operation → what its destination receives (message, SET, line).
//! - `deliver.rs`: the destinations a supervisor has, and sending to them.
//! - `schemas.rs`: message schemas per operation: inference, registration, `dataschema`.
//! - [`checkpoint`]: the pure [`Tracker`], the [`CheckpointStore`] files and the
//!   [`SharedCheckpoints`] in AIO's state store.
//! - `state_file.rs`: atomic writes and stable file names under the state directory.
//! - [`state`]: [`StreamState`], [`StreamStats`], [`OperationStats`] and [`OperationSchema`].
//! - [`metrics`]: [`RuntimeMetrics`], every stream's and operation's counters for telemetry.
//! - [`tail`]: [`Tail`], the live tail: the feeds of an asset's forwarded messages.
//! - `transform.rs`: an operation's WebAssembly transform on the event path, and `onError`
//!   (cargo feature `transforms`; without it a configured transform always fails).
//! - [`error`](mod@error): [`Error`].
#![forbid(unsafe_code)]

pub mod checkpoint;
mod connections;
mod dead_letter;
mod deliver;
pub mod error;
mod forward;
pub mod metrics;
mod projection;
mod router;
mod schemas;
pub mod state;
mod state_file;
mod stream_task;
pub mod supervisor;
pub mod tail;
mod transform;

pub use checkpoint::{CheckpointStore, LeaseTiming, SharedCheckpoints, Tracker};
pub use dead_letter::DEAD_LETTER_DIR;
pub use error::Error;
pub use metrics::RuntimeMetrics;
pub use state::{
    DELIVERY_ERROR, DeadLettered, DeliveryProblem, OperationDeliveries, OperationSchema,
    OperationSchemas, OperationStats, OperationStatsSnapshot, Retrying, SchemaFailure,
    StatsSnapshot, StreamState, StreamStats, TRANSFORM_ERROR, TransformFailure,
    TransformLoadFailure,
};
pub use supervisor::{Applied, StreamHandle, Supervisor, SupervisorConfig, Unsupported};
pub use tail::Tail;
