//! Defences against the browser used as a go-between: DNS rebinding and cross-site requests.
//!
//! Any page the user visits can make the browser send requests to this listener, token or not
//! (with no token, on loopback, nothing else stands in the way). Two checks run on every
//! request, before the token's (`guard`):
//!
//! - **Host** (DNS rebinding). A page from `evil.example` that re-points its name at
//!   127.0.0.1 reaches the listener as its own origin, but its requests say
//!   `Host: evil.example`. The `Host` (its port aside) must be: the listen address; any IP
//!   address when the listener is bound to every address (`0.0.0.0`, `::`), as an address
//!   cannot be re-pointed; a loopback address; `localhost`; or a name given with
//!   `--http-allowed-host` ([`AllowedHost`]: the machine's DNS name, a reverse proxy's).
//!   Otherwise `421 Misdirected Request`; no `Host` at all is `400`.
//! - **Origin** (cross-site requests). A request that may change something (any method but
//!   `GET`, `HEAD`, `OPTIONS`) is refused with `403` when `Sec-Fetch-Site` is `cross-site` or
//!   `same-site` (another port of the same machine is another site's page), or when its
//!   `Origin` is neither the request's own host (`Origin: http://HOST` with `HOST` the
//!   `Host`) nor a name given with `--http-allowed-host` (behind a proxy that rewrites
//!   `Host`). Requests with neither header (curl, scripts) do not come from a page and pass.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::reply;
use crate::server::AppState;

/// A host of a `Host` or `Origin` header, or of the allow-list, its port aside.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostName {
    /// An address literal (IPv4-mapped IPv6 addresses as IPv4).
    Ip(IpAddr),
    /// A DNS name, lower case, without a trailing dot.
    Name(String),
}

impl HostName {
    /// `value` as a host: an IPv4 address, an IPv6 address in brackets (or bare, when
    /// `bare_ipv6`), or a DNS name of letters, digits, `-`, `_` and `.`.
    fn parse(value: &str, bare_ipv6: bool) -> Option<Self> {
        if let Some(inside) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            return inside
                .parse::<Ipv6Addr>()
                .ok()
                .map(|ip| Self::ip(ip.into()));
        }
        if let Ok(ip) = value.parse::<Ipv4Addr>() {
            return Some(Self::ip(ip.into()));
        }
        if bare_ipv6 && let Ok(ip) = value.parse::<Ipv6Addr>() {
            return Some(Self::ip(ip.into()));
        }
        let name = value.strip_suffix('.').unwrap_or(value);
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        valid.then(|| Self::Name(name.to_ascii_lowercase()))
    }

    fn ip(ip: IpAddr) -> Self {
        Self::Ip(ip.to_canonical())
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(ip) => ip.fmt(f),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// Where a request is addressed, or where a page comes from: the host and the port, if any.
type Authority = (HostName, Option<u16>);

/// `HOST[:PORT]` of a `Host` header or an origin.
fn authority(value: &str) -> Option<Authority> {
    let (host, port) = match value.rfind(':') {
        // A colon inside brackets belongs to an IPv6 address.
        Some(colon) if !value[colon..].contains(']') => {
            (&value[..colon], Some(&value[colon + 1..]))
        }
        _ => (value, None),
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((HostName::parse(host, false)?, port))
}

/// The host and port of an `Origin` header (`http://HOST[:PORT]` or `https://...`); `None`
/// for `null` and anything else.
fn origin(value: &str) -> Option<Authority> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))?;
    authority(rest)
}

/// A name or address beyond the listen address, loopback and `localhost` that requests may
/// give as their `Host` (and their `Origin`'s host): `--http-allowed-host NAME`, for a
/// listener reached through a DNS name or a reverse proxy. Parsed from a DNS name
/// (`connector.plant.example`), an IPv4 address or an IPv6 address (bare or in brackets);
/// no scheme, no port. Names compare without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost(HostName);

impl FromStr for AllowedHost {
    type Err = ApiError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        HostName::parse(value.trim(), true)
            .map(Self)
            .ok_or_else(|| ApiError::InvalidAllowedHost {
                value: value.to_owned(),
            })
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which hosts a request may name: the rule of the module's docs.
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    listen: IpAddr,
    allowed: Vec<AllowedHost>,
}

