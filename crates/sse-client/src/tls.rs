//! TLS: one rustls client configuration per client identity, built on the ring provider.
//!
//! Server trust is the system roots (rustls-native-certs, loaded once per process) plus the
//! CA certificates of the trust list files. There is no way to turn verification off: this
//! module never builds a custom certificate verifier, and no public API reaches one.
//!
//! The provider is passed explicitly (`builder_with_provider`), so nothing depends on a
//! process-wide default provider being installed.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, ErrorKind, Source};

/// Client certificate files, as given in [`Auth::ClientCertificate`](crate::Auth).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdentityFiles<'a> {
    pub cert_chain_pem: &'a Path,
    pub key_pem: &'a Path,
    pub intermediates: Option<&'a Path>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server-trust anchors: system roots plus every certificate of every trust list file.
///
/// # Errors
/// [`ErrorKind::TrustList`] when a file cannot be read, holds no certificate, or holds a
/// certificate that is not a valid trust anchor.
pub(crate) fn root_store(trust_list: &[impl AsRef<Path>]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let (_added, ignored) =
        roots.add_parsable_certificates(tls_files::system_roots().iter().cloned());
    if ignored > 0 {
        tracing::debug!(
            ignored,
            "system trust store entries that are not valid trust anchors"
        );
    }
    for path in trust_list {
        let path = path.as_ref();
        for cert in read_certs(path, ErrorKind::TrustList, "trust list")? {
            roots.add(cert).map_err(|e| {
                Error::new(
                    ErrorKind::TrustList,
                    format!(
                        "trust list {} holds a certificate that is not a valid CA certificate",
                        path.display()
                    ),
                )
                .with_source(Source::Tls(e))
            })?;
        }
    }
    Ok(roots)
}

/// Builds a client configuration, with the client identity when `identity` is given.
///
/// # Errors
/// [`ErrorKind::ClientCertificate`] for unreadable or invalid certificate and key files, or a
/// key that does not match the certificate.
pub(crate) fn client_config(
    roots: Arc<RootCertStore>,
    identity: Option<IdentityFiles<'_>>,
) -> Result<rustls::ClientConfig, Error> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidConfig,
                "the TLS provider supports no safe protocol version",
            )
            .with_source(Source::Tls(e))
        })?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let mut chain = read_certs(
                files.cert_chain_pem,
                ErrorKind::ClientCertificate,
                "client certificate",
            )?;
            if let Some(intermediates) = files.intermediates {
                chain.extend(read_certs(
                    intermediates,
                    ErrorKind::ClientCertificate,
                    "intermediate certificate",
                )?);
            }
            let key = read_key(files.key_pem)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::new(
                    ErrorKind::ClientCertificate,
                    format!(
                        "the client key in {} cannot be used with the certificate in {} ({e})",
                        files.key_pem.display(),
                        files.cert_chain_pem.display()
                    ),
                )
                .with_source(Source::Tls(e))
            })?
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Every certificate of a PEM file.
fn read_certs(
    path: &Path,
    kind: ErrorKind,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    tls_files::certificates(path, what).map_err(|e| pem_error(kind, e))
}

/// The private key of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    tls_files::private_key(path).map_err(|e| pem_error(ErrorKind::ClientCertificate, e))
}

fn pem_error(kind: ErrorKind, error: tls_files::PemError) -> Error {
    Error::new(kind, &error).with_source(Source::Pem(error))
}
