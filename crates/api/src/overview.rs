//! `GET /api/v1/overview`: the whole connector at a glance, for the UI's landing page. Drawn
//! from the same report as `GET /api/v1/status` (so the two never disagree) and from the
//! rate ring ([`crate::rates`]):
//!
//! - `counts`: devices, endpoints, assets and operations (datasets and events) by health
//!   (`Available`, `Degraded`, `Unavailable`, `Unknown`), and how many have a configuration
//!   error; a device's health is aggregated from its endpoints the way an asset's is from its
//!   parts;
//! - `broker`: the MQTT connection; `problems`: errors and warnings in the definitions;
//! - `rates`: events in and messages out per second over the last 15 minutes (`null`
//!   without a counter source);
//! - `attention`: every part with a configuration error or not `Available`, configuration
//!   errors first, then `Unavailable`, `Degraded`, `Unknown` (at most [`ATTENTION_LIMIT`];
//!   `attentionTotal` counts them all), each with its error text and the fix the message
//!   suggests (`fix`, e.g. the secrets to check).
//!
//! 404 when the listener has no status source.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::rates::Totals;
use crate::reply;
use crate::server::AppState;

/// The most items of the attention list in one reply.
pub const ATTENTION_LIMIT: usize = 200;

/// The health states, in the order the counts and the attention list use.
const STATES: [&str; 4] = ["Available", "Degraded", "Unavailable", "Unknown"];

/// How many parts of one kind are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All of them.
    pub total: u64,
    /// By health state (every state present, zero included).
    #[serde(flatten)]
    pub by_health: BTreeMap<&'static str, u64>,
    /// Those with a configuration error.
    pub errors: u64,
}

impl Counts {
    fn add(&mut self, health: &str, error: bool) {
        if self.by_health.is_empty() {
            self.by_health = STATES.iter().map(|s| (*s, 0)).collect();
        }
        self.total += 1;
        *self.by_health.entry(state(health)).or_default() += 1;
        self.errors += u64::from(error);
    }
}

/// The state among [`STATES`]; anything else is `Unknown`.
fn state(health: &str) -> &'static str {
    STATES
        .iter()
        .find(|s| **s == health)
        .copied()
        .unwrap_or("Unknown")
}

/// The counts of each kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AllCounts {
    /// Devices.
    pub devices: Counts,
    /// Inbound endpoints of the devices.
    pub endpoints: Counts,
    /// Assets.
    pub assets: Counts,
    /// Datasets and events.
    pub operations: Counts,
}

/// A part that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attention {
    /// `device`, `endpoint`, `asset`, `dataset` or `event`.
    pub kind: &'static str,
    /// Its device (devices and endpoints) or asset (assets, datasets, events).
    pub owner: String,
    /// The part of the owner: the endpoint's name, `dataset/NAME`, `event/GROUP/NAME`;
    /// empty for the device or asset itself.
    pub part: String,
    /// Its health state.
    pub health: &'static str,
    /// Whether it has a configuration error (which only a definition, secret or trust list
    /// change fixes).
    pub config_error: bool,
    /// The error's code or the health's reason code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What to do, as the message suggests it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Attention {
    /// Configuration errors first, then by state, then by name.
    fn rank(&self) -> (u8, usize) {
        (
            u8::from(!self.config_error),
            STATES
                .iter()
                .position(|s| *s == self.health)
                .map_or(0, |i| {
                    // Unavailable (2) before Degraded (1) before Unknown (3).
                    [3, 1, 0, 2][i]
                }),
        )
    }
}

/// What the status report says, summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The counts.
    pub counts: AllCounts,
    /// Every part that needs attention, most urgent first.
    pub attention: Vec<Attention>,
}

/// The advice at the end of a status message, where the connector puts it
/// (`<what happened>: <what to do>`, as `sse-client` classifies failures, with `; check
/// secret NAME` appended for credentials): the last `: `-separated segment when it says what
/// to do. The message of an invalid definition names the file and field instead.
pub fn fix(code: Option<&str>, message: &str) -> Option<String> {
    const VERBS: [&str; 7] = [
        "check ", "fix ", "raise ", "add ", "update ", "point ", "set ",
    ];
    if code == Some("invalid_definition") {
        return Some("correct the definition at the file and field the message names".to_owned());
    }
    let advice = message.rsplit(": ").next()?.trim();
    (advice != message.trim() && VERBS.iter().any(|verb| advice.contains(verb)))
        .then(|| advice.to_owned())
}