impl HostPolicy {
    /// The policy of a listener on `listen` with the extra names `allowed`.
    pub(crate) fn new(listen: IpAddr, allowed: Vec<AllowedHost>) -> Self {
        Self {
            listen: listen.to_canonical(),
            allowed,
        }
    }

    fn is_listed(&self, host: &HostName) -> bool {
        self.allowed.iter().any(|a| &a.0 == host)
    }

    fn accepts(&self, host: &HostName) -> bool {
        let own = match host {
            HostName::Ip(ip) => {
                ip.is_loopback() || *ip == self.listen || self.listen.is_unspecified()
            }
            HostName::Name(name) => name == "localhost",
        };
        own || self.is_listed(host)
    }
}

/// Why a request is refused: its status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }
}

/// The host the request is addressed to (the `Host` header, else the URI's authority), with
/// its port; refused when it is missing, malformed, twice, or not accepted by `policy`.
fn check_host(policy: &HostPolicy, uri: &Uri, headers: &HeaderMap) -> Result<Authority, Refusal> {
    let mut values = headers.get_all(header::HOST).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        (Some(_), Some(_)) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "the request has more than one Host header".to_owned(),
            ));
        }
        (None, _) => match uri.authority() {
            Some(authority) => Some(authority.as_str()),
            None => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "the request has no Host header".to_owned(),
                ));
            }
        },
    };
    let parsed = value.and_then(authority);
    match parsed {
        Some((host, port)) if policy.accepts(&host) => Ok((host, port)),
        Some((host, _)) => Err(Refusal::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "the Host {host} is not a name of this listener: use its address, localhost \
                 or a loopback address, or allow the name with --http-allowed-host"
            ),
        )),
        None => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "the Host header is not HOST[:PORT]".to_owned(),
        )),
    }
}

/// Refuses a request that may change something when it comes from another site's page.
fn check_origin(
    policy: &HostPolicy,
    method: &Method,
    headers: &HeaderMap,
    own: &Authority,
) -> Result<(), Refusal> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.as_bytes().to_ascii_lowercase());
    if matches!(fetch_site.as_deref(), Some(b"cross-site" | b"same-site")) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "a request from another site's page may not change anything (Sec-Fetch-Site)"
                .to_owned(),
        ));
    }
    let Some(value) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    match value.to_str().ok().and_then(origin) {
        Some(from) if &from == own || policy.is_listed(&from.0) => Ok(()),
        _ => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "a request from another origin than the web UI's may not change anything (Origin)"
                .to_owned(),
        )),
    }
}

