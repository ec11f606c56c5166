//! Flags that `listen` and `publish` share, with curl's names where curl has
//! one, parsed the same way everywhere.

use std::path::PathBuf;

use sse_actix::client::TlsConfig;

/// HTTPS: trust the bundled web PKI roots, plus any `--cacert`.
#[derive(Debug, Default, clap::Args)]
pub struct TlsFlags {
    /// Also trust the certificate authorities in this PEM file (a private
    /// CA, a self-signed server); repeatable.
    #[arg(long, value_name = "FILE")]
    cacert: Vec<PathBuf>,
    /// Trust only the `--cacert` authorities, not the bundled web PKI roots.
    #[arg(long, requires = "cacert")]
    no_web_pki_roots: bool,
    /// Present this client certificate (PEM, leaf first) to servers that
    /// ask for one; needs `--key`.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of `--cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

impl TlsFlags {
    /// The TLS settings these flags describe, reading the files they name.
    pub fn config(&self) -> Result<TlsConfig, String> {
        let mut tls = TlsConfig::default().web_pki_roots(!self.no_web_pki_roots);
        for path in &self.cacert {
            tls = tls
                .add_root_certificates_pem(&read(path)?)
                .map_err(|error| format!("--cacert {}: {error}", path.display()))?;
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls
                .client_certificate_pem(&read(cert)?, &read(key)?)
                .map_err(|error| format!("--cert {}: {error}", cert.display()))?;
        }
        Ok(tls)
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}
