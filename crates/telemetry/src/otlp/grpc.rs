//! The gRPC channel of an OTLP endpoint: tonic over rustls with ring, trusting the system
//! roots and the endpoint's CA directory (the trust bundle AIO mounts for its collector).

use rustls::pki_types::{CertificateDer, TrustAnchor};
use tonic::transport::{Channel, ClientTlsConfig};

use super::{CaDir, EXPORT_TIMEOUT, Endpoint};
use crate::error::{Error, ErrorKind};

/// A channel to `endpoint` that connects at the first export and again after a failure;
/// TLS for an `https://` URL (AIO's `grpcs://`).
///
/// # Errors
/// An invalid URL; a CA directory that cannot be read or holds no certificate; no trusted
/// certificate at all.
///
/// # Panics
/// Outside a Tokio runtime.
pub(crate) fn channel(endpoint: &Endpoint) -> Result<Channel, Error> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("OTLP gRPC endpoint {}: {e}", endpoint.url),
        )
    };
    let mut builder = tonic::transport::Endpoint::from_shared(endpoint.url.clone())
        .map_err(|e| fail(&e))?
        .connect_timeout(EXPORT_TIMEOUT)
        .timeout(EXPORT_TIMEOUT);
    if builder.uri().scheme_str() == Some("https") {
        let anchors = trust_anchors(endpoint.ca_dir.as_ref())?;
        if anchors.is_empty() {
            return Err(fail(
                &"no trusted CA certificate: the system trust store is empty and no CA directory applies",
            ));
        }
        builder = builder
            .tls_config(ClientTlsConfig::new().trust_anchors(anchors))
            .map_err(|e| fail(&e))?;
    }
    Ok(builder.connect_lazy())
}

/// The system roots and the certificates of `ca_dir`.
fn trust_anchors(ca_dir: Option<&CaDir>) -> Result<Vec<TrustAnchor<'static>>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(tls_files::system_roots().iter().cloned());
    if let Some(dir) = ca_dir {
        for cert in ca_certificates(dir)? {
            roots.add(cert).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!("{}={}: {e}", dir.variable, dir.path.display()),
                )
            })?;
        }
    }
    Ok(roots.roots)
}

/// Every certificate of the files of `dir`, in name order. Entries whose names start with
/// `..` are Kubernetes' bookkeeping of a mounted volume (`..data`, `..2026_12_04_...`) and
/// skipped; symbolic links (`ca.crt` → `..data/ca.crt`) are followed; a file without a
/// certificate is skipped with a warning.
///
/// # Errors
/// The directory or one of its files cannot be read, a file is not valid PEM, or no file holds
/// a certificate; the message names the variable and the directory.
fn ca_certificates(dir: &CaDir) -> Result<Vec<CertificateDer<'static>>, Error> {
    let fail = |what: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("{}={}: {what}", dir.variable, dir.path.display()),
        )
    };
    let unreadable = |e: std::io::Error| fail(&format!("cannot read the CA directory: {e}"));
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir.path).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if entry.file_name().to_string_lossy().starts_with("..") {
            continue;
        }
        let path = entry.path();
        let metadata = std::fs::metadata(&path)
            .map_err(|e| fail(&format!("cannot read {}: {e}", path.display())))?;
        if metadata.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut certificates = Vec::new();
    for path in files {
        match tls_files::certificates(&path, "CA certificate") {
            Ok(found) => certificates.extend(found),
            Err(tls_files::PemError::NoCertificate { .. }) => tracing::warn!(
                file = %path.display(),
                variable = dir.variable,
                "no certificate in this file of the CA directory; skipped"
            ),
            Err(e) => return Err(fail(&e)),
        }
    }
    if certificates.is_empty() {
        return Err(fail(&"no PEM certificate in the CA directory"));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    /// A directory laid out like a mounted ConfigMap: the files in a timestamped directory,
    /// `..data` linking to it, and the visible names linking through `..data`.
    fn kubernetes_mount(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("..2026_12_04_17_00_00.000000001");
        std::fs::create_dir(&data).unwrap();
        for (name, text) in files {
            std::fs::write(data.join(name), text).unwrap();
            std::os::unix::fs::symlink(Path::new("..data").join(name), dir.path().join(name))
                .unwrap();
        }
        std::os::unix::fs::symlink(data.file_name().unwrap(), dir.path().join("..data")).unwrap();
        dir
    }

    fn ca_dir(path: &Path) -> CaDir {
        CaDir {
            variable: "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH",
            path: path.to_path_buf(),
        }
    }

    #[test]
    fn certificates_of_a_kubernetes_mount_once_each() {
        let pki = test_support::certs::TestPki::generate();
        let ca = std::fs::read_to_string(&pki.ca_pem).unwrap();
        let rogue = std::fs::read_to_string(&pki.rogue_ca_pem).unwrap();
        let mount = kubernetes_mount(&[("ca.crt", &ca), ("other.pem", &rogue), ("note", "")]);
        let certs = ca_certificates(&ca_dir(mount.path())).unwrap();
        // Both files once, not again through `..data` or the timestamped directory.
        assert_eq!(certs.len(), 2);
    }

    #[test]
    fn a_missing_or_empty_directory_names_the_variable() {
        let missing = ca_certificates(&ca_dir(Path::new("/nonexistent/ca")))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with(
                "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH=/nonexistent/ca: cannot read"
            ),
            "{missing}"
        );
        let empty = kubernetes_mount(&[("note", "no certificate here")]);
        let error = ca_certificates(&ca_dir(empty.path()))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("no PEM certificate in the CA directory"),
            "{error}"
        );
    }
}
