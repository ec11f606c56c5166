//! [`Sse`]: the actix-web handler serving one sse-actors server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use sse_actors::{Server, SubscribeError, SubscribeRequest};
use sse_proto::Encoder;

use crate::server::SseError;
use crate::server::body::{ConnectionLog, EventBody};
use crate::server::config::{SseConfig, StreamSource};
use crate::server::limit::Connections;
use crate::server::request::subscribe_params;
use crate::server::response::event_stream_head;

/// Serves the streams of an sse-actors [`Server`] over HTTP: the handler of
/// `GET /events?stream=NAME` (the counterpart of r3labs' `ServeHTTP`).
///
/// Cloning is cheap and clones share the server, the settings and the
/// connection count. Mount it with [`resource`](Sse::resource):
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use sse_actix::server::Sse;
/// use sse_actors::Server;
///
/// # async fn run() -> std::io::Result<()> {
/// let server = Server::builder().auto_stream(true).build();
/// let sse = Sse::new(server.clone()).max_connections(10_000);
/// HttpServer::new(move || App::new().service(sse.resource("/events")))
///     // Lets actix-web notice a vanished client at once instead of at the
///     // next keep-alive write.
///     .h1_allow_half_closed(false)
///     // Sends each small event frame at once instead of waiting for the
///     // client's acknowledgement of the previous one (Nagle's algorithm).
///     .tcp_nodelay(true)
///     .bind(("127.0.0.1", 8080))?
///     .run()
///     .await
/// # }
/// ```
///
/// What a request gets:
///
/// | request | answer |
/// |---|---|
/// | valid, known stream (or auto-stream on) | `200`, `text/event-stream`, events until the client leaves, the stream is removed or the server closes |
/// | no stream name | `400` [`SseError::MissingStream`] |
/// | bad stream name (see [`validate_stream_name`](crate::server::validate_stream_name)) | `400` [`SseError::InvalidStreamName`] |
/// | unknown stream, auto-stream off | `404` [`SseError::UnknownStream`] |
/// | [`max_connections`](Sse::max_connections), the server's subscribers-per-stream or auto-stream limit reached | `503` |
///
/// The `Last-Event-ID` header (or the `lastEventId` query parameter, for
/// polyfills) resumes after that event: the server replays only what came
/// after it.
#[derive(Clone)]
pub struct Sse {
    server: Server,
    config: Arc<SseConfig>,
    /// The server's extra headers (r3labs `Headers`), parsed once.
    server_headers: Arc<[(HeaderName, HeaderValue)]>,
    connections: Connections,
}

impl std::fmt::Debug for Sse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sse")
            .field("config", &self.config)
            .field("open_connections", &self.connections.open())
            .finish_non_exhaustive()
    }
}

impl Sse {
    /// A handler for `server`'s streams with the default [`SseConfig`].
    pub fn new(server: Server) -> Self {
        Sse::with_config(server, SseConfig::default())
    }