/// A part's configuration error: (code, message).
fn config_error(status: &Value) -> Option<(Option<String>, String)> {
    let error = status.get("error")?;
    let code = error.get("code").and_then(Value::as_str).map(str::to_owned);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((code, message))
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Aggregates parts' states the way assets are (`docs/status.md`): `Available` when all
/// are, `Unavailable` when all are, `Degraded` when some are not available, `Unknown` when
/// none reported.
fn aggregate<'a>(states: impl Iterator<Item = &'a str>) -> &'static str {
    let states: Vec<&str> = states.map(state).filter(|s| *s != "Unknown").collect();
    if states.is_empty() {
        "Unknown"
    } else if states.iter().all(|s| *s == "Available") {
        "Available"
    } else if states.iter().all(|s| *s == "Unavailable") {
        "Unavailable"
    } else {
        "Degraded"
    }
}

struct Part<'a> {
    kind: &'static str,
    owner: &'a str,
    part: String,
    health: &'a Value,
    error: Option<(Option<String>, String)>,
}

impl Summary {
    /// Counts every part of `report` (the JSON of `GET /api/v1/status`) and lists those that
    /// need attention.
    pub fn of(report: &Value) -> Self {
        let mut summary = Self::default();
        for device in items(report, "devices") {
            let name = text(device, "name");
            let status = device.get("status").unwrap_or(&Value::Null);
            let health = device.pointer("/health/endpoints").unwrap_or(&Value::Null);
            let errors = status.pointer("/endpoints/inbound").unwrap_or(&Value::Null);
            let mut names: Vec<&String> = health
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
                .collect();
            names.extend(errors.as_object().into_iter().flatten().map(|(k, _)| k));
            names.sort();
            names.dedup();
            let mut any_error = false;
            for endpoint in &names {
                let error = errors.get(endpoint.as_str()).and_then(config_error);
                any_error |= error.is_some();
                let part = Part {
                    kind: "endpoint",
                    owner: name,
                    part: (*endpoint).clone(),
                    health: health.get(endpoint.as_str()).unwrap_or(&Value::Null),
                    error,
                };
                summary.add(part, |c| &mut c.endpoints);
            }
            let state = aggregate(names.iter().map(|n| {
                health
                    .get(n.as_str())
                    .map_or("Unknown", |h| text(h, "status"))
            }));
            let error = config_error(status.get("config").unwrap_or(&Value::Null));
            summary
                .counts
                .devices
                .add(state, error.is_some() || any_error);
            if let Some((code, message)) = error {
                summary.attention.push(attention(
                    "device",
                    name,
                    String::new(),
                    state,
                    Some((code, message)),
                    None,
                ));
            }
        }
        for asset in items(report, "assets") {
            let name = text(asset, "name");
            let status = asset.get("status").unwrap_or(&Value::Null);
            let health = asset.get("health").unwrap_or(&Value::Null);
            let mut any_error = false;
            let mut parts = Vec::new();
            // By name: an asset may have thousands of parts.
            let dataset_health: HashMap<&str, &Value> = items(health, "datasets")
                .iter()
                .filter_map(|h| Some((text(h, "datasetName"), h.get("runtimeHealth")?)))
                .collect();
            let event_health: HashMap<(&str, &str), &Value> = items(health, "events")
                .iter()
                .filter_map(|h| {
                    let key = (text(h, "eventGroupName"), text(h, "eventName"));
                    Some((key, h.get("runtimeHealth")?))
                })
                .collect();
            for dataset in items(status, "datasets") {
                let ds = text(dataset, "name");
                let h = dataset_health.get(ds).copied().unwrap_or(&Value::Null);
                parts.push(Part {
                    kind: "dataset",
                    owner: name,
                    part: format!("dataset/{ds}"),
                    health: h,
                    error: config_error(dataset),
                });
            }
            for group in items(status, "eventGroups") {
                let g = text(group, "name");
                for event in items(group, "events") {
                    let e = text(event, "name");
                    let h = event_health.get(&(g, e)).copied().unwrap_or(&Value::Null);
                    parts.push(Part {
                        kind: "event",
                        owner: name,
                        part: format!("event/{g}/{e}"),
                        health: h,
                        error: config_error(event),
                    });
                }
            }
            for part in parts {
                any_error |= part.error.is_some();
                summary.add(part, |c| &mut c.operations);
            }
            let state = match text(health, "status") {
                "" => "Unknown",
                s => state(s),
            };
            let error = config_error(status.get("config").unwrap_or(&Value::Null));
            summary
                .counts
                .assets
                .add(state, error.is_some() || any_error);
            if error.is_some() || state != "Available" {
                summary.attention.push(attention(
                    "asset",
                    name,
                    String::new(),
                    state,
                    error,
                    Some(health),
                ));
            }
        }
        summary.attention.sort_by(|a, b| {
            a.rank()
                .cmp(&b.rank())
                .then_with(|| (&a.owner, &a.part).cmp(&(&b.owner, &b.part)))
        });
        summary
    }

