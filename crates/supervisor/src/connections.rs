//! The cache of SSE connections: from a stream's credentials and trust list to an
//! [`SseClient`] (its connection pool). Secret files are read when the stream starts (never
//! earlier, never logged), and built clients are shared by the streams with the same
//! credentials and trust list.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use model::environment::FileRef;
use model::plan::{Credentials, StreamSpec};
use sse_client::{Auth, ClientConfig, Secret, SseClient};

use crate::error::Error;

/// What makes two clients the same: credentials and trust files, with their versions (a
/// changed file is a new key, so a rotated secret gets a new client).
type Key = (Credentials, Vec<FileRef>);

/// Built clients by credentials and trust list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Connections {
    clients: Arc<Mutex<HashMap<Key, SseClient>>>,
}

impl Connections {
    /// The client of `spec`: a cached one, or one built now from the secret files.
    ///
    /// # Errors
    /// [`Error::Secret`] / [`Error::SecretEncoding`] for a secret file that cannot be read;
    /// [`Error::Source`] when the client cannot be built (trust list, client certificate).
    pub async fn get(
        &self,
        spec: &StreamSpec,
        connect_timeout: Option<Duration>,
    ) -> Result<SseClient, Error> {
        let key = (spec.credentials.clone(), spec.trust.clone());
        if let Some(client) = self.lock().get(&key) {
            return Ok(client.clone());
        }
        let mut config = ClientConfig::new(auth(&spec.credentials).await?)
            .with_trust_list(spec.trust.iter().map(|f| f.path.clone()));
        if let Some(timeout) = connect_timeout {
            config = config.with_connect_timeout(timeout)?;
        }
        // Reads the trust and certificate files, and the system roots once per process.
        let client = tokio::task::spawn_blocking(move || SseClient::new(&config)).await??;
        self.lock().insert(key, client.clone());
        Ok(client)
    }

    /// Forgets the clients no stream of `specs` uses.
    pub fn retain<'a>(&self, specs: impl IntoIterator<Item = &'a StreamSpec>) {
        let used: Vec<Key> = specs
            .into_iter()
            .map(|s| (s.credentials.clone(), s.trust.clone()))
            .collect();
        self.lock().retain(|key, _| used.contains(key));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, SseClient>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The client authentication of `credentials`, reading the user name and password files now.
/// A certificate without a separate key file holds its key itself.
async fn auth(credentials: &Credentials) -> Result<Auth, Error> {
    Ok(match credentials {
        Credentials::Anonymous => Auth::Anonymous,
        Credentials::UsernamePassword { username, password } => Auth::Basic {
            username: read_secret(&username.path).await?,
            password: Secret::new(read_secret(&password.path).await?),
        },
        Credentials::Certificate {
            certificate,
            key,
            intermediates,
        } => Auth::ClientCertificate {
            cert_chain_pem: certificate.path.clone(),
            key_pem: key.as_ref().unwrap_or(certificate).path.clone(),
            intermediates: intermediates.as_ref().map(|f| f.path.clone()),
        },
    })
}

/// A secret file's text, exactly as stored (nothing trimmed, like `kubectl create secret
/// --from-file`; `sse-connector secret set` stores the bytes it is given).
async fn read_secret(path: &Path) -> Result<String, Error> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| Error::Secret {
            path: path.to_path_buf(),
            source,
        })?;
    String::from_utf8(bytes).map_err(|_| Error::SecretEncoding {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use model::environment::FileVersion;

    use super::*;

    fn file(path: &Path) -> FileRef {
        FileRef {
            path: path.to_path_buf(),
            version: FileVersion {
                len: 0,
                modified: None,
            },
        }
    }

    #[tokio::test]
    async fn secrets_are_read_as_stored_and_never_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let user = dir.path().join("username");
        let pass = dir.path().join("password");
        std::fs::write(&user, "alice").expect("write");
        std::fs::write(&pass, "s3cret\n").expect("write");
        let creds = Credentials::UsernamePassword {
            username: file(&user),
            password: file(&pass),
        };
        match auth(&creds).await.expect("read") {
            Auth::Basic { username, password } => {
                assert_eq!(username, "alice");
                assert_eq!(password.expose(), "s3cret\n", "nothing trimmed");
            }
            other => panic!("{other:?}"),
        }
        let missing = Credentials::UsernamePassword {
            username: file(&user),
            password: file(&dir.path().join("nope")),
        };
        let err = auth(&missing).await.expect_err("missing");
        assert_eq!(err.reason_code(), "secret_unreadable");
        assert!(!err.is_retryable());
        std::fs::write(&pass, [0xff, 0xfe]).expect("write");
        let err = auth(&creds).await.expect_err("not utf-8");
        assert!(matches!(err, Error::SecretEncoding { .. }));
        assert!(!err.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn certificate_key_defaults_to_the_certificate_file() {
        let cert = file(Path::new("/s/cert.pem"));
        let creds = Credentials::Certificate {
            certificate: cert.clone(),
            key: None,
            intermediates: None,
        };
        match auth(&creds).await.expect("no read needed") {
            Auth::ClientCertificate {
                cert_chain_pem,
                key_pem,
                intermediates,
            } => {
                assert_eq!(cert_chain_pem, key_pem);
                assert_eq!(intermediates, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn clients_are_shared_by_key() {
        let cache = Connections::default();
        let spec = StreamSpec {
            url: "http://h/a".parse().expect("url"),
            credentials: Credentials::Anonymous,
            trust: Vec::new(),
        };
        cache.get(&spec, None).await.expect("built");
        let mut other = spec.clone();
        other.url = "http://h/b".parse().expect("url");
        cache.get(&other, None).await.expect("cached");
        assert_eq!(cache.lock().len(), 1, "same credentials and trust");
        cache.retain([]);
        assert_eq!(cache.lock().len(), 0);
    }
}
