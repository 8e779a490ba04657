//! What a client and a stream are built from, validated when constructed so that building
//! the client or opening the stream never finds a configuration error late.
//!
//! [`ClientConfig`] holds what shapes the HTTP client (credentials, trust list, connect
//! timeout): one [`SseClient`](crate::SseClient) per distinct value. [`StreamConfig`] holds
//! what shapes one stream (URL, headers, timeouts, limits, resume point, retry policy).

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderMap;
use sse_parser::SmolStr;
use url::Url;

use crate::auth::Auth;
use crate::error::{Error, ErrorKind};
use crate::redirect::redact;
use crate::retry::RetryPolicy;

/// Default TCP + TLS connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle timeout: the longest silence (no byte, not even a comment) tolerated.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of an [`SseClient`](crate::SseClient): authentication, extra trusted CAs and
/// the connect timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub(crate) auth: Auth,
    pub(crate) trust_list: Vec<PathBuf>,
    pub(crate) connect_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with the given authentication, the system roots only and the default
    /// connect timeout.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            trust_list: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Adds PEM files of CA certificates trusted in addition to the system roots. A trust
    /// list adds trust; it never turns verification off.
    pub fn with_trust_list<P: Into<PathBuf>>(
        mut self,
        pem_files: impl IntoIterator<Item = P>,
    ) -> Self {
        self.trust_list
            .extend(pem_files.into_iter().map(Into::into));
        self
    }

    /// Sets the connect timeout (TCP and TLS handshake).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] for a zero duration.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        if timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "the connect timeout must be greater than zero",
            ));
        }
        self.connect_timeout = timeout;
        Ok(self)
    }

    /// The authentication.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The trust list files.
    pub fn trust_list(&self) -> &[PathBuf] {
        &self.trust_list
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}

/// Settings of one stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_event_size: usize,
    pub(crate) last_event_id: SmolStr,
    pub(crate) retry: RetryPolicy,
}

impl StreamConfig {
    /// A stream of `url` with default timeouts, limits and retry policy.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] when `url` does not parse, is not `http`/`https`, has no
    /// host, or carries user information (configure credentials with [`Auth::Basic`]).
    pub fn new(url: &str) -> Result<Self, Error> {
        let invalid = |why: &str| {
            // Never echo the raw text: it may hold a password.
            let shown = Url::parse(url)
                .map_or_else(|_| "the stream URL".to_owned(), |u| redact(&u).to_string());
            Error::new(ErrorKind::InvalidConfig, format!("{shown} {why}"))
        };
        let parsed = Url::parse(url).map_err(|e| invalid(&format!("is not a valid URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("is not an http or https URL"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("has no host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "contains user information; configure Basic authentication instead",
            ));
        }
        Ok(Self {
            url: redact(&parsed),
            headers: HeaderMap::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_event_size: sse_parser::DEFAULT_MAX_EVENT_SIZE,
            last_event_id: SmolStr::default(),
            retry: RetryPolicy::default(),
        })
    }

    /// Extra request headers, sent only to the configured origin (they may carry API keys).
    /// `Accept`, `Cache-Control` and `Last-Event-ID` are always set by the client.
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the idle timeout: how long the stream may go without a single byte (comments
    /// count) before it reconnects. It also bounds the wait for response headers.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] for a zero duration.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        if timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "the idle timeout must be greater than zero",
            ));
        }
        self.idle_timeout = timeout;
        Ok(self)
    }

    /// Sets the largest event (in bytes of field lines) kept; larger ones are dropped and
    /// reported as [`StreamItem::EventDropped`](crate::StreamItem::EventDropped).
    pub fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The resume point sent as `Last-Event-ID` on the first request (nothing when empty).
    pub fn with_last_event_id(mut self, id: &str) -> Self {
        self.last_event_id = SmolStr::new(id);
        self
    }

    /// Sets the reconnect policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The stream URL (without user information).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The extra request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The maximum event size.
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// The initial resume point.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnect policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_without_echoing_passwords() {
        assert!(StreamConfig::new("https://h:8443/a?b=c").is_ok());
        for bad in [
            "ftp://h/a",
            "not a url",
            "https://u:secret@h/a",
            "https://u@h/a",
            "file:///etc/passwd",
        ] {
            let err = StreamConfig::new(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{bad}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn zero_timeouts_are_rejected() {
        let cfg = StreamConfig::new("http://h/").unwrap();
        assert!(cfg.with_idle_timeout(Duration::ZERO).is_err());
        assert!(
            ClientConfig::new(Auth::Anonymous)
                .with_connect_timeout(Duration::ZERO)
                .is_err()
        );
    }
}
