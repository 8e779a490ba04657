//! The `sse-connector` binary.
fn main() {}
