//! Device and Asset definitions: Kubernetes CR YAML in, the ADR service's edge JSON model out.
//!
//! A CR (`apiVersion: namespaces.deviceregistry.microsoft.com/v1`, `kind: Device | Asset`,
//! `metadata.name`, `spec`) becomes a [`Resource`] whose `spec` is what `getDevice` /
//! `getAsset` serve. The edge model differs from the CR in two ways handled here:
//! `attributes` is a map of strings (numbers and booleans are written as text), and the
//! `…Configuration` fields (`defaultDatasetsConfiguration`, `datasetConfiguration`,
//! `additionalConfiguration`, …) are JSON text (an object written in YAML is serialized).
//! Destinations' `configuration` objects stay objects, as in the DTDL.

use serde_json::{Map, Value};

/// The API group of ADR's namespaced CRs (any version is accepted).
pub const API_GROUP: &str = "namespaces.deviceregistry.microsoft.com/";

/// The two kinds of definition the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `kind: Device`.
    Device,
    /// `kind: Asset`.
    Asset,
}

/// One definition read from YAML.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Device or Asset.
    pub kind: Kind,
    /// `metadata.name`.
    pub name: String,
    /// `spec`, converted to the edge JSON model by [`edge_spec`].
    pub spec: Value,
}

/// Reads every document of `text` (YAML, `---`-separated; empty documents are skipped).
///
/// # Errors
/// A message when the YAML does not parse or a document is not a Device or Asset CR with a
/// name and a `spec` mapping.
pub fn resources_from_yaml(text: &str) -> Result<Vec<Resource>, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut resources = Vec::new();
    for (index, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        resources.push(resource_from_value(doc).map_err(|e| format!("document {index}: {e}"))?);
    }
    Ok(resources)
}

/// Reads one CR already parsed into JSON.
///
/// # Errors
/// As [`resources_from_yaml`].
pub fn resource_from_value(doc: Value) -> Result<Resource, String> {
    let Value::Object(mut doc) = doc else {
        return Err("not a mapping".to_owned());
    };
    match doc.get("apiVersion").and_then(Value::as_str) {
        Some(api) if api.starts_with(API_GROUP) => {}
        other => return Err(format!("apiVersion {other:?} is not {API_GROUP}…")),
    }
    let kind = match doc.get("kind").and_then(Value::as_str) {
        Some("Device") => Kind::Device,
        Some("Asset") => Kind::Asset,
        other => return Err(format!("kind {other:?} is neither Device nor Asset")),
    };
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("metadata.name is missing")?
        .to_owned();
    let spec = match doc.remove("spec") {
        Some(spec @ Value::Object(_)) => spec,
        _ => return Err(format!("{name}: spec is missing or not a mapping")),
    };
    Ok(Resource {
        kind,
        name,
        spec: edge_spec(spec),
    })
}

/// Converts a CR `spec` (or an edge model already) to the edge JSON model: string
/// attributes, `…Configuration` fields as JSON text. Idempotent.
pub fn edge_spec(mut spec: Value) -> Value {
    if let Some(Value::Object(attributes)) = spec.get_mut("attributes") {
        for value in attributes.values_mut() {
            if !value.is_string() {
                *value = Value::String(as_text(value));
            }
        }
    }
    stringify_configurations(&mut spec);
    spec
}

/// The JSON text of a value; a null is the empty string.
fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn stringify_configurations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key.ends_with("Configuration") && !field.is_string() && !field.is_null() {
                    *field = Value::String(field.to_string());
                } else {
                    stringify_configurations(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(stringify_configurations),
        _ => {}
    }
}

/// A Device spec as `getDevice` serves it for one inbound endpoint: `endpoints.inbound` keeps
/// only that endpoint (the DTDL: "containing the specific inbound endpoint details as
/// specified by the request"); an unknown endpoint leaves the map empty.
pub fn device_for_endpoint(spec: &Value, endpoint: &str) -> Value {
    let mut device = spec.clone();
    if let Some(Value::Object(inbound)) = device
        .get_mut("endpoints")
        .and_then(|e| e.get_mut("inbound"))
    {
        inbound.retain(|name, _| name == endpoint);
    }
    device
}

/// A device status narrowed to one inbound endpoint, as `getDeviceStatus` and
/// `updateDeviceStatus` answer.
pub fn device_status_for_endpoint(status: &Value, endpoint: &str) -> Value {
    device_for_endpoint(status, endpoint)
}

