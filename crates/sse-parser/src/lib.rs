//! Sans-I/O decoder for the WHATWG HTML "event stream" format: bytes in, events out.
//!
//! This crate is the first stage of the connector's pipeline: the `sse-client` crate feeds it the
//! bytes of each HTTP response and forwards the [`Frame`]s it returns. It does no I/O and needs no
//! runtime, so it can be tested, fuzzed and benchmarked alone.
//!
//! It is written here rather than taken from a crate because it is the heart of the product:
//! the available crates either copy every field into a `String`, fail on invalid UTF-8, panic on
//! a split BOM, or take quadratic time on long lines (see `BENCHMARKS.md`).
//!
//! # Layout
//! - [`decoder`]: [`Decoder`], the field rules and event dispatch.
//! - `fast`: the common event (`id`, `event`, one `data` line, LF endings, all in one chunk) in
//!   one pass; anything else goes the general way.
//! - `line`: line splitting (CR, LF, CRLF across chunk edges), BOM stripping, the size budget.
//! - [`event`]: [`Frame`] and [`Event`], what the decoder hands out, and [`FrameKind`].
//! - [`error`]: [`DecodeError`], an event dropped for exceeding the maximum size.
//! - [`fuzz`]: one entry point for fuzzers and property tests, with the decoder's invariants.

pub mod decoder;
pub mod error;
pub mod event;
mod fast;
pub mod fuzz;
mod line;

pub use bytestring::ByteString;
pub use decoder::{DEFAULT_MAX_EVENT_SIZE, Decoder};
pub use error::{DecodeError, DecodeErrorKind};
pub use event::{Event, Frame, FrameKind};
pub use smol_str::SmolStr;
