//! Where the HTTP listener listens, and whether it needs a token.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use subtle::ConstantTimeEq as _;

use crate::error::ApiError;
use crate::guard::AllowedHost;

/// The default listen address: loopback only.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";

/// The environment variable that may hold the token itself (a Kubernetes secret exposed as
/// an environment variable); a token file, when given, wins. Never a command-line option:
/// other users can read a process's arguments.
pub const TOKEN_ENV: &str = "SSE_CONNECTOR_HTTP_TOKEN";

/// The `--http` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpListen {
    /// No listener.
    Off,
    /// Listen on this address.
    On(SocketAddr),
}

impl FromStr for HttpListen {
    type Err = ApiError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        value
            .parse()
            .map(Self::On)
            .map_err(|_| ApiError::InvalidAddress {
                value: value.to_owned(),
            })
    }
}

impl fmt::Display for HttpListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::On(addr) => addr.fmt(f),
        }
    }
}

/// A bearer token for the API. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Reads a token from a file (surrounding white space removed).
    ///
    /// # Errors
    /// [`ApiError::Token`] when the file cannot be read or holds no token.
    pub fn from_file(path: &Path) -> Result<Self, ApiError> {
        let error = |reason: String| ApiError::Token {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(error("the file is empty".to_owned()));
        }
        Ok(Self(token.into()))
    }

    /// A token given as a value (from [`TOKEN_ENV`]), surrounding white space removed.
    ///
    /// # Errors
    /// [`ApiError::Token`] when it is empty.
    pub fn new(value: &str) -> Result<Self, ApiError> {
        let token = value.trim();
        if token.is_empty() {
            return Err(ApiError::Token {
                path: TOKEN_ENV.to_owned(),
                reason: "the variable is empty".to_owned(),
            });
        }
        Ok(Self(token.into()))
    }

    /// Whether `candidate` is this token, compared in constant time (`subtle`): the time
    /// taken tells nothing of how much of a guess was right, only, at most, whether its
    /// length was.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

/// Who may use the listener: the bearer token, and the names beyond its address, loopback
/// and `localhost` that requests may give as their `Host` (see [`guard`](crate::guard)).
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The token every route but the open ones needs; required beyond loopback.
    pub token: Option<Token>,
    /// `--http-allowed-host`: the DNS names (or addresses) the listener is reached by, such
    /// as the machine's name or a reverse proxy's.
    pub allowed_hosts: Vec<AllowedHost>,
}

/// Checks that a listener beyond loopback has a token.
///
/// # Errors
/// [`ApiError::TokenRequired`] for a non-loopback address without a token.
pub fn check_exposure(addr: SocketAddr, token: Option<&Token>) -> Result<(), ApiError> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(ApiError::TokenRequired { addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_off() {
        assert_eq!("off".parse::<HttpListen>().ok(), Some(HttpListen::Off));
        assert_eq!(
            "127.0.0.1:9000".parse::<HttpListen>().ok(),
            Some(HttpListen::On(([127, 0, 0, 1], 9000).into()))
        );
        assert!("localhost".parse::<HttpListen>().is_err());
    }

    #[test]
    fn beyond_loopback_needs_a_token() {
        let token = Token("t".into());
        let public: SocketAddr = ([0, 0, 0, 0], 8080).into();
        assert!(check_exposure(public, None).is_err());
        assert!(check_exposure(public, Some(&token)).is_ok());
        assert!(check_exposure(([127, 0, 0, 1], 8080).into(), None).is_ok());
        assert!(check_exposure("[::1]:8080".parse().expect("address"), None).is_ok());
    }

    #[test]
    fn token_comparison_and_redaction() {
        let token = Token("secret-value".into());
        assert!(token.matches("secret-value"));
        assert!(!token.matches("secret-valuE"));
        assert!(!token.matches("secret"));
        assert!(!format!("{token:?}").contains("secret"));
        assert!(
            Token::new("  secret-value\n")
                .unwrap()
                .matches("secret-value")
        );
        assert!(Token::new(" ").is_err());
    }
}