/// Merges an `updateDeviceStatus` request into the stored status: device-level fields are
/// replaced ("fields omitted in the request will be removed"), the request's entry for
/// `endpoint` replaces that endpoint's entry, other endpoints' entries are kept.
pub fn merge_device_status(stored: Option<&Value>, update: &Value, endpoint: &str) -> Value {
    let mut inbound: Map<String, Value> = stored
        .and_then(|s| s.get("endpoints"))
        .and_then(|e| e.get("inbound"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    inbound.remove(endpoint);
    let requested = update
        .get("endpoints")
        .and_then(|e| e.get("inbound"))
        .and_then(|i| i.get(endpoint));
    if let Some(entry) = requested {
        inbound.insert(endpoint.to_owned(), entry.clone());
    }
    let mut merged = update.clone();
    if let Value::Object(map) = &mut merged {
        if inbound.is_empty() && !map.contains_key("endpoints") {
            return merged;
        }
        map.insert(
            "endpoints".to_owned(),
            Value::Object(Map::from_iter([(
                "inbound".to_owned(),
                Value::Object(inbound),
            )])),
        );
    }
    merged
}

/// The `deviceRef` of an Asset spec: (device, endpoint).
pub fn asset_device_ref(spec: &Value) -> Option<(&str, &str)> {
    let device_ref = spec.get("deviceRef")?;
    Some((
        device_ref.get("deviceName")?.as_str()?,
        device_ref.get("endpointName")?.as_str()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_device_and_an_asset_come_out_in_the_edge_model() {
        let yaml = r#"
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: { name: sse-device, namespace: azure-iot-operations }
spec:
  attributes: { site: plant-1, floor: 3, cold: true }
  endpoints:
    inbound:
      ep:
        endpointType: Microsoft.SSEHttp
        address: https://x
        additionalConfiguration: { retry: 3 }
  version: 2
---
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: { name: a1 }
spec:
  deviceRef: { deviceName: sse-device, endpointName: ep }
  defaultDatasetsConfiguration: '{}'
  datasets:
    - name: d
      datasetConfiguration: { a: 1 }
      destinations:
        - target: Mqtt
          configuration: { topic: t, qos: Qos1 }
"#;
        let resources = resources_from_yaml(yaml).expect("parses");
        assert_eq!(resources.len(), 2);
        let device = &resources[0];
        assert_eq!(
            (device.kind, device.name.as_str()),
            (Kind::Device, "sse-device")
        );
        assert_eq!(
            device.spec["attributes"],
            json!({"site": "plant-1", "floor": "3", "cold": "true"})
        );
        assert_eq!(
            device.spec["endpoints"]["inbound"]["ep"]["additionalConfiguration"],
            json!(r#"{"retry":3}"#)
        );
        assert_eq!(device.spec["version"], json!(2));
        let asset = &resources[1];
        assert_eq!(asset.kind, Kind::Asset);
        assert_eq!(asset.spec["defaultDatasetsConfiguration"], json!("{}"));
        assert_eq!(
            asset.spec["datasets"][0]["datasetConfiguration"],
            json!(r#"{"a":1}"#)
        );
        assert_eq!(
            asset.spec["datasets"][0]["destinations"][0]["configuration"],
            json!({"topic": "t", "qos": "Qos1"})
        );
        assert_eq!(asset_device_ref(&asset.spec), Some(("sse-device", "ep")));
        assert_eq!(edge_spec(asset.spec.clone()), asset.spec, "idempotent");
    }

    #[test]
    fn other_documents_are_refused() {
        for yaml in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nspec: {}",
            "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Pod\nmetadata: {name: x}\nspec: {}",
            "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nspec: {}",
            "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata: {name: x}",
            "[unclosed",
        ] {
            assert!(resources_from_yaml(yaml).is_err(), "{yaml}");
        }
    }

    #[test]
    fn a_device_is_narrowed_to_one_endpoint() {
        let spec =
            json!({"endpoints": {"inbound": {"a": {"address": "x"}, "b": {"address": "y"}}}});
        assert_eq!(
            device_for_endpoint(&spec, "a"),
            json!({"endpoints": {"inbound": {"a": {"address": "x"}}}})
        );
        assert_eq!(
            device_for_endpoint(&spec, "zz"),
            json!({"endpoints": {"inbound": {}}})
        );
        assert_eq!(device_for_endpoint(&json!({}), "a"), json!({}));
    }

    #[test]
    fn a_device_status_update_replaces_one_endpoint_and_keeps_the_others() {
        let stored = json!({"config": {"version": 1},
            "endpoints": {"inbound": {"a": {"error": {"message": "old"}}, "b": {}}}});
        let update = json!({"config": {"version": 2}, "endpoints": {"inbound": {"a": {}}}});
        assert_eq!(
            merge_device_status(Some(&stored), &update, "a"),
            json!({"config": {"version": 2}, "endpoints": {"inbound": {"a": {}, "b": {}}}})
        );
        // Omitting the endpoint removes its entry; omitting config removes it.
        assert_eq!(
            merge_device_status(Some(&stored), &json!({}), "a"),
            json!({"endpoints": {"inbound": {"b": {}}}})
        );
        assert_eq!(
            merge_device_status(None, &json!({"config": {"version": 3}}), "a"),
            json!({"config": {"version": 3}})
        );
    }
}
