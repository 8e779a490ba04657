//! One test (at least) per validation rule, through the public `build` entry point.

mod common;

use common::*;
use model::destination::{Qos, Retain, Sink};
use model::resource::{Decoded, decode};
use model::{Credentials, Match, OperationId};
use serde_json::json;

#[test]
fn dataset_resolves_url_destination_and_defaults() {
    let env = FakeEnv::default();
    let b = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located(
                "a.yaml",
                asset(
                    "a",
                    json!({
                        "defaultDatasetsDestinations": mqtt("default/topic"),
                        "datasets": [
                            {"name": "own", "dataSource": "/api/weather", "typeRef": "weather",
                             "destinations": [{"target": "Mqtt", "configuration":
                                {"topic": "t/own", "qos": "Qos0", "retain": "Keep", "ttl": 3600}}]},
                            {"name": "defaulted", "dataSource": "api/other",
                             "datasetConfiguration": "{\"eventTypes\": [\"reading\"]}"},
                            {"name": "latest", "destinations": [{"target": "BrokerStateStore",
                                "configuration": {"key": "weather/latest"}}]}
                        ]
                    }),
                ),
            ),
        ],
    );
    assert!(errors(&b).is_empty(), "{:#?}", b.problems);
    let op = |name: &str| {
        &b.plan.operations[&OperationId::Dataset {
            asset: "a".into(),
            dataset: name.into(),
        }]
    };
    let own = op("own");
    assert_eq!(
        own.stream.url.as_str(),
        "https://dev.example:8443/base/api/weather"
    );
    assert_eq!(own.stream.credentials, Credentials::Anonymous);
    assert_eq!(
        own.sink,
        Sink::Mqtt {
            topic: "t/own".into(),
            qos: Qos::Qos0,
            retain: Retain::Keep,
            ttl: Some(3600)
        }
    );
    assert_eq!(own.matching, Match::All);
    assert_eq!(own.data_source, "/api/weather");
    assert_eq!(own.type_ref.as_deref(), Some("weather"));
    let defaulted = op("defaulted");
    assert_eq!(defaulted.data_source, "api/other");
    assert_eq!(defaulted.type_ref, None);
    assert_eq!(op("latest").data_source, "", "absent dataSource");
    assert_eq!(
        defaulted.stream.url.as_str(),
        "https://dev.example:8443/base/api/other"
    );
    assert_eq!(
        defaulted.sink,
        Sink::Mqtt {
            topic: "default/topic".into(),
            qos: Qos::Qos1,
            retain: Retain::Never,
            ttl: None
        }
    );
    assert!(defaulted.matching.accepts("reading") && !defaulted.matching.accepts("message"));
    assert_eq!(
        op("latest").stream.url.as_str(),
        "https://dev.example:8443/base"
    );
    assert_eq!(
        op("latest").sink,
        Sink::BrokerStateStore {
            key: "weather/latest".into()
        }
    );
    assert_eq!(b.plan.streams().len(), 3);
}

#[test]
fn event_destinations_fall_back_event_then_group_then_asset() {
    let env = FakeEnv::default();
    let b = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located(
                "a.yaml",
                asset(
                    "a",
                    json!({
                        "defaultEventsDestinations": mqtt("asset/default"),
                        "eventGroups": [
                            {"name": "g1", "dataSource": "/events", "defaultDestinations": mqtt("group/default"),
                             "events": [
                                {"name": "own", "dataSource": "alarm", "destinations": mqtt("event/own"),
                                 "typeRef": "alarmType"},
                                {"name": "group", "dataSource": " warning ", "typeRef": "  "},
                                {"name": "path", "dataSource": "/events/temperaturethreshold"}
                             ]},
                            {"name": "g2", "events": [{"name": "asset", "dataSource": "message"}]}
                        ]
                    }),
                ),
            ),
        ],
    );
    assert!(errors(&b).is_empty(), "{:#?}", b.problems);
    let op = |g: &str, e: &str| {
        &b.plan.operations[&OperationId::Event {
            asset: "a".into(),
            group: g.into(),
            event: e.into(),
        }]
    };
    let topic = |g: &str, e: &str| match &op(g, e).sink {
        Sink::Mqtt { topic, .. } => topic.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(topic("g1", "own"), "event/own");
    assert_eq!(topic("g1", "group"), "group/default");
    assert_eq!(topic("g2", "asset"), "asset/default");
    assert_eq!(
        op("g1", "own").stream.url.as_str(),
        "https://dev.example:8443/base/events"
    );
    assert!(op("g1", "own").matching.accepts("alarm"));
    assert!(!op("g1", "own").matching.accepts("warning"));
    // The event's own data source and type ref, never the group's.
    assert_eq!(op("g1", "own").data_source, "alarm");
    assert_eq!(op("g1", "own").type_ref.as_deref(), Some("alarmType"));
    assert_eq!(op("g1", "group").data_source, "warning");
    assert_eq!(op("g1", "group").type_ref, None, "blank typeRef");
    assert_eq!(op("g1", "path").data_source, "/events/temperaturethreshold");
    // A data source starting with `/` is a stream of its own, every event taken.
    assert_eq!(
        op("g1", "path").stream.url.as_str(),
        "https://dev.example:8443/base/events/temperaturethreshold"
    );
    assert_eq!(op("g1", "path").matching, Match::All);
    assert_eq!(
        op("g2", "asset").stream.url.as_str(),
        "https://dev.example:8443/base"
    );
}

