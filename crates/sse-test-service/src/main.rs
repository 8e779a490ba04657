//! Contract-test service.
fn main() {}
