//! The envelope around a `Device` or `Asset`: the Kubernetes custom resource form
//! (`apiVersion`, `kind`, `metadata`, `spec`) or the ARM JSON form (`properties`).
//!
//! Documents are decoded from a `serde_json::Value` (the registry reads YAML and JSON into one),
//! so that the envelope can be told apart before the body is read, and every decoding error
//! carries the path of the field at fault.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::asset::Asset;
use crate::device::Device;
use crate::extra::{Extra, Extras};
use crate::problem::FieldPath;

/// API group of Azure Device Registry namespace resources.
pub const API_GROUP: &str = "namespaces.deviceregistry.microsoft.com";
/// `apiVersion` written by this connector.
pub const API_VERSION: &str = "namespaces.deviceregistry.microsoft.com/v1";

/// Device or asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `Device`.
    Device,
    /// `Asset`.
    Asset,
}

impl Kind {
    /// `Device` or `Asset`, as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "Device",
            Self::Asset => "Asset",
        }
    }
}

/// The body of a resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A device.
    Device(Box<Device>),
    /// An asset.
    Asset(Box<Asset>),
}

/// Kubernetes object metadata; the fields the connector uses are typed, the rest kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Resource name (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace, typically `azure-iot-operations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Other metadata (uid, resourceVersion, ...), kept verbatim; not reported as unknown.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a resource was written, with everything outside its body.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    /// Kubernetes custom resource.
    Kubernetes {
        /// `apiVersion` as written.
        api_version: String,
        /// `metadata`.
        metadata: Metadata,
        /// `status`, kept verbatim.
        status: Option<Value>,
        /// Other top-level fields, kept verbatim.
        extra: Extra,
    },
    /// ARM resource JSON.
    Arm {
        /// Top-level fields other than `properties` (`id`, `name`, `type`, `location`,
        /// `extendedLocation`, `tags`, `systemData`, ...), kept verbatim.
        fields: Map<String, Value>,
    },
}

/// One device or asset definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Resource name (`metadata.name`, or ARM `name`).
    pub name: String,
    /// The spec/properties.
    pub body: Body,
    /// The envelope it was read in; written back the same way.
    pub envelope: Envelope,
}

/// A resource and where it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The file.
    pub file: PathBuf,
    /// Its position among the file's documents, from 1.
    pub document: usize,
    /// The resource.
    pub resource: Resource,
}

/// What a document turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A device or asset.
    Resource(Box<Resource>),
    /// A Kubernetes object of another API group (e.g. a ConfigMap next to the definitions);
    /// ignored.
    Foreign {
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
}

/// A document that is not a valid device or asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// `Kind/name` when known.
    pub resource: Option<String>,
    /// The field at fault.
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
}

impl Resource {
    /// A new resource in Kubernetes form.
    pub fn kubernetes(name: &str, body: Body) -> Self {
        Self {
            name: name.to_owned(),
            body,
            envelope: Envelope::Kubernetes {
                api_version: API_VERSION.to_owned(),
                metadata: Metadata {
                    name: Some(name.to_owned()),
                    ..Metadata::default()
                },
                status: None,
                extra: Extra::new(),
            },
        }
    }

    /// Device or asset.
    pub fn kind(&self) -> Kind {
        match self.body {
            Body::Device(_) => Kind::Device,
            Body::Asset(_) => Kind::Asset,
        }
    }

    /// `Kind/name`, as used in problems.
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind().as_str(), self.name)
    }

    /// The path of the body: `spec` or `properties`.
    pub fn body_path(&self) -> FieldPath {
        match self.envelope {
            Envelope::Kubernetes { .. } => FieldPath::root().key("spec"),
            Envelope::Arm { .. } => FieldPath::root().key("properties"),
        }
    }

    /// Paths of every field the model does not know (kept, reported as warnings).
    pub fn unknown_fields(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        if let Envelope::Kubernetes { extra, .. } = &self.envelope {
            out.extend(extra.keys().map(|k| FieldPath::root().key(k)));
        }
        let path = self.body_path();
        match &self.body {
            Body::Device(d) => d.unknown_fields(&path, &mut out),
            Body::Asset(a) => a.unknown_fields(&path, &mut out),
        }
        out
    }

    /// The document as JSON, in the form it was read in.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// The whole document in the form it was read in (Kubernetes or ARM); fields in model order,