#[test]
fn no_destination_after_defaults_is_an_error_on_the_operation() {
    let e = asset_errors(json!({"datasets": [{"name": "d", "dataSource": "/x"}]}));
    assert_one_error(
        &e,
        &["a.yaml: Asset/a: spec.datasets[0].destinations: no destination"],
    );
    let e = asset_errors(
        json!({"eventGroups": [{"name": "g", "events": [{"name": "e", "dataSource": "x"}]}]}),
    );
    assert_one_error(
        &e,
        &["spec.eventGroups[0].events[0].destinations: no destination"],
    );
}

#[test]
fn broker_state_store_on_an_event_is_an_error() {
    let e = asset_errors(
        json!({"eventGroups": [{"name": "g", "events": [{"name": "e", "dataSource": "x",
        "destinations": [{"target": "BrokerStateStore", "configuration": {"key": "k"}}]}]}]}),
    );
    assert_one_error(
        &e,
        &[
            "spec.eventGroups[0].events[0].destinations[0].target",
            "datasets only",
        ],
    );
}

#[test]
fn topic_empty_or_with_wildcards_is_an_error() {
    for (topic, what) in [("", "required"), ("a/+", "wildcard"), ("a/#", "wildcard")] {
        let e = asset_errors(json!({"datasets": [{"name": "d", "destinations": mqtt(topic)}]}));
        assert_one_error(
            &e,
            &["spec.datasets[0].destinations[0].configuration.topic", what],
        );
    }
}

#[test]
fn ttl_out_of_range_is_an_error() {
    let e = asset_errors(json!({"datasets": [{"name": "d", "destinations":
        [{"target": "Mqtt", "configuration": {"topic": "t", "ttl": -5}}]}]}));
    assert_one_error(&e, &["configuration.ttl", "out of range"]);
}

#[test]
fn qos_and_retain_outside_their_values_fail_decoding_with_a_path() {
    for (field, value) in [("qos", "Qos2"), ("retain", "Always")] {
        let doc = asset(
            "a",
            json!({"datasets": [{"name": "d", "destinations":
            [{"target": "Mqtt", "configuration": {"topic": "t", field: value}}]}]}),
        );
        let err = decode(doc, "x").expect_err("rejected");
        assert_eq!(
            err.path.as_str(),
            format!("spec.datasets[0].destinations[0].configuration.{field}")
        );
        assert!(err.message.contains(value), "{}", err.message);
        assert_eq!(err.resource.as_deref(), Some("Asset/a"));
    }
}

#[test]
fn missing_required_fields_fail_decoding_with_a_path() {
    let err = decode(
        device("dev", json!({"endpointType": "Microsoft.SSEHttp"})),
        "x",
    )
    .expect_err("no address");
    assert_eq!(err.path.as_str(), "spec.endpoints.inbound.ep");
    assert!(err.message.contains("address"), "{}", err.message);
    let err =
        decode(asset("a", json!({"datasets": [{"dataSource": "/x"}]})), "x").expect_err("no name");
    assert_eq!(err.path.as_str(), "spec.datasets[0]");
    assert!(err.message.contains("name"));
    let mut no_name = device("dev", anonymous_endpoint());
    no_name["metadata"] = json!({});
    assert_eq!(
        decode(no_name, "x").expect_err("no name").path.as_str(),
        "metadata.name"
    );
    let err = decode(
        json!({"apiVersion": "namespaces.deviceregistry.microsoft.com/v1", "kind": "Widget"}),
        "x",
    )
    .expect_err("bad kind");
    assert_eq!(err.path.as_str(), "kind");
}

