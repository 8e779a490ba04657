//! Destinations: the model's `DatasetDestination` / `EventDestination` / `StreamDestination`,
//! and their resolution (DESIGN 3.4) into a [`Sink`] the sinks only execute.
//!
//! Resolution: a dataset uses `dataset.destinations[0]`, else
//! `asset.defaultDatasetsDestinations[0]`; an event uses `event.destinations[0]`, else
//! `eventGroup.defaultDestinations[0]`, else `asset.defaultEventsDestinations[0]`. An empty list
//! counts as absent. Defaults: `qos` `Qos1`, `retain` `Never`, no `ttl`.

use serde::{Deserialize, Serialize};

use crate::environment::safe_relative_path;
use crate::error::Error;
use crate::extra::{Extra, impl_extras};
use crate::problem::FieldPath;

/// One destination as written in a definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// Where to.
    pub target: Target,
    /// Target-specific settings; which fields are required depends on `target`.
    #[serde(default)]
    pub configuration: DestinationConfiguration,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(Destination {
    configuration: "configuration"
});

/// `target` of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Target {
    /// An MQTT topic.
    Mqtt,
    /// A key in the broker's state store (datasets only).
    BrokerStateStore,
    /// A file below the storage root.
    Storage,
}

/// MQTT quality of service.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Qos {
    /// At most once.
    Qos0,
    /// At least once (the default).
    #[default]
    Qos1,
}

/// MQTT retain flag.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Retain {
    /// Publish retained.
    Keep,
    /// Publish not retained (the default).
    #[default]
    Never,
}

/// `DestinationConfiguration`: the union of every target's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationConfiguration {
    /// `Mqtt`: topic (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `Mqtt`: QoS, default `Qos1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<Qos>,
    /// `Mqtt`: retain, default `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<Retain>,
    /// `Mqtt`: message expiry in seconds. Signed so that a negative value is reported, not
    /// rejected by the reader without a field path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// `BrokerStateStore`: key (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Storage`: path relative to the storage root (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Fields this model does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
impl_extras!(DestinationConfiguration {});

/// A resolved destination: what a sink executes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sink {
    /// Publish to an MQTT topic.
    Mqtt {
        /// Topic name (no wildcards).
        topic: String,
        /// QoS.
        qos: Qos,
        /// Retain flag.
        retain: Retain,
        /// Message expiry interval in seconds.
        ttl: Option<u32>,
    },
    /// SET the latest payload at a state store key.
    BrokerStateStore {
        /// The key.
        key: String,
    },
    /// Append JSON lines to a file below the storage root.
    Storage {
        /// Relative path.
        path: String,
    },
}

/// What kind of operation a destination serves; decides which targets are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Datasets: `Mqtt`, `BrokerStateStore`, `Storage`.
    Dataset,
    /// Events and streams: `Mqtt`, `Storage`.
    Event,
}

/// The first destination of the first non-empty list, with its path.
pub fn first<'a>(
    candidates: impl IntoIterator<Item = (Option<&'a Vec<Destination>>, FieldPath)>,
) -> Option<(&'a Destination, FieldPath)> {
    candidates.into_iter().find_map(|(list, path)| {
        list.and_then(|l| l.first())
            .map(|destination| (destination, path.index(0)))
    })
}

