//! Pure edits behind the CLI commands that write definitions (`device create`, `device
//! endpoint add`, `asset create`, `asset dataset add`, `asset event-group add`, `asset event
//! add`, `asset transform set|remove`). They change a [`Resource`] in memory; the registry
//! validates and writes it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::asset::{Asset, Dataset, DeviceRef, Event, EventGroup};
use crate::destination::Destination;
use crate::device::{
    Authentication, Endpoints, InboundEndpoint, Method, TrustSettings, UsernamePasswordCredentials,
    X509Credentials,
};
use crate::endpoint::SSE_ENDPOINT_TYPE;
use crate::error::Error;
use crate::resource::{Body, Resource};
use crate::validate::check_name;

fn invalid(what: &str, why: String) -> Error {
    Error::Invalid {
        what: what.to_owned(),
        why,
    }
}

/// A new device with no endpoint (`device create NAME`).
pub fn new_device(name: &str) -> Result<Resource, Error> {
    check_name(name).map_err(|why| invalid("device name", why))?;
    Ok(Resource::kubernetes(name, Body::Device(Box::default())))
}

/// `--auth anonymous|username-password|certificate` (the model's names are accepted too).
pub fn parse_method(text: &str) -> Result<Method, Error> {
    match text.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "anonymous" => Ok(Method::Anonymous),
        "usernamepassword" => Ok(Method::UsernamePassword),
        "certificate" => Ok(Method::Certificate),
        _ => Err(invalid(
            "--auth",
            format!("{text:?}: use anonymous, username-password or certificate"),
        )),
    }
}

/// The options of `device endpoint add`.
#[derive(Debug, Clone, Default)]
pub struct EndpointSpec {
    /// `--name`.
    pub name: String,
    /// `--address`.
    pub address: String,
    /// `--auth` (default anonymous).
    pub method: Method,
    /// `--username-secret`.
    pub username_secret: Option<String>,
    /// `--password-secret`.
    pub password_secret: Option<String>,
    /// `--cert-secret`.
    pub cert_secret: Option<String>,
    /// `--key-secret`.
    pub key_secret: Option<String>,
    /// `--intermediate-secret`.
    pub intermediate_secret: Option<String>,
    /// `--trust-list`.
    pub trust_list: Option<String>,
}

/// Adds an SSE inbound endpoint to a device (`device endpoint add`).
pub fn add_endpoint(resource: &mut Resource, spec: EndpointSpec) -> Result<(), Error> {
    let owner = resource.label();
    let Body::Device(device) = &mut resource.body else {
        return Err(invalid("resource", format!("{owner} is not a device")));
    };
    let mismatch =
        |flag: &str| invalid(flag, format!("does not apply to --auth {:?}", spec.method));
    let authentication = match spec.method {
        Method::Anonymous => {
            if spec.username_secret.is_some() || spec.password_secret.is_some() {
                return Err(mismatch("--username-secret/--password-secret"));
            }
            if spec.cert_secret.is_some() || spec.key_secret.is_some() {
                return Err(mismatch("--cert-secret/--key-secret"));
            }
            Authentication::default()
        }
        Method::UsernamePassword => {
            if spec.cert_secret.is_some() || spec.key_secret.is_some() {
                return Err(mismatch("--cert-secret/--key-secret"));
            }
            let (Some(u), Some(p)) = (&spec.username_secret, &spec.password_secret) else {
                return Err(invalid(
                    "--auth username-password",
                    "needs --username-secret and --password-secret".to_owned(),
                ));
            };
            Authentication {
                method: Method::UsernamePassword,
                username_password_credentials: Some(UsernamePasswordCredentials {
                    username_secret_name: u.clone(),
                    password_secret_name: p.clone(),
                    extra: BTreeMap::new(),
                }),
                ..Authentication::default()
            }
        }
        Method::Certificate => {
            if spec.username_secret.is_some() || spec.password_secret.is_some() {
                return Err(mismatch("--username-secret/--password-secret"));
            }
            let Some(cert) = &spec.cert_secret else {
                return Err(invalid(
                    "--auth certificate",
                    "needs --cert-secret".to_owned(),
                ));
            };
            Authentication {
                method: Method::Certificate,
                x509_credentials: Some(X509Credentials {
                    certificate_secret_name: Some(cert.clone()),
                    key_secret_name: spec.key_secret.clone(),
                    intermediate_certificates_secret_name: spec.intermediate_secret.clone(),
                    extra: BTreeMap::new(),
                }),
                ..Authentication::default()
            }
        }
    };
    let inbound = device
        .endpoints
        .get_or_insert_with(Endpoints::default)
        .inbound
        .get_or_insert_with(BTreeMap::new);
    if inbound.contains_key(&spec.name) {
        return Err(Error::AlreadyExists {
            owner,
            what: "inbound endpoint",
            name: spec.name,
        });
    }
    inbound.insert(
        spec.name,
        InboundEndpoint {
            endpoint_type: SSE_ENDPOINT_TYPE.to_owned(),
            address: spec.address,
            authentication: Some(authentication),
            trust_settings: spec.trust_list.map(|t| TrustSettings {
                trust_list: Some(t),
                extra: BTreeMap::new(),
            }),
            ..InboundEndpoint::default()
        },
    );
    Ok(())
}

