//! AIO's message headers over every input combination (reference section 4.1).

use std::collections::BTreeSet;

use aio_mqtt::cloudevents::{
    self, CONTENT_TYPE_JSON, CONTENT_TYPE_TEXT, DataKind, OperationHeaders, asset_identifier,
    asset_ref, content_type, correlation_data, data_schema, device_identifier, device_ref,
    event_type, is_uri, source, subject, time, uuid_v4,
};
use aio_mqtt::hlc::HlcTimestamp;
use model::destination::{Qos, Retain, Sink};
use model::plan::{AssetIdentity, DeviceIdentity, Match, Operation, OperationId, StreamSpec};

/// (uuid, externalDeviceId, protocol-specific id, expected identifier)
type IdentifierCase<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);

const UUID: &str = "3575e690-31d7-4168-a6c9-9ff1b9eed282";

fn device(uuid: Option<&str>, external: Option<&str>) -> DeviceIdentity {
    DeviceIdentity {
        name: "sse-device".into(),
        endpoint: "sse-connector-0".into(),
        uuid: uuid.map(str::to_owned),
        external_id: external.map(str::to_owned),
        version: None,
    }
}

fn asset(uuid: Option<&str>, external: Option<&str>) -> AssetIdentity {
    AssetIdentity {
        name: "mysseasset".into(),
        uuid: uuid.map(str::to_owned),
        external_id: external.map(str::to_owned),
        version: None,
    }
}

#[test]
fn device_ref_with_and_without_uuid() {
    let cases = [
        (Some(UUID), format!("ms-aio:{UUID}/sse-connector-0")),
        (None, "ms-aio:sse-connector-0".to_owned()),
        (Some(""), "ms-aio:sse-connector-0".to_owned()),
    ];
    for (uuid, expected) in cases {
        for external in [None, Some("camera-42")] {
            assert_eq!(device_ref(&device(uuid, external)), expected, "{uuid:?}");
        }
    }
}

#[test]
fn asset_ref_with_and_without_uuid() {
    assert_eq!(asset_ref(&asset(Some("a-uuid"), None)), "ms-aio:a-uuid");
    assert_eq!(asset_ref(&asset(None, Some("ext"))), "ms-aio:");
    assert_eq!(asset_ref(&asset(Some(""), None)), "ms-aio:");
}

#[test]
fn device_identifier_rules() {
    let cases: &[IdentifierCase<'_>] = &[
        // No protocol-specific id: external id when it differs from the uuid, else the name.
        (None, None, None, "sse-device"),
        (Some(UUID), None, None, "sse-device"),
        (None, Some("camera-42"), None, "camera-42"),
        (Some(UUID), Some("camera-42"), None, "camera-42"),
        (Some(UUID), Some(UUID), None, "sse-device"),
        (Some(UUID), Some(""), None, "sse-device"),
        (None, Some(""), None, "sse-device"),
        // A valid protocol-specific id wins over everything.
        (
            Some(UUID),
            Some("camera-42"),
            Some("https://h:8443/base"),
            "https://h:8443/base",
        ),
        (None, None, Some("cam-7"), "cam-7"),
        // An empty or invalid one is ignored.
        (Some(UUID), Some("camera-42"), Some(""), "camera-42"),
        (
            Some(UUID),
            Some("camera-42"),
            Some("has space"),
            "camera-42",
        ),
        (None, None, Some("bad%zz"), "sse-device"),
    ];
    for (uuid, external, protocol, expected) in cases {
        assert_eq!(
            device_identifier(&device(*uuid, *external), *protocol),
            *expected,
            "uuid {uuid:?} external {external:?} protocol {protocol:?}"
        );
    }
}

#[test]
fn source_appends_the_data_source_without_leading_slashes_when_a_valid_uri() {
    let named = device(Some(UUID), Some(UUID)); // external == uuid → the name
    let external = device(Some(UUID), Some("camera-42"));
    let cases: &[(&DeviceIdentity, &str, &str)] = &[
        (&named, "", "ms-aio:sse-device"),
        (&named, "/", "ms-aio:sse-device"),
        (&named, "/api/weather", "ms-aio:sse-device/api/weather"),
        (&named, "api/weather", "ms-aio:sse-device/api/weather"),
        (&named, "//api/weather", "ms-aio:sse-device/api/weather"),
        (&named, "reading", "ms-aio:sse-device/reading"),
        (
            &external,
            "/events/temperaturethreshold",
            "ms-aio:camera-42/events/temperaturethreshold",
        ),
        (
            &external,
            "/a?x=1&y=%20#frag",
            "ms-aio:camera-42/a?x=1&y=%20#frag",
        ),
        (&external, "https://h:1/x", "ms-aio:camera-42/https://h:1/x"),
        // Not a valid URI with the suffix: the suffix is left out.
        (&external, "/has space", "ms-aio:camera-42"),
        (&external, "/température", "ms-aio:camera-42"),
        (&external, "/bad%2", "ms-aio:camera-42"),
        (&external, "/a{b}", "ms-aio:camera-42"),
        (&external, "/a#b#c", "ms-aio:camera-42"),
    ];
    for (d, data_source, expected) in cases {
        assert_eq!(source(d, None, data_source), *expected, "{data_source:?}");
    }
    assert_eq!(
        source(&external, Some("cam-7"), "/x"),
        "ms-aio:cam-7/x",
        "protocol-specific identifier"
    );
}

