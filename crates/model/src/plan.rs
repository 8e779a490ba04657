//! The plan: every data operation resolved into what the runtime needs to run it, with no
//! reference left to follow. Built by [`crate::build()`]; compared by [`crate::diff()`].
//!
//! A plan holds file paths of secrets, never their contents.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use url::Url;

use crate::destination::Sink;
use crate::environment::FileRef;

/// Names a data operation; stable across reloads, so the runtime can tell what changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperationId {
    /// A dataset of an asset.
    Dataset {
        /// Asset name.
        asset: String,
        /// Dataset name.
        dataset: String,
    },
    /// An event of an event group of an asset.
    Event {
        /// Asset name.
        asset: String,
        /// Event group name.
        group: String,
        /// Event name.
        event: String,
    },
}

impl OperationId {
    /// The asset the operation belongs to.
    pub fn asset(&self) -> &str {
        match self {
            Self::Dataset { asset, .. } | Self::Event { asset, .. } => asset,
        }
    }
}

/// `asset/datasets/name` or `asset/eventGroups/group/events/name`.
impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dataset { asset, dataset } => write!(f, "{asset}/datasets/{dataset}"),
            Self::Event {
                asset,
                group,
                event,
            } => write!(f, "{asset}/eventGroups/{group}/events/{event}"),
        }
    }
}

/// How to authenticate, by file; the files are read when the connection is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Credentials {
    /// No credentials.
    Anonymous,
    /// HTTP Basic.
    UsernamePassword {
        /// File holding the username.
        username: FileRef,
        /// File holding the password.
        password: FileRef,
    },
    /// TLS client certificate.
    Certificate {
        /// PEM certificate.
        certificate: FileRef,
        /// PEM private key (the certificate file may hold it instead).
        key: Option<FileRef>,
        /// PEM intermediate certificates.
        intermediates: Option<FileRef>,
    },
}

/// One SSE connection: operations with equal streams share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamSpec {
    /// The URL to GET.
    pub url: Url,
    /// Credentials.
    pub credentials: Credentials,
    /// Extra CA certificates (PEM files), in name order; empty: system roots only.
    pub trust: Vec<FileRef>,
}

/// Which events of the stream an operation takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Match {
    /// Every event.
    All,
    /// Events whose SSE type (`event:` field, `message` when absent) is one of these.
    EventTypes(BTreeSet<String>),
}

impl Match {
    /// Whether an event of this SSE type is taken.
    pub fn accepts(&self, event_type: &str) -> bool {
        match self {
            Self::All => true,
            Self::EventTypes(types) => types.contains(event_type),
        }
    }
}

/// A data point: a named JSON Pointer into the event's JSON data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataPointRule {
    /// Key in the projected payload.
    pub name: String,
    /// RFC 6901 pointer.
    pub pointer: String,
}

/// Identity of the device endpoint, for message headers and status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceIdentity {
    /// Device name.
    pub name: String,
    /// Inbound endpoint name.
    pub endpoint: String,
    /// `uuid`, when set.
    pub uuid: Option<String>,
    /// `externalDeviceId`, when set.
    pub external_id: Option<String>,
    /// `version`, when set.
    pub version: Option<u64>,
}

/// Identity of the asset, for message headers and status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetIdentity {
    /// Asset name.
    pub name: String,
    /// `uuid`, when set.
    pub uuid: Option<String>,
    /// `externalAssetId`, when set.
    pub external_id: Option<String>,
    /// `version`, when set.
    pub version: Option<u64>,
}

/// A resolved dataset or event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Operation {
    /// Its name.
    pub id: OperationId,
    /// The device endpoint it reads from.
    pub device: DeviceIdentity,
    /// The asset it belongs to.
    pub asset: AssetIdentity,
    /// The stream it reads.
    pub stream: StreamSpec,
    /// Which events it takes.
    pub matching: Match,
    /// Projection of the payload (datasets); empty: the event data as it is.
    pub data_points: Vec<DataPointRule>,
    /// Where it sends.
    pub sink: Sink,
    /// The operation's own `dataSource` as written (trimmed; empty when absent): the dataset's
    /// path, or the event's SSE event type or path (never its group's). It names the data in
    /// the CloudEvents `source` of every message.
    pub data_source: String,
    /// The operation's own `typeRef`, when set and not empty: appended to the CloudEvents
    /// `type` (`DataSet/<typeRef>`, `Event/<typeRef>`).
    pub type_ref: Option<String>,
    /// The transform its events go through before they are published (DESIGN 3.12).
    pub transform: Option<crate::transform::TransformSpec>,
}

/// Every data operation, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The operations.
    pub operations: BTreeMap<OperationId, Operation>,
}

impl Plan {
    /// The distinct streams and the operations reading each (one SSE connection per stream).
    pub fn streams(&self) -> BTreeMap<&StreamSpec, Vec<&OperationId>> {
        let mut out: BTreeMap<&StreamSpec, Vec<&OperationId>> = BTreeMap::new();
        for op in self.operations.values() {
            out.entry(&op.stream).or_default().push(&op.id);
        }
        out
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether there is no operation.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}