/// Middleware: the Host and Origin checks of the module's docs, on every route.
pub(crate) async fn guard(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let policy = &state.hosts;
    let checked = check_host(policy, request.uri(), request.headers())
        .and_then(|own| check_origin(policy, request.method(), request.headers(), &own));
    match checked {
        Ok(()) => next.run(request).await,
        Err(refusal) => reply::error(refusal.status, &refusal.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> HostName {
        HostName::Name(n.to_owned())
    }

    fn ip(text: &str) -> HostName {
        HostName::Ip(text.parse().expect("address"))
    }

    #[test]
    fn authorities_parse_with_ports_and_brackets() {
        let cases: &[(&str, Option<Authority>)] = &[
            ("127.0.0.1:8080", Some((ip("127.0.0.1"), Some(8080)))),
            ("127.0.0.1", Some((ip("127.0.0.1"), None))),
            ("[::1]:8080", Some((ip("::1"), Some(8080)))),
            ("[::1]", Some((ip("::1"), None))),
            ("[::ffff:127.0.0.1]:80", Some((ip("127.0.0.1"), Some(80)))),
            ("LocalHost.:80", Some((name("localhost"), Some(80)))),
            ("evil.example", Some((name("evil.example"), None))),
            ("::1", None),
            ("[::1", None),
            ("host:", None),
            ("host:+80", None),
            ("host:99999", None),
            ("user@host", None),
            ("", None),
            ("a b", None),
        ];
        for (value, expected) in cases {
            assert_eq!(&authority(value), expected, "{value:?}");
        }
        assert_eq!(
            origin("http://127.0.0.1:8080"),
            Some((ip("127.0.0.1"), Some(8080)))
        );
        assert_eq!(
            origin("https://Proxy.Example"),
            Some((name("proxy.example"), None))
        );
        assert_eq!(origin("null"), None);
        assert_eq!(origin("ftp://host"), None);
        assert_eq!(origin("http://host/path"), None);
    }

    #[test]
    fn allowed_hosts_parse_names_and_addresses_only() {
        let parse = |v: &str| v.parse::<AllowedHost>().map(|a| a.to_string()).ok();
        assert_eq!(
            parse("Connector.Plant.Example"),
            Some("connector.plant.example".into())
        );
        assert_eq!(parse("10.0.0.5"), Some("10.0.0.5".into()));
        assert_eq!(parse("fd00::5"), Some("[fd00::5]".into()));
        assert_eq!(parse("[fd00::5]"), Some("[fd00::5]".into()));
        for bad in ["", "http://x", "x:8080", "*.example", "a/b"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_host_must_be_the_listener_loopback_localhost_or_allowed() {
        let loopback = HostPolicy::new([127, 0, 0, 1].into(), Vec::new());
        let specific = HostPolicy::new(
            [10, 0, 0, 5].into(),
            vec!["gw.example".parse().expect("name")],
        );
        let every = HostPolicy::new([0, 0, 0, 0].into(), Vec::new());
        let cases = [
            (&loopback, "127.0.0.1", true),
            (&loopback, "127.1.2.3", true),
            (&loopback, "::1", true),
            (&loopback, "localhost", true),
            (&loopback, "evil.example", false),
            (&loopback, "10.0.0.5", false),
            (&loopback, "localhost.evil.example", false),
            (&specific, "10.0.0.5", true),
            (&specific, "10.0.0.6", false),
            (&specific, "gw.example", true),
            (&specific, "GW.example", true),
            (&specific, "other.example", false),
            (&every, "192.168.1.7", true),
            (&every, "fd00::7", true),
            (&every, "evil.example", false),
        ];
        for (policy, host, accepted) in cases {
            let parsed = HostName::parse(host, true).expect("host");
            assert_eq!(
                policy.accepts(&parsed),
                accepted,
                "{host} on {:?}",
                policy.listen
            );
        }
    }

    type Pairs<'a> = &'a [(&'static str, &'a str)];

    fn headers(pairs: Pairs<'_>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    fn status(policy: &HostPolicy, method: Method, pairs: Pairs<'_>) -> u16 {
        let headers = headers(pairs);
        let uri = Uri::from_static("/api/v1/devices");
        check_host(policy, &uri, &headers)
            .and_then(|own| check_origin(policy, &method, &headers, &own))
            .map_or_else(|r| r.status.as_u16(), |()| 200)
    }

    #[test]
    fn requests_are_refused_by_host_and_origin() {
        let policy = HostPolicy::new(
            [127, 0, 0, 1].into(),
            vec!["proxy.example".parse().expect("name")],
        );
        let host = ("host", "127.0.0.1:8080");
        let cases: &[(Method, Pairs<'_>, u16)] = &[
            (Method::PUT, &[host], 200),
            (Method::PUT, &[], 400),
            (
                Method::GET,
                &[("host", "127.0.0.1:8080"), ("host", "x")],
                400,
            ),
            (Method::GET, &[("host", "bad host")], 400),
            (
                Method::PUT,
                &[("host", "evil.example"), ("origin", "http://evil.example")],
                421,
            ),
            (Method::GET, &[("host", "evil.example")], 421),
            (
                Method::PUT,
                &[host, ("origin", "http://127.0.0.1:8080")],
                200,
            ),
            (
                Method::PUT,
                &[host, ("origin", "http://127.0.0.1:3000")],
                403,
            ),
            (
                Method::DELETE,
                &[host, ("origin", "http://evil.example")],
                403,
            ),
            (Method::POST, &[host, ("origin", "null")], 403),
            (
                Method::POST,
                &[host, ("origin", "https://proxy.example")],
                200,
            ),
            (Method::GET, &[host, ("origin", "http://evil.example")], 200),
            (Method::PUT, &[host, ("sec-fetch-site", "cross-site")], 403),
            (Method::PUT, &[host, ("sec-fetch-site", "same-site")], 403),
            (
                Method::PUT,
                &[
                    host,
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "http://127.0.0.1:8080"),
                ],
                200,
            ),
            (Method::PUT, &[host, ("sec-fetch-site", "none")], 200),
            (Method::GET, &[host, ("sec-fetch-site", "cross-site")], 200),
        ];
        for (method, pairs, expected) in cases {
            assert_eq!(
                status(&policy, method.clone(), pairs),
                *expected,
                "{method} {pairs:?}"
            );
        }
    }
}
