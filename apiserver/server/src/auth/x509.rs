//! Client certificates: the TLS verifier that lets the front proxy (and clients of the
//! cluster's client CA) present certificates, and the identity a verified certificate carries.
//!
//! The CAs come from kube-apiserver's `extension-apiserver-authentication` ConfigMap and may
//! change while Eddy runs, so the verifier the TLS stack holds is a [`DynamicClientVerifier`]
//! whose roots are swapped in place.

use std::sync::Arc;

use parking_lot::RwLock;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error as TlsError, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

/// Parses PEM certificates into a root store.
///
/// # Errors
/// When the PEM holds no certificate or one that cannot be used as a root.
pub fn roots_from_pem(pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("reading a CA certificate: {e}"))?;
        roots.add(cert).map_err(|e| format!("using a CA certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no CA certificate in the bundle".into());
    }
    Ok(roots)
}

/// A verifier that checks a certificate against one CA bundle.
#[derive(Debug, Clone)]
pub struct CaVerifier(Arc<dyn ClientCertVerifier>);

impl CaVerifier {
    /// A verifier for client certificates issued by `roots`.
    ///
    /// # Errors
    /// When the roots cannot build a verifier.
    pub fn new(roots: RootCertStore) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map(Self)
            .map_err(|e| e.to_string())
    }

    /// Whether `chain` (leaf first) is a valid client certificate chain issued by this CA.
    #[must_use]
    pub fn verifies(&self, chain: &[CertificateDer<'static>]) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else { return false };
        self.0.verify_client_cert(leaf, intermediates, UnixTime::now()).is_ok()
    }
}

/// The TLS stack's client-certificate verifier: optional client certificates, checked
/// against whatever CAs are current. Which CA issued a certificate (front proxy or client
/// CA) is decided per request by [`CaVerifier::verifies`].
#[derive(Debug)]
pub struct DynamicClientVerifier {
    current: RwLock<Option<CaVerifier>>,
    fallback: Arc<dyn ClientCertVerifier>,
}

impl DynamicClientVerifier {
    /// A verifier that accepts connections without certificates until [`Self::set_roots`].
    #[must_use]
    pub fn new() -> Self {
        let fallback = WebPkiClientVerifier::no_client_auth();
        Self { current: RwLock::new(None), fallback }
    }

    /// Replaces the accepted CAs (the union of every bundle given).
    ///
    /// # Errors
    /// When no bundle holds a usable certificate.
    pub fn set_roots(&self, bundles: &[&str]) -> Result<(), String> {
        let mut roots = RootCertStore::empty();
        for pem in bundles {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
                let _ = roots.add(cert);
            }
        }
        let verifier = if roots.is_empty() { None } else { Some(CaVerifier::new(roots)?) };
        *self.current.write() = verifier;
        Ok(())
    }

    fn inner(&self) -> Arc<dyn ClientCertVerifier> {
        self.current.read().as_ref().map_or_else(|| Arc::clone(&self.fallback), |v| Arc::clone(&v.0))
    }
}

impl Default for DynamicClientVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientCertVerifier for DynamicClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.current.read().is_some()
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Hints would have to borrow from the swappable verifier; clients (kube-apiserver's
        // proxy, kubectl) send their certificate without them.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, TlsError> {
        self.inner().verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

/// Subject common name and organizations of a certificate.
#[must_use]
pub fn subject(cert: &CertificateDer<'_>) -> Option<(String, Vec<String>)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let cn = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
    let orgs = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_owned)).collect();
    Some((cn, orgs))
}