/// unknown fields last.
impl Serialize for Resource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        let body_key = match &self.envelope {
            Envelope::Kubernetes {
                api_version,
                metadata,
                ..
            } => {
                map.serialize_entry("apiVersion", api_version)?;
                map.serialize_entry("kind", self.kind().as_str())?;
                map.serialize_entry("metadata", metadata)?;
                "spec"
            }
            Envelope::Arm { fields } => {
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                "properties"
            }
        };
        match &self.body {
            Body::Device(d) => map.serialize_entry(body_key, d)?,
            Body::Asset(a) => map.serialize_entry(body_key, a)?,
        }
        if let Envelope::Kubernetes { status, extra, .. } = &self.envelope {
            if let Some(status) = status {
                map.serialize_entry("status", status)?;
            }
            for (k, v) in extra {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// Decodes one document. `fallback_name` names ARM documents that carry no `name` (a PUT body
/// has it in the URL); the registry passes the file stem.
pub fn decode(document: Value, fallback_name: &str) -> Result<Decoded, DecodeError> {
    let err = |resource: Option<String>, path: FieldPath, message: String| DecodeError {
        resource,
        path,
        message,
    };
    let Value::Object(mut map) = document else {
        return Err(err(
            None,
            FieldPath::root(),
            "a document must be a mapping (a Kubernetes resource or an ARM resource)".into(),
        ));
    };
    if let Some(properties) = map.remove("properties") {
        return decode_arm(map, properties, fallback_name);
    }
    let text = |map: &mut Map<String, Value>, key: &str| match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(err(
            None,
            FieldPath::root().key(key),
            format!("must be a string, found {other}"),
        )),
        None => Err(err(
            None,
            FieldPath::root().key(key),
            "required (or use the ARM form with `properties`)".into(),
        )),
    };
    let api_version = text(&mut map, "apiVersion")?;
    let kind_text = text(&mut map, "kind")?;
    if api_version.split('/').next() != Some(API_GROUP) {
        return Ok(Decoded::Foreign {
            api_version,
            kind: kind_text,
        });
    }
    let kind = match kind_text.as_str() {
        "Device" => Kind::Device,
        "Asset" => Kind::Asset,
        other => {
            return Err(err(
                None,
                FieldPath::root().key("kind"),
                format!("{other:?} is not Device or Asset"),
            ));
        }
    };
    let metadata: Metadata = typed(map.remove("metadata").unwrap_or(Value::Null), "metadata")
        .map_err(|(path, message)| err(None, path, message))?;
    let Some(name) = metadata.name.clone().filter(|n| !n.is_empty()) else {
        return Err(err(
            None,
            FieldPath::root().key("metadata").key("name"),
            "required".into(),
        ));
    };
    let label = Some(format!("{}/{name}", kind.as_str()));
    let spec = map.remove("spec").ok_or_else(|| {
        err(
            label.clone(),
            FieldPath::root().key("spec"),
            "required".into(),
        )
    })?;
    let body = body(kind, spec, "spec").map_err(|(path, message)| err(label, path, message))?;
    let status = map.remove("status");
    Ok(Decoded::Resource(Box::new(Resource {
        name,
        body,
        envelope: Envelope::Kubernetes {
            api_version,
            metadata,
            status,
            extra: map.into_iter().collect(),
        },
    })))
}

fn decode_arm(
    fields: Map<String, Value>,
    properties: Value,
    fallback_name: &str,
) -> Result<Decoded, DecodeError> {
    let kind = match fields.get("type").and_then(Value::as_str) {
        Some(t) if t.to_ascii_lowercase().ends_with("/devices") => Kind::Device,
        Some(t) if t.to_ascii_lowercase().ends_with("/assets") => Kind::Asset,
        Some(t) => {
            return Err(DecodeError {
                resource: None,
                path: FieldPath::root().key("type"),
                message: format!("{t:?} is not a namespace device or asset type"),
            });
        }
        // A PUT body has no `type`: an asset is the one with the required `deviceRef`.
        None if properties.get("deviceRef").is_some() => Kind::Asset,
        None => Kind::Device,
    };
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(fallback_name)
        .to_owned();
    let label = format!("{}/{name}", kind.as_str());
    let body = body(kind, properties, "properties").map_err(|(path, message)| DecodeError {
        resource: Some(label),
        path,
        message,
    })?;
    Ok(Decoded::Resource(Box::new(Resource {
        name,
        body,
        envelope: Envelope::Arm { fields },
    })))
}

fn body(kind: Kind, value: Value, at: &str) -> Result<Body, (FieldPath, String)> {
    Ok(match kind {
        Kind::Device => Body::Device(Box::new(typed(value, at)?)),
        Kind::Asset => Body::Asset(Box::new(typed(value, at)?)),
    })
}

/// Deserializes `value` as `T`, reporting the path of the failing field below `at`.
fn typed<T: serde::de::DeserializeOwned>(value: Value, at: &str) -> Result<T, (FieldPath, String)> {
    let value = if value.is_null() {
        Value::Object(Map::new())
    } else {
        value
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = FieldPath::root().key(at);
        for segment in e.path().iter() {
            path = match segment {
                serde_path_to_error::Segment::Seq { index } => path.index(*index),
                serde_path_to_error::Segment::Map { key } => path.key(key),
                serde_path_to_error::Segment::Enum { variant } => path.key(variant),
                serde_path_to_error::Segment::Unknown => path,
            };
        }
        (path, e.into_inner().to_string())
    })
}
