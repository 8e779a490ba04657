//! The rustls client configuration of the broker connection, on the ring provider.
//!
//! Server trust is the system roots (rustls-native-certs, loaded once per process) plus the
//! certificates of the CA file. Verification cannot be turned off. The provider is passed
//! explicitly (`builder_with_provider`), so nothing depends on a process-wide default provider.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::config::TlsSettings;
use crate::error::{MqttError, MqttErrorKind, MqttErrorSource};

/// The operating system's trust store, loaded once; unreadable entries are logged and skipped.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "skipping part of the system trust store");
        }
        loaded.certs
    })
}

/// Builds the client configuration from the settings' files.
///
/// # Errors
/// [`MqttErrorKind::TrustList`] for an unusable CA file, [`MqttErrorKind::ClientCertificate`]
/// for an unusable certificate or key, or a key that does not match the certificate.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, MqttError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(path) = &settings.ca_file {
        for cert in read_certs(path, MqttErrorKind::TrustList, "CA")? {
            roots.add(cert).map_err(|e| {
                MqttError::new(
                    MqttErrorKind::TrustList,
                    format!(
                        "CA file {} holds a certificate that is not a valid CA",
                        path.display()
                    ),
                )
                .with_source(MqttErrorSource::Tls(e))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            MqttError::new(
                MqttErrorKind::InvalidConfig,
                "the TLS provider has no safe protocol version",
            )
            .with_source(MqttErrorSource::Tls(e))
        })?
        .with_root_certificates(roots);
    let config = match (&settings.client_cert, &settings.client_key) {
        (Some(cert_path), Some(key_path)) => {
            let chain = read_certs(
                cert_path,
                MqttErrorKind::ClientCertificate,
                "client certificate",
            )?;
            let key = read_key(key_path)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                MqttError::new(
                    MqttErrorKind::ClientCertificate,
                    format!(
                        "the key in {} does not fit the certificate in {}",
                        key_path.display(),
                        cert_path.display()
                    ),
                )
                .with_source(MqttErrorSource::Tls(e))
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn read_file(path: &Path, kind: MqttErrorKind, what: &str) -> Result<Vec<u8>, MqttError> {
    std::fs::read(path).map_err(|e| {
        MqttError::new(
            kind,
            format!("cannot read {what} file {}: {e}", path.display()),
        )
        .with_source(MqttErrorSource::Io(e))
    })
}

fn read_certs(
    path: &Path,
    kind: MqttErrorKind,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let pem = read_file(path, kind, what)?;
    // PEM errors may quote file content; keep it out of the message.
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            MqttError::new(
                kind,
                format!("{what} file {} is not valid PEM", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(MqttError::new(
            kind,
            format!("no certificate in {what} file {}", path.display()),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, MqttError> {
    let pem = read_file(path, MqttErrorKind::ClientCertificate, "client key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        MqttError::new(
            MqttErrorKind::ClientCertificate,
            format!(
                "key file {} holds no unencrypted PKCS#8, PKCS#1 or SEC1 private key",
                path.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_garbage_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").expect("write");
        let missing = TlsSettings {
            ca_file: Some(dir.path().join("none.pem")),
            ..TlsSettings::default()
        };
        let error = client_config(&missing).expect_err("missing CA");
        assert_eq!(error.kind(), MqttErrorKind::TrustList);
        assert!(error.to_string().contains("none.pem"));
        let empty = TlsSettings {
            ca_file: Some(garbage.clone()),
            ..TlsSettings::default()
        };
        assert!(
            client_config(&empty)
                .expect_err("no cert")
                .to_string()
                .contains("no certificate")
        );
        let bad_key = TlsSettings {
            ca_file: None,
            client_cert: Some(garbage.clone()),
            client_key: Some(garbage),
        };
        assert_eq!(
            client_config(&bad_key).expect_err("bad cert").kind(),
            MqttErrorKind::ClientCertificate
        );
        assert!(client_config(&TlsSettings::default()).is_ok());
    }
}
