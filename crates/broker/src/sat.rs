//! `K8S-SAT` authentication for the embedded broker: a CONNECT whose MQTT v5 authentication
//! method is `K8S-SAT` succeeds when its authentication data is one of the accepted tokens.
//!
//! AIO's broker does the same, except that it asks Kubernetes whether the token is valid;
//! here the accepted tokens are a set the owner edits at run time ([`SatTokens`]). It exists
//! for tests of the connector's SAT support (token rotation among them) and for people who
//! want token authentication on the embedded broker; it is not a Kubernetes token validator.
//! Clients without an authentication method are handled as without SAT (anonymous access,
//! password file).

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mqtt5::broker::auth::{AuthProvider, AuthResult, EnhancedAuthResult};
use mqtt5::packet::connect::ConnectPacket;
use mqtt5::protocol::v5::reason_codes::ReasonCode;

/// The authentication method of a Kubernetes service account token.
pub const K8S_SAT: &str = "K8S-SAT";

/// The tokens the broker accepts, shared with its owner: cheap to clone, all clones see the
/// same set. Also records the token of every successful `K8S-SAT` connect, in order.
#[derive(Clone, Default)]
pub struct SatTokens {
    inner: Arc<Mutex<Tokens>>,
}

#[derive(Default)]
struct Tokens {
    accepted: HashSet<Vec<u8>>,
    used: Vec<Vec<u8>>,
}

impl SatTokens {
    /// An empty set: every `K8S-SAT` connect is refused until a token is accepted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `token` from now on.
    pub fn accept(&self, token: impl Into<Vec<u8>>) {
        self.lock().accepted.insert(token.into());
    }

    /// Stops accepting `token` (connections made with it stay); `false` when it was not
    /// accepted.
    pub fn revoke(&self, token: &[u8]) -> bool {
        self.lock().accepted.remove(token)
    }

    /// The token of each successful `K8S-SAT` connect so far, oldest first.
    pub fn used(&self) -> Vec<Vec<u8>> {
        self.lock().used.clone()
    }

    /// Whether `token` is accepted; records it as used when it is.
    fn admit(&self, token: &[u8]) -> bool {
        let mut tokens = self.lock();
        let admitted = tokens.accepted.contains(token);
        if admitted {
            tokens.used.push(token.to_vec());
        }
        admitted
    }

    fn lock(&self) -> MutexGuard<'_, Tokens> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for SatTokens {
    /// Counts only: tokens are credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tokens = self.lock();
        f.debug_struct("SatTokens")
            .field("accepted", &tokens.accepted.len())
            .field("used", &tokens.used.len())
            .finish()
    }
}

impl PartialEq for SatTokens {
    /// The same shared set.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for SatTokens {}

/// The broker's authentication: `K8S-SAT` for clients that name it, `other` for the rest.
pub(crate) struct SatProvider {
    pub(crate) tokens: SatTokens,
    pub(crate) other: Arc<dyn AuthProvider>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl SatProvider {
    fn check(&self, method: &str, data: Option<&[u8]>) -> EnhancedAuthResult {
        if method != K8S_SAT {
            return EnhancedAuthResult::fail_with_reason(
                method,
                ReasonCode::BadAuthenticationMethod,
                format!("only {K8S_SAT} is supported"),
            );
        }
        if data.is_some_and(|token| self.tokens.admit(token)) {
            EnhancedAuthResult::success_with_user(method, K8S_SAT)
        } else {
            tracing::debug!("refused a service account token");
            EnhancedAuthResult::fail_with_reason(
                method,
                ReasonCode::NotAuthorized,
                "the service account token is not accepted",
            )
        }
    }
}

impl AuthProvider for SatProvider {
    fn authenticate<'a>(
        &'a self,
        connect: &'a ConnectPacket,
        client_addr: SocketAddr,
    ) -> Boxed<'a, mqtt5::Result<AuthResult>> {
        self.other.authenticate(connect, client_addr)
    }

    fn authorize_publish<'a>(
        &'a self,
        client_id: &str,
        user_id: Option<&'a str>,
        topic: &'a str,
    ) -> Boxed<'a, bool> {
        self.other.authorize_publish(client_id, user_id, topic)
    }

    fn authorize_subscribe<'a>(
        &'a self,
        client_id: &str,
        user_id: Option<&'a str>,
        topic_filter: &'a str,
    ) -> Boxed<'a, bool> {
        self.other
            .authorize_subscribe(client_id, user_id, topic_filter)
    }

    fn supports_enhanced_auth(&self) -> bool {
        true
    }

    fn authenticate_enhanced<'a>(
        &'a self,
        auth_method: &'a str,
        auth_data: Option<&'a [u8]>,
        _client_id: &'a str,
    ) -> Boxed<'a, mqtt5::Result<EnhancedAuthResult>> {
        let result = self.check(auth_method, auth_data);
        Box::pin(async move { Ok(result) })
    }

    fn reauthenticate<'a>(
        &'a self,
        auth_method: &'a str,
        auth_data: Option<&'a [u8]>,
        _client_id: &'a str,
        _user_id: Option<&'a str>,
    ) -> Boxed<'a, mqtt5::Result<EnhancedAuthResult>> {
        let result = self.check(auth_method, auth_data);
        Box::pin(async move { Ok(result) })
    }

    fn cleanup_session<'a>(&'a self, user_id: &'a str) -> Boxed<'a, ()> {
        self.other.cleanup_session(user_id)
    }
}