#[test]
fn other_api_groups_are_foreign_not_errors() {
    let d = decode(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        "x",
    );
    assert!(matches!(d, Ok(Decoded::Foreign { .. })), "{d:?}");
}

#[test]
fn duplicate_names_keep_the_first_and_report_the_others() {
    let env = FakeEnv::default();
    let b = build(
        &env,
        vec![
            located("a.yaml", device("dev", anonymous_endpoint())),
            located("b.yaml", device("dev", anonymous_endpoint())),
        ],
    );
    assert_one_error(
        &errors(&b),
        &[
            "b.yaml: Device/dev: (document): duplicate Device name",
            "a.yaml",
        ],
    );
    assert_eq!(b.accepted.len(), 1);
    assert_eq!(
        b.accepted.values().next().map(|l| l.file.to_str()),
        Some(Some("a.yaml"))
    );
}

#[test]
fn duplicate_names_inside_an_asset() {
    let e = asset_errors(json!({
        "defaultDatasetsDestinations": mqtt("t"), "defaultEventsDestinations": mqtt("t"),
        "datasets": [{"name": "d"}, {"name": "d"}],
        "eventGroups": [{"name": "g", "events": [{"name": "e", "dataSource": "x"}, {"name": "e", "dataSource": "y"}]},
                        {"name": "g"}],
        "streams": [{"name": "s"}, {"name": "s"}]
    }));
    assert_eq!(e.len(), 4, "{e:#?}");
    for path in [
        "spec.datasets[1].name",
        "spec.eventGroups[0].events[1].name",
        "spec.eventGroups[1].name",
        "spec.streams[1].name",
    ] {
        assert!(
            e.iter()
                .any(|x| x.contains(path) && x.contains("duplicate")),
            "{path} not in {e:#?}"
        );
    }
}

#[test]
fn device_ref_to_unknown_device_or_endpoint() {
    let e = asset_errors(json!({"deviceRef": {"deviceName": "nope", "endpointName": "ep"}}));
    assert_one_error(
        &e,
        &["spec.deviceRef.deviceName", "unknown device \"nope\""],
    );
    let e = asset_errors(json!({"deviceRef": {"deviceName": "dev", "endpointName": "nope"}}));
    assert_one_error(
        &e,
        &[
            "spec.deviceRef.endpointName",
            "no valid inbound endpoint \"nope\"",
            "valid: ep",
        ],
    );
}

#[test]
fn endpoint_type_sse_is_case_insensitive_with_alias() {
    let env = FakeEnv::default();
    for ok in ["Microsoft.SSEHttp", "microsoft.ssehttp", "Microsoft.Sse"] {
        let b = build(
            &env,
            vec![located(
                "d.yaml",
                device("dev", json!({"endpointType": ok, "address": "https://h"})),
            )],
        );
        assert!(b.problems.is_empty(), "{ok}: {:?}", b.problems);
    }
}