/// `--attribute k=v`.
pub fn parse_attribute(text: &str) -> Result<(String, String), Error> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(invalid("--attribute", format!("{text:?} is not key=value"))),
    }
}

/// A new asset reading from a device endpoint (`asset create`).
pub fn new_asset(
    name: &str,
    device: &str,
    endpoint: &str,
    attributes: &[(String, String)],
) -> Result<Resource, Error> {
    check_name(name).map_err(|why| invalid("asset name", why))?;
    let asset = Asset {
        device_ref: DeviceRef {
            device_name: device.to_owned(),
            endpoint_name: endpoint.to_owned(),
            extra: BTreeMap::new(),
        },
        attributes: (!attributes.is_empty()).then(|| {
            attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        }),
        ..Asset::default()
    };
    Ok(Resource::kubernetes(name, Body::Asset(Box::new(asset))))
}

fn asset_mut(resource: &mut Resource) -> Result<(String, &mut Asset), Error> {
    let owner = resource.label();
    match &mut resource.body {
        Body::Asset(a) => Ok((owner, a)),
        Body::Device(_) => Err(invalid("resource", format!("{owner} is not an asset"))),
    }
}

/// Adds a dataset (`asset dataset add`).
pub fn add_dataset(
    resource: &mut Resource,
    name: &str,
    data_source: &str,
    destination: Option<Destination>,
) -> Result<(), Error> {
    let (owner, asset) = asset_mut(resource)?;
    let datasets = asset.datasets.get_or_insert_with(Vec::new);
    if datasets.iter().any(|d| d.name == name) {
        return Err(Error::AlreadyExists {
            owner,
            what: "dataset",
            name: name.to_owned(),
        });
    }
    datasets.push(Dataset {
        name: name.to_owned(),
        data_source: Some(data_source.to_owned()),
        destinations: destination.map(|d| vec![d]),
        ..Dataset::default()
    });
    Ok(())
}

/// Adds an event group (`asset event-group add`).
pub fn add_event_group(
    resource: &mut Resource,
    name: &str,
    data_source: Option<&str>,
    destination: Option<Destination>,
) -> Result<(), Error> {
    let (owner, asset) = asset_mut(resource)?;
    let groups = asset.event_groups.get_or_insert_with(Vec::new);
    if groups.iter().any(|g| g.name == name) {
        return Err(Error::AlreadyExists {
            owner,
            what: "event group",
            name: name.to_owned(),
        });
    }
    groups.push(EventGroup {
        name: name.to_owned(),
        data_source: data_source.map(str::to_owned),
        default_destinations: destination.map(|d| vec![d]),
        ..EventGroup::default()
    });
    Ok(())
}

