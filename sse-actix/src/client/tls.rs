//! HTTPS: which servers the client trusts and how it proves who it is.
//!
//! rustls with the *ring* provider and Mozilla's roots bundled in the binary
//! (`webpki-roots`): nothing is looked up on the system, so a static binary
//! or a scratch container verifies servers the same way everywhere.

use std::fmt;
use std::sync::Arc;

use awc::error::{ConnectError, SendRequestError};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{AlertDescription, ClientConfig, RootCertStore};

use super::error::Error;

/// TLS settings for `https://` URLs, given to
/// [`ClientBuilder::tls`](super::ClientBuilder::tls).
///
/// The default trusts the web PKI roots bundled in this crate and sends no
/// client certificate. Add a private certificate authority with
/// [`add_root_certificates_pem`](Self::add_root_certificates_pem) (and,
/// to trust it alone, [`web_pki_roots(false)`](Self::web_pki_roots)); prove
/// the client's identity to a server that asks (mutual TLS) with
/// [`client_certificate_pem`](Self::client_certificate_pem).
///
/// ```no_run
/// use sse_actix::client::{Client, TlsConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ca = std::fs::read("internal-ca.pem")?;
/// let tls = TlsConfig::default().add_root_certificates_pem(&ca)?;
/// let client = Client::builder("https://events.internal/stream").tls(tls).try_build()?;
/// # Ok(())
/// # }
/// ```
pub struct TlsConfig {
    roots: Vec<CertificateDer<'static>>,
    web_pki_roots: bool,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            roots: Vec::new(),
            web_pki_roots: true,
            identity: None,
        }
    }
}

impl Clone for TlsConfig {
    fn clone(&self) -> Self {
        TlsConfig {
            roots: self.roots.clone(),
            web_pki_roots: self.web_pki_roots,
            identity: self
                .identity
                .as_ref()
                .map(|(chain, key)| (chain.clone(), key.clone_key())),
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("TlsConfig")
            .field("added_roots", &self.roots.len())
            .field("web_pki_roots", &self.web_pki_roots)
            .field("client_certificate", &self.identity.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// Also trusts every certificate in `pem` (one or more `-----BEGIN
    /// CERTIFICATE-----` blocks: a CA, or a bundle) as a root.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when `pem` holds no certificate or a
    /// malformed one.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let found = certificates(pem).map_err(|e| invalid(format!("root certificate: {e}")))?;
        self.roots.extend(found);
        Ok(self)
    }

    /// Whether the bundled web PKI roots are trusted (default `true`); turn
    /// them off to trust only the roots added here.
    #[must_use]
    pub fn web_pki_roots(mut self, trust: bool) -> Self {
        self.web_pki_roots = trust;
        self
    }

    /// Presents this certificate chain (PEM, leaf first) and its private key
    /// (PEM: PKCS#8, PKCS#1 or SEC1) to servers that ask for one.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when either holds nothing usable.
    pub fn client_certificate_pem(mut self, chain: &[u8], key: &[u8]) -> Result<Self, Error> {
        let chain = certificates(chain).map_err(|e| invalid(format!("client certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| invalid(format!("client certificate key: {e}")))?;
        self.identity = Some((chain, key));
        Ok(self)
    }

    /// The rustls settings these make, for an awc client of your own
    /// (`awc::Connector::new().rustls_0_23(config)`); ALPN offers HTTP/2 and
    /// HTTP/1.1.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when no root is trusted, an added root is
    /// not a valid CA certificate, or the client key does not suit its
    /// certificate.
    pub fn rustls_client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let mut roots = RootCertStore::empty();
        if self.web_pki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for root in &self.roots {
            roots
                .add(root.clone())
                .map_err(|e| invalid(format!("root certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid(
                "TLS: no root is trusted (web PKI roots off and none added)".to_owned(),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| invalid(format!("client certificate: {e}")))?,
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidRequest(message)
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let found = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Err("no PEM certificate (`-----BEGIN CERTIFICATE-----`) found".to_owned());
    }
    Ok(found)
}

/// The alerts a server sends when it refuses a certificate.
const CERTIFICATE_ALERTS: [AlertDescription; 7] = [
    AlertDescription::BadCertificate,
    AlertDescription::UnsupportedCertificate,
    AlertDescription::CertificateRevoked,
    AlertDescription::CertificateExpired,
    AlertDescription::CertificateUnknown,
    AlertDescription::UnknownCA,
    AlertDescription::CertificateRequired,
];

/// The reason a request failed, when it is that a certificate was refused:
/// the server's, by us (untrusted issuer, wrong name, expired…), or ours,
/// by the server. Retrying cannot fix either.
pub(crate) fn certificate_error(error: &SendRequestError) -> Option<String> {
    // A server refuses a client certificate after the TLS 1.3 handshake,
    // so its alert surfaces when the request is sent.
    let io = match error {
        SendRequestError::Connect(ConnectError::Io(io)) | SendRequestError::Send(io) => io,
        SendRequestError::H2(h2) => h2.get_io()?,
        _ => return None,
    };
    let inner = io.get_ref()?;
    if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
        let refused = match tls {
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => true,
            rustls::Error::AlertReceived(alert) => CERTIFICATE_ALERTS.contains(alert),
            _ => false,
        };
        return refused.then(|| tls.to_string());
    }
    // h2 keeps only the text of the I/O error that ended its connection:
    // compare it with rustls's own text for each alert.
    let text = inner.to_string();
    CERTIFICATE_ALERTS
        .iter()
        .any(|alert| rustls::Error::AlertReceived(*alert).to_string() == text)
        .then_some(text)
}
