//! The flags of `sse hub` for running it in production: HTTPS.

use std::path::PathBuf;
use std::sync::Arc;

use sse_hub::TlsCertificate;

/// Deployment flags of `sse hub`, flattened into its arguments.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Deployment")]
pub struct DeployArgs {
    /// Serve HTTPS (HTTP/2 by ALPN, HTTP/1.1 still accepted) with this PEM
    /// certificate chain, leaf first; needs `--tls-key`. SIGHUP reloads
    /// both files (a renewed certificate) without dropping connections.
    #[arg(long, env = "SSE_HUB_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SSE_HUB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl DeployArgs {
    /// The certificate to serve HTTPS with, when asked for.
    pub fn certificate(&self) -> Result<Option<Arc<TlsCertificate>>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsCertificate::load(cert, key)
                .map(Some)
                .map_err(|error| format!("--tls-cert/--tls-key: {error}")),
            _ => Ok(None),
        }
    }
}

/// Reloads `certificate` on every SIGHUP, for as long as the hub runs.
pub fn reload_on_sighup(certificate: Arc<TlsCertificate>) {
    #[cfg(unix)]
    actix_web::rt::spawn(async move {
        use actix_web::rt::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the certificate will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            match certificate.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(error) => {
                    tracing::error!(
                        "SIGHUP: TLS certificate not reloaded, the old one stays: {error}"
                    );
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = certificate;
}
