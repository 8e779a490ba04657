//! REST API request bodies: devices and assets (`POST`, `PUT`), secrets (by content type),
//! trust lists and the names in the URL. No panic; a refusal is 400, 415 or 422; a resource
//! taken has the route's kind and the URL's name, and the API's answer (its JSON) is taken
//! again as a `PUT` body, unchanged.
#![no_main]

use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use model::Kind;

const REFUSALS: [StatusCode; 3] = [
    StatusCode::BAD_REQUEST,
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    StatusCode::UNPROCESSABLE_ENTITY,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = if selector & 1 == 0 {
        Kind::Device
    } else {
        Kind::Asset
    };
    let url_name = (selector & 2 != 0).then_some("from-url");
    match api::fuzz::resource_body(kind, url_name, body) {
        Ok(resource) => {
            assert_eq!(resource.kind(), kind);
            if let Some(name) = url_name {
                assert_eq!(resource.name, name);
            }
            let answer = resource.to_value().expect("a resource encodes");
            let answer = serde_json::to_vec(&answer).expect("JSON");
            let again = api::fuzz::resource_body(kind, Some(&resource.name), &answer)
                .expect("the API's own answer is taken back");
            assert_eq!(again, resource);
        }
        Err(status) => assert!(REFUSALS.contains(&status), "{status}"),
    }

    let cut = usize::from(selector >> 2).min(body.len());
    let (content_type, value) = body.split_at(cut);
    match api::fuzz::secret_body(content_type, value) {
        Ok(secret) => assert!(!secret.is_empty(), "an empty secret was taken"),
        Err(status) => assert!(REFUSALS.contains(&status), "{status}"),
    }

    let _ = registry::secrets::holds_certificate(body);
    if let Ok(name) = std::str::from_utf8(body)
        && let Ok(path) = model::environment::safe_relative_path(name)
    {
        assert!(
            path.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{name:?} leaves its directory"
        );
    }
});
