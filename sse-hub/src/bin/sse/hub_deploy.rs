//! The flags of `sse hub` for running it in production: HTTPS, JWT
//! authorization, metrics, structured logs.

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

    /// Log lines on stderr as `text` (for people) or `json` (one object a
    /// line, fields at the top level, for log processors). Each event
    /// stream logs one line when it opens (stream, peer, last_event_id) and
    /// one when it ends (stream, peer, end, frames, bytes, duration_ms).
    /// Tokens are never logged. The level is `RUST_LOG` (default `info`).
    #[arg(long, env = "SSE_HUB_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

/// The format of the hub's log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// Sends log lines to stderr (stdout carries only the listening address).
pub fn init_tracing(args: &DeployArgs) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
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
