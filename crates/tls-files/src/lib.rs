//! Certificates and private keys read from PEM files, and the operating system's trust store,
//! for every TLS client of the connector (the SSE client's trust lists and client
//! certificates, the MQTT connection's CA and client certificate).
//!
//! Errors name the file and what it was for, and never quote its content: a key file read by
//! mistake as a certificate must not end up in a log.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a PEM file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be read.
    #[error("cannot read {what} file {}: {source}", path.display())]
    Unreadable {
        /// What the file was for: `trust list`, `client certificate`...
        what: String,
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A section of the file is not valid PEM.
    #[error("{what} file {} is not valid PEM", path.display())]
    NotPem {
        /// What the file was for.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The file holds no certificate.
    #[error("no certificate found in {what} file {}", path.display())]
    NoCertificate {
        /// What the file was for.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The file holds no private key the connector can use.
    #[error("key in {} {why}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// Why: encrypted, or not one of the supported forms.
        why: &'static str,
    },
}

/// The certificates of the operating system's trust store, loaded once per process.
/// Unreadable entries are logged and skipped; an empty store is not an error (a trust list may
/// be all that is needed).
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "skipping part of the system trust store");
        }
        loaded.certs
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Unreadable {
        what: what.to_owned(),
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of the PEM file at `path` (other sections are skipped); `what` says
/// what the file is for, in messages.
///
/// # Errors
/// [`PemError::Unreadable`], [`PemError::NotPem`], [`PemError::NoCertificate`].
pub fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        // The PEM error may quote file content; keep it out of the message.
        .map_err(|_| PemError::NotPem {
            what: what.to_owned(),
            path: path.to_path_buf(),
        })?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate {
            what: what.to_owned(),
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key of the PEM file at `path`: PKCS#8, PKCS#1 or SEC1, unencrypted.
///
/// # Errors
/// [`PemError::Unreadable`], [`PemError::NoKey`].
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    let pem = read(path, "client key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
        PemError::NoKey {
            path: path.to_path_buf(),
            why: if encrypted {
                "is encrypted; provide an unencrypted key"
            } else {
                "is not PKCS#8 (BEGIN PRIVATE KEY), PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY)"
            },
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SECRET_LOOKING: &str =
        "-----BEGIN CERTIFICATE-----\nnot base64 at all: s3cr3t\n-----END CERTIFICATE-----\n";

    #[test]
    fn errors_name_the_file_and_never_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, SECRET_LOOKING).unwrap();
        let error = certificates(&bad, "trust list").unwrap_err();
        assert!(matches!(error, PemError::NotPem { .. }), "{error}");
        assert!(error.to_string().contains("bad.pem"), "{error}");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        assert!(matches!(
            certificates(&empty, "CA").unwrap_err(),
            PemError::NoCertificate { .. }
        ));
        let key = private_key(&empty).unwrap_err();
        assert!(key.to_string().contains("is not PKCS#8"), "{key}");
        std::fs::write(
            &empty,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(
            private_key(&empty)
                .unwrap_err()
                .to_string()
                .contains("encrypted")
        );
        assert!(matches!(
            certificates(&dir.path().join("missing.pem"), "CA").unwrap_err(),
            PemError::Unreadable { .. }
        ));
    }
}
