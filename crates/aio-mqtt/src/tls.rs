//! The rustls client configuration of the broker connection, on the ring provider.
//!
//! Server trust is the system roots (rustls-native-certs, loaded once per process) plus the
//! certificates of the CA file. Verification cannot be turned off. The provider is passed
//! explicitly (`builder_with_provider`), so nothing depends on a process-wide default provider.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSettings;
use crate::error::{MqttError, MqttErrorKind, MqttErrorSource};

/// Builds the client configuration from the settings' files.
///
/// # Errors
/// [`MqttErrorKind::TrustList`] for an unusable CA file, [`MqttErrorKind::ClientCertificate`]
/// for an unusable certificate or key, or a key that does not match the certificate.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, MqttError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(tls_files::system_roots().iter().cloned());
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
            let key = read_key(key_path, settings.client_key_password_file.as_deref())?;
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

/// Every certificate of a PEM file.
fn read_certs(
    path: &Path,
    kind: MqttErrorKind,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    tls_files::certificates(path, what).map_err(|e| pem_error(kind, e))
}

/// The private key of a PEM file, decrypted with the password in `password_file` when given.
fn read_key(
    path: &Path,
    password_file: Option<&Path>,
) -> Result<PrivateKeyDer<'static>, MqttError> {
    match password_file {
        None => tls_files::private_key(path),
        Some(password_file) => tls_files::encrypted_private_key(path, password_file),
    }
    .map_err(|e| pem_error(MqttErrorKind::ClientCertificate, e))
}

fn pem_error(kind: MqttErrorKind, error: tls_files::PemError) -> MqttError {
    MqttError::new(kind, error.to_string()).with_source(MqttErrorSource::Pem(error))
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
            client_key_password_file: None,
        };
        assert_eq!(
            client_config(&bad_key).expect_err("bad cert").kind(),
            MqttErrorKind::ClientCertificate
        );
        assert!(client_config(&TlsSettings::default()).is_ok());
    }
}