/// Checks one destination and turns it into a [`Sink`]; every problem comes with the path of
/// the field at fault (below `path`, the destination's own path).
pub fn resolve(
    destination: &Destination,
    usage: Use,
    path: &FieldPath,
) -> Result<Sink, Vec<(FieldPath, String)>> {
    let config = &destination.configuration;
    let cpath = path.key("configuration");
    let mut problems = Vec::new();
    let sink = match destination.target {
        Target::Mqtt => {
            let topic = config.topic.clone().unwrap_or_default();
            if let Err(why) = check_topic(&topic) {
                problems.push((cpath.key("topic"), why));
            }
            let ttl = match config.ttl {
                None => None,
                Some(t) => match u32::try_from(t) {
                    Ok(t) => Some(t),
                    Err(_) => {
                        problems.push((
                            cpath.key("ttl"),
                            format!("{t} is out of range: seconds from 0 to {}", u32::MAX),
                        ));
                        None
                    }
                },
            };
            Sink::Mqtt {
                topic,
                qos: config.qos.unwrap_or_default(),
                retain: config.retain.unwrap_or_default(),
                ttl,
            }
        }
        Target::BrokerStateStore => {
            if usage == Use::Event {
                problems.push((
                    path.key("target"),
                    "BrokerStateStore is for datasets only; use Mqtt or Storage".to_owned(),
                ));
            }
            let key = config.key.clone().unwrap_or_default();
            if key.is_empty() {
                problems.push((cpath.key("key"), "required: the state store key".to_owned()));
            }
            Sink::BrokerStateStore { key }
        }
        Target::Storage => {
            let p = config.path.clone().unwrap_or_default();
            if let Err(why) = safe_relative_path(&p) {
                problems.push((cpath.key("path"), why));
            }
            Sink::Storage { path: p }
        }
    };
    if problems.is_empty() {
        Ok(sink)
    } else {
        Err(problems)
    }
}

/// An MQTT topic name a message can be published to: not empty, no wildcards, no NUL, at most
/// 65,535 bytes (MQTT v5 §4.7).
pub fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        Err("required: an MQTT topic".to_owned())
    } else if topic.contains(['+', '#']) {
        Err(format!(
            "{topic:?} contains a wildcard (+ or #); a publish topic cannot"
        ))
    } else if topic.contains('\0') {
        Err("contains a NUL character".to_owned())
    } else if topic.len() > 65_535 {
        Err("is longer than 65535 bytes".to_owned())
    } else {
        Ok(())
    }
}

