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
    /// The encrypted key cannot be decrypted with the password: a wrong password, or an
    /// encryption scheme that is not supported.
    #[error("cannot decrypt the key {} with the password in {}", key.display(), password_file.display())]
    Decrypt {
        /// The key file.
        key: PathBuf,
        /// The password file.
        password_file: PathBuf,
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

/// The private key of the encrypted PKCS#8 PEM file at `path` (`BEGIN ENCRYPTED PRIVATE
/// KEY`: PBES2 with PBKDF2 or scrypt, and AES), decrypted with the password held in
/// `password_file` (trailing line breaks removed). Neither the password nor the key appears
/// in an error.
///
/// # Errors
/// [`PemError::Unreadable`] for either file, [`PemError::NoKey`] when the file holds no
/// encrypted PKCS#8 key, [`PemError::Decrypt`] for a wrong password.
pub fn encrypted_private_key(
    path: &Path,
    password_file: &Path,
) -> Result<PrivateKeyDer<'static>, PemError> {
    let pem = read(path, "client key")?;
    let mut password = read(password_file, "key password")?;
    while password.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        password.pop();
    }
    let not_encrypted = || PemError::NoKey {
        path: path.to_path_buf(),
        why: "is not an encrypted PKCS#8 key (BEGIN ENCRYPTED PRIVATE KEY)",
    };
    let text = std::str::from_utf8(&pem).map_err(|_| not_encrypted())?;
    let (label, document) = pkcs8::der::Document::from_pem(text).map_err(|_| not_encrypted())?;
    if label != "ENCRYPTED PRIVATE KEY" {
        return Err(not_encrypted());
    }
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
        .map_err(|_| not_encrypted())?;
    let decrypted = info.decrypt(&password).map_err(|_| PemError::Decrypt {
        key: path.to_path_buf(),
        password_file: password_file.to_path_buf(),
    })?;
    Ok(PrivateKeyDer::Pkcs8(decrypted.as_bytes().to_vec().into()))
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

    #[test]
    fn an_encrypted_key_opens_with_its_password_and_only_with_it() {
        use pkcs8::pkcs5::pbes2::Parameters;

        let dir = tempfile::tempdir().unwrap();
        let plain = rcgen::KeyPair::generate().unwrap().serialize_der();
        let params =
            Parameters::generate_pbkdf2_sha256_aes256cbc(2048, b"sixteen byte slt", [7; 16])
                .unwrap();
        let encrypted = pkcs8::PrivateKeyInfoRef::try_from(plain.as_slice())
            .unwrap()
            .encrypt_with_params(params, "c0rrect horse")
            .unwrap()
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(&key, encrypted.as_bytes()).unwrap();
        let password = dir.path().join("key.pass");
        std::fs::write(&password, "c0rrect horse\n").unwrap();
        let opened = encrypted_private_key(&key, &password).unwrap();
        assert_eq!(opened.secret_der(), plain.as_slice());

        std::fs::write(&password, "wr0ng horse\n").unwrap();
        let wrong = encrypted_private_key(&key, &password).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            format!(
                "cannot decrypt the key {} with the password in {}",
                key.display(),
                password.display()
            )
        );
        assert!(!wrong.to_string().contains("wr0ng"), "{wrong}");

        let unencrypted = dir.path().join("plain.key");
        std::fs::write(
            &unencrypted,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let refused = encrypted_private_key(&unencrypted, &password).unwrap_err();
        assert!(matches!(refused, PemError::NoKey { .. }), "{refused}");
    }
}
