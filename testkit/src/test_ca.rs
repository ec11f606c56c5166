//! A certificate authority made for one test: a CA certificate, a server
//! certificate for `localhost` and `127.0.0.1`, and client certificates, all
//! generated in memory (rcgen), so TLS tests need no files and no network.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// A certificate and its private key, in PEM.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A test CA and the server certificate it issued.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, in PEM: what a client trusts.
    pub ca_pem: String,
    /// The server's certificate, valid for `localhost` and `127.0.0.1`.
    pub server: Issued,
}

impl TestCa {
    /// A new CA named `name`, and a server certificate from it.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        let ca_pem = params.self_signed(&key).expect("CA certificate").pem();
        let issuer = Issuer::new(params, key);
        let server = issue(
            &issuer,
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        TestCa {
            issuer,
            ca_pem,
            server,
        }
    }

    /// A client certificate named `name`, for mutual TLS.
    pub fn client(&self, name: &str) -> Issued {
        issue(
            &self.issuer,
            vec![name.to_owned()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    /// rustls server settings with the server certificate; with
    /// `require_client_certificate`, only clients holding a certificate of
    /// this CA get through the handshake. ALPN: HTTP/2 and HTTP/1.1.
    pub fn server_config(&self, require_client_certificate: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = if require_client_certificate {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).expect("CA"))
                .expect("CA root");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = vec![CertificateDer::from_pem_slice(self.server.cert_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(self.server.key_pem.as_bytes()).unwrap();
        let mut config = builder
            .with_single_cert(chain, key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

fn issue(
    issuer: &Issuer<'_, KeyPair>,
    names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Issued {
    let mut params = CertificateParams::new(names.clone()).expect("certificate parameters");
    params
        .distinguished_name
        .push(DnType::CommonName, &names[0]);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("certificate");
    Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}
