//! [`Sse`]: the actix-web handler serving one sse-actors server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};
use bytes::Bytes;
use futures_util::future::try_join_all;
use sse_actors::{Server, SubscribeError, SubscribeRequest, Subscription};
use sse_proto::Encoder;

use crate::server::SseError;
use crate::server::body::{ConnectionLog, EventBody};
use crate::server::config::{SseConfig, StreamSource};
use crate::server::latency::LatencyProbe;
use crate::server::limit::Connections;
use crate::server::multi_body::{Member, MultiBody};
use crate::server::request::{LAST_EVENT_ID, subscribe_params};
use crate::server::response::event_stream_head;
use crate::server::resume_id::{self, Cursor};

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
/// | the stream parameter repeated, past [`max_streams_per_connection`](Sse::max_streams_per_connection) (default 1), or a name twice | `400` [`SseError::TooManyStreamsInRequest`], [`SseError::DuplicateStream`] ([`SseError::BadRequest`] at the default of 1) |
/// | [`max_connections`](Sse::max_connections), the server's subscribers-per-stream or auto-stream limit reached | `503` |
///
/// The `Last-Event-ID` header (or the `lastEventId` query parameter, for
/// polyfills) resumes after that event: the server replays only what came
/// after it.
///
/// # Several streams on one connection
///
/// With [`max_streams_per_connection`](Sse::max_streams_per_connection)
/// above 1, `GET /events?stream=a&stream=b` is one response (one
/// connection slot, one subscriber per stream) carrying the events of both
/// as they come, in order within each stream. Each event is its stream's
/// frame with two lines in front:
///
/// ```text
/// id: 1.AxhXKpcCCG1pcGIweWM4ATEBMgcE
/// stream: b
/// data: …
/// ```
///
/// - `stream:` names the event's stream. `EventSource` ignores fields it
///   does not know; this crate's client keeps it with
///   [`keep_fields(["stream"])`](crate::client::ClientBuilder::keep_fields).
/// - `id:` is `INDEX.STATE`: `INDEX` is the event's stream as its place
///   (0-based) among the request's `stream` parameters, readable in a
///   browser's `lastEventId`; `STATE` is opaque and holds where the client
///   is in every stream (positions, not the publishers' ids, which are not
///   sent). On reconnect, `EventSource` sends it back as `Last-Event-ID`
///   and each stream replays exactly what followed what this client got of
///   it. An id that is not one of this request's (another stream list or
///   order, a single stream's id, an unknown format) counts as none: each
///   stream serves the client as a new subscriber. Each position carries
///   its stream's epoch, so one from an earlier life of the stream (a
///   restart, a re-creation) gets the gap event. A few bytes per stream: 32
///   streams take 150 to 240 characters on one node, about 190 in a cluster.
/// - Keep-alive comments come once per interval, not once per stream. If
///   one stream ends (removed, the subscriber lagged or was kicked), the
///   response ends and the client resumes them all; a closing server ends
///   each stream after what it accepted.
#[derive(Clone)]
pub struct Sse {
    server: Server,
    config: Arc<SseConfig>,
    /// The server's extra headers (r3labs `Headers`), parsed once.
    server_headers: Arc<[(HeaderName, HeaderValue)]>,
    connections: Connections,
    latency: LatencyProbe,
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
            latency: LatencyProbe::default(),
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

