//! Devices and assets over the API, against a real registry directory: create, read,
//! replace, delete, and every kind of bad input.

#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Harness, asset, device, files_below, message, problems};

#[tokio::test]
async fn devices_are_created_read_replaced_listed_and_deleted() {
    let api = Harness::start().await;
    let (status, list) = api.get("/api/v1/devices").await;
    assert_eq!(status, 200);
    assert_eq!(list, json!({"items": [], "problems": []}));

    let (status, created) = api
        .post(
            "/api/v1/devices",
            &device("weather-station", "http://127.0.0.1:9/base"),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["metadata"]["name"], "weather-station");
    assert_eq!(created["kind"], "Device");
    let file = api.registry().join("devices/weather-station.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("address: http://127.0.0.1:9/base"), "{text}");

    let (status, shown) = api.get("/api/v1/devices/weather-station").await;
    assert_eq!(status, 200);
    assert_eq!(
        shown["spec"]["endpoints"]["inbound"]["sse"]["endpointType"],
        "Microsoft.SSEHttp"
    );

    let mut changed = device("weather-station", "http://127.0.0.1:9/other");
    changed["spec"]["attributes"] = json!({"site": "plant-1"});
    // The name may be left to the URL.
    changed["metadata"].as_object_mut().unwrap().remove("name");
    let (status, replaced) = api.put("/api/v1/devices/weather-station", &changed).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["spec"]["attributes"]["site"], "plant-1");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("http://127.0.0.1:9/other"), "{text}");

    let (status, list) = api.get("/api/v1/devices").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["metadata"]["name"], "weather-station");

    let (status, body) = api.delete("/api/v1/devices/weather-station").await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
    assert!(!file.exists());
    let (status, _) = api.get("/api/v1/devices/weather-station").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn assets_are_created_replaced_and_guard_their_device() {
    let api = Harness::start().await;
    let (status, _) = api
        .post(
            "/api/v1/devices",
            &device("weather-station", "http://127.0.0.1:9"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, created) = api
        .post("/api/v1/assets", &asset("weather", "weather-station"))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["spec"]["eventGroups"][0]["events"][0]["dataSource"],
        "threshold"
    );

    // A device that assets refer to cannot go.
    let (status, refused) = api.delete("/api/v1/devices/weather-station").await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        problems(&refused)
            .iter()
            .any(|(path, _)| path.starts_with("spec.deviceRef")),
        "{refused}"
    );

    let mut changed = asset("weather", "weather-station");
    changed["spec"]["datasets"][0]["dataSource"] = json!("/api/v2/weather");
    let (status, replaced) = api.put("/api/v1/assets/weather", &changed).await;
    assert_eq!(status, 200, "{replaced}");
    let (_, shown) = api.get("/api/v1/assets/weather").await;
    assert_eq!(
        shown["spec"]["datasets"][0]["dataSource"],
        "/api/v2/weather"
    );

    let (status, list) = api.get("/api/v1/assets").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["metadata"]["name"], "weather");

    assert_eq!(api.delete("/api/v1/assets/weather").await.0, 204);
    assert_eq!(api.delete("/api/v1/devices/weather-station").await.0, 204);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_at_fault_and_nothing_is_written() {
    let api = Harness::start().await;
    let before = files_below(&api.registry());

    // Not JSON.
    let json = [("content-type", "application/json")];
    let (status, body) = api
        .send_with(Method::POST, "/api/v1/devices", &json, "{not json")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("not a JSON document"), "{body}");

    // Refused at decoding, with the field at fault first.
    let mut foreign = device("d", "http://127.0.0.1:9");
    foreign["apiVersion"] = json!("v1");
    let mut typed = device("d", "http://127.0.0.1:9");
    typed["spec"]["endpoints"]["inbound"]["sse"]["address"] = json!(42);
    let mut nameless = device("d", "http://127.0.0.1:9");
    nameless["metadata"] = json!({});
    for (what, sent, field) in [
        (
            "an asset sent to the devices collection",
            asset("weather", "weather-station"),
            "kind",
        ),
        ("another API group", foreign, "apiVersion"),
        (
            "a type error deep in the spec",
            typed,
            "spec.endpoints.inbound.sse.address",
        ),
        (
            "a name that is no Kubernetes name (and would leave the directory as a file name)",
            device("../Up", "http://127.0.0.1:9"),
            "metadata.name",
        ),
        ("no name at all", nameless, "metadata.name"),
    ] {
        let (status, body) = api.post("/api/v1/devices", &sent).await;
        assert_eq!(status, 422, "{what}: {body}");
        assert_eq!(problems(&body)[0].0, field, "{what}: {body}");
    }

    // A value the model's rules refuse: the same rule as `sse-connector validate`.
    let (status, body) = api
        .post("/api/v1/devices", &device("d", "ftp://127.0.0.1/x"))
        .await;
    assert_eq!(status, 422, "{body}");
    let found = problems(&body);
    assert!(
        found
            .iter()
            .any(|(p, _)| p == "spec.endpoints.inbound.sse.address"),
        "{body}"
    );
    assert_eq!(body["error"]["problems"][0]["severity"], "error");
    assert_eq!(body["error"]["problems"][0]["resource"], "Device/d");

    // An asset whose device does not exist.
    let (status, body) = api
        .post("/api/v1/assets", &asset("weather", "nowhere"))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        problems(&body)
            .iter()
            .any(|(p, _)| p.starts_with("spec.deviceRef")),
        "{body}"
    );

    assert_eq!(
        files_below(&api.registry()),
        before,
        "a refused write changed the registry"
    );
}

