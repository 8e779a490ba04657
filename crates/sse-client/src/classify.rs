//! Failure classification: one table from what happened (status, content type, transport
//! error) to an [`ErrorKind`], and from each kind to retry-or-fail, a reason code and advice.
//!
//! The policy follows DESIGN 3.7. Transient conditions (connection errors, timeouts, idle or
//! ended streams, 408, 425, 429, 5xx) are retried. Everything that repeats unchanged until
//! someone edits the definition, a secret or a trust list is not: 400, 401, 403, 404, 405,
//! 406, 410 and **every other 4xx** (a 4xx says the request is wrong; only 408, 425 and 429
//! are defined as "try again later"), statuses an event stream cannot have, a wrong
//! `Content-Type`, TLS verification failures, bad credential or trust files, bad
//! configuration and broken redirects.

use std::error::Error as StdError;

use http::{HeaderValue, StatusCode};
use rustls::AlertDescription;

use crate::error::ErrorKind;

/// The fixed facts about one [`ErrorKind`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Class {
    /// Whether the stream carries on.
    pub retryable: bool,
    /// Stable snake_case label for metrics and status.
    pub reason: &'static str,
    /// What the reader should do, appended to the message.
    pub advice: &'static str,
}

const fn retry(reason: &'static str, advice: &'static str) -> Class {
    Class {
        retryable: true,
        reason,
        advice,
    }
}

const fn fail(reason: &'static str, advice: &'static str) -> Class {
    Class {
        retryable: false,
        reason,
        advice,
    }
}

/// The table.
pub(crate) const fn class(kind: ErrorKind) -> Class {
    use ErrorKind as K;
    match kind {
        K::Connect => retry(
            "connect_failed",
            "check the address and that the server is reachable; retrying",
        ),
        K::ConnectTimeout => retry(
            "connect_timeout",
            "check the address and the network path; retrying",
        ),
        K::Transport => retry("transport_error", "the connection broke; retrying"),
        K::IdleTimeout => retry(
            "idle_timeout",
            "reconnecting; if the server is silent for long periods, raise the idle timeout or have it send comments",
        ),
        K::EndOfStream => retry("end_of_stream", "the server ended the stream; reconnecting"),
        K::RequestTimeout => retry("http_request_timeout", "retrying"),
        K::TooEarly => retry("http_too_early", "retrying"),
        K::TooManyRequests => retry(
            "http_too_many_requests",
            "the server is rate limiting; retrying later",
        ),
        K::ServerError => retry("http_server_error", "the server failed; retrying"),
        K::EventTooLarge => retry(
            "event_too_large",
            "the event was dropped; raise the maximum event size to accept it",
        ),
        K::BadRequest => fail(
            "http_bad_request",
            "check the URL, query and custom headers",
        ),
        K::Unauthorized => fail(
            "http_unauthorized",
            "check the username and password (or the credentials the server expects)",
        ),
        K::Forbidden => fail(
            "http_forbidden",
            "the credentials are valid but not allowed to read this stream; check the permissions",
        ),
        K::NotFound => fail("http_not_found", "check the address and data source path"),
        K::MethodNotAllowed => fail(
            "http_method_not_allowed",
            "the URL does not serve an event stream with GET; check the path",
        ),
        K::NotAcceptable => fail(
            "http_not_acceptable",
            "the URL does not serve text/event-stream; check the path",
        ),
        K::Gone => fail(
            "http_gone",
            "the stream no longer exists; update the data source",
        ),
        K::ClientError => fail(
            "http_client_error",
            "the server rejected the request; fix the configuration, it is not retried",
        ),
        K::UnexpectedStatus => fail(
            "http_unexpected_status",
            "an event stream must answer 200; check the URL",
        ),
        K::WrongContentType => fail(
            "wrong_content_type",
            "the URL is not an event stream (expected text/event-stream); check the path",
        ),
        K::ServerCertificateRejected => fail(
            "tls_server_certificate_rejected",
            "the server certificate is not trusted for this host; add its CA to the trust list or fix the host name",
        ),
        K::ClientCertificateRejected => fail(
            "tls_client_certificate_rejected",
            "the server refused the client certificate; check that a certificate is configured and signed by a CA the server trusts",
        ),
        K::TlsHandshake => fail(
            "tls_handshake_failed",
            "check the URL scheme and port (https:// to a plain HTTP port fails this way) and the server's TLS settings",
        ),
        K::TrustList => fail("trust_list_invalid", "fix or replace the trust list file"),
        K::ClientCertificate => fail(
            "client_certificate_invalid",
            "fix or replace the client certificate and key files",
        ),
        K::InvalidConfig => fail("invalid_config", "fix the configuration"),
        K::TooManyRedirects => fail(
            "too_many_redirects",
            "the server redirects in a loop or too often; point the URL at the final location",
        ),
        K::InvalidRedirect => fail(
            "invalid_redirect",
            "the server sent a redirect without a usable Location; point the URL at the final location",
        ),
        K::ClosedByServer => fail(
            "closed_by_server",
            "the server asked the client to stop (204 No Content); not reconnecting",
        ),
    }
}

