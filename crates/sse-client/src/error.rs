//! The client's error type: a kind (what failed, whether to retry, the reason code) and a
//! message for people that names the URL and says what to do.
//!
//! Messages never contain a password, an `Authorization` value or key material: URLs are
//! shown without user information, and the texts of lower layers are only added when they
//! cannot carry secrets (I/O, TLS and HTTP protocol errors, with reqwest's URL stripped).

use std::time::Duration;

use http::StatusCode;

use crate::classify;

/// What failed. The classification table in `classify.rs` decides, per kind, whether the
/// stream retries, its reason code and the advice added to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    // Retried.
    /// TCP connect or DNS failed.
    Connect,
    /// The TCP/TLS connect did not finish within the connect timeout.
    ConnectTimeout,
    /// The connection broke while sending the request or reading the body.
    Transport,
    /// No byte (not even a comment) arrived within the idle timeout.
    IdleTimeout,
    /// The server ended the response body.
    EndOfStream,
    /// HTTP 408 Request Timeout.
    RequestTimeout,
    /// HTTP 425 Too Early.
    TooEarly,
    /// HTTP 429 Too Many Requests.
    TooManyRequests,
    /// HTTP 5xx.
    ServerError,
    /// An event exceeded the maximum event size and was dropped; the stream goes on.
    EventTooLarge,

    // Not retried: the request or the configuration must change first.
    /// HTTP 400 Bad Request.
    BadRequest,
    /// HTTP 401 Unauthorized.
    Unauthorized,
    /// HTTP 403 Forbidden.
    Forbidden,
    /// HTTP 404 Not Found.
    NotFound,
    /// HTTP 405 Method Not Allowed.
    MethodNotAllowed,
    /// HTTP 406 Not Acceptable.
    NotAcceptable,
    /// HTTP 410 Gone.
    Gone,
    /// Any other 4xx status: the request itself is wrong, repeating it unchanged will not help.
    ClientError,
    /// A status an event stream cannot have (1xx, 2xx other than 200 and 204, a 3xx that is
    /// not a redirect).
    UnexpectedStatus,
    /// A 200 response whose `Content-Type` is not `text/event-stream`.
    WrongContentType,
    /// The server's certificate failed verification (unknown CA, wrong host name, expired…).
    ServerCertificateRejected,
    /// The server refused our client certificate (or its absence) during the TLS handshake.
    ClientCertificateRejected,
    /// The TLS handshake failed for another reason: the server does not speak TLS on that port
    /// (an `https://` URL pointing at a plain HTTP port), or no protocol version or cipher
    /// suite is shared.
    TlsHandshake,
    /// A trust list file is missing, unreadable or holds no valid certificate.
    TrustList,
    /// The client certificate or key file is missing, unreadable or invalid.
    ClientCertificate,
    /// The configuration is invalid (URL, header, timeout, retry settings, credentials).
    InvalidConfig,
    /// More redirects than the hop limit.
    TooManyRedirects,
    /// A redirect without a usable `Location` (missing, empty, not an http(s) URL).
    InvalidRedirect,
    /// HTTP 204: the server asked the client to stop; the stream ends for good.
    ClosedByServer,
}

/// The AIO health reason code a failure maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthCode {
    /// `SseConnectorStreamError`: the stream failed (retrying or for good).
    StreamError,
    /// `SseConnectorStreamClosed`: the server closed the stream with HTTP 204.
    StreamClosed,
}

impl HealthCode {
    /// The code as AIO spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StreamError => "SseConnectorStreamError",
            Self::StreamClosed => "SseConnectorStreamClosed",
        }
    }
}

impl ErrorKind {
    /// Whether the stream carries on after this error (reconnecting with backoff, or, for
    /// [`ErrorKind::EventTooLarge`], reading on). `false` means the stream has ended.
    pub fn is_retryable(self) -> bool {
        classify::class(self).retryable
    }

    /// A stable snake_case label from a bounded set, for metrics and status.
    pub fn reason_code(self) -> &'static str {
        classify::class(self).reason
    }

    /// The AIO health code to report for this kind.
    pub fn health_code(self) -> HealthCode {
        match self {
            Self::ClosedByServer => HealthCode::StreamClosed,
            _ => HealthCode::StreamError,
        }
    }
}

/// Why a stream failed, with a message that names the URL and says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<StatusCode>,
    retry_after: Option<Duration>,
    #[source]
    source: Option<Source>,
}

/// Lower-layer causes, kept for `source()` chains (never shown with secrets).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Source {
    #[error(transparent)]
    Http(reqwest::Error),
    #[error(transparent)]
    Tls(rustls::Error),
    #[error(transparent)]
    Decode(sse_parser::DecodeError),
    #[error(transparent)]
    Pem(tls_files::PemError),
}

impl Error {
    /// An error whose message is `what` followed by the kind's advice.
    pub(crate) fn new(kind: ErrorKind, what: impl std::fmt::Display) -> Self {
        let advice = classify::class(kind).advice;
        Self {
            kind,
            message: format!("{what}: {advice}"),
            status: None,
            retry_after: None,
            source: None,
        }
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub(crate) fn with_source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// See [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// See [`ErrorKind::reason_code`].
    pub fn reason_code(&self) -> &'static str {
        self.kind.reason_code()
    }

    /// See [`ErrorKind::health_code`].
    pub fn health_code(&self) -> HealthCode {
        self.kind.health_code()
    }

    /// The HTTP status, when the failure was a response.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The server's `Retry-After`, already parsed and capped (see
    /// [`parse_retry_after`](crate::retry::parse_retry_after)).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}
