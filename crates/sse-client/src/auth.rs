//! How the client proves who it is: nothing, HTTP Basic, or an X.509 client certificate.
//!
//! Credentials are sent only to the origin (scheme, host, port) of the configured URL; a
//! redirect to another origin is followed without them (see `redirect.rs`).

use std::fmt;
use std::path::PathBuf;

/// A secret string (a password). Its `Debug` and `Display` print `<redacted>` so that it can
/// never end up in a log line, a status or an error text by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The authentication of an inbound endpoint (AIO's `authentication.method`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    Anonymous,
    /// HTTP Basic authentication (`Authorization: Basic …`), sent only to the configured origin.
    Basic {
        /// The user name; must not contain `:` (RFC 7617).
        username: String,
        /// The password.
        password: Secret,
    },
    /// Mutual TLS with an X.509 client certificate. The files are read when the
    /// [`SseClient`](crate::SseClient) is built.
    ClientCertificate {
        /// PEM file with the client certificate, leaf first (it may hold the chain too).
        cert_chain_pem: PathBuf,
        /// PEM file with the private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), not encrypted.
        key_pem: PathBuf,
        /// Optional PEM file with intermediate CA certificates, appended to the chain.
        intermediates: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let auth = Auth::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        let text = format!("{auth:?} {}", Secret::new("hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