    /// A handler for `server`'s streams with `config`.
    pub fn with_config(server: Server, config: SseConfig) -> Self {
        let server_headers = server
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                let parsed = HeaderName::try_from(name.as_str())
                    .ok()
                    .zip(HeaderValue::try_from(value.as_str()).ok());
                if parsed.is_none() {
                    tracing::warn!(%name, "ignoring the server's extra header: not a valid HTTP header");
                }
                parsed
            })
            .collect();
        Sse {
            server,
            config: Arc::new(config),
            server_headers,
            connections: Connections::default(),
        }
    }

    fn config_mut(&mut self) -> &mut SseConfig {
        Arc::make_mut(&mut self.config)
    }

    /// Reads the stream name from the query parameter `name` (default
    /// `stream`).
    #[must_use]
    pub fn stream_param(mut self, name: impl Into<String>) -> Self {
        self.config_mut().stream_source = StreamSource::Query(name.into());
        self
    }

    /// Reads the stream name from the route's path segment `name`, for
    /// routes like `/events/{stream}`.
    #[must_use]
    pub fn stream_path_segment(mut self, name: impl Into<String>) -> Self {
        self.config_mut().stream_source = StreamSource::Path(name.into());
        self
    }

    /// The query parameter accepted when no `Last-Event-ID` header is sent
    /// (default `lastEventId`); `None` turns the fallback off.
    #[must_use]
    pub fn last_event_id_param(mut self, name: Option<String>) -> Self {
        self.config_mut().last_event_id_param = name;
        self
    }

    /// The longest accepted stream name, in bytes (default 128).
    #[must_use]
    pub fn max_stream_name_len(mut self, len: usize) -> Self {
        self.config_mut().max_stream_name_len = len;
        self
    }

    /// Serves at most `max` event streams at once; one more gets a 503
    /// (default: no limit).
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config_mut().max_connections = Some(max);
        self
    }

    /// Sends `retry: <ms>` first on every response, setting the clients'
    /// reconnection delay.
    #[must_use]
    pub fn retry(mut self, delay: Duration) -> Self {
        self.config_mut().retry = Some(delay);
        self
    }

    /// Adds a header to every event-stream response, after the protocol's.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.config_mut().headers.push((name, value));
        self
    }

    /// The settings in force.
    pub fn config(&self) -> &SseConfig {
        &self.config
    }

    /// The sse-actors server whose streams this handler serves.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// How many event streams are open right now, over every clone.
    pub fn open_connections(&self) -> usize {
        self.connections.open()
    }

    /// A `GET` resource at `path` serving event streams:
    /// `App::new().service(sse.resource("/events"))`. With
    /// [`stream_path_segment`](Sse::stream_path_segment), `path` holds the
    /// segment, e.g. `"/events/{stream}"`.
    pub fn resource(&self, path: &str) -> Resource {
        web::resource(path).route(self.route())
    }

    /// A `GET` route serving event streams, to add to a resource or a scope
    /// of your own: `.route("/events", sse.route())`.
    pub fn route(&self) -> Route {
        let sse = self.clone();
        web::get().to(move |req: HttpRequest| {
            let sse = sse.clone();
            async move { sse.respond(&req).await }
        })
    }

    /// Answers one subscription request: the building block for handlers
    /// that do their own checks (authorization, say) first.
    pub async fn respond(&self, req: &HttpRequest) -> Result<HttpResponse, SseError> {
        let peer = req
            .peer_addr()
            .map_or_else(|| "unknown".to_owned(), |addr| addr.to_string());
        let result = self.open(req, &peer).await;
        if let Err(error) = &result {
            tracing::info!(%peer, path = %req.path(), "event stream refused: {error}");
        }
        result
    }

    async fn open(&self, req: &HttpRequest, peer: &str) -> Result<HttpResponse, SseError> {
        let params = subscribe_params(req, &self.config)?;
        // Taken before subscribing so a flood of requests cannot create
        // subscribers past the limit while earlier ones are in flight.
        let slot = self.connections.acquire(self.config.max_connections)?;
        let mut request = SubscribeRequest::new().label(peer);
        request.last_event_id = params.last_event_id.clone();
        let subscription = self
            .server
            .subscribe(&params.stream, request)
            .await
            .map_err(|error| subscribe_error(&params.stream, error))?;
        tracing::info!(
            stream = %params.stream,
            %peer,
            last_event_id = params.last_event_id.as_deref().unwrap_or(""),
            "event stream opened"
        );
        // A first frame makes actix-web write the head at once, so clients
        // see `200` before the first event (and a proxy sees traffic).
        let first = match self.config.retry {
            Some(delay) => Encoder::retry(delay),
            None => Encoder::comment(""),
        };
        let log = ConnectionLog {
            stream: params.stream,
            peer: peer.to_owned(),
            opened: Instant::now(),
            sent: 0,
            frames: 0,
            ended_by: None,
        };
        let body = EventBody::new(Some(first), subscription, slot, log);
        let headers = self.server_headers.iter().chain(&self.config.headers);
        Ok(event_stream_head(headers).streaming(body))
    }
}

fn subscribe_error(stream: &str, error: SubscribeError) -> SseError {
    match error {
        SubscribeError::UnknownStream { .. } => SseError::UnknownStream {
            name: stream.to_owned(),
        },
        SubscribeError::TooManySubscribers { .. } => SseError::TooManySubscribers {
            name: stream.to_owned(),
        },
        SubscribeError::StreamRemoved { .. } => SseError::UnknownStream {
            name: stream.to_owned(),
        },
        SubscribeError::TooManyStreams { limit, .. } => SseError::TooManyStreams {
            name: stream.to_owned(),
            limit,
        },
        SubscribeError::ServerClosed => SseError::Closed,
        other => SseError::Internal(other.to_string()),
    }
}