/// A device shared by several connectors: the other endpoints are skipped with a warning
/// (not checked: an OPC UA address is not a URL this connector could read), the SSE one runs,
/// and only the asset on another connector's endpoint is skipped.
#[test]
fn endpoints_of_other_types_are_skipped_with_their_assets() {
    let env = FakeEnv::default();
    let shared = json!({
        "apiVersion": "namespaces.deviceregistry.microsoft.com/v1",
        "kind": "Device",
        "metadata": {"name": "dev"},
        "spec": {"endpoints": {"inbound": {
            "ep": anonymous_endpoint(),
            "opc": {"endpointType": "Microsoft.OpcUa", "address": "opc.tcp://plc:4840",
                    "authentication": {"method": "UsernamePassword"}},
            "rest": {"endpointType": "Microsoft.Rest", "address": "not a url"}
        }}}
    });
    let opc_asset = asset(
        "opc-asset",
        json!({
            "deviceRef": {"deviceName": "dev", "endpointName": "opc"},
            // Without any destination: an error for an SSE asset, not checked here.
            "datasets": [{"name": "temps", "dataSource": "ns=3;s=Temperature"}]
        }),
    );
    let sse_asset = asset(
        "sse-asset",
        json!({"defaultDatasetsDestinations": mqtt("t"),
               "datasets": [{"name": "d", "dataSource": "/events"}]}),
    );
    let b = build(
        &env,
        vec![
            located("d.yaml", shared.clone()),
            located("opc.yaml", opc_asset),
            located("sse.yaml", sse_asset),
        ],
    );
    assert!(errors(&b).is_empty(), "{:#?}", errors(&b));
    let warnings: Vec<String> = b.problems.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(warnings[0].starts_with("d.yaml: Device/dev: spec.endpoints.inbound.opc.endpointType: \"Microsoft.OpcUa\" is not served by this connector (it serves Microsoft.SSEHttp); endpoint skipped"), "{warnings:#?}");
    assert!(warnings[1].starts_with("d.yaml: Device/dev: spec.endpoints.inbound.rest.endpointType: \"Microsoft.Rest\" is not served"), "{warnings:#?}");
    assert_eq!(
        warnings[2],
        "opc.yaml: Asset/opc-asset: spec.deviceRef.endpointName: endpoint \"opc\" of device \"dev\" \
         has type \"Microsoft.OpcUa\", which this connector does not serve (it serves \
         Microsoft.SSEHttp); the asset is skipped"
    );
    assert!(b.problems.iter().all(|p| !p.is_error()));
    let ops: Vec<_> = b.plan.operations.keys().collect();
    assert_eq!(
        ops,
        [&OperationId::Dataset {
            asset: "sse-asset".into(),
            dataset: "d".into()
        }]
    );
    // Both assets are accepted: a later broken version of either keeps this one in force.
    assert!(b.accepted.keys().any(|(_, name)| name == "opc-asset"));

    // A name that is no endpoint at all is still an error; the list shows the SSE ones.
    let nowhere = asset(
        "lost",
        json!({"deviceRef": {"deviceName": "dev", "endpointName": "nope"},
               "defaultDatasetsDestinations": mqtt("t"), "datasets": [{"name": "d"}]}),
    );
    let b = build(
        &env,
        vec![located("d.yaml", shared), located("l.yaml", nowhere)],
    );
    assert_one_error(
        &errors(&b),
        &[
            "spec.deviceRef.endpointName",
            "no valid inbound endpoint \"nope\" (valid: ep)",
        ],
    );
}

#[test]
fn address_must_be_an_http_url() {
    let env = FakeEnv::default();
    for bad in ["ftp://h/x", "h:8443/base", "not a url", "https://u:p@h/"] {
        let b = build(
            &env,
            vec![located(
                "d.yaml",
                device(
                    "dev",
                    json!({"endpointType": "Microsoft.SSEHttp", "address": bad}),
                ),
            )],
        );
        assert_one_error(&errors(&b), &["spec.endpoints.inbound.ep.address"]);
    }
}

#[test]
fn data_source_with_another_origin_is_an_error() {
    let e = asset_errors(json!({"defaultDatasetsDestinations": mqtt("t"),
        "datasets": [{"name": "d", "dataSource": "https://evil.example/x"}]}));
    assert_one_error(&e, &["spec.datasets[0].dataSource", "another origin"]);
    let e = asset_errors(json!({"defaultEventsDestinations": mqtt("t"),
        "eventGroups": [{"name": "g", "dataSource": "//evil.example/", "events": [{"name": "e", "dataSource": "x"}]}]}));
    assert_one_error(&e, &["spec.eventGroups[0].dataSource", "another origin"]);
}

