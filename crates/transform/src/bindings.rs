//! Rust bindings of our copy of AIO's `wasm-graph:processor` WIT (`wit/processor.wit`).
//!
//! One `operators` world gives the host imports and the three operator exports; a module
//! exports any of them, so each export is looked up on its own
//! (`exports::wasm_graph::processor::{map, filter, branch}::GuestIndices`).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "wit",
    world: "operators",
    exports: { default: async },
    with: {
        "wasm-graph:processor/types.buffer": crate::host::HostBytes,
    },
});