#[test]
fn type_is_dataset_or_event_with_optional_type_ref() {
    assert_eq!(event_type(DataKind::Dataset, None), "DataSet");
    assert_eq!(event_type(DataKind::Dataset, Some("")), "DataSet");
    assert_eq!(
        event_type(DataKind::Dataset, Some("weather")),
        "DataSet/weather"
    );
    assert_eq!(event_type(DataKind::Event, None), "Event");
    assert_eq!(event_type(DataKind::Event, Some("")), "Event");
    assert_eq!(
        event_type(DataKind::Event, Some("myTypeRef")),
        "Event/myTypeRef"
    );
}

#[test]
fn subject_names_asset_and_operation() {
    let dataset = OperationId::Dataset {
        asset: "mysseasset".into(),
        dataset: "weatherdata".into(),
    };
    let event = OperationId::Event {
        asset: "mysseasset".into(),
        group: "alerts".into(),
        event: "temperaturethreshold".into(),
    };
    // (uuid, externalAssetId) → asset identifier
    let identities: &[(Option<&str>, Option<&str>, &str)] = &[
        (None, None, "mysseasset"),
        (Some("u-1"), None, "mysseasset"),
        (None, Some("sse-asset-001"), "sse-asset-001"),
        (Some("u-1"), Some("sse-asset-001"), "sse-asset-001"),
        (Some("u-1"), Some("u-1"), "mysseasset"),
        (Some("u-1"), Some(""), "mysseasset"),
    ];
    for (uuid, external, who) in identities {
        let a = asset(*uuid, *external);
        assert_eq!(asset_identifier(&a), *who);
        assert_eq!(subject(&a, &dataset), format!("{who}/weatherdata"));
        assert_eq!(
            subject(&a, &event),
            format!("{who}/alerts/temperaturethreshold")
        );
    }
}

#[test]
fn time_is_rfc3339_seconds_utc() {
    let cases = [
        (0, "1970-01-01T00:00:00Z"),
        (999, "1970-01-01T00:00:00Z"),
        (1_777_630_530_123, "2026-05-01T10:15:30Z"),
        (951_782_400_000, "2000-02-29T00:00:00Z"),
        (1_709_164_799_999, "2024-02-28T23:59:59Z"),
        (4_102_444_800_000, "2100-01-01T00:00:00Z"),
        (253_402_300_799_000, "9999-12-31T23:59:59Z"),
    ];
    for (millis, expected) in cases {
        assert_eq!(time(millis), expected, "{millis}");
    }
}

#[test]
fn dataschema_format() {
    assert_eq!(data_schema("ns", "weather", "1"), "aio-sr://ns/weather:1");
}

#[test]
fn content_type_json_or_text() {
    for json in [
        r#"{"temp":21.5}"#,
        " [1, 2] ",
        r#""quoted""#,
        "42",
        "-1.5e3",
        "true",
        "false",
        "null",
        "\n{}\n",
    ] {
        assert_eq!(content_type(json.as_bytes()), CONTENT_TYPE_JSON, "{json:?}");
    }
    for text in [
        "",
        "   ",
        "hello",
        "42 apples",
        "{not json}",
        r#"{"a":1} trailing"#,
        "[1,",
        "nonsense",
        "t",
        "\u{feff}{}",
    ] {
        assert_eq!(content_type(text.as_bytes()), CONTENT_TYPE_TEXT, "{text:?}");
    }
}

#[test]
fn uri_check_follows_rfc3986() {
    for good in [
        "ms-aio:x",
        "ms-aio:",
        "ms-aio:x/y/z",
        "ms-aio:a:b@c",
        "ms-aio:x?q=1#f",
        "ms-aio://host:1/p",
        "a+b.c-d:x",
        "ms-aio:%41",
        "ms-aio:!$&'()*+,;=-._~",
    ] {
        assert!(is_uri(good), "{good:?}");
    }
    for bad in [
        "",
        "no-scheme",
        "1ms:x",
        ":x",
        "ms aio:x",
        "ms-aio:a b",
        "ms-aio:%4",
        "ms-aio:%zz",
        "ms-aio:é",
        "ms-aio:a#b#c",
        "ms-aio:a[b]",
        "ms-aio:a\"b",
        "ms-aio:a\\b",
    ] {
        assert!(!is_uri(bad), "{bad:?}");
    }
}

