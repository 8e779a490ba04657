//! The device registry's definitions → the model: what the service returned for the device
//! endpoints and assets of this replica, decoded and validated exactly as files of the
//! directory registry are, into a [`registry::Snapshot`].
//!
//! Each definition gets a name where problems point: `adr/{device}_{endpoint}` for a device
//! endpoint, `adr/{device}_{endpoint}/{asset}` for an asset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use model::build::Unreadable;
use model::resource::{Decoded, decode};
use model::{Accepted, Environment, FieldPath, Kind, Located, Partial, Problem};
use registry::Snapshot;
use serde_json::{Map, Value, json};

use crate::allocation::EndpointRef;

/// The API group and version of the documents the definitions are decoded as.
const API_VERSION: &str = "namespaces.deviceregistry.microsoft.com/v1";

/// What the service answered for one definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// The definition (the edge JSON model).
    Found(Value),
    /// The service refused it (unknown, not authorized): why.
    Refused(String),
}

/// The definitions of the device endpoints and assets allocated to this replica.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held {
    /// Each allocated device endpoint's device (with only that inbound endpoint).
    pub devices: BTreeMap<EndpointRef, Fetched>,
    /// Each allocated asset, by its device endpoint.
    pub assets: BTreeMap<EndpointRef, BTreeMap<String, Fetched>>,
}

/// A device endpoint that needs credentials while the deployment mounts none: the contract
/// makes this fatal (the pod restarts once the mount is there).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "device endpoint {endpoint} authenticates with {method}, but DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH is not set: the connector template must mount the device credentials"
)]
pub struct MissingCredentialsMount {
    /// The device endpoint.
    pub endpoint: String,
    /// `UsernamePassword` or `Certificate`.
    pub method: String,
}

