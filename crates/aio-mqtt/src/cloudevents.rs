//! AIO's message headers, as pure functions: the user properties (`aiodeviceref`,
//! `aioassetref`, CloudEvents 1.0 in binary mode, `__ts`, `__protVer`, `__srcId`), the content
//! type and the correlation data of every message the connector publishes.
//!
//! Each function documents its exact output. [`OperationHeaders`] computes once per data
//! operation what never changes between its messages, and
//! [`OperationHeaders::user_properties`] adds what does (`id`, `time`, `__ts`, the SSE fields)
//! in AIO's order:
//!
//! | # | name | value |
//! |---|---|---|
//! | 1 | `sse-event`, `sse-id` | our extension, passed like AIO's custom user data: first, each only when not empty |
//! | 2 | `aiodeviceref` | [`device_ref`] |
//! | 3 | `aioassetref` | [`asset_ref`] |
//! | 4 | `id` | a new UUID v4 ([`uuid_v4`]) |
//! | 5 | `source` | [`source`] |
//! | 6 | `specversion` | `1.0` |
//! | 7 | `type` | [`event_type`] |
//! | 8 | `subject` | [`subject`] |
//! | 9 | `time` | [`time`] of the `__ts` timestamp |
//! | 10 | `dataschema` | only when a schema reference is known ([`data_schema`]) |
//! | 11 | `__ts` | the [`HlcTimestamp`] |
//! | 12 | `__protVer` | `1.0` |
//! | 13 | `__srcId` | the MQTT client id |
//!
//! `datacontenttype` is not a user property: it is the MQTT content type ([`content_type`]).

use bytes::Bytes;
use model::plan::{AssetIdentity, DeviceIdentity, Operation, OperationId};
use rand::RngCore;

use crate::hlc::HlcTimestamp;

/// The URI scheme of AIO's references and sources.
pub const SCHEME: &str = "ms-aio:";
/// CloudEvents `specversion`.
pub const SPEC_VERSION: &str = "1.0";
/// `__protVer`: the AIO telemetry protocol version.
pub const PROTOCOL_VERSION: &str = "1.0";
/// Message expiry AIO's telemetry sender uses when a destination has no `ttl`, in seconds.
pub const DEFAULT_EXPIRY_SECS: u32 = 10;
/// Content type of a payload that parses as JSON.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Content type of any other payload (SSE data is UTF-8 text by definition).
pub const CONTENT_TYPE_TEXT: &str = "text/plain; charset=utf-8";
/// Our user property with the SSE event type (`event:` field, `message` by default).
pub const SSE_EVENT: &str = "sse-event";
/// Our user property with the SSE last event id (`id:` field, inherited by later events).
pub const SSE_ID: &str = "sse-id";

/// Whether an operation is a dataset or an event: decides CloudEvents `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A dataset: `DataSet`.
    Dataset,
    /// An event: `Event`.
    Event,
}

impl From<&OperationId> for DataKind {
    fn from(id: &OperationId) -> Self {
        match id {
            OperationId::Dataset { .. } => Self::Dataset,
            OperationId::Event { .. } => Self::Event,
        }
    }
}

/// A random UUID v4 in its lower-case hyphenated form, e.g.
/// `6f0c7c1e-2a7e-4c8e-9a55-7e0e3f1d9a11` (36 characters).
pub fn uuid_v4() -> String {
    // One allocation: this runs for every message (a `format!` per byte cost ~20).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (i, byte) in uuid_v4_bytes().into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// 16 random bytes with the UUID v4 version and variant bits set (RFC 9562).
fn uuid_v4_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// The MQTT correlation data of a message: a random UUID v4 as its 16 raw bytes.
pub fn correlation_data() -> Bytes {
    Bytes::copy_from_slice(&uuid_v4_bytes())
}

/// `aiodeviceref`: `ms-aio:{device.uuid}/{endpointName}`, or `ms-aio:{endpointName}` when the
/// device has no (or an empty) `uuid`. (AIO's Rust SDK form; its .NET SDK joins with `_`.)
pub fn device_ref(device: &DeviceIdentity) -> String {
    match non_empty(device.uuid.as_deref()) {
        Some(uuid) => format!("{SCHEME}{uuid}/{}", device.endpoint),
        None => format!("{SCHEME}{}", device.endpoint),
    }
}

/// `aioassetref`: `ms-aio:{asset.uuid}`, or `ms-aio:` (nothing after the colon) when the asset
/// has no (or an empty) `uuid`.
pub fn asset_ref(asset: &AssetIdentity) -> String {
    format!(
        "{SCHEME}{}",
        non_empty(asset.uuid.as_deref()).unwrap_or_default()
    )
}

/// The device part of `source`: `protocol_specific` when given, not empty and
/// `ms-aio:{it}` is a valid RFC 3986 URI; else `externalDeviceId` when set, not empty and
/// different from the device's `uuid`; else the device name.
pub fn device_identifier<'a>(
    device: &'a DeviceIdentity,
    protocol_specific: Option<&'a str>,
) -> &'a str {
    if let Some(id) = non_empty(protocol_specific)
        && is_uri(&format!("{SCHEME}{id}"))
    {
        return id;
    }
    match non_empty(device.external_id.as_deref()) {
        Some(external) if Some(external) != device.uuid.as_deref() => external,
        _ => &device.name,
    }
}

