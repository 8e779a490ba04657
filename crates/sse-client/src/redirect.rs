//! Redirects, followed by hand so that credentials never leave the configured origin.
//!
//! reqwest's own redirect policy is off (`Policy::none()`); the connect loop asks this module
//! where a 301/302/303/307/308 points and whether that target shares the configured URL's
//! origin (scheme, host and port). Only then are `Authorization`, custom headers and the
//! client certificate sent.

use http::HeaderValue;
use url::Url;

use crate::error::{Error, ErrorKind};

/// The most redirects followed for one connection attempt.
pub const MAX_REDIRECTS: usize = 10;

/// Whether two URLs share scheme, host and port (default ports made explicit).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// `url` with user information (and fragment) removed, for messages and the request itself.
pub(crate) fn redact(url: &Url) -> Url {
    let mut clean = url.clone();
    // Both only fail for URLs that cannot have user information, which need no redaction.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_fragment(None);
    clean
}

/// Resolves a `Location` header against the URL that answered with the redirect.
///
/// # Errors
/// [`ErrorKind::InvalidRedirect`] when `Location` is missing, empty, not a valid URL
/// reference, or not `http`/`https`.
pub(crate) fn resolve_location(from: &Url, location: Option<&HeaderValue>) -> Result<Url, Error> {
    let invalid = |why: &str| {
        Error::new(
            ErrorKind::InvalidRedirect,
            format!("redirect from {} {why}", redact(from)),
        )
    };
    let text = match location.map(HeaderValue::to_str) {
        None => return Err(invalid("has no Location header")),
        Some(Err(_)) => return Err(invalid("has a Location that is not valid text")),
        Some(Ok(text)) => text.trim(),
    };
    if text.is_empty() {
        return Err(invalid("has an empty Location header"));
    }
    let target = from
        .join(text)
        .map_err(|_| invalid("has a Location that is not a valid URL"))?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(invalid("points to a URL that is not http or https"));
    }
    Ok(redact(&target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        let base = url("https://h.example:443/a");
        assert!(same_origin(&base, &url("https://h.example/b?x=1")));
        assert!(!same_origin(&base, &url("http://h.example/a")));
        assert!(!same_origin(&base, &url("https://h.example:8443/a")));
        assert!(!same_origin(&base, &url("https://other.example/a")));
        assert!(!same_origin(&base, &url("https://sub.h.example/a")));
    }

    #[test]
    fn locations_resolve_relative_to_the_redirecting_url() {
        let from = url("https://h/a/b");
        let resolve =
            |loc: &'static str| resolve_location(&from, Some(&HeaderValue::from_static(loc)));
        assert_eq!(resolve("/c").unwrap().as_str(), "https://h/c");
        assert_eq!(resolve("c?x=1").unwrap().as_str(), "https://h/a/c?x=1");
        assert_eq!(
            resolve("http://u:p@o:81/z#f").unwrap().as_str(),
            "http://o:81/z"
        );
        assert_eq!(resolve("//o/z").unwrap().as_str(), "https://o/z");
    }

    #[test]
    fn unusable_locations_are_errors() {
        let from = url("https://user:pw@h/a");
        for bad in [
            None,
            Some(HeaderValue::from_static("")),
            Some(HeaderValue::from_static("  ")),
            Some(HeaderValue::from_static("ftp://h/x")),
        ] {
            let err = resolve_location(&from, bad.as_ref()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRedirect);
            assert!(!err.to_string().contains("pw"), "{err}");
        }
    }
}