#[tokio::test]
async fn names_conflict_mismatch_and_unknown() {
    let api = Harness::start().await;
    let body = device("weather-station", "http://127.0.0.1:9");
    assert_eq!(api.post("/api/v1/devices", &body).await.0, 201);
    let (status, conflict) = api.post("/api/v1/devices", &body).await;
    assert_eq!(status, 409, "{conflict}");

    // PUT with another name in the body than in the URL.
    let (status, mismatch) = api
        .put(
            "/api/v1/devices/weather-station",
            &device("other", "http://127.0.0.1:9"),
        )
        .await;
    assert_eq!(status, 422, "{mismatch}");
    assert_eq!(problems(&mismatch)[0].0, "metadata.name");

    // Unknown names.
    assert_eq!(api.get("/api/v1/devices/nowhere").await.0, 404);
    assert_eq!(api.get("/api/v1/assets/nowhere").await.0, 404);
    assert_eq!(api.delete("/api/v1/devices/nowhere").await.0, 404);
    let (status, body) = api
        .put(
            "/api/v1/devices/nowhere",
            &device("nowhere", "http://127.0.0.1:9"),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], 404);

    // An invalid replacement leaves the file as it was.
    let file = api.registry().join("devices/weather-station.yaml");
    let before = std::fs::read_to_string(&file).unwrap();
    let (status, refused) = api
        .put(
            "/api/v1/devices/weather-station",
            &device("weather-station", "nope"),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}

#[tokio::test]
async fn the_listing_reports_problems_of_files_written_by_hand() {
    let api = Harness::start().await;
    let dir = api.registry().join("devices");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata: {name: broken}\n\
         spec:\n  endpoints:\n    inbound:\n      sse: {endpointType: Microsoft.SSEHttp, address: 'ftp://x'}\n",
    )
    .unwrap();
    let (status, list) = api.get("/api/v1/devices").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["metadata"]["name"], "broken");
    let problem = &list["problems"][0];
    assert_eq!(problem["file"], "devices/broken.yaml");
    assert_eq!(problem["resource"], "Device/broken");
    assert_eq!(problem["path"], "spec.endpoints.inbound.sse.address");
}

#[tokio::test]
async fn without_a_registry_the_routes_answer_404() {
    let api = Harness::start_with(None, false).await;
    for path in [
        "/api/v1/devices",
        "/api/v1/assets",
        "/api/v1/secrets",
        "/api/v1/trust",
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(message(&body).contains("no registry"), "{path}: {body}");
    }
}
