//! Oracle for the fake Azure Device Registry service in `test-support` (`fake_adr`).
//!
//! The test in `tests/oracle.rs` starts mosquitto and the fake, then drives the fake with
//! Microsoft's own ADR client (`azure_iot_operations_services` 1.3.0, feature
//! `azure_device_registry`, on `azure_iot_operations_mqtt` 1.2.3 and
//! `azure_iot_operations_protocol` 1.1.0): get_device, get_device_status,
//! update_device_plus_endpoint_status, get_asset, get_asset_status, update_asset_status,
//! observe/unobserve device and asset updates (notification preferences), a device and an
//! asset update notification, and runtime health events. Every call must succeed, so the SDK
//! parsed every response. Each exchange is written, with the client ids normalised, to
//! `crates/test-support/fixtures/adr/*.json`; `crates/test-support/tests/adr_fixtures.rs`
//! replays them against the fake in every CI run, without OpenSSL.
//!
//! It is not a workspace member (it links OpenSSL through the SDK's MQTT client); run it with
//! its own target directory so it does not lock the shared one:
//!
//! ```text
//! apt-get install -y pkg-config libssl-dev mosquitto
//! CARGO_TARGET_DIR=/work/oracle-target cargo test --manifest-path crates/adr-oracle/Cargo.toml
//! ```
//!
//! Set `ADR_ORACLE_WRITE=0` to check without rewriting the fixtures.
