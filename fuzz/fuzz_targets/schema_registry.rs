//! The schema registry's JSON payloads (put and get requests the embedded service reads,
//! responses the client reads, schema files on disk). No panic; whatever is read writes
//! back to the same value; the canonical form of a schema is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schema_registry::naming;
use schema_registry::protocol::{GetRequest, PutRequest, ResponsePayload, Schema, to_json};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    data: &[u8],
) -> Option<T> {
    let value: T = serde_json::from_slice(data).ok()?;
    let again: T = serde_json::from_slice(&to_json(&value)).expect("written payload reads back");
    assert_eq!(again, value);
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    if let Some(put) = round_trip::<PutRequest>(data) {
        let _ = naming::check_put(&put);
        let canonical = naming::canonical_content(&put.schema_content);
        assert_eq!(naming::canonical_content(&canonical), canonical);
        let _ = naming::schema_name(&put.format, "MessageSchema", &canonical);
        let _ = naming::version_number(&put.version);
    }
    if let Some(get) = round_trip::<GetRequest>(data) {
        let _ = naming::is_valid_name(&get.name);
        let _ = naming::is_accepted_version(&get.version);
    }
    let _ = round_trip::<ResponsePayload>(data);
    let _ = round_trip::<Schema>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let canonical = naming::canonical_content(text);
        assert_eq!(naming::canonical_content(&canonical), canonical);
    }
});
