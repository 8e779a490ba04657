//! The last-good rule and plan differences.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use model::{Accepted, OperationId, Unreadable, diff};
use serde_json::json;

fn good_asset(topic: &str) -> serde_json::Value {
    asset(
        "a",
        json!({"datasets": [{"name": "d", "dataSource": "/x", "destinations": mqtt(topic)}]}),
    )
}

#[test]
fn an_invalid_new_version_keeps_the_last_good_one() {
    let env = FakeEnv::default();
    let dev = located("d.yaml", device("dev", anonymous_endpoint()));
    let first = build(
        &env,
        vec![dev.clone(), located("a.yaml", good_asset("t/1"))],
    );
    assert!(first.problems.is_empty());

    let broken = located("a.yaml", good_asset("t/#"));
    let second = model::build(
        &[dev.clone(), broken],
        &Unreadable::default(),
        &env,
        &first.accepted,
    );
    assert!(second.has_errors());
    assert!(
        second
            .problems
            .iter()
            .any(|p| p.message.contains("last good version stays in force"))
    );
    assert_eq!(second.plan, first.plan, "the old dataset keeps running");
    assert!(diff(&first.plan, &second.plan).is_empty());
}

#[test]
fn a_broken_device_keeps_its_last_good_version_and_its_assets_keep_running() {
    let env = FakeEnv::default();
    let a = located("a.yaml", good_asset("t/1"));
    let first = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            a.clone(),
        ],
    );
    let bad_dev = located(
        "d.yaml",
        device(
            "dev",
            json!({"endpointType": "Microsoft.SSEHttp", "address": "ftp://h"}),
        ),
    );
    let second = model::build(&[bad_dev, a], &Unreadable::default(), &env, &first.accepted);
    assert_eq!(errors(&second).len(), 1, "{:#?}", second.problems);
    assert_eq!(second.plan, first.plan);
}

#[test]
fn without_a_last_good_version_an_invalid_resource_is_not_run_but_others_are() {
    let env = FakeEnv::default();
    let b = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located("a.yaml", good_asset("t/#")),
            located(
                "b.yaml",
                asset(
                    "b",
                    json!({"datasets": [{"name": "d", "destinations": mqtt("ok")}]}),
                ),
            ),
        ],
    );
    let ids: Vec<_> = b.plan.operations.keys().map(ToString::to_string).collect();
    assert_eq!(ids, ["b/datasets/d"]);
}

#[test]
fn an_unreadable_file_keeps_the_resources_it_held() {
    let env = FakeEnv::default();
    let first = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located("a.yaml", good_asset("t")),
        ],
    );
    let unreadable = Unreadable {
        files: BTreeSet::from([PathBuf::from("a.yaml")]),
        ..Unreadable::default()
    };
    let second = model::build(
        &[located("d.yaml", device("dev", anonymous_endpoint()))],
        &unreadable,
        &env,
        &first.accepted,
    );
    assert_eq!(second.plan, first.plan);
    assert!(
        second
            .problems
            .iter()
            .any(|p| p.resource == "Asset/a" && p.message.contains("cannot be read"))
    );
    // Once the file is deleted (not just unreadable), its resources go.
    let third = model::build(
        &[located("d.yaml", device("dev", anonymous_endpoint()))],
        &Unreadable::default(),
        &env,
        &second.accepted,
    );
    assert!(third.plan.is_empty());
}

#[test]
fn a_last_good_version_that_is_no_longer_valid_is_stopped() {
    let env = FakeEnv::with(&["s/u", "s/p"], &[]);
    let auth = json!({"endpointType": "Microsoft.SSEHttp", "address": "https://h", "authentication": {"method": "UsernamePassword",
        "usernamePasswordCredentials": {"usernameSecretName": "s/u", "passwordSecretName": "s/p"}}});
    let first = build(
        &env,
        vec![
            located("d.yaml", device("dev", auth.clone())),
            located("a.yaml", good_asset("t")),
        ],
    );
    assert_eq!(first.plan.len(), 1);
    // The secret disappears and the device is edited badly: neither version is valid.
    let env = FakeEnv::with(&["s/u"], &[]);
    let mut bad = auth;
    bad["address"] = json!("ftp://h");
    let second = model::build(
        &[
            located("d.yaml", device("dev", bad)),
            located("a.yaml", good_asset("t")),
        ],
        &Unreadable::default(),
        &env,
        &first.accepted,
    );
    assert!(second.plan.is_empty());
    assert!(
        second
            .problems
            .iter()
            .any(|p| p.message.contains("no longer valid either"))
    );
}

#[test]
fn diff_reports_added_changed_removed_including_secret_versions() {
    let mut env = FakeEnv::with(&["s/u", "s/p"], &[]);
    let dev = located(
        "d.yaml",
        device(
            "dev",
            json!({"endpointType": "Microsoft.SSEHttp", "address": "https://h",
        "authentication": {"method": "UsernamePassword",
        "usernamePasswordCredentials": {"usernameSecretName": "s/u", "passwordSecretName": "s/p"}}}),
        ),
    );
    let two = |topic: &str, second: &str| {
        located(
            "a.yaml",
            asset(
                "a",
                json!({"datasets": [
        {"name": "d", "destinations": mqtt(topic)}, {"name": second, "destinations": mqtt("x")}]}),
            ),
        )
    };
    let a = build(&env, vec![dev.clone(), two("t/1", "old")]);
    let b = build(&env, vec![dev.clone(), two("t/2", "new")]);
    let d = diff(&a.plan, &b.plan);
    let id = |n: &str| OperationId::Dataset {
        asset: "a".into(),
        dataset: n.into(),
    };
    assert_eq!(d.added, BTreeSet::from([id("new")]));
    assert_eq!(d.changed, BTreeSet::from([id("d")]));
    assert_eq!(d.removed, BTreeSet::from([id("old")]));
    assert!(diff(&b.plan, &b.plan).is_empty());
    // Same definitions, a secret file rewritten: every operation using it changes.
    env.version = 1;
    let c = model::build(
        &[dev, two("t/2", "new")],
        &Unreadable::default(),
        &env,
        &Accepted::new(),
    );
    let d = diff(&b.plan, &c.plan);
    assert_eq!(d.changed, BTreeSet::from([id("d"), id("new")]));
    assert!(d.added.is_empty() && d.removed.is_empty());
}
