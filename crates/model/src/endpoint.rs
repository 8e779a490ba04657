//! Inbound endpoints: which types this connector serves, and how a data source is joined to
//! the endpoint address (DESIGN 3.1).

use url::Url;

/// The endpoint type of SSE endpoints in Azure Device Registry.
pub const SSE_ENDPOINT_TYPE: &str = "Microsoft.SSEHttp";
/// An alias seen in third-party templates, accepted too.
pub const SSE_ENDPOINT_TYPE_ALIAS: &str = "Microsoft.Sse";

/// Whether an `endpointType` is served by this connector (case-insensitive).
pub fn is_sse(endpoint_type: &str) -> bool {
    endpoint_type.eq_ignore_ascii_case(SSE_ENDPOINT_TYPE)
        || endpoint_type.eq_ignore_ascii_case(SSE_ENDPOINT_TYPE_ALIAS)
}

/// Parses an endpoint address: an absolute `http` or `https` URL with a host and without
/// credentials (credentials belong in `authentication`, where they are secrets).
pub fn parse_address(address: &str) -> Result<Url, String> {
    let url = Url::parse(address).map_err(|e| format!("{address:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{address:?} is not an http(s) URL (scheme {:?})",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{address:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the address must not carry credentials; use authentication".to_owned());
    }
    Ok(url)
}

/// The URL of the stream for `data_source` on the endpoint at `address`.
///
/// - Empty data source: the address itself.
/// - A path (with or without a leading `/`): appended with exactly one `/` between address
///   path and data source; `https://h:8443/base` + `/api/weather` →
///   `https://h:8443/base/api/weather`.
/// - A query in either part is kept; both queries are joined with `&`
///   (`https://h/base?a=1` + `/x?b=2` → `https://h/base/x?a=1&b=2`). A data source that is only
///   a query (`?b=2`) adds the query without a `/`. Fragments are dropped (never sent).
/// - An absolute URL (or a scheme-relative `//host/...`) is used as it is when it has the
///   address's origin (scheme, host, port) and is an error otherwise: credentials must never go
///   to a host the device does not name.
pub fn stream_url(address: &str, data_source: &str) -> Result<Url, String> {
    let base = parse_address(address)?;
    let source = data_source.trim();
    if source.is_empty() {
        let mut url = base;
        url.set_fragment(None);
        return Ok(url);
    }
    let absolute = if source.starts_with("//") {
        Some(format!("{}:{source}", base.scheme()))
    } else if has_scheme(source) {
        Some(source.to_owned())
    } else {
        None
    };
    if let Some(absolute) = absolute {
        let mut url = Url::parse(&absolute)
            .map_err(|e| format!("{data_source:?} is not a valid URL: {e}"))?;
        if url.origin() != base.origin() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{data_source:?} names another origin than the endpoint address {}; \
                 credentials are only sent to the device's own host",
                base.origin().ascii_serialization()
            ));
        }
        url.set_fragment(None);
        return Ok(url);
    }
    let source = source.split('#').next().unwrap_or_default();
    let (path, query) = match source.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (source, None),
    };
    let mut url = base.clone();
    url.set_fragment(None);
    if !path.is_empty() {
        let joined = format!(
            "{}/{}",
            base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
    }
    let query = match (
        base.query().filter(|q| !q.is_empty()),
        query.filter(|q| !q.is_empty()),
    ) {
        (Some(a), Some(b)) => Some(format!("{a}&{b}")),
        (a, b) => a.or(b).map(str::to_owned),
    };
    url.set_query(query.as_deref());
    Ok(url)
}

/// `scheme:` at the start, per RFC 3986 (letter, then letters, digits, `+`, `-`, `.`), followed
/// by `//`: such a data source is an absolute URL rather than a path.
fn has_scheme(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && rest.starts_with("//")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_types_case_insensitive_with_alias() {
        for t in [
            "Microsoft.SSEHttp",
            "microsoft.ssehttp",
            "Microsoft.Sse",
            "MICROSOFT.SSE",
        ] {
            assert!(is_sse(t), "{t}");
        }
        for t in [
            "Microsoft.Http",
            "Microsoft.OpcUa",
            "",
            "Microsoft.SSEHttps",
        ] {
            assert!(!is_sse(t), "{t}");
        }
    }

    #[test]
    fn join_table() {
        let ok = [
            (
                "https://h:8443/base",
                "/api/weather",
                "https://h:8443/base/api/weather",
            ),
            (
                "https://h:8443/base/",
                "/api/weather",
                "https://h:8443/base/api/weather",
            ),
            (
                "https://h:8443/base/",
                "api/weather",
                "https://h:8443/base/api/weather",
            ),
            (
                "https://h:8443/base",
                "api/weather",
                "https://h:8443/base/api/weather",
            ),
            ("https://h", "/events", "https://h/events"),
            ("https://h/", "events", "https://h/events"),
            ("https://h/base", "", "https://h/base"),
            ("https://h/base", "   ", "https://h/base"),
            ("https://h/base?token=1", "", "https://h/base?token=1"),
            ("https://h/base?a=1", "/x?b=2", "https://h/base/x?a=1&b=2"),
            ("https://h/base", "/x?b=2", "https://h/base/x?b=2"),
            ("https://h/base", "?b=2", "https://h/base?b=2"),
            ("https://h/base", "/x#frag", "https://h/base/x"),
            ("http://h:80/base", "/x", "http://h/base/x"),
            ("https://h:443/b", "https://h/b/other", "https://h/b/other"),
            ("https://h/b", "https://H:443/abs?q=1", "https://h/abs?q=1"),
            ("https://h/b", "/a b", "https://h/b/a%20b"),
        ];
        for (address, source, want) in ok {
            let got =
                stream_url(address, source).unwrap_or_else(|e| panic!("{address} + {source}: {e}"));
            assert_eq!(got.as_str(), want, "{address} + {source}");
        }
    }

    #[test]
    fn join_rejects_other_origins_and_bad_addresses() {
        let bad = [
            ("https://h/base", "https://evil.example/x"),
            ("https://h/base", "http://h/x"),
            ("https://h/base", "https://h:8443/x"),
            ("https://h/base", "//evil.example/x"),
            ("https://h/base", "https://user:pw@h/x"),
            ("ftp://h/base", "/x"),
            ("h/base", "/x"),
            ("https://user:pw@h/base", "/x"),
            ("not a url", ""),
            ("file:///etc", ""),
        ];
        for (address, source) in bad {
            assert!(
                stream_url(address, source).is_err(),
                "{address} + {source} accepted"
            );
        }
    }
}