/// CloudEvents `source`: `ms-aio:{device identifier}/{data source}` where the data source is
/// the operation's own `dataSource` without its leading `/`s, and the identifier is
/// [`device_identifier`]. Just `ms-aio:{device identifier}` when the data source is empty or
/// when adding it would not give a valid RFC 3986 URI (a space, a non-ASCII character…).
///
/// Example: device `sse-device` with `externalDeviceId` `camera-42`, event data source
/// `/events/temperaturethreshold` → `ms-aio:camera-42/events/temperaturethreshold`.
pub fn source(
    device: &DeviceIdentity,
    protocol_specific: Option<&str>,
    data_source: &str,
) -> String {
    let base = format!("{SCHEME}{}", device_identifier(device, protocol_specific));
    let suffix = data_source.trim_start_matches('/');
    if suffix.is_empty() {
        return base;
    }
    let full = format!("{base}/{suffix}");
    if is_uri(&full) { full } else { base }
}

/// The asset part of `subject`: `externalAssetId` when set, not empty and different from the
/// asset's `uuid`; else the asset name.
pub fn asset_identifier(asset: &AssetIdentity) -> &str {
    match non_empty(asset.external_id.as_deref()) {
        Some(external) if Some(external) != asset.uuid.as_deref() => external,
        _ => &asset.name,
    }
}

/// CloudEvents `type`: `DataSet` or `Event`, followed by `/{typeRef}` when `type_ref` is given
/// and not empty (`Event/myTypeRef`).
pub fn event_type(kind: DataKind, type_ref: Option<&str>) -> String {
    let base = match kind {
        DataKind::Dataset => "DataSet",
        DataKind::Event => "Event",
    };
    match non_empty(type_ref) {
        Some(t) => format!("{base}/{t}"),
        None => base.to_owned(),
    }
}

/// CloudEvents `subject`: `{asset identifier}/{dataset}` for a dataset,
/// `{asset identifier}/{event group}/{event}` for an event (see [`asset_identifier`]).
pub fn subject(asset: &AssetIdentity, operation: &OperationId) -> String {
    let who = asset_identifier(asset);
    match operation {
        OperationId::Dataset { dataset, .. } => format!("{who}/{dataset}"),
        OperationId::Event { group, event, .. } => format!("{who}/{group}/{event}"),
    }
}

/// CloudEvents `time`: RFC 3339 in UTC with seconds precision and `Z`, from milliseconds since
/// the Unix epoch (truncated): `1777630530123` → `2026-05-01T10:15:30Z`.
pub fn time(millis: u64) -> String {
    model::time::rfc3339(millis)
}

/// CloudEvents `dataschema` of a registered schema: `aio-sr://{namespace}/{name}:{version}`.
pub fn data_schema(namespace: &str, name: &str, version: &str) -> String {
    format!("aio-sr://{namespace}/{name}:{version}")
}

/// The MQTT content type of a payload: [`CONTENT_TYPE_JSON`] when it parses as one JSON value
/// (object, array, string, number, `true`, `false`, `null`, surrounded by whitespace at most),
/// else [`CONTENT_TYPE_TEXT`]. Cheap: most text is rejected by its first byte, and JSON is
/// checked without building a value.
pub fn content_type(payload: &[u8]) -> &'static str {
    if is_json(payload) {
        CONTENT_TYPE_JSON
    } else {
        CONTENT_TYPE_TEXT
    }
}