/// Adds an event to an event group (`asset event add`).
pub fn add_event(
    resource: &mut Resource,
    group: &str,
    name: &str,
    data_source: &str,
    destination: Option<Destination>,
) -> Result<(), Error> {
    let (owner, asset) = asset_mut(resource)?;
    let g = asset
        .event_groups
        .iter_mut()
        .flatten()
        .find(|g| g.name == group)
        .ok_or_else(|| Error::NotFound {
            owner: owner.clone(),
            what: "event group",
            name: group.to_owned(),
        })?;
    let events = g.events.get_or_insert_with(Vec::new);
    if events.iter().any(|e| e.name == name) {
        return Err(Error::AlreadyExists {
            owner: format!("{owner} event group {group:?}"),
            what: "event",
            name: name.to_owned(),
        });
    }
    events.push(Event {
        name: name.to_owned(),
        data_source: Some(data_source.to_owned()),
        destinations: destination.map(|d| vec![d]),
        ..Event::default()
    });
    Ok(())
}

/// The operation a transform belongs to: `--dataset NAME` or `--event GROUP/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformTarget {
    /// A dataset, by name (its `datasetConfiguration`).
    Dataset(String),
    /// An event of an event group (its `eventConfiguration`).
    Event {
        /// The event group.
        group: String,
        /// The event.
        name: String,
    },
}

/// `--event GROUP/NAME`.
pub fn parse_event_target(text: &str) -> Result<TransformTarget, Error> {
    match text.split_once('/') {
        Some((group, name)) if !group.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(TransformTarget::Event {
                group: group.to_owned(),
                name: name.to_owned(),
            })
        }
        _ => Err(invalid("--event", format!("{text:?} is not GROUP/NAME"))),
    }
}

/// The `transform` object of `--transform GRAPH [--transform-config JSON] [--on-error X]`,
/// checked as the model checks a definition's (an unknown `onError`, a graph path leaving
/// the directory, parameters that are not strings, numbers or booleans).
pub fn transform_value(
    graph: &str,
    configuration: Option<Value>,
    on_error: Option<&str>,
) -> Result<Value, Error> {
    let mut object = serde_json::Map::new();
    object.insert("graph".into(), Value::String(graph.to_owned()));
    if let Some(configuration) = configuration {
        object.insert("configuration".into(), configuration);
    }
    if let Some(on_error) = on_error {
        object.insert("onError".into(), Value::String(on_error.to_owned()));
    }
    let value = Value::Object(object);
    crate::transform::parse_spec(&value).map_err(|why| invalid("transform", why))?;
    Ok(value)
}

