//! `sse hub`, the standalone Server-Sent Events hub, as a library and as
//! the `sse` command-line tool.
//!
//! **What it does.** [`Hub`] mounts the hub's HTTP API into any actix-web
//! app: subscribe (the [`Sse`] handler of `sse-actix`), publish over HTTP,
//! list streams, a health check and a live demo page, behind optional bearer
//! tokens and a CORS policy. The `sse` binary (`hub`, `publish`, `listen`,
//! `encode`, `decode`) wraps it and the rest of the toolkit for the shell.
//!
//! **What it never does.** It never parses the event-stream format (that is
//! `sse-proto`), never keeps stream state (that is `sse-actors`) and never
//! writes an event-stream response itself (that is `sse-actix`): it is the
//! product glue, with the CLI, logging and Redis dependencies that the
//! libraries below it must not carry.
//!
//! **Access.** Static tokens ([`HubConfig::subscribe_token`],
//! [`HubConfig::publish_token`]) allow every stream; JWTs signed with a
//! [`JwtKey`] allow the streams their Mercure-shaped claims list
//! (`mercure.subscribe`, `mercure.publish`: names, `prefix*`, `*`), and a
//! subscription ends when its token expires.
//!
//! **HTTPS.** [`TlsCertificate`] reads a certificate and key from PEM files
//! into the rustls settings actix-web serves HTTPS and HTTP/2 with, and
//! reloads them on demand (`sse hub` does on SIGHUP).
//!
//! **Limits**, each a [`HubConfig`] field and a `sse hub` flag: publish body
//! size, streams created by publishing, plus every limit of the handler and
//! the event server it wraps.
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /events?stream=NAME` | subscribes (the [`Sse`] handler), behind the optional subscribe token or JWT (header, `?token=` or cookie `sse_token`); `?stream=a&stream=b` follows several streams on one response (up to the handler's [`max_streams_per_connection`](Sse::max_streams_per_connection); a JWT must allow every one) |
//! | `POST /events?stream=NAME` | publishes (behind the optional publish token or JWT, header only): a plain body is the data; `Content-Type: application/json` takes `{"data","event","id","retry"}`; answers `{"stream","id","seq","duplicate"}`: an own id the stream already logged is not stored again, the answer names the first event with `"duplicate": true`; an id with surrounding whitespace or a control character, or a `retry` above the server's limit, is a 400 with the reason |
//! | `GET /streams` | `{"streams": [{"name","subscribers","published"}], "connections": N}`; with a subscribe token configured, only for a subscribe or publish token (else 401) |
//! | `GET /healthz` | `{"status":"ok","connections","streams","subscribers","queues","published","lagged"}`; 503 once closed; with a subscribe token configured, only `{"status"}` without a token |
//! | `GET /metrics` | Prometheus metrics (OpenMetrics text); behind [`HubConfig::metrics_token`] when set, else as the counts of `/healthz` |
//! | `GET /` | the demo page: an `EventSource` view of a stream and a publish form |
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use sse_actix::Sse;
//! use sse_hub::{Hub, HubConfig};
//! use sse_actors::Server;
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = Server::builder().auto_stream(true).build();
//! let hub = Hub::new(Sse::new(server), HubConfig::default());
//! HttpServer::new(move || {
//!     let hub = hub.clone();
//!     App::new().configure(move |cfg| hub.configure(cfg))
//! })
//! .h1_allow_half_closed(false)
//! .tcp_nodelay(true)
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};

use sse_actix::Sse;
use sse_actix::server::stream_names;

use crate::auth::Action;

mod api;
mod auth;
mod config;
mod demo;
mod error;
mod expiry;
mod jwt;
pub mod mercure;
mod metrics;
mod publish_body;
mod tls;

pub use config::HubConfig;
pub use error::{HubError, Refusal};
pub use jwt::{JwtKey, JwtKeyError};
pub use metrics::BackplaneCounts;
pub use tls::{TlsCertificate, TlsError};

/// The hub: an [`Sse`] handler plus the publish API, listing, health and
/// demo endpoints. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Hub {
    sse: Sse,
    config: Arc<HubConfig>,
    metrics: Arc<metrics::HubMetrics>,
    mercure: Arc<mercure::Mercure>,
}

impl Hub {
    /// A hub serving `sse`'s streams with `config`.
    pub fn new(sse: Sse, config: HubConfig) -> Self {
        let metrics = Arc::new(metrics::HubMetrics::new(&sse));
        // Replaces an observer the application installed: the hub owns its
        // handler's metrics.
        let sse = sse.observe_delivery_latency(metrics.delivery_latency_observer());
        Hub {
            metrics,
            sse,
            mercure: Arc::new(mercure::Mercure::new(
                config.mercure_template_cache,
                config.mercure_subscriptions,
            )),
            config: Arc::new(config),
        }
    }

    /// Exports a cluster backplane's error counts at `/metrics`
    /// (`sse_backplane_errors_total`, `sse_backplane_reconnects_total`),
    /// read by `counts` at each scrape; the first call wins.
    pub fn export_backplane_counts(
        &self,
        counts: impl Fn() -> BackplaneCounts + Send + Sync + 'static,
    ) {
        self.metrics.export_backplane_counts(Box::new(counts));
    }

    /// In a cluster, keeps the Mercure active subscriptions
    /// ([`HubConfig::mercure_subscriptions`]) in the cluster's Redis at
    /// `redis_url` too, so that every node lists every node's: each node
    /// writes its own subscriptions there as they open and end and renews
    /// them every 10 s; a node gone without a word is forgotten 30 s
    /// later. Answers whether they are now shared (not if they are not
    /// tracked, or already shared). Call it inside the hub's runtime, as
    /// `sse hub --redis --subscriptions` does.
    #[cfg(feature = "redis")]
    pub fn share_subscriptions(&self, redis_url: &str) -> Result<bool, sse_redis::ConnectError> {
        self.mercure.share_presence(redis_url)
    }

    /// The subscribe handler (and through it, the event server).
    pub fn sse(&self) -> &Sse {
        &self.sse
    }

    /// The hub's settings.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Registers every endpoint, each behind the configured CORS policy:
    /// `App::new().configure(|cfg| hub.configure(cfg))`. Only these paths
    /// are claimed, so the app's other routes keep working around them.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let (subscribe, publish, streams, healthz, demo, metrics) = (
            self.clone(),
            self.clone(),
            self.clone(),
            self.clone(),
            self.clone(),
            self.clone(),
        );
        cfg.service(
            web::resource("/events")
                .wrap(self.cors())
                .route(web::get().to(move |req: HttpRequest| {
                    let hub = subscribe.clone();
                    async move { hub.subscribe(req).await }
                }))
                .route(
                    web::post().to(move |req: HttpRequest, payload: web::Payload| {
                        let hub = publish.clone();
                        async move { api::publish(&hub, req, payload).await }
                    }),
                ),
        )
        .service(
            web::resource("/streams")
                .wrap(self.cors())
                .route(web::get().to(move |req: HttpRequest| {
                    let hub = streams.clone();
                    async move { api::streams(&hub, &req).await }
                })),
        )
        .service(
            web::resource("/healthz")
                .wrap(self.cors())
                .route(web::get().to(move |req: HttpRequest| {
                    let hub = healthz.clone();
                    async move { api::healthz(&hub, &req) }
                })),
        );
        if self.config.metrics {
            cfg.service(
                web::resource("/metrics").route(web::get().to(move |req: HttpRequest| {
                    let hub = metrics.clone();
                    async move { api::metrics(&hub, &req) }
                })),
            );
        }
        if self.config.mercure {
            mercure::configure(self, cfg);
        }
        if self.config.demo_page {
            cfg.service(web::resource("/").route(web::get().to(move || {
                let hub = demo.clone();
                async move { demo::page(&hub) }
            })));
        }
    }

    async fn subscribe(&self, req: HttpRequest) -> Result<HttpResponse, HubError> {
        let access = self.subscribe_access(&req).inspect_err(|error| {
            let peer = peer(&req);
            tracing::info!(%peer, path = %req.path(), "event stream refused: {error}");
        });
        let response = match access {
            Ok(access) => self
                .sse
                .respond(&req)
                .await
                .map_err(HubError::from)
                .map(|response| (access, response)),
            Err(error) => Err(error),
        };
        match response {
            Ok((access, response)) => {
                self.metrics.subscription_opened();
                Ok(match access.expires() {
                    Some(deadline) => expiry::end_at(
                        response,
                        deadline,
                        self.metrics.token_expired.clone(),
                        stream_names(&req, self.sse.config())
                            .map(|names| names.join(","))
                            .unwrap_or_default(),
                        peer(&req),
                    ),
                    None => response,
                })
            }
            Err(error) => {
                self.metrics.refused("subscribe", error.status_code());
                Err(error)
            }
        }
    }

    /// What the token of a subscribe request allows, checked against every
    /// stream it names: one the token does not cover refuses the request
    /// (403 naming it).
    fn subscribe_access(&self, req: &HttpRequest) -> Result<auth::Access, HubError> {
        let access = auth::check(&self.config, req, Action::Subscribe)?;
        if let auth::Access::Token(_) = access {
            for stream in stream_names(req, self.sse.config())? {
                access.check_stream(Action::Subscribe, &stream)?;
            }
        }
        Ok(access)
    }

    /// The CORS policy: no cross-origin access unless origins are listed.
    fn cors(&self) -> Cors {
        self.cors_with(false)
    }

    /// [`cors`](Hub::cors), letting the listed origins' pages send cookies
    /// (`Access-Control-Allow-Credentials: true`, on preflights too, with
    /// the page's own origin echoed). Never with `*`: a wildcard origin
    /// stays anonymous, or any site could read a visitor's private updates.
    fn cors_with_credentials(&self) -> Cors {
        self.cors_with(!self.config.cors_origins.iter().any(|origin| origin == "*"))
    }

    fn cors_with(&self, credentials: bool) -> Cors {
        let mut cors = Cors::default()
            .allowed_methods([Method::GET, Method::POST])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                sse_actix::server::LAST_EVENT_ID,
                header::CACHE_CONTROL,
            ])
            .max_age(3600);
        if credentials {
            cors = cors.supports_credentials();
        }
        for origin in &self.config.cors_origins {
            cors = if origin == "*" {
                cors.allow_any_origin().send_wildcard()
            } else {
                cors.allowed_origin(origin)
            };
        }
        cors
    }
}

/// The client's address, for log lines.
fn peer(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|addr| addr.to_string())
        .unwrap_or_default()
}
