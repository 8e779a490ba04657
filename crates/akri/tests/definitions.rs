//! The device registry's answers → a snapshot: decoded and validated as files are, one
//! device per name with every allocated endpoint, refusals and type errors as problems, and
//! the contract's rule on credentials.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use akri::allocation::EndpointRef;
use akri::definitions::{Fetched, Held};
use model::Accepted;
use registry::FsEnvironment;
use serde_json::{Value, json};

fn endpoint(device: &str, endpoint: &str) -> EndpointRef {
    EndpointRef {
        device: device.to_owned(),
        endpoint: endpoint.to_owned(),
    }
}

fn device(endpoints: &[(&str, &str)], method: &str) -> Value {
    let inbound: serde_json::Map<String, Value> = endpoints
        .iter()
        .map(|(name, address)| {
            let mut ep = json!({"endpointType": "Microsoft.SSEHttp", "address": address});
            if method != "Anonymous" {
                ep["authentication"] = json!({"method": method, "usernamePasswordCredentials": {
                    "usernameSecretName": "creds/user", "passwordSecretName": "creds/pass"}});
            }
            (name.to_string(), ep)
        })
        .collect();
    json!({"uuid": "d-uuid", "version": 4, "endpoints": {"inbound": inbound}, "attributes": {"site": "a"}})
}

fn asset(device: &str, endpoint: &str, topic: &str) -> Value {
    json!({
        "uuid": "a-uuid", "version": 7,
        "deviceRef": {"deviceName": device, "endpointName": endpoint},
        "datasets": [{"name": "weather", "dataSource": "/api/weather",
            "destinations": [{"target": "Mqtt", "configuration": {"topic": topic, "qos": "Qos1"}}]}]
    })
}

fn env() -> (tempfile::TempDir, FsEnvironment) {
    let dir = tempfile::tempdir().unwrap();
    let env = FsEnvironment::new(dir.path().join("creds"), dir.path().join("trust"));
    (dir, env)
}

#[test]
fn definitions_become_a_plan_with_only_the_allocated_endpoint() {
    let (_dir, env) = env();
    let mut held = Held::default();
    // The service sent a second endpoint of another type: it belongs to another connector.
    let mut dev = device(&[("sse", "http://h:1/base")], "Anonymous");
    dev["endpoints"]["inbound"]["opc"] =
        json!({"endpointType": "Microsoft.OpcUa", "address": "opc.tcp://h:4840"});
    held.devices
        .insert(endpoint("dev", "sse"), Fetched::Found(dev));
    held.assets.insert(
        endpoint("dev", "sse"),
        BTreeMap::from([(
            "plant".to_owned(),
            Fetched::Found(asset("dev", "sse", "t/plant")),
        )]),
    );
    let snapshot = held.snapshot(&env, None, &Accepted::new());
    assert!(snapshot.is_valid(), "{:?}", snapshot.problems);
    assert_eq!(snapshot.plan.len(), 1);
    let operation = snapshot.plan.operations.values().next().unwrap();
    assert_eq!(operation.stream.url.as_str(), "http://h:1/base/api/weather");
}

#[test]
fn a_device_allocated_through_two_endpoints_is_one_device() {
    let (_dir, env) = env();
    let mut held = Held::default();
    held.devices.insert(
        endpoint("dev", "a"),
        Fetched::Found(device(&[("a", "http://h:1/a")], "Anonymous")),
    );
    held.devices.insert(
        endpoint("dev", "b_2"),
        Fetched::Found(device(&[("b_2", "http://h:1/b")], "Anonymous")),
    );
    for (ep, name) in [("a", "one"), ("b_2", "two")] {
        held.assets.insert(
            endpoint("dev", ep),
            BTreeMap::from([(name.to_owned(), Fetched::Found(asset("dev", ep, "t/x")))]),
        );
    }
    let snapshot = held.snapshot(&env, None, &Accepted::new());
    assert!(snapshot.is_valid(), "{:?}", snapshot.problems);
    let urls: Vec<String> = snapshot
        .plan
        .operations
        .values()
        .map(|op| op.stream.url.to_string())
        .collect();
    assert_eq!(
        urls,
        ["http://h:1/a/api/weather", "http://h:1/b/api/weather"]
    );
}

#[test]
fn refusals_and_type_errors_are_problems_that_name_the_resource() {
    let (_dir, env) = env();
    let mut held = Held::default();
    held.devices.insert(
        endpoint("dev", "sse"),
        Fetched::Found(device(&[("sse", "http://h:1")], "Anonymous")),
    );
    let mut bad = asset("dev", "sse", "t/bad");
    bad["datasets"][0]["destinations"][0]["configuration"]["qos"] = json!(5);
    held.assets.insert(
        endpoint("dev", "sse"),
        BTreeMap::from([
            (
                "gone".to_owned(),
                Fetched::Refused("no such asset (KubeError)".to_owned()),
            ),
            ("bad".to_owned(), Fetched::Found(bad)),
        ]),
    );
    let snapshot = held.snapshot(&env, None, &Accepted::new());
    let errors: Vec<String> = snapshot.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("adr/dev_sse/gone") && e.contains("no such asset")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("adr/dev_sse/bad") && e.contains("qos")),
        "{errors:?}"
    );
    assert!(snapshot.plan.is_empty());
}

#[test]
fn credentials_without_their_mount_are_fatal() {
    let mut held = Held::default();
    held.devices.insert(
        endpoint("dev", "sse"),
        Fetched::Found(device(&[("sse", "http://h:1")], "UsernamePassword")),
    );
    let error = held.check_credentials(false).unwrap_err();
    assert_eq!(error.endpoint, "dev_sse");
    assert!(
        error
            .to_string()
            .contains("DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH")
    );
    assert!(held.check_credentials(true).is_ok());
    let mut anonymous = Held::default();
    anonymous.devices.insert(
        endpoint("dev", "sse"),
        Fetched::Found(device(&[("sse", "http://h:1")], "Anonymous")),
    );
    assert!(anonymous.check_credentials(false).is_ok());
}