/// Sets (`Some`) or removes (`None`) the `transform` key of a dataset's `datasetConfiguration`
/// or an event's `eventConfiguration`, keeping its other keys (`asset transform set|remove`,
/// `--transform` of `asset dataset add` and `asset event add`). A configuration left empty is
/// removed.
pub fn set_transform(
    resource: &mut Resource,
    target: &TransformTarget,
    transform: Option<Value>,
) -> Result<(), Error> {
    let (owner, asset) = asset_mut(resource)?;
    let (configuration, field) = match target {
        TransformTarget::Dataset(name) => {
            let dataset = asset
                .datasets
                .iter_mut()
                .flatten()
                .find(|d| &d.name == name)
                .ok_or_else(|| Error::NotFound {
                    owner: owner.clone(),
                    what: "dataset",
                    name: name.clone(),
                })?;
            (&mut dataset.dataset_configuration, "datasetConfiguration")
        }
        TransformTarget::Event { group, name } => {
            let g = asset
                .event_groups
                .iter_mut()
                .flatten()
                .find(|g| &g.name == group)
                .ok_or_else(|| Error::NotFound {
                    owner: owner.clone(),
                    what: "event group",
                    name: group.clone(),
                })?;
            let event = g
                .events
                .iter_mut()
                .flatten()
                .find(|e| &e.name == name)
                .ok_or_else(|| Error::NotFound {
                    owner: format!("{owner} event group {group:?}"),
                    what: "event",
                    name: name.clone(),
                })?;
            (&mut event.event_configuration, "eventConfiguration")
        }
    };
    let mut object = match configuration.as_deref().map(str::trim) {
        None | Some("") => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => object,
            _ => {
                return Err(invalid(
                    field,
                    format!(
                        "{text:?} is not a JSON object; correct it before changing its transform"
                    ),
                ));
            }
        },
    };
    match transform {
        Some(value) => {
            object.insert("transform".into(), value);
        }
        None => {
            if object.remove("transform").is_none() {
                let (what, name) = match target {
                    TransformTarget::Dataset(name) => ("transform on dataset", name.clone()),
                    TransformTarget::Event { group, name } => {
                        ("transform on event", format!("{group}/{name}"))
                    }
                };
                return Err(Error::NotFound { owner, what, name });
            }
        }
    }
    *configuration = (!object.is_empty()).then(|| Value::Object(object).to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset_with(configuration: Option<&str>) -> Resource {
        let mut resource = new_asset("a", "d", "e", &[]).expect("asset");
        add_dataset(&mut resource, "readings", "/r", None).expect("dataset");
        let (_, asset) = asset_mut(&mut resource).expect("asset");
        asset.datasets.as_mut().expect("datasets")[0].dataset_configuration =
            configuration.map(str::to_owned);
        resource
    }

    fn configuration(resource: &Resource) -> Option<Value> {
        let Body::Asset(asset) = &resource.body else {
            panic!("not an asset")
        };
        let dataset = &asset.datasets.as_ref().expect("datasets")[0];
        dataset
            .dataset_configuration
            .as_deref()
            .map(|text| serde_json::from_str(text).expect("JSON"))
    }

    #[test]
    fn a_transform_is_set_beside_the_other_keys_and_removed_leaving_them() {
        let target = TransformTarget::Dataset("readings".into());
        let transform = transform_value("graphs/g.yaml", None, Some("passThrough")).expect("ok");
        let mut resource = asset_with(Some(r#"{"eventTypes": ["r"]}"#));
        set_transform(&mut resource, &target, Some(transform.clone())).expect("set");
        assert_eq!(
            configuration(&resource),
            Some(serde_json::json!({"eventTypes": ["r"], "transform": transform}))
        );
        set_transform(&mut resource, &target, None).expect("removed");
        assert_eq!(
            configuration(&resource),
            Some(serde_json::json!({"eventTypes": ["r"]}))
        );
        let again = set_transform(&mut resource, &target, None).expect_err("none left");
        assert!(
            again.to_string().contains("no transform on dataset"),
            "{again}"
        );

        // A configuration holding only the transform goes away with it.
        let mut resource = asset_with(None);
        set_transform(&mut resource, &target, Some(transform.clone())).expect("set");
        set_transform(&mut resource, &target, None).expect("removed");
        assert_eq!(configuration(&resource), None);

        // A configuration that is not an object is not overwritten.
        let mut resource = asset_with(Some("[1]"));
        let refused = set_transform(&mut resource, &target, Some(transform)).expect_err("array");
        assert!(
            refused.to_string().contains("is not a JSON object"),
            "{refused}"
        );
    }

    #[test]
    fn transform_values_and_event_targets_are_checked() {
        assert!(transform_value("graphs/g.yaml", None, Some("retry")).is_err());
        assert!(transform_value("/abs.yaml", None, None).is_err());
        assert!(transform_value("g.yaml", Some(serde_json::json!([1])), None).is_err());
        assert_eq!(
            parse_event_target("alerts/storm").expect("ok"),
            TransformTarget::Event {
                group: "alerts".into(),
                name: "storm".into()
            }
        );
        for bad in ["storm", "/storm", "alerts/", "a/b/c"] {
            assert!(parse_event_target(bad).is_err(), "{bad}");
        }
    }
}
