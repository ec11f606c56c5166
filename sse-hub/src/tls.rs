//! HTTPS: the hub's certificate and key, read from PEM files, and the
//! rustls settings that serve them, replaceable while the hub runs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error("{path}: no PEM certificate (`-----BEGIN CERTIFICATE-----`) could be read: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1), or a
    /// malformed one.
    #[error("{path}: no PEM private key could be read: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the pair: an unsupported key type, or a key that does
    /// not belong to the certificate.
    #[error("the certificate and key cannot be used together: {0}")]
    Unusable(rustls::Error),
}

/// The hub's certificate chain and private key, read from PEM files.
/// [`reload`](TlsCertificate::reload) reads them again (after a renewal,
/// say): handshakes from then on use the new pair, open connections keep
/// theirs, and a failed reload keeps the old pair in service.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use sse_hub::TlsCertificate;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let certificate = TlsCertificate::load("cert.pem", "key.pem")?;
/// HttpServer::new(|| App::new())
///     .bind_rustls_0_23(("0.0.0.0", 8443), certificate.server_config())?
///     .run()
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct TlsCertificate {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for TlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCertificate")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl TlsCertificate {
    /// Reads the certificate chain (leaf first) from `cert` and the private
    /// key from `key`, both PEM.
    pub fn load(
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Result<Arc<TlsCertificate>, TlsError> {
        let (cert_path, key_path) = (cert.into(), key.into());
        // ring: pure Rust and assembly, no C toolchain beyond cc; chosen
        // explicitly so another crate enabling aws-lc-rs changes nothing.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pair = read_pair(&cert_path, &key_path, &provider)?;
        Ok(Arc::new(TlsCertificate {
            cert_path,
            key_path,
            provider,
            current: RwLock::new(Arc::new(pair)),
        }))
    }

    /// Reads both files again and serves the new pair from the next
    /// handshake on; on error the pair in service stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let pair = read_pair(&self.cert_path, &self.key_path, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
        Ok(())
    }

    /// rustls settings serving this certificate (TLS 1.2 and 1.3, no client
    /// certificates). actix-web adds the ALPN protocols: `h2`, then
    /// `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> rustls::ServerConfig {
        rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>)
    }
}

impl ResolvesServerCert for TlsCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

fn read_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let cert_pem = read(cert_path)?;
    let certificate_error = |reason: String| TlsError::Certificate {
        path: cert_path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| certificate_error(error.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("the file holds none".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key_path)?).map_err(|error| TlsError::Key {
        path: key_path.to_owned(),
        reason: error.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(TlsError::Unusable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let generated = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let (cert, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn bad_files_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let (other_cert, _) = write_pair(dir.path(), "b");
        let missing = dir.path().join("missing.pem");
        let error = TlsCertificate::load(&missing, &key).unwrap_err();
        assert!(matches!(error, TlsError::Read { .. }), "{error}");
        assert!(error.to_string().contains("missing.pem"), "{error}");
        let error = TlsCertificate::load(&key, &key).unwrap_err();
        assert!(matches!(error, TlsError::Certificate { .. }), "{error}");
        let error = TlsCertificate::load(&cert, &cert).unwrap_err();
        assert!(matches!(error, TlsError::Key { .. }), "{error}");
        let error = TlsCertificate::load(&other_cert, &key).unwrap_err();
        assert!(matches!(error, TlsError::Unusable(_)), "{error}");

        // A reload that fails keeps the pair in service.
        let loaded = TlsCertificate::load(&cert, &key).unwrap();
        let before = Arc::clone(&loaded.current.read().unwrap());
        std::fs::write(&cert, "not a certificate").unwrap();
        assert!(loaded.reload().is_err());
        assert!(Arc::ptr_eq(&before, &loaded.current.read().unwrap()));
    }
}