#[test]
fn invalid_json_in_configuration_strings() {
    let e = asset_errors(json!({
        "defaultDatasetsConfiguration": "{not json",
        "defaultDatasetsDestinations": mqtt("t"),
        "datasets": [{"name": "d", "datasetConfiguration": "[1]"}],
        "streams": [{"name": "s", "streamConfiguration": "{"}],
        "managementGroups": [{"name": "m", "actions": [{"name": "x", "targetUri": "u", "actionConfiguration": "nope"}]}]
    }));
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].contains("spec.defaultDatasetsConfiguration: invalid JSON"),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|x| x.contains("spec.datasets[0].datasetConfiguration: must be a JSON object"))
    );
    assert!(
        e.iter()
            .any(|x| x.contains("spec.streams[0].streamConfiguration: invalid JSON"))
    );
    assert!(
        e.iter()
            .any(|x| x.contains("spec.managementGroups[0].actions[0].actionConfiguration"))
    );
    let b = build(
        &FakeEnv::default(),
        vec![located(
            "d.yaml",
            device(
                "dev",
                json!({"endpointType": "Microsoft.SSEHttp",
        "address": "https://h", "additionalConfiguration": "{"}),
            ),
        )],
    );
    assert_one_error(&errors(&b), &["additionalConfiguration: invalid JSON"]);
}

#[test]
fn event_types_must_be_a_list_of_names() {
    let e = asset_errors(json!({"defaultDatasetsDestinations": mqtt("t"),
        "datasets": [{"name": "d", "datasetConfiguration": "{\"eventTypes\": \"reading\"}"}]}));
    assert_one_error(&e, &["datasetConfiguration", "eventTypes"]);
}

#[test]
fn data_point_pointers_must_be_json_pointers() {
    let e = asset_errors(json!({"defaultDatasetsDestinations": mqtt("t"),
        "datasets": [{"name": "d", "dataPoints": [
            {"name": "t", "dataSource": "/temperature"},
            {"name": "h", "dataSource": "humidity"},
            {"name": "x", "dataSource": "/a~2"}]}]}));
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].contains("spec.datasets[0].dataPoints[1].dataSource") && e[0].contains("RFC 6901")
    );
    assert!(e[1].contains("spec.datasets[0].dataPoints[2].dataSource"));
}

#[test]
fn event_needs_a_data_source() {
    let e = asset_errors(json!({"defaultEventsDestinations": mqtt("t"),
        "eventGroups": [{"name": "g", "events": [{"name": "e"}]}]}));
    assert_one_error(
        &e,
        &["spec.eventGroups[0].events[0].dataSource", "required"],
    );
}

#[test]
fn invalid_names_are_errors() {
    let b = build(
        &FakeEnv::default(),
        vec![located("d.yaml", device("Bad_Name", anonymous_endpoint()))],
    );
    assert_one_error(&errors(&b), &["metadata.name", "not a valid name"]);
}

#[test]
fn disabled_device_or_asset_yields_no_operation_and_no_error() {
    let mut d = device("dev", anonymous_endpoint());
    d["spec"]["enabled"] = json!(false);
    let b = build(
        &FakeEnv::default(),
        vec![
            located("d.yaml", d),
            located(
                "a.yaml",
                asset(
                    "a",
                    json!({"datasets": [{"name": "d", "destinations": mqtt("t")}]}),
                ),
            ),
        ],
    );
    assert!(b.problems.is_empty(), "{:#?}", b.problems);
    assert!(b.plan.is_empty());
    let b = build(
        &FakeEnv::default(),
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located(
                "a.yaml",
                asset(
                    "a",
                    json!({"enabled": false, "datasets": [{"name": "d", "destinations": mqtt("t")}]}),
                ),
            ),
        ],
    );
    assert!(b.problems.is_empty() && b.plan.is_empty());
    assert_eq!(b.accepted.len(), 2, "disabled resources are still accepted");
}

#[test]
fn unknown_fields_are_warnings_with_paths_and_kept() {
    let mut d = device(
        "dev",
        json!({"endpointType": "Microsoft.SSEHttp", "address": "https://h", "colour": "red"}),
    );
    d["spec"]["futureField"] = json!({"a": 1});
    d["extraTop"] = json!(true);
    let l = located("d.yaml", d.clone());
    let b = build(&FakeEnv::default(), vec![l.clone()]);
    assert!(errors(&b).is_empty());
    let warnings: Vec<_> = b
        .problems
        .iter()
        .map(|p| p.path.as_str().to_owned())
        .collect();
    assert_eq!(
        warnings,
        [
            "extraTop",
            "spec.futureField",
            "spec.endpoints.inbound.ep.colour"
        ]
    );
    assert_eq!(
        l.resource.to_value().expect("serializes"),
        d,
        "unknown fields round-trip"
    );
}
