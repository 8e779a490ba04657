//! What Azure Device Registry's service sends the connector in Akri mode: command responses,
//! update events (topic and payload), and the device and asset definitions in them, decoded
//! and validated into a snapshot as the directory registry's files are. No panic.
#![no_main]

use std::collections::BTreeMap;

use akri::adr::client::Notification;
use akri::adr::protocol::Command;
use akri::allocation::EndpointRef;
use akri::definitions::{Fetched, Held};
use libfuzzer_sys::fuzz_target;
use model::Accepted;
use serde_json::Value;
use sse_connector_fuzz::MemEnv;

const CLIENT: &str = "conn-1";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let command = Command::ALL[usize::from(selector) % Command::ALL.len()];
    let endpoint = EndpointRef {
        device: "press".to_owned(),
        endpoint: "sse".to_owned(),
    };
    let mut held = Held::default();
    match akri::fuzz::response(command, payload) {
        Ok(definition) if command == Command::GetDevice => {
            held.devices
                .insert(endpoint.clone(), Fetched::Found(definition));
        }
        Ok(definition) if command == Command::GetAsset => {
            let assets = BTreeMap::from([("line-1".to_owned(), Fetched::Found(definition))]);
            held.assets.insert(endpoint.clone(), assets);
        }
        _ => {}
    }

    // The same payload as an update event on its topic, and on a topic made of it.
    let event = if selector & 0x80 == 0 {
        "deviceUpdateEvent"
    } else {
        "assetUpdateEvent"
    };
    let topic = format!("akri/connector/resources/telemetry/{CLIENT}/press/sse/{event}");
    for topic in [topic, String::from_utf8_lossy(payload).into_owned()] {
        match akri::fuzz::notification(CLIENT, &topic, payload) {
            Ok(Some(Notification::Device { definition, .. })) => {
                held.devices
                    .insert(endpoint.clone(), Fetched::Found(definition));
            }
            Ok(Some(Notification::Asset {
                asset, definition, ..
            })) => {
                held.assets
                    .entry(endpoint.clone())
                    .or_default()
                    .insert(asset, Fetched::Found(definition));
            }
            _ => {}
        }
    }
    if held.devices.is_empty() && held.assets.is_empty() {
        // Still validate the payload as a definition: the service's JSON is not ours to trust.
        let Ok(value) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        held.devices
            .insert(endpoint.clone(), Fetched::Found(value.clone()));
        held.assets.insert(
            endpoint,
            BTreeMap::from([("line-1".to_owned(), Fetched::Found(value))]),
        );
    }
    let _ = held.check_credentials(false);
    let _ = held.index();
    let first = held.snapshot(&MemEnv, None, &Accepted::new());
    let _ = held.snapshot(&MemEnv, None, &first.resources);
});