/// Parses the CLI's `--dest` value: `topic=T[,qos=Qos1,retain=Never,ttl=3600]`, `key=K`
/// (state store) or `path=P` (storage). Pairs are separated by commas or spaces. Only the
/// fields given are written; the model's defaults apply to the others.
pub fn parse_cli(spec: &str) -> Result<Destination, Error> {
    let bad = |why: String| Error::DestinationSpec {
        spec: spec.to_owned(),
        why,
    };
    let mut config = DestinationConfiguration::default();
    for pair in spec.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| bad(format!("{pair:?} is not key=value")))?;
        let v = v.trim_matches('"').to_owned();
        match k.to_ascii_lowercase().as_str() {
            "topic" => config.topic = Some(v),
            "key" => config.key = Some(v),
            "path" => config.path = Some(v),
            "qos" => {
                config.qos = Some(match v.to_ascii_lowercase().as_str() {
                    "qos0" | "0" => Qos::Qos0,
                    "qos1" | "1" => Qos::Qos1,
                    _ => return Err(bad(format!("qos {v:?}: use Qos0 or Qos1"))),
                })
            }
            "retain" => {
                config.retain = Some(match v.to_ascii_lowercase().as_str() {
                    "keep" => Retain::Keep,
                    "never" => Retain::Never,
                    _ => return Err(bad(format!("retain {v:?}: use Keep or Never"))),
                })
            }
            "ttl" => {
                config.ttl = Some(
                    v.parse()
                        .map_err(|_| bad(format!("ttl {v:?} is not a whole number of seconds")))?,
                )
            }
            other => return Err(bad(format!("unknown setting {other:?}"))),
        }
    }
    let target = match (&config.topic, &config.key, &config.path) {
        (Some(_), None, None) => Target::Mqtt,
        (None, Some(_), None) => Target::BrokerStateStore,
        (None, None, Some(_)) => Target::Storage,
        _ => return Err(bad("give exactly one of topic=, key= or path=".to_owned())),
    };
    if target != Target::Mqtt
        && (config.qos.is_some() || config.retain.is_some() || config.ttl.is_some())
    {
        return Err(bad("qos, retain and ttl apply to topic= only".to_owned()));
    }
    Ok(Destination {
        target,
        configuration: config,
        extra: Extra::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(topic: &str) -> Destination {
        Destination {
            target: Target::Mqtt,
            configuration: DestinationConfiguration {
                topic: Some(topic.to_owned()),
                ..Default::default()
            },
            extra: Extra::new(),
        }
    }

    #[test]
    fn first_skips_absent_and_empty_lists() {
        let empty: Vec<Destination> = Vec::new();
        let defaults = vec![mqtt("default")];
        let (d, path) = first([
            (None, FieldPath::new("a")),
            (Some(&empty), FieldPath::new("b")),
            (Some(&defaults), FieldPath::new("c")),
        ])
        .expect("found");
        assert_eq!(d.configuration.topic.as_deref(), Some("default"));
        assert_eq!(path.as_str(), "c[0]");
        assert!(first([(Some(&empty), FieldPath::new("b"))]).is_none());
    }

    #[test]
    fn mqtt_defaults_are_qos1_never_no_ttl() {
        let sink = resolve(&mqtt("t/1"), Use::Dataset, &FieldPath::root()).expect("valid");
        assert_eq!(
            sink,
            Sink::Mqtt {
                topic: "t/1".into(),
                qos: Qos::Qos1,
                retain: Retain::Never,
                ttl: None
            }
        );
    }

    #[test]
    fn topic_rules() {
        for bad in ["", "a/+/b", "a/#", "a\0b"] {
            assert!(check_topic(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_topic(&"x".repeat(65_536)).is_err());
        assert!(check_topic("azure-iot-operations/data/erp").is_ok());
    }

    #[test]
    fn ttl_out_of_range_is_reported_at_its_path() {
        for ttl in [-1, i64::from(u32::MAX) + 1] {
            let mut d = mqtt("t");
            d.configuration.ttl = Some(ttl);
            let errs = resolve(&d, Use::Event, &FieldPath::new("d")).expect_err("rejected");
            assert_eq!(errs[0].0.as_str(), "d.configuration.ttl");
        }
        let mut d = mqtt("t");
        d.configuration.ttl = Some(3600);
        assert!(matches!(
            resolve(&d, Use::Event, &FieldPath::root()),
            Ok(Sink::Mqtt {
                ttl: Some(3600),
                ..
            })
        ));
    }

    #[test]
    fn state_store_is_for_datasets_only_and_needs_a_key() {
        let d = parse_cli("key=weather/latest").expect("parsed");
        assert_eq!(
            resolve(&d, Use::Dataset, &FieldPath::root()),
            Ok(Sink::BrokerStateStore {
                key: "weather/latest".into()
            })
        );
        let errs = resolve(&d, Use::Event, &FieldPath::root()).expect_err("rejected");
        assert_eq!(errs[0].0.as_str(), "target");
        let mut no_key = d.clone();
        no_key.configuration.key = None;
        let errs = resolve(&no_key, Use::Dataset, &FieldPath::root()).expect_err("rejected");
        assert_eq!(errs[0].0.as_str(), "configuration.key");
    }

    #[test]
    fn storage_path_must_stay_below_the_root() {
        for bad in ["", "/etc/x", "../x", "a/../../x"] {
            let d = parse_cli(&format!("path={bad}"));
            let d = match d {
                Ok(d) => d,
                Err(_) => continue, // empty value is refused by the CLI parser already
            };
            assert!(
                resolve(&d, Use::Event, &FieldPath::root()).is_err(),
                "{bad:?}"
            );
        }
        let d = parse_cli("path=events/a.jsonl").expect("parsed");
        assert!(resolve(&d, Use::Event, &FieldPath::root()).is_ok());
    }

    #[test]
    fn cli_spec_parsing() {
        let d = parse_cli("topic=a/b,qos=Qos0,retain=Keep,ttl=60").expect("parsed");
        assert_eq!(d.target, Target::Mqtt);
        assert_eq!(d.configuration.qos, Some(Qos::Qos0));
        assert_eq!(d.configuration.retain, Some(Retain::Keep));
        assert_eq!(d.configuration.ttl, Some(60));
        let d = parse_cli("topic=a/b qos=1").expect("space separated");
        assert_eq!(d.configuration.qos, Some(Qos::Qos1));
        assert_eq!(d.configuration.retain, None, "defaults are not written");
        for bad in [
            "",
            "topic",
            "topic=a,key=b",
            "key=k,qos=Qos1",
            "topic=a,qos=Qos2",
            "topic=a,ttl=soon",
            "topic=a,retain=Always",
            "colour=red",
        ] {
            assert!(parse_cli(bad).is_err(), "{bad:?} accepted");
        }
    }
}
