//! The command envelope of AIO's MQTT RPC (state store, schema registry, device registry):
//! a response's user properties (`__stat`, `__stMsg`, `__propName`, ...), `__ts` HLC
//! timestamps and hex-encoded notification topics. No panic; `200` and only `200` is
//! success; what parses writes back to the same value.
#![no_main]

use aio_mqtt::rpc::envelope::{StatusProblem, find_property, property, response_status};
use libfuzzer_sys::fuzz_target;
use statestore::protocol::{from_hex, hex_upper, notification_key, notification_topic, parse_hlc};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One property a line, `name=value`; a line without `=` is a `__stat`.
    let properties: Vec<(String, String)> = text
        .lines()
        .map(|line| match line.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (property::STATUS.to_owned(), line.to_owned()),
        })
        .collect();
    let status = find_property(&properties, property::STATUS).map(str::parse::<u16>);
    match response_status(&properties) {
        Ok(()) => assert_eq!(status, Some(Ok(200))),
        Err(StatusProblem::Refused { status: code, .. }) => {
            assert_ne!(code, 200);
            assert_eq!(status, Some(Ok(code)));
        }
        Err(StatusProblem::Malformed(_)) => assert!(!matches!(status, Some(Ok(_)))),
    }
    let _ = statestore::protocol::is_forbidden_response_topic(&text);
    let _ = schema_registry::protocol::is_valid_response_topic(&text);

    if let Some(timestamp) = parse_hlc(&text) {
        assert!(schema_registry::protocol::is_hlc(&text));
        assert_eq!(parse_hlc(&timestamp.to_string()), Some(timestamp));
    }
    if let Some(bytes) = from_hex(&text) {
        assert!(hex_upper(&bytes).eq_ignore_ascii_case(&text));
    }
    let client = "conn-1";
    if let Some(key) = notification_key(&text, client) {
        assert_eq!(
            notification_key(&notification_topic(client, &key), client),
            Some(key)
        );
    }
    let topic = notification_topic(client, data);
    assert_eq!(notification_key(&topic, client).as_deref(), Some(data));
});
