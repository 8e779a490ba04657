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
use crate::repair::{Failed, deserialize_all};

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
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// `Kind/name` when known.
    pub resource: Option<String>,
    /// The field at fault (the first error found).
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
    /// Further errors of the same document, found after setting the value at fault aside.
    pub more: Vec<(FieldPath, String)>,
    /// The resource with every value at fault set aside, when it could be read that way and
    /// every path in it is still a path of the document as written. Validation can find its
    /// other problems; it is never applied.
    pub partial: Option<Box<Resource>>,
}

impl DecodeError {
    fn new(resource: Option<String>, path: FieldPath, message: String) -> Self {
        Self {
            resource,
            path,
            message,
            more: Vec::new(),
            partial: None,
        }
    }

    fn from_errors(resource: Option<String>, errors: Vec<(FieldPath, String)>) -> Self {
        let mut errors = errors.into_iter();
        let (path, message) = errors
            .next()
            .unwrap_or_else(|| (FieldPath::root(), "cannot be read".to_owned()));
        Self {
            more: errors.collect(),
            ..Self::new(resource, path, message)
        }
    }

    /// Every error: the first, then the others.
    pub fn errors(&self) -> impl Iterator<Item = (&FieldPath, &str)> {
        std::iter::once((&self.path, self.message.as_str()))
            .chain(self.more.iter().map(|(p, m)| (p, m.as_str())))
    }
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
///
/// # Errors
/// Every type error of the document that can be found (not only the first), with the path of
/// each field at fault; see [`DecodeError`].
pub fn decode(document: Value, fallback_name: &str) -> Result<Decoded, DecodeError> {
    let err = |path: FieldPath, message: String| DecodeError::new(None, path, message);
    let Value::Object(mut map) = document else {
        return Err(err(
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
            FieldPath::root().key(key),
            format!("must be a string, found {other}"),
        )),
        None => Err(err(
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
                FieldPath::root().key("kind"),
                format!("{other:?} is not Device or Asset"),
            ));
        }
    };
    let mut errors = Vec::new();
    let metadata_path = FieldPath::root().key("metadata");
    let metadata: Option<Metadata> = match deserialize_all(
        map.remove("metadata").unwrap_or(Value::Null),
        &metadata_path,
    ) {
        Ok(m) => Some(m),
        Err(Failed { errors: e, partial }) => {
            errors.extend(e);
            partial
        }
    };
    let name = metadata
        .as_ref()
        .and_then(|m| m.name.clone())
        .filter(|n| !n.is_empty());
    let Some((metadata, name)) = metadata.zip(name) else {
        let name_path = metadata_path.key("name");
        if !errors.iter().any(|(p, _)| *p == name_path) {
            errors.push((name_path, "required".into()));
        }
        return Err(DecodeError::from_errors(None, errors));
    };
    let label = Some(format!("{}/{name}", kind.as_str()));
    let Some(spec) = map.remove("spec") else {
        errors.push((FieldPath::root().key("spec"), "required".into()));
        return Err(DecodeError::from_errors(label, errors));
    };
    let status = map.remove("status");
    let envelope = Envelope::Kubernetes {
        api_version,
        metadata,
        status,
        extra: map.into_iter().collect(),
    };
    finish(kind, name, spec, "spec", envelope, errors)
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
            return Err(DecodeError::new(
                None,
                FieldPath::root().key("type"),
                format!("{t:?} is not a namespace device or asset type"),
            ));
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
    let envelope = Envelope::Arm { fields };
    finish(kind, name, properties, "properties", envelope, Vec::new())
}

/// Reads the body and assembles the resource; `errors` are those of the envelope so far.
fn finish(
    kind: Kind,
    name: String,
    body_value: Value,
    at: &str,
    envelope: Envelope,
    mut errors: Vec<(FieldPath, String)>,
) -> Result<Decoded, DecodeError> {
    let at = FieldPath::root().key(at);
    let body = match kind {
        Kind::Device => deserialize_all(body_value, &at)
            .map(|d| Body::Device(Box::new(d)))
            .map_err(|f| (f.errors, f.partial.map(|d| Body::Device(Box::new(d))))),
        Kind::Asset => deserialize_all(body_value, &at)
            .map(|a| Body::Asset(Box::new(a)))
            .map_err(|f| (f.errors, f.partial.map(|a| Body::Asset(Box::new(a))))),
    };
    let label = Some(format!("{}/{name}", kind.as_str()));
    let (body, complete) = match body {
        Ok(body) => (Some(body), errors.is_empty()),
        Err((e, partial)) => {
            errors.extend(e);
            (partial, false)
        }
    };
    let resource = body.map(|body| {
        Box::new(Resource {
            name,
            body,
            envelope,
        })
    });
    match resource {
        Some(resource) if complete => Ok(Decoded::Resource(resource)),
        partial => Err(DecodeError {
            partial,
            ..DecodeError::from_errors(label, errors)
        }),
    }
}
