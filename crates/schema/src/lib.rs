//! Message schemas: a JSON Schema draft-07 inferred from the JSON payloads of a data
//! operation, merged over the samples, canonical and named by the hash of its text; and the
//! [`SchemaRegistrar`] trait through which the runtime registers it.
//!
//! Place in the pipeline: `supervisor` feeds each forwarded JSON payload of an operation to
//! its [`Inferrer`]; when the shape widens it registers the new schema through a
//! [`SchemaRegistrar`] (implemented by the schema registry client) and puts the
//! [`SchemaReference`] in the messages' `dataschema`. No I/O and no runtime here.
//!
//! ```text
//! payload ──► Inferrer::observe ──(serde visitor, in place)──► Shape ──► Changed?
//!                                                                │
//!                        Schema { content, name } ◄── emit ◄─────┘
//! ```
//!
//! What is inferred, per node: the JSON types seen (a union such as `["null","string"]`;
//! `integer` becomes `number` once both appear); for objects, `properties` and `required`
//! (the properties present in every object seen there); for arrays, `items` (the merge of all
//! elements); nested to any depth within [`Limits`], beyond which the schema is permissive
//! (`{}`). Every sampled payload validates against the schema, and the same samples in any
//! order give byte-identical text and the same name (see [`merge`](mod@merge) and [`emit`]).
//!
//! ```
//! let mut inferrer = schema::Inferrer::new();
//! assert_eq!(inferrer.observe(br#"{"t":21,"unit":"C"}"#)?, schema::Observed::Changed);
//! assert_eq!(inferrer.observe(br#"{"unit":"F","t":70}"#)?, schema::Observed::Unchanged);
//! assert_eq!(inferrer.observe(br#"{"t":21.5,"unit":null}"#)?, schema::Observed::Changed);
//! let schema = inferrer.schema();
//! assert_eq!(
//!     schema.content,
//!     r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"t":{"type":"number"},"unit":{"type":["null","string"]}},"required":["t","unit"],"type":"object"}"#
//! );
//! assert_eq!(schema.name, schema::name_of(&schema.content));
//! # Ok::<(), schema::InferError>(())
//! ```
//!
//! # Layout
//! - [`shape`]: [`Shape`], the merged tree, and the [`Limits`] on it.
//! - [`infer`](mod@infer): the serde visitor that merges a payload in place; [`Inferrer`] with
//!   its [`Sampling`] policy.
//! - [`merge`](mod@merge): the join of two shapes (why the order of samples does not matter).
//! - [`emit`]: the canonical text and the name ([`Schema`], [`name_of`]).
//! - [`registrar`]: [`SchemaRegistrar`], [`RegisterRequest`], [`SchemaReference`].
//! - [`record`]: [`RegisteredSchema`], a version as a registry holds it (shared by the
//!   registry's protocol and the HTTP API), and its [`SchemaType`].
//! - [`error`]: [`InferError`], [`RegisterError`].
#![forbid(unsafe_code)]

pub mod emit;
pub mod error;
pub mod infer;
pub mod merge;
pub mod record;
pub mod registrar;
pub mod shape;

pub use emit::{DRAFT_07, Schema, name_of};
pub use error::{
    InferError, InferErrorKind, RegisterError, RegisterErrorKind, SCHEMA_GENERATION_FAILURE,
};
pub use infer::{Inferrer, Observed, Sampling, infer};
pub use record::{RegisteredSchema, SchemaType};
pub use registrar::{
    FIRST_VERSION, FORMAT_JSON_SCHEMA_DRAFT_07, MAX_VERSION, RegisterRequest, SCHEMA_TYPE_MESSAGE,
    SchemaReference, SchemaRegistrar,
};
pub use shape::{Limits, Shape};
