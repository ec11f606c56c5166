//! The flags of `sse hub` for running it in production: HTTPS, JWT
//! authorization, metrics.

use std::path::PathBuf;
use std::sync::Arc;

use sse_hub::{HubConfig, JwtKey, TlsCertificate};

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

    /// Accept JWTs signed with this key, beside the static tokens: with
    /// HS256 (the default `--jwt-algorithm`) the shared secret; with RS256,
    /// ES256 and the like a PEM public key file (or the PEM text itself).
    /// Claims as Mercure's: `{"exp": …, "mercure": {"subscribe": ["news",
    /// "user-42-*"], "publish": ["news"]}}`; a subscription ends at `exp`.
    #[arg(
        long,
        env = "SSE_HUB_JWT_KEY",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    jwt_key: Option<String>,
    /// The one algorithm JWTs may be signed with: HS256, HS384, HS512,
    /// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA.
    #[arg(
        long,
        env = "SSE_HUB_JWT_ALGORITHM",
        default_value = "HS256",
        requires = "jwt_key"
    )]
    jwt_algorithm: String,

    /// Bearer token required to read the Prometheus metrics at `/metrics`
    /// (default: whoever may see the counts of `/healthz`).
    #[arg(long, env = "SSE_HUB_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
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

impl DeployArgs {
    /// Sets the metrics token and the JWT keys of `config`. One key checks both subscribing and
    /// publishing; [`HubConfig`] keeps a key for each, so separate
    /// publisher and subscriber keys are a flag away.
    pub fn configure_hub(&self, config: &mut HubConfig) -> Result<(), String> {
        config.metrics_token = self.metrics_token.clone();
        let Some(key) = &self.jwt_key else {
            return Ok(());
        };
        let algorithm: jsonwebtoken::Algorithm = self.jwt_algorithm.parse().map_err(|_| {
            format!(
                "--jwt-algorithm: unknown JWT algorithm {:?} (try HS256, RS256 or ES256)",
                self.jwt_algorithm
            )
        })?;
        let secret = algorithm.family() == jsonwebtoken::AlgorithmFamily::Hmac;
        let material = if secret || key.trim_start().starts_with("-----BEGIN") {
            key.as_bytes().to_vec()
        } else {
            std::fs::read(key).map_err(|error| format!("--jwt-key {key}: {error}"))?
        };
        let key = JwtKey::new(&self.jwt_algorithm, &material)
            .map_err(|error| format!("--jwt-key: {error}"))?;
        config.subscribe_jwt = Some(key.clone());
        config.publish_jwt = Some(key);
        Ok(())
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