    /// Counts a part with `counts` and lists it when it needs attention.
    fn add(&mut self, part: Part<'_>, counts: impl Fn(&mut AllCounts) -> &mut Counts) {
        let state = state(match text(part.health, "status") {
            "" => "Unknown",
            s => s,
        });
        counts(&mut self.counts).add(state, part.error.is_some());
        if part.error.is_some() || state != "Available" {
            self.attention.push(attention(
                part.kind,
                part.owner,
                part.part,
                state,
                part.error,
                Some(part.health),
            ));
        }
    }
}

/// An attention item: the configuration error when there is one, else the health's reason.
fn attention(
    kind: &'static str,
    owner: &str,
    part: String,
    health: &'static str,
    error: Option<(Option<String>, String)>,
    runtime: Option<&Value>,
) -> Attention {
    let config_error = error.is_some();
    let (code, message) = match error {
        Some((code, message)) => (code, Some(message)),
        None => {
            let runtime = runtime.unwrap_or(&Value::Null);
            let code = Some(text(runtime, "reasonCode")).filter(|c| !c.is_empty());
            let message = Some(text(runtime, "message")).filter(|m| !m.is_empty());
            (code.map(str::to_owned), message.map(str::to_owned))
        }
    };
    let fix = message.as_deref().and_then(|m| fix(code.as_deref(), m));
    Attention {
        kind,
        owner: owner.to_owned(),
        part,
        health,
        config_error,
        code,
        message,
        fix,
    }
}

/// The reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Overview<'a> {
    generated_at: &'a Value,
    connector: Connector<'a>,
    broker: &'a Value,
    problems: Problems,
    counts: AllCounts,
    rates: Option<Totals>,
    attention_total: usize,
    attention: &'a [Attention],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Connector<'a> {
    instance: &'a Value,
    version: &'a Value,
    started_at: &'a Value,
}

#[derive(Debug, Serialize)]
struct Problems {
    errors: usize,
    warnings: usize,
}

