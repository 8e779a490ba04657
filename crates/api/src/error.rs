//! Listener errors.

use std::net::SocketAddr;

/// Why the HTTP listener cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The `--http` value is neither an address nor `off`.
    #[error(
        "invalid HTTP listen address {value:?}: expected HOST:PORT (e.g. 127.0.0.1:8080) or off"
    )]
    InvalidAddress {
        /// What was given.
        value: String,
    },
    /// An `--http-allowed-host` value is neither a DNS name nor an IP address.
    #[error(
        "invalid allowed HTTP host {value:?}: expected a DNS name or an IP address, \
         without scheme or port (e.g. connector.plant.example)"
    )]
    InvalidAllowedHost {
        /// What was given.
        value: String,
    },
    /// The address is beyond loopback and no token was configured.
    #[error(
        "the HTTP listener on {addr} is reachable beyond this machine and needs a token: \
         set SSE_CONNECTOR_HTTP_TOKEN_FILE (or --http-token-file) to a file holding it, \
         or SSE_CONNECTOR_HTTP_TOKEN to the token"
    )]
    TokenRequired {
        /// The listen address.
        addr: SocketAddr,
    },
    /// The token file cannot be read or is empty.
    #[error("cannot use the HTTP token file {path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// What is wrong (never the token).
        reason: String,
    },
    /// Binding failed.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Bind {
        /// The listen address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