    /// Serves up to `max` streams on one response (default 1): a request
    /// repeating the stream query parameter, `?stream=a&stream=b`, gets the
    /// events of all of them, each with its stream named in a `stream:`
    /// field and an id that resumes every stream exactly (see the
    /// [type's documentation](Sse#several-streams-on-one-connection)). More
    /// than `max` names, or one name twice, is a 400. Values below 1 count
    /// as 1.
    #[must_use]
    pub fn max_streams_per_connection(mut self, max: usize) -> Self {
        self.config_mut().max_streams_per_connection = max.max(1);
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

    /// Calls `observe` with how long live events waited between their
    /// publication (the stream accepting them) and this handler's response
    /// taking them for the connection's write buffer: the publish-to-write
    /// latency, for a metrics histogram. Once per chunk a response writes,
    /// with the wait of its oldest live event (a chunk gathers what was
    /// queued since the last write); replayed events and keep-alives are
    /// not observed. `observe` runs on the connections' worker threads and
    /// must be cheap. With a [`ManualClock`](sse_actors::ManualClock) the
    /// waits mean nothing.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use sse_actix::Sse;
    /// use sse_actors::Server;
    ///
    /// # actix_rt::System::new().block_on(async {
    /// let slowest_us = Arc::new(AtomicU64::new(0));
    /// let seen = Arc::clone(&slowest_us);
    /// let sse = Sse::new(Server::builder().build()).observe_delivery_latency(move |wait| {
    ///     seen.fetch_max(wait.as_micros() as u64, Ordering::Relaxed);
    /// });
    /// # });
    /// ```
    #[must_use]
    pub fn observe_delivery_latency(
        mut self,
        observe: impl Fn(Duration) + Send + Sync + 'static,
    ) -> Self {
        self.latency = LatencyProbe::new(observe);
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

    /// Answers `req` with one subscription to `stream` made from `request`
    /// (its label is set to the peer): for protocols that read their own
    /// parameters (topic filters, say), with this handler's connection
    /// limit, first frame, headers, keep-alives and logging. The head also
    /// carries `Last-Event-ID` with the id of the event the subscription
    /// starts after, when the stream's log holds it
    /// ([`Subscription::start_id`]), so a client can reconcile.
    pub async fn respond_with(
        &self,
        req: &HttpRequest,
        stream: &str,
        request: SubscribeRequest,
    ) -> Result<HttpResponse, SseError> {
        let peer = req
            .peer_addr()
            .map_or_else(|| "unknown".to_owned(), |addr| addr.to_string());
        let slot = self.connections.acquire(self.config.max_connections)?;
        let last_event_id = request.last_event_id.clone();
        let subscription = self
            .server
            .subscribe(stream, request.label(peer.clone()))
            .await
            .map_err(|error| subscribe_error(stream, error))?;
        let log = ConnectionLog {
            stream: stream.to_owned(),
            peer,
            opened: Instant::now(),
            sent: 0,
            frames: 0,
            ended_by: None,
        };
        opened(&log, last_event_id.as_deref());
        let mut head = event_stream_head(self.server_headers.iter().chain(&self.config.headers));
        if let Some(value) = subscription
            .start_id()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            head.insert_header((LAST_EVENT_ID, value));
        }
        let body = EventBody::new(
            Some(self.first_frame()),
            subscription,
            slot,
            log,
            self.latency.clone(),
        );
        Ok(head.streaming(body))
    }

    /// What a response writes first, so actix-web writes the head at once.
    fn first_frame(&self) -> Bytes {
        match self.config.retry {
            Some(delay) => Encoder::retry(delay),
            None => Encoder::comment(""),
        }
    }

    async fn open(&self, req: &HttpRequest, peer: &str) -> Result<HttpResponse, SseError> {
        let params = subscribe_params(req, &self.config)?;
        // Taken before subscribing so a flood of requests cannot create
        // subscribers past the limit while earlier ones are in flight.
        let slot = self.connections.acquire(self.config.max_connections)?;
        // A first frame makes actix-web write the head at once, so clients
        // see `200` before the first event (and a proxy sees traffic).
        let first = self.first_frame();
        // Made once subscribed: its drop writes the close line.
        let log = || ConnectionLog {
            stream: params.streams.join(","),
            peer: peer.to_owned(),
            opened: Instant::now(),
            sent: 0,
            frames: 0,
            ended_by: None,
        };
        let head = || event_stream_head(self.server_headers.iter().chain(&self.config.headers));
        if let [stream] = &params.streams[..] {
            let mut request = SubscribeRequest::new().label(peer);
            request.last_event_id = params.last_event_id.clone();
            let subscription = self
                .server
                .subscribe(stream, request)
                .await
                .map_err(|error| subscribe_error(stream, error))?;
            let log = log();
            opened(&log, params.last_event_id.as_deref());
            let body = EventBody::new(Some(first), subscription, slot, log, self.latency.clone());
            return Ok(head().streaming(body));
        }
        let names = || params.streams.iter().map(String::as_str);
        let resume = params
            .last_event_id
            .as_deref()
            .and_then(|id| resume_id::decode(id, names()));
        let subscribes = params.streams.iter().enumerate().map(|(at, stream)| {
            let mut request = SubscribeRequest::new().label(peer);
            // An id that is not this request's is none: handed to every
            // stream, a single stream's `7` would resume each after its own
            // event 7.
            if let Some(marks) = &resume {
                request.last_event_id = params.last_event_id.clone();
                if let Some(mark) = marks.get(at) {
                    request.after = Some(mark.position);
                    request.epoch.clone_from(&mark.epoch);
                }
            }
            async move {
                self.server
                    .subscribe(stream, request)
                    .await
                    .map_err(|error| subscribe_error(stream, error))
            }
        });
        let subscriptions = try_join_all(subscribes).await?;
        let log = log();
        opened(&log, params.last_event_id.as_deref());
        let starts: Vec<_> = subscriptions.iter().map(Subscription::start).collect();
        let epochs: Vec<_> = subscriptions.iter().map(Subscription::epoch).collect();
        let cursor = Cursor::new(names(), &starts, &epochs);
        let members = params
            .streams
            .iter()
            .zip(subscriptions)
            .map(|(name, subscription)| Member::new(name, subscription))
            .collect();
        let body = MultiBody::new(
            Some(first),
            members,
            cursor,
            slot,
            log,
            self.latency.clone(),
        );
        Ok(head().streaming(body))
    }
}

/// The open line; `log.stream` names every stream of the connection.
fn opened(log: &ConnectionLog, last_event_id: Option<&str>) {
    tracing::info!(
        stream = %log.stream,
        peer = %log.peer,
        last_event_id = last_event_id.unwrap_or(""),
        "event stream opened"
    );
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