#[test]
fn uuids_are_v4_and_random() {
    let ids: BTreeSet<String> = (0..100).map(|_| uuid_v4()).collect();
    assert_eq!(ids.len(), 100);
    for id in &ids {
        let bytes = id.as_bytes();
        assert_eq!(id.len(), 36);
        assert_eq!([bytes[8], bytes[13], bytes[18], bytes[23]], [b'-'; 4]);
        assert_eq!(bytes[14], b'4', "version 4: {id}");
        assert!(
            matches!(bytes[19], b'8' | b'9' | b'a' | b'b'),
            "variant: {id}"
        );
        assert!(
            id.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    let c = correlation_data();
    assert_eq!(c.len(), 16);
    assert_eq!(c[6] >> 4, 4);
    assert_ne!(c, correlation_data());
}

fn operation(id: OperationId, data_source: &str, type_ref: Option<&str>) -> Operation {
    Operation {
        id,
        device: device(Some(UUID), Some("camera-42")),
        asset: asset(Some("9d2c0c7e-asset"), Some("9d2c0c7e-asset")),
        stream: StreamSpec {
            url: "https://sse-server.example/base".parse().expect("url"),
            credentials: model::Credentials::Anonymous,
            trust: Vec::new(),
        },
        matching: Match::All,
        data_points: Vec::new(),
        sink: Sink::Mqtt {
            topic: "t".into(),
            qos: Qos::Qos1,
            retain: Retain::Never,
            ttl: None,
        },
        data_source: data_source.into(),
        type_ref: type_ref.map(str::to_owned),
        transform: None,
    }
}

fn stamp() -> HlcTimestamp {
    HlcTimestamp {
        millis: 1_777_630_530_123,
        counter: 0,
        node_id: "7d1f".into(),
    }
}

fn pairs(props: &[(String, String)]) -> Vec<(&str, &str)> {
    props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn event_headers_in_aio_order() {
    let op = operation(
        OperationId::Event {
            asset: "mysseasset".into(),
            group: "alerts".into(),
            event: "temperaturethreshold".into(),
        },
        "/events/temperaturethreshold",
        None,
    );
    let headers = OperationHeaders::new(&op, "sse-template-80625de9-ss-00")
        .with_data_schema(Some(data_schema("reg", "schema", "1")));
    let props = headers.user_properties("id-1".into(), &stamp(), "alarm", "41");
    let device_ref = format!("ms-aio:{UUID}/sse-connector-0");
    assert_eq!(
        pairs(&props),
        [
            ("sse-event", "alarm"),
            ("sse-id", "41"),
            ("aiodeviceref", device_ref.as_str()),
            ("aioassetref", "ms-aio:9d2c0c7e-asset"),
            ("id", "id-1"),
            ("source", "ms-aio:camera-42/events/temperaturethreshold"),
            ("specversion", "1.0"),
            ("type", "Event"),
            ("subject", "mysseasset/alerts/temperaturethreshold"),
            ("time", "2026-05-01T10:15:30Z"),
            ("dataschema", "aio-sr://reg/schema:1"),
            ("__ts", "001777630530123:00000:7d1f"),
            ("__protVer", "1.0"),
            ("__srcId", "sse-template-80625de9-ss-00"),
        ]
    );
}

#[test]
fn dataset_headers_without_schema_or_sse_fields() {
    let op = operation(
        OperationId::Dataset {
            asset: "mysseasset".into(),
            dataset: "weatherdata".into(),
        },
        "/api/weather",
        Some("weather"),
    );
    let headers = OperationHeaders::new(&op, "client-1");
    assert_eq!(headers.source(), "ms-aio:camera-42/api/weather");
    assert_eq!(headers.subject(), "mysseasset/weatherdata");
    // Empty SSE fields are left out; so is an absent (or emptied) schema.
    for h in [
        headers.clone(),
        headers.with_data_schema(Some(String::new())),
    ] {
        let props = h.user_properties("id-2".into(), &stamp(), "", "");
        let names: Vec<_> = props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "aiodeviceref",
                "aioassetref",
                "id",
                "source",
                "specversion",
                "type",
                "subject",
                "time",
                "__ts",
                "__protVer",
                "__srcId"
            ]
        );
        assert!(props.contains(&("type".into(), "DataSet/weather".into())));
    }
    // Only one of the SSE fields.
    let props = OperationHeaders::new(&op, "c").user_properties("i".into(), &stamp(), "", "7");
    assert_eq!(pairs(&props)[0], ("sse-id", "7"));
    assert_eq!(pairs(&props)[1].0, "aiodeviceref");
}

#[test]
fn defaults_exported_for_publishers() {
    assert_eq!(cloudevents::DEFAULT_EXPIRY_SECS, 10);
    assert_eq!(cloudevents::SPEC_VERSION, "1.0");
    assert_eq!(cloudevents::PROTOCOL_VERSION, "1.0");
}
