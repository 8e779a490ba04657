//! A throw-away PKI made at test time with rcgen; never committed, never reused.
//!
//! ```text
//! root CA ──► server certificate (localhost, 127.0.0.1)
//!         ├─► client certificate
//!         └─► intermediate CA ──► client certificate (chain: leaf + intermediate)
//! rogue CA ──► client certificate (must be rejected by servers that trust only root CA)
//! ```

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::TempDir;

/// Paths of a certificate (chain) PEM file and its private key PEM file.
#[derive(Debug, Clone)]
pub struct PemFiles {
    /// The certificate, leaf first.
    pub cert: PathBuf,
    /// The PKCS#8 private key of the leaf.
    pub key: PathBuf,
}

/// Whether a test server asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate requested.
    None,
    /// A client certificate signed by the test root CA is required.
    Required,
}

/// Certificates and keys for one test, as PEM files in a temporary directory that is removed
/// on drop.
pub struct TestPki {
    dir: TempDir,
    root: CertifiedIssuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
    /// The root CA certificate (a trust list file).
    pub ca_pem: PathBuf,
    /// A client certificate signed directly by the root CA.
    pub client: PemFiles,
    /// A client leaf signed by the intermediate CA (`cert` holds only the leaf).
    pub client_via_intermediate: PemFiles,
    /// The intermediate CA certificate that links `client_via_intermediate` to the root.
    pub intermediate_pem: PathBuf,
    /// A client certificate signed by another CA the servers do not trust.
    pub rogue_client: PemFiles,
    /// The rogue CA certificate (useful to test a trust list that does not match).
    pub rogue_ca_pem: PathBuf,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn leaf_params(sans: &[&str], name: &str, usage: ExtendedKeyUsagePurpose) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    path
}

impl TestPki {
    /// Generates the whole PKI (a few milliseconds with ring) and writes the PEM files.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();

        let root = CertifiedIssuer::self_signed(
            ca_params("sse-connector test root CA"),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let ca_pem = write(d, "ca.pem", &root.pem());

        let server_key = KeyPair::generate().unwrap();
        let server = leaf_params(
            &["localhost", "127.0.0.1"],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        )
        .signed_by(&server_key, &root)
        .unwrap();

        let client_key = KeyPair::generate().unwrap();
        let client_cert = leaf_params(&[], "test client", ExtendedKeyUsagePurpose::ClientAuth)
            .signed_by(&client_key, &root)
            .unwrap();
        let client = PemFiles {
            cert: write(d, "client.pem", &client_cert.pem()),
            key: write(d, "client.key", &client_key.serialize_pem()),
        };

        let intermediate = CertifiedIssuer::signed_by(
            ca_params("sse-connector test intermediate CA"),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        let intermediate_pem = write(d, "intermediate.pem", &intermediate.pem());
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params(
            &[],
            "test client via intermediate",
            ExtendedKeyUsagePurpose::ClientAuth,
        )
        .signed_by(&leaf_key, &intermediate)
        .unwrap();
        let client_via_intermediate = PemFiles {
            cert: write(d, "client-leaf.pem", &leaf.pem()),
            key: write(d, "client-leaf.key", &leaf_key.serialize_pem()),
        };

        let rogue =
            CertifiedIssuer::self_signed(ca_params("rogue CA"), KeyPair::generate().unwrap())
                .unwrap();
        let rogue_ca_pem = write(d, "rogue-ca.pem", &rogue.pem());
        let rogue_key = KeyPair::generate().unwrap();
        let rogue_cert = leaf_params(&[], "rogue client", ExtendedKeyUsagePurpose::ClientAuth)
            .signed_by(&rogue_key, &rogue)
            .unwrap();
        let rogue_client = PemFiles {
            cert: write(d, "rogue-client.pem", &rogue_cert.pem()),
            key: write(d, "rogue-client.key", &rogue_key.serialize_pem()),
        };

        Self {
            ca_der: root.der().clone(),
            root,
            server_chain: vec![server.der().clone()],
            server_key_der: server_key.serialize_der(),
            dir,
            ca_pem,
            client,
            client_via_intermediate,
            intermediate_pem,
            rogue_client,
            rogue_ca_pem,
        }
    }

    /// The temporary directory that holds the PEM files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to a new file in the PKI directory (for broken-PEM tests).
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        write(self.dir.path(), name, contents)
    }

    /// A rustls server configuration for `localhost` / `127.0.0.1`, HTTP/1.1 only, with the
    /// ring provider. With [`ClientAuth::Required`] the server accepts only client
    /// certificates that chain to the root CA.
    pub fn server_config(&self, client_auth: ClientAuth) -> Arc<rustls::ServerConfig> {
        self.build_server_config(
            self.server_chain.clone(),
            self.server_key_der.clone(),
            client_auth,
        )
    }

    /// Like [`server_config`](Self::server_config) but with a server certificate (signed by
    /// the root CA) for other names, e.g. to test host name verification.
    pub fn server_config_for(
        &self,
        names: &[&str],
        client_auth: ClientAuth,
    ) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let name = names.first().copied().unwrap_or("unnamed");
        let cert = leaf_params(names, name, ExtendedKeyUsagePurpose::ServerAuth)
            .signed_by(&key, &self.root)
            .unwrap();
        self.build_server_config(vec![cert.der().clone()], key.serialize_der(), client_auth)
    }

    fn build_server_config(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key_der: Vec<u8>,
        client_auth: ClientAuth,
    ) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Required => {
                let mut roots = RootCertStore::empty();
                roots.add(self.ca_der.clone()).unwrap();
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}