/// What a response status means for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 200: read the body as an event stream (after the content type check).
    Stream,
    /// 204: stop for good.
    Closed,
    /// 301, 302, 303, 307, 308: follow `Location`.
    Redirect,
    /// Anything else.
    Fail(ErrorKind),
}

/// Classifies a response status.
pub(crate) fn status(status: StatusCode) -> StatusClass {
    use ErrorKind as K;
    match status.as_u16() {
        200 => StatusClass::Stream,
        204 => StatusClass::Closed,
        301 | 302 | 303 | 307 | 308 => StatusClass::Redirect,
        400 => StatusClass::Fail(K::BadRequest),
        401 => StatusClass::Fail(K::Unauthorized),
        403 => StatusClass::Fail(K::Forbidden),
        404 => StatusClass::Fail(K::NotFound),
        405 => StatusClass::Fail(K::MethodNotAllowed),
        406 => StatusClass::Fail(K::NotAcceptable),
        408 => StatusClass::Fail(K::RequestTimeout),
        410 => StatusClass::Fail(K::Gone),
        425 => StatusClass::Fail(K::TooEarly),
        429 => StatusClass::Fail(K::TooManyRequests),
        _ if status.is_client_error() => StatusClass::Fail(K::ClientError),
        _ if status.is_server_error() => StatusClass::Fail(K::ServerError),
        _ => StatusClass::Fail(K::UnexpectedStatus),
    }
}

/// Whether a `Content-Type` is `text/event-stream` (case-insensitive, parameters allowed).
pub(crate) fn is_event_stream(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("text/event-stream")
}

/// Classifies a failed request or body read by walking its source chain: TLS verification
/// failures first (not retried), then connect timeouts and connect errors, then the rest.
pub(crate) fn transport(err: &reqwest::Error) -> ErrorKind {
    if let Some(kind) = tls_failure(err) {
        return kind;
    }
    if err.is_connect() {
        if err.is_timeout() {
            ErrorKind::ConnectTimeout
        } else {
            ErrorKind::Connect
        }
    } else {
        ErrorKind::Transport
    }
}

/// The innermost message of an error chain, e.g. "Connection refused (os error 111)": short,
/// and free of URLs and header values.
pub(crate) fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut innermost = err;
    for e in chain(err) {
        innermost = e;
    }
    innermost.to_string()
}

/// Finds a rustls verification failure anywhere in the chain.
pub(crate) fn tls_failure(err: &(dyn StdError + 'static)) -> Option<ErrorKind> {
    chain(err).find_map(|e| rustls_error(e).and_then(tls_kind))
}

fn tls_kind(err: &rustls::Error) -> Option<ErrorKind> {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(_) | E::InvalidCertRevocationList(_) => {
            Some(ErrorKind::ServerCertificateRejected)
        }
        // The server refused our certificate (or its absence).
        E::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied
            | AlertDescription::CertificateRequired,
        ) => Some(ErrorKind::ClientCertificateRejected),
        // The peer is not speaking TLS, or we share no version or cipher suite: retrying
        // cannot help until the address or the server's configuration changes.
        E::InvalidMessage(_)
        | E::PeerIncompatible(_)
        | E::AlertReceived(
            AlertDescription::HandshakeFailure | AlertDescription::ProtocolVersion,
        ) => Some(ErrorKind::TlsHandshake),
        _ => None,
    }
}

