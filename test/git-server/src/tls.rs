//! A throwaway certificate authority for TLS test servers.
//!
//! [`TestCa`] makes a self-signed CA with rcgen and issues from it a server certificate for
//! `127.0.0.1`, `localhost` and `::1` (so both the IP and the name verify) and, for mutual TLS,
//! client certificates. Clients trust the CA through [`TestCa::ca_pem`] (for git:
//! `GIT_SSL_CAINFO` / `http.sslCAInfo` pointing at a file with that PEM).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// A certificate and its private key, both PEM. The Debug output leaves the key out.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM). Secret.
    pub key_pem: String,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// A self-signed certificate authority that issues test certificates.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").field("ca_pem", &self.cert.pem()).finish_non_exhaustive()
    }
}

impl TestCa {
    /// Generates a new CA (ECDSA P-256, valid until 2099).
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] when rcgen fails.
    pub fn generate() -> Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "eddy-test-git CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self { cert, key })
    }

    /// The CA certificate (PEM), for the client's trust store.
    #[must_use]
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    /// Issues a server certificate for `127.0.0.1`, `::1` and `localhost`.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] when rcgen fails.
    pub fn issue_server(&self) -> Result<IssuedCert> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// Issues a client certificate with common name `cn`, for mutual TLS.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] when rcgen fails.
    pub fn issue_client(&self, cn: &str) -> Result<IssuedCert> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Result<IssuedCert> {
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A rustls server configuration presenting `server` (HTTP/1.1 only); with
    /// `require_client_cert`, clients must present a certificate issued by this CA.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] when rustls refuses the certificate or key.
    pub fn server_config(&self, server: &IssuedCert, require_client_cert: bool) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder =
            rustls::ServerConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.cert.der().clone())?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::InvalidArgument(format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let certs = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::InvalidArgument(format!("server certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes())
            .map_err(|_| Error::InvalidArgument("the server key is not PEM".to_owned()))?;
        let mut config = builder.with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
