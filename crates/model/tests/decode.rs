//! Every problem of a document at once: type errors past the first, the checks of what is
//! left once the values at fault are set aside, and unknown configuration keys.

mod common;

use std::collections::BTreeSet;

use common::*;
use model::resource::decode;
use model::{Accepted, Partial, Unreadable};
use serde_json::json;

#[test]
fn every_type_error_of_a_resource_is_reported_with_its_path() {
    let doc = asset(
        "a",
        json!({"enabled": "maybe", "datasets": [
            {"name": "d1", "destinations": [{"target": "Mqtt", "configuration": {"topic": "t", "qos": "Qos7"}}]},
            {"name": "d2", "destinations": [{"target": "Mqtt", "configuration": {"topic": "t", "retain": "Always"}}]}
        ]}),
    );
    let err = decode(doc, "x").expect_err("rejected");
    let found: Vec<_> = err.errors().map(|(p, m)| format!("{p}: {m}")).collect();
    assert_eq!(
        found,
        [
            "spec.datasets[0].destinations[0].configuration.qos: unknown variant Qos7, expected Qos0 or Qos1",
            "spec.datasets[1].destinations[0].configuration.retain: unknown variant Always, expected Keep or Never",
            "spec.enabled: invalid type: string \"maybe\", expected a boolean",
        ]
    );
    assert_eq!(err.resource.as_deref(), Some("Asset/a"));
    assert!(err.partial.is_some(), "only map keys were set aside");
}

#[test]
fn a_partial_resource_is_checked_but_never_applied_and_the_last_good_stays() {
    let env = FakeEnv::default();
    let dev = located("d.yaml", device("dev", anonymous_endpoint()));
    let good = located(
        "a.yaml",
        asset(
            "a",
            json!({"datasets": [{"name": "d", "destinations": mqtt("t/1")}]}),
        ),
    );
    let first = build(&env, vec![dev.clone(), good]);
    assert!(errors(&first).is_empty(), "{:#?}", errors(&first));
    let old_plan = first.plan.clone();

    // The new version has a type error and, besides it, a wildcard topic.
    let bad = asset(
        "a",
        json!({"datasets": [{"name": "d", "destinations": [{"target": "Mqtt",
            "configuration": {"topic": "t/#", "qos": "Qos7"}}]}]}),
    );
    let err = decode(bad, "x").expect_err("rejected");
    let partial = Partial {
        located: model::Located {
            file: "a.yaml".into(),
            document: 1,
            resource: *err.partial.clone().expect("partial"),
        },
        faults: err.errors().map(|(p, _)| p.clone()).collect(),
    };
    let unreadable = Unreadable {
        resources: BTreeSet::from([(model::Kind::Asset, "a".to_owned())]),
        partial: vec![partial],
        ..Unreadable::default()
    };
    let second = model::build(&[dev], &unreadable, &env, &first.accepted);
    let errs = errors(&second);
    assert_one_error(
        &errs,
        &[
            "spec.datasets[0].destinations[0].configuration.topic",
            "wildcard",
        ],
    );
    assert_eq!(
        second.plan, old_plan,
        "the last good version stays in force"
    );

    // Without a last good version, nothing runs.
    let third = model::build(&[], &unreadable, &env, &Accepted::new());
    assert!(third.plan.is_empty());
}

#[test]
fn problems_where_a_value_was_set_aside_are_not_reported_twice() {
    // `topic: 5` is a type error; once set aside, the topic is missing: not reported again.
    let doc = asset(
        "a",
        json!({"datasets": [{"name": "d", "destinations": [{"target": "Mqtt",
            "configuration": {"topic": 5}}]}]}),
    );
    let err = decode(doc, "x").expect_err("rejected");
    let partial = Partial {
        located: model::Located {
            file: "a.yaml".into(),
            document: 1,
            resource: *err.partial.clone().expect("partial"),
        },
        faults: err.errors().map(|(p, _)| p.clone()).collect(),
    };
    let env = FakeEnv::default();
    let unreadable = Unreadable {
        partial: vec![partial],
        ..Unreadable::default()
    };
    let dev = located("d.yaml", device("dev", anonymous_endpoint()));
    let b = model::build(&[dev], &unreadable, &env, &Accepted::new());
    assert!(errors(&b).is_empty(), "{:#?}", errors(&b));
}

#[test]
fn unknown_configuration_keys_are_warnings_and_known_ones_are_not() {
    let env = FakeEnv::default();
    let spec = json!({
        "defaultDatasetsDestinations": mqtt("t"),
        "defaultDatasetsConfiguration": "{\"eventTypes\": [\"a\"], \"samplingInterval\": 5}",
        "defaultStreamsConfiguration": "{\"anything\": 1}",
        "datasets": [{"name": "d", "datasetConfiguration": "{\"eventTypes\": [\"reading\"]}"}],
        "eventGroups": [{"name": "g", "defaultDestinations": mqtt("e"),
            "eventGroupConfiguration": "{\"queueSize\": 1}",
            "events": [{"name": "e", "dataSource": "alarm", "eventConfiguration": "{}"}]}]
    });
    let b = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located("a.yaml", asset("a", spec)),
        ],
    );
    assert!(errors(&b).is_empty(), "{:#?}", errors(&b));
    let warnings: Vec<_> = b
        .problems
        .iter()
        .filter(|p| !p.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        [
            "a.yaml: Asset/a: spec.defaultDatasetsConfiguration: unknown key \"samplingInterval\", \
             kept but not acted on (this connector reads eventTypes, transform)",
            "a.yaml: Asset/a: spec.eventGroups[0].eventGroupConfiguration: unknown key \"queueSize\", \
             kept but not acted on (this connector reads no key here)",
        ]
    );
    assert_eq!(b.plan.len(), 2, "warnings do not stop anything");
}