/// Whether `payload` is exactly one JSON value (see [`content_type`]).
pub fn is_json(payload: &[u8]) -> bool {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok()
        }
        _ => false,
    }
}

/// Whether `text` is a URI by RFC 3986 section 3: `scheme ":" hier-part ["?" query]
/// ["#" fragment]`, with every character allowed where it stands and every `%` followed by two
/// hex digits. (An authority after `//` is checked for its characters only.)
pub fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return false;
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (hier, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    let tail_ok = |part: Option<&str>| {
        part.is_none_or(|p| valid_chars(p, |c| pchar(c) || matches!(c, '/' | '?')))
    };
    if !tail_ok(query) || !tail_ok(fragment) {
        return false;
    }
    match hier.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            valid_chars(authority, |c| pchar(c) || matches!(c, '[' | ']'))
                && valid_chars(path, |c| pchar(c) || c == '/')
        }
        None => valid_chars(hier, |c| pchar(c) || c == '/'),
    }
}

/// `pchar` without `pct-encoded`: unreserved, sub-delims, `:` and `@`.
fn pchar(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.'
                | '_'
                | '~'
                | '!'
                | '$'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | ';'
                | '='
                | ':'
                | '@'
        )
}

/// Every character passes `allowed`, or is a `%` followed by two hex digits.
fn valid_chars(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = char::from(bytes[i]);
        if c == '%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if bytes[i].is_ascii() && allowed(c) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The headers of one data operation's messages: what is fixed is computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationHeaders {
    device_ref: String,
    asset_ref: String,
    source: String,
    event_type: String,
    subject: String,
    data_schema: Option<String>,
    src_id: String,
}

impl OperationHeaders {
    /// The headers of `operation`'s messages sent by MQTT client `client_id`, with no schema
    /// reference; `source` uses no protocol-specific identifier.
    pub fn new(operation: &Operation, client_id: &str) -> Self {
        Self {
            device_ref: device_ref(&operation.device),
            asset_ref: asset_ref(&operation.asset),
            source: source(&operation.device, None, &operation.data_source),
            event_type: event_type(DataKind::from(&operation.id), operation.type_ref.as_deref()),
            subject: subject(&operation.asset, &operation.id),
            data_schema: None,
            src_id: client_id.to_owned(),
        }
    }

    /// Sets (or clears) the `dataschema` value, e.g. from [`data_schema`].
    pub fn with_data_schema(mut self, data_schema: Option<String>) -> Self {
        self.data_schema = data_schema.filter(|s| !s.is_empty());
        self
    }

    /// CloudEvents `source` of these messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// CloudEvents `subject` of these messages.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The user properties of one message, in the order of the module table: `sse-event`
    /// (when `sse_event` is not empty), `sse-id` (when `sse_id` is not empty), `aiodeviceref`,
    /// `aioassetref`, `id` = `id`, `source`, `specversion` = `1.0`, `type`, `subject`,
    /// `time` = [`time`]`(timestamp.millis)`, `dataschema` (when set), `__ts` = `timestamp`,
    /// `__protVer` = `1.0`, `__srcId` = the client id.
    pub fn user_properties(
        &self,
        id: String,
        timestamp: &HlcTimestamp,
        sse_event: &str,
        sse_id: &str,
    ) -> Vec<(String, String)> {
        let mut props = Vec::with_capacity(15);
        if !sse_event.is_empty() {
            props.push((SSE_EVENT.to_owned(), sse_event.to_owned()));
        }
        if !sse_id.is_empty() {
            props.push((SSE_ID.to_owned(), sse_id.to_owned()));
        }
        let fixed = [
            ("aiodeviceref", self.device_ref.clone()),
            ("aioassetref", self.asset_ref.clone()),
            ("id", id),
            ("source", self.source.clone()),
            ("specversion", SPEC_VERSION.to_owned()),
            ("type", self.event_type.clone()),
            ("subject", self.subject.clone()),
            ("time", time(timestamp.millis)),
        ];
        props.extend(fixed.into_iter().map(|(k, v)| (k.to_owned(), v)));
        if let Some(schema) = &self.data_schema {
            props.push(("dataschema".to_owned(), schema.clone()));
        }
        props.push(("__ts".to_owned(), timestamp.to_string()));
        props.push(("__protVer".to_owned(), PROTOCOL_VERSION.to_owned()));
        props.push(("__srcId".to_owned(), self.src_id.clone()));
        props
    }
}