impl Held {
    /// Checks the contract's rule for credentials: an endpoint that needs them needs the mount.
    ///
    /// # Errors
    /// [`MissingCredentialsMount`] for the first endpoint that needs it.
    pub fn check_credentials(&self, mounted: bool) -> Result<(), MissingCredentialsMount> {
        if mounted {
            return Ok(());
        }
        for (endpoint, fetched) in &self.devices {
            let Fetched::Found(device) = fetched else {
                continue;
            };
            let method = device
                .pointer(&format!(
                    "/endpoints/inbound/{}/authentication/method",
                    escape(&endpoint.endpoint)
                ))
                .and_then(Value::as_str)
                .unwrap_or("Anonymous");
            if method != "Anonymous" {
                return Err(MissingCredentialsMount {
                    endpoint: endpoint.to_string(),
                    method: method.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Decodes and validates everything held into a snapshot; resources that fail keep
    /// `last_good`, as in the directory registry. `common_trust` adds the connector-level
    /// trust list to every stream.
    pub fn snapshot(
        &self,
        env: &dyn Environment,
        common_trust: Option<&Path>,
        last_good: &Accepted,
    ) -> Snapshot {
        let mut definitions = Vec::new();
        let mut unreadable = Unreadable::default();
        let mut problems = Vec::new();
        let mut files = Vec::new();
        for (device, (file, value)) in self.devices_by_name(&mut problems) {
            files.push(file.clone());
            let document = document("Device", &device, value);
            decode_into(
                document,
                &file,
                Kind::Device,
                &device,
                &mut definitions,
                &mut unreadable,
                &mut problems,
            );
        }
        for (endpoint, assets) in &self.assets {
            for (asset, fetched) in assets {
                let file = asset_file(endpoint, asset);
                files.push(file.clone());
                match fetched {
                    Fetched::Found(value) => {
                        let document = document("Asset", asset, value.clone());
                        decode_into(
                            document,
                            &file,
                            Kind::Asset,
                            asset,
                            &mut definitions,
                            &mut unreadable,
                            &mut problems,
                        );
                    }
                    Fetched::Refused(why) => problems.push(Problem::error(
                        &file,
                        format!("Asset/{asset}"),
                        FieldPath::root(),
                        format!("the device registry did not give this allocated asset: {why}"),
                    )),
                }
            }
        }
        let built = model::build(&definitions, &unreadable, env, last_good);
        problems.extend(built.problems);
        let mut plan = built.plan;
        if let Some(dir) = common_trust {
            problems.extend(registry::common_trust::apply(&mut plan, dir));
        }
        problems.sort_by(|a, b| a.file.cmp(&b.file));
        Snapshot {
            plan,
            problems,
            resources: built.accepted,
            files,
        }
    }

    /// The device endpoint of each asset and the version of each definition held.
    pub fn index(&self) -> crate::source::Index {
        let version = |value: &Value| value.get("version").and_then(Value::as_u64);
        let mut index = crate::source::Index::default();
        for (endpoint, fetched) in &self.devices {
            if let Fetched::Found(device) = fetched {
                index
                    .devices
                    .insert(endpoint.device.clone(), version(device));
            }
        }
        for (endpoint, assets) in &self.assets {
            for (name, fetched) in assets {
                if let Fetched::Found(asset) = fetched {
                    index
                        .assets
                        .insert(name.clone(), (endpoint.clone(), version(asset)));
                }
            }
        }
        index
    }

    /// One device definition per device name, with every allocated inbound endpoint of it
    /// (each `getDevice` answers with only its own endpoint); a device the service refused
    /// is a problem.
    fn devices_by_name(&self, problems: &mut Vec<Problem>) -> BTreeMap<String, (PathBuf, Value)> {
        let mut devices: BTreeMap<String, (PathBuf, Value)> = BTreeMap::new();
        for (endpoint, fetched) in &self.devices {
            let file = endpoint_file(endpoint);
            let value = match fetched {
                Fetched::Found(value) => only_endpoint(value, &endpoint.endpoint),
                Fetched::Refused(why) => {
                    problems.push(Problem::error(
                        &file,
                        format!("Device/{}", endpoint.device),
                        FieldPath::root(),
                        format!("the device registry did not give this allocated device: {why}"),
                    ));
                    continue;
                }
            };
            match devices.get_mut(&endpoint.device) {
                None => {
                    devices.insert(endpoint.device.clone(), (file, value));
                }
                Some((_, merged)) => {
                    if let (Some(inbound), Some(more)) = (
                        merged
                            .pointer_mut("/endpoints/inbound")
                            .and_then(Value::as_object_mut),
                        value
                            .pointer("/endpoints/inbound")
                            .and_then(Value::as_object),
                    ) {
                        inbound.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
            }
        }
        devices
    }
}

/// Where problems of a device endpoint point.
pub fn endpoint_file(endpoint: &EndpointRef) -> PathBuf {
    PathBuf::from(format!("adr/{endpoint}"))
}

/// Where problems of an asset point.
pub fn asset_file(endpoint: &EndpointRef, asset: &str) -> PathBuf {
    endpoint_file(endpoint).join(asset)
}

/// The device with only `endpoint` among its inbound endpoints (the service should have sent
/// only that one; other endpoints belong to other connectors).
fn only_endpoint(device: &Value, endpoint: &str) -> Value {
    let mut device = device.clone();
    if let Some(inbound) = device
        .pointer_mut("/endpoints/inbound")
        .and_then(Value::as_object_mut)
    {
        inbound.retain(|name, _| name == endpoint);
    }
    device
}

/// The Kubernetes document of a definition, so it decodes as a file's would.
fn document(kind: &str, name: &str, spec: Value) -> Value {
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(name.to_owned()));
    json!({ "apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec })
}

/// Decodes one document into `definitions`, or its problems into `problems` (the resource
/// then keeps its last good version).
fn decode_into(
    document: Value,
    file: &Path,
    kind: Kind,
    name: &str,
    definitions: &mut Vec<Located>,
    unreadable: &mut Unreadable,
    problems: &mut Vec<Problem>,
) {
    match decode(document, name) {
        Ok(Decoded::Resource(resource)) => definitions.push(Located {
            file: file.to_path_buf(),
            document: 1,
            resource: *resource,
        }),
        Ok(Decoded::Foreign { .. }) => {}
        Err(error) => {
            let label = format!("{}/{name}", kind.as_str());
            for (path, message) in error.errors() {
                problems.push(Problem::error(file, label.clone(), path.clone(), message));
            }
            unreadable.resources.insert((kind, name.to_owned()));
            let faults = error.errors().map(|(p, _)| p.clone()).collect();
            if let Some(resource) = error.partial {
                unreadable.partial.push(Partial {
                    located: Located {
                        file: file.to_path_buf(),
                        document: 1,
                        resource: *resource,
                    },
                    faults,
                });
            }
        }
    }
}

/// A JSON Pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