pub(crate) async fn show(State(state): State<Arc<AppState>>) -> Response {
    let Some(source) = &state.status else {
        return reply::error(
            StatusCode::NOT_FOUND,
            "no status is available to this listener",
        );
    };
    let rates = state
        .rates
        .as_ref()
        .map(|rates| rates.read(|ring| ring.totals()));
    let report = source.status();
    let summary = Summary::of(&report);
    let connector = report.get("connector").unwrap_or(&Value::Null);
    let field = |key: &str| connector.get(key).unwrap_or(&Value::Null);
    let severity = |s: &str| {
        items(&report, "problems")
            .iter()
            .filter(|p| text(p, "severity") == s)
            .count()
    };
    let attention = &summary.attention[..summary.attention.len().min(ATTENTION_LIMIT)];
    Json(Overview {
        generated_at: field("generatedAt"),
        connector: Connector {
            instance: field("instance"),
            version: field("version"),
            started_at: field("startedAt"),
        },
        broker: field("broker"),
        problems: Problems {
            errors: severity("error"),
            warnings: severity("warning"),
        },
        counts: summary.counts.clone(),
        rates,
        attention_total: summary.attention.len(),
        attention,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "connector": {"instance": "c", "broker": {"url": "mqtt://h:1883", "connected": true}},
            "devices": [
                {"name": "good", "status": {"config": {}}, "health": {"endpoints": {"sse": {"status": "Available"}}}},
                {"name": "locked",
                 "status": {"config": {}, "endpoints": {"inbound": {"sse": {"error": {"code": "401",
                    "message": "401 Unauthorized from http://h:1/events: check the username and password (or the credentials the server expects); check secret creds/username and creds/password"}}}}},
                 "health": {"endpoints": {"sse": {"status": "Unavailable", "reasonCode": "SseConnectorStreamError"}}}},
                {"name": "broken", "status": {"config": {"error": {"code": "invalid_definition", "message": "devices/broken.yaml: spec: missing field"}}}}
            ],
            "assets": [
                {"name": "weather", "status": {"config": {}, "datasets": [{"name": "current"}],
                  "eventGroups": [{"name": "alerts", "events": [{"name": "storm"}]}]},
                 "health": {"status": "Degraded",
                  "datasets": [{"datasetName": "current", "runtimeHealth": {"status": "Available"}}],
                  "events": [{"eventGroupName": "alerts", "eventName": "storm", "runtimeHealth": {"status": "Degraded",
                    "reasonCode": "SseConnectorSchemaGenerationFailure", "message": "failed to create the message schema: the payload is not JSON"}}]}},
                {"name": "fresh", "status": {"config": {}, "datasets": [{"name": "d"}]}, "health": {}}
            ]
        })
    }

    #[test]
    fn counts_every_kind_by_health() {
        let summary = Summary::of(&report());
        let c = &summary.counts;
        let by = |c: &Counts, s: &str| c.by_health.get(s).copied().unwrap_or(99);
        assert_eq!((c.devices.total, c.devices.errors), (3, 2));
        assert_eq!(by(&c.devices, "Available"), 1);
        assert_eq!(by(&c.devices, "Unavailable"), 1);
        assert_eq!(by(&c.devices, "Unknown"), 1);
        assert_eq!((c.endpoints.total, c.endpoints.errors), (2, 1));
        assert_eq!(
            (
                c.assets.total,
                by(&c.assets, "Degraded"),
                by(&c.assets, "Unknown")
            ),
            (2, 1, 1)
        );
        assert_eq!(c.operations.total, 3);
        assert_eq!(by(&c.operations, "Available"), 1);
        assert_eq!(by(&c.operations, "Degraded"), 1);
        assert_eq!(by(&c.operations, "Unknown"), 1);
    }

    #[test]
    fn attention_lists_errors_first_with_their_fix() {
        let summary = Summary::of(&report());
        let names: Vec<String> = summary
            .attention
            .iter()
            .map(|a| format!("{} {}/{} {}", a.kind, a.owner, a.part, a.health))
            .collect();
        assert_eq!(
            names,
            [
                "endpoint locked/sse Unavailable",
                "device broken/ Unknown",
                "asset weather/ Degraded",
                "event weather/event/alerts/storm Degraded",
                "asset fresh/ Unknown",
                "dataset fresh/dataset/d Unknown",
            ]
        );
        let locked = &summary.attention[0];
        assert!(locked.config_error);
        assert_eq!(locked.code.as_deref(), Some("401"));
        assert_eq!(
            locked.fix.as_deref(),
            Some(
                "check the username and password (or the credentials the server expects); check secret creds/username and creds/password"
            )
        );
        let storm = &summary.attention[3];
        assert_eq!(
            storm.code.as_deref(),
            Some("SseConnectorSchemaGenerationFailure")
        );
        assert_eq!(storm.fix, None, "the message suggests nothing to do");
    }

    #[test]
    fn the_fix_is_the_advice_at_the_end_of_a_message() {
        let cases = [
            (
                None,
                "connect to http://h:1/x failed: Connection refused: check the address and that the server is reachable; retrying",
                Some("check the address and that the server is reachable; retrying"),
            ),
            (None, "the server ended the stream; reconnecting", None),
            (
                None,
                "SSE stream error: 404 Not Found from http://h:1/x: check the address and data source path",
                Some("check the address and data source path"),
            ),
            (
                Some("invalid_definition"),
                "a.yaml: spec: bad",
                Some("correct the definition at the file and field the message names"),
            ),
            (
                None,
                "trust list t: fix or replace the trust list file",
                Some("fix or replace the trust list file"),
            ),
        ];
        for (code, message, expected) in cases {
            assert_eq!(fix(code, message).as_deref(), expected, "{message}");
        }
    }
}
