//! [`SseClient`]: the built HTTP clients for one set of credentials and trust, shared by all
//! streams that use them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{Auth, Secret};
use crate::config::{ClientConfig, StreamConfig};
use crate::error::{Error, ErrorKind, Source};
use crate::stream::EventStream;
use crate::tls;

/// TCP keep-alive probes find dead peers on streams that are legitimately quiet.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// A handle to the HTTP clients of one [`ClientConfig`]: cheap to clone (an `Arc`), safe to
/// share between tasks. Build one per distinct credentials + trust list, then open any number
/// of streams with [`SseClient::stream`].
///
/// It holds two reqwest clients with the same trust: one with the client certificate (if
/// any) for the configured origin, and one without it for redirects to other origins, so
/// that no credential ever leaves the origin the configuration names.
#[derive(Clone)]
pub struct SseClient {
    inner: Arc<Inner>,
}

struct Inner {
    origin: reqwest::Client,
    foreign: reqwest::Client,
    basic: Option<(String, Secret)>,
    connect_timeout: Duration,
}

impl fmt::Debug for SseClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseClient")
            .field(
                "basic_auth",
                &self.inner.basic.as_ref().map(|(user, _)| user),
            )
            .finish_non_exhaustive()
    }
}

impl SseClient {
    /// Reads the trust list and client certificate files and builds the HTTP clients. The
    /// system trust store is loaded once per process.
    ///
    /// # Errors
    /// Never retryable: [`ErrorKind::TrustList`] or [`ErrorKind::ClientCertificate`] for
    /// missing, unreadable or invalid files (the message names the file, never its content);
    /// [`ErrorKind::InvalidConfig`] for a user name with `:` or a client that cannot be built.
    pub fn new(config: &ClientConfig) -> Result<Self, Error> {
        let roots = Arc::new(tls::root_store(&config.trust_list)?);
        let (identity, basic) = match &config.auth {
            Auth::Anonymous => (None, None),
            Auth::Basic { username, password } => {
                if username.contains(':') {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        "the Basic authentication user name contains ':'",
                    ));
                }
                (None, Some((username.clone(), password.clone())))
            }
            Auth::ClientCertificate {
                cert_chain_pem,
                key_pem,
                intermediates,
            } => (
                Some(tls::IdentityFiles {
                    cert_chain_pem,
                    key_pem,
                    intermediates: intermediates.as_deref(),
                }),
                None,
            ),
        };
        let origin_tls = tls::client_config(roots.clone(), identity)?;
        let origin = http_client(origin_tls, config.connect_timeout)?;
        let foreign = if identity.is_some() {
            http_client(tls::client_config(roots, None)?, config.connect_timeout)?
        } else {
            origin.clone()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                origin,
                foreign,
                basic,
                connect_timeout: config.connect_timeout,
            }),
        })
    }

    /// Opens a stream. Nothing happens on the network until the stream is polled.
    pub fn stream(&self, config: StreamConfig) -> EventStream {
        EventStream::new(self.clone(), config)
    }

    /// The client for a request: with the client identity only for the configured origin.
    pub(crate) fn http(&self, same_origin: bool) -> &reqwest::Client {
        if same_origin {
            &self.inner.origin
        } else {
            &self.inner.foreign
        }
    }

    /// The connect timeout the clients were built with.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.inner.connect_timeout
    }

    /// The Basic credentials, to be sent only to the configured origin.
    pub(crate) fn basic_auth(&self) -> Option<(&str, &Secret)> {
        self.inner
            .basic
            .as_ref()
            .map(|(user, password)| (user.as_str(), password))
    }
}

fn http_client(
    tls: rustls::ClientConfig,
    connect_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // Redirects are followed by hand (redirect.rs) to keep credentials on their origin.
        .redirect(reqwest::redirect::Policy::none())
        // Never `timeout()`: a total deadline would cut every long-lived stream. Idle reads
        // are timed by the stream itself.
        .connect_timeout(connect_timeout)
        // A reconnect must open a fresh connection, not reuse one that just went quiet.
        .pool_max_idle_per_host(0)
        .tcp_keepalive(TCP_KEEPALIVE)
        .user_agent(concat!("sse-connector/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::InvalidConfig, "cannot build the HTTP client")
                .with_source(Source::Http(e))
        })
}