/// `io::Error::source()` skips the error it wraps, so look inside it explicitly.
fn rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    e.downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// The error and its sources, including the error wrapped by each `io::Error`.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    std::iter::from_fn(move || {
        let current = next?;
        next = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map_or_else(
                || current.source(),
                |inner| Some(inner as &(dyn StdError + 'static)),
            );
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_design_table() {
        let retried = [408, 425, 429, 500, 502, 503, 504, 599];
        for code in retried {
            let StatusClass::Fail(kind) = status(StatusCode::from_u16(code).unwrap()) else {
                panic!("{code} is a failure");
            };
            assert!(kind.is_retryable(), "{code} must be retried");
        }
        let final_ = [
            400, 401, 402, 403, 404, 405, 406, 407, 409, 410, 411, 418, 451, 201, 206, 300, 304,
        ];
        for code in final_ {
            let StatusClass::Fail(kind) = status(StatusCode::from_u16(code).unwrap()) else {
                panic!("{code} is a failure");
            };
            assert!(!kind.is_retryable(), "{code} must not be retried");
        }
        assert_eq!(status(StatusCode::OK), StatusClass::Stream);
        assert_eq!(status(StatusCode::NO_CONTENT), StatusClass::Closed);
        for code in [301, 302, 303, 307, 308] {
            assert_eq!(
                status(StatusCode::from_u16(code).unwrap()),
                StatusClass::Redirect
            );
        }
        assert_eq!(ErrorKind::Unauthorized.reason_code(), "http_unauthorized");
    }

    #[test]
    fn content_type_essence_is_compared_case_insensitively() {
        let ok = [
            "text/event-stream",
            "Text/Event-Stream",
            "text/event-stream; charset=utf-8",
            " text/event-stream ;x=y",
        ];
        for value in ok {
            assert!(
                is_event_stream(Some(&HeaderValue::from_static(value))),
                "{value}"
            );
        }
        let bad = [
            "text/plain",
            "application/json",
            "text/event-streams",
            "text/event",
        ];
        for value in bad {
            assert!(
                !is_event_stream(Some(&HeaderValue::from_static(value))),
                "{value}"
            );
        }
        assert!(!is_event_stream(None));
    }

    #[test]
    fn reason_codes_are_snake_case_and_unique() {
        use ErrorKind as K;
        let all = [
            K::Connect,
            K::ConnectTimeout,
            K::Transport,
            K::IdleTimeout,
            K::EndOfStream,
            K::RequestTimeout,
            K::TooEarly,
            K::TooManyRequests,
            K::ServerError,
            K::EventTooLarge,
            K::BadRequest,
            K::Unauthorized,
            K::Forbidden,
            K::NotFound,
            K::MethodNotAllowed,
            K::NotAcceptable,
            K::Gone,
            K::ClientError,
            K::UnexpectedStatus,
            K::WrongContentType,
            K::ServerCertificateRejected,
            K::ClientCertificateRejected,
            K::TlsHandshake,
            K::TrustList,
            K::ClientCertificate,
            K::InvalidConfig,
            K::TooManyRedirects,
            K::InvalidRedirect,
            K::ClosedByServer,
        ];
        let mut seen = std::collections::HashSet::new();
        for kind in all {
            let code = kind.reason_code();
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            assert!(seen.insert(code), "duplicate {code}");
        }
    }

    #[test]
    fn tls_failures_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        assert_eq!(tls_failure(&io), Some(ErrorKind::ServerCertificateRejected));
        let alert = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        let io = std::io::Error::other(alert);
        assert_eq!(tls_failure(&io), Some(ErrorKind::ClientCertificateRejected));
        let not_tls = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let io = std::io::Error::other(not_tls);
        assert_eq!(tls_failure(&io), Some(ErrorKind::TlsHandshake));
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(tls_failure(&plain), None);
    }
}
