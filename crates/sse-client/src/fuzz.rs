//! Entry points for the fuzz targets in the repository's `fuzz/` folder: the response headers
//! the client reads. Not part of the API.

use http::HeaderValue;
use url::Url;

/// Whether a response with this `Content-Type` (`None`: not a valid header value, so absent)
/// is taken as an event stream.
pub fn is_event_stream(content_type: &[u8]) -> bool {
    let value = HeaderValue::from_bytes(content_type).ok();
    crate::classify::is_event_stream(value.as_ref())
}

/// Where a redirect from `from` with this `Location` goes, without user information; `None`
/// when it is refused. Panics if the target keeps user information or a fragment.
pub fn redirect(from: &Url, location: &[u8]) -> Option<Url> {
    let value = HeaderValue::from_bytes(location).ok();
    let to = crate::redirect::resolve_location(from, value.as_ref()).ok()?;
    let clean = crate::redirect::redact(&to);
    assert!(
        clean.username().is_empty() && clean.password().is_none() && clean.fragment().is_none(),
        "redacted {clean} keeps user information or a fragment"
    );
    Some(clean)
}
