//! `Client` and its builder: everything about the request and the policy,
//! fixed once and shared by every subscription made from the client.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use awc::http::header::{HeaderMap, HeaderName, HeaderValue};
use awc::http::{Method, StatusCode};
use bytes::Bytes;
use sse_proto::{ByteString, Decoder};

use super::error::Error;
use super::live::{LiveCounters, LiveCounts};
use super::policy::{HttpErrorPolicy, ReconnectPolicy};
use super::strategy::{ExponentialBackoff, ReconnectStrategy};
use super::tls::TlsConfig;

pub(crate) type Validator = dyn Fn(StatusCode, &HeaderMap) -> Result<(), String> + Send + Sync;
pub(crate) type StrategyFactory = dyn Fn() -> Box<dyn ReconnectStrategy> + Send + Sync;
pub(crate) type AwcFactory = dyn Fn() -> awc::Client + Send + Sync;
pub(crate) type DisconnectCallback = dyn Fn(&Error) + Send + Sync;
pub(crate) type NotifyCallback = dyn Fn(&Error, Duration) + Send + Sync;

/// A reconnecting Server-Sent Events client built on awc.
///
/// Cheap to clone (clones share configuration, callbacks, the
/// [`last_event_id`](Client::last_event_id) and the live counters) and
/// `Send + Sync`: build it anywhere. Subscriptions run on the current actix
/// (or tokio `LocalSet`) runtime, because awc does.
///
/// Consume events as a [`futures_util::Stream`] ([`Client::stream`], the
/// primary form), with a handler ([`Client::subscribe`]) or into a channel
/// ([`Client::subscribe_chan`]).
#[derive(Clone)]
pub struct Client {
    pub(crate) config: Arc<Config>,
    pub(crate) live: Arc<LiveCounters>,
    pub(crate) last_event_id: Arc<Mutex<ByteString>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.config.url)
            .field("method", &self.config.method)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Config {
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<Bytes>,
    pub(crate) max_event_size: usize,
    pub(crate) base64: bool,
    pub(crate) fields: Vec<String>,
    pub(crate) comments: bool,
    pub(crate) last_event_id: ByteString,
    pub(crate) validator: Option<Box<Validator>>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) response_timeout: Duration,
    pub(crate) max_redirects: u8,
    pub(crate) initial_delay: Duration,
    pub(crate) min_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) strategy: Box<StrategyFactory>,
    pub(crate) http_errors: HttpErrorPolicy,
    /// `None`: by the request (see `reconnect_policy`).
    pub(crate) reconnect: Option<ReconnectPolicy>,
    pub(crate) healthy_after: Duration,
    pub(crate) on_connect: Option<Box<dyn Fn() + Send + Sync>>,
    pub(crate) on_disconnect: Option<Box<DisconnectCallback>>,
    pub(crate) reconnect_notify: Option<Box<NotifyCallback>>,
    pub(crate) awc: Option<Box<AwcFactory>>,
    pub(crate) tls: TlsConfig,
    /// Built from `tls` once, by `build`, for every connection.
    pub(crate) rustls: Option<Arc<rustls::ClientConfig>>,
    /// Why the request cannot be built, if it cannot.
    pub(crate) invalid: Option<String>,
}

impl Config {
    pub(crate) fn decoder(&self) -> Decoder {
        Decoder::new()
            .with_max_event_size(self.max_event_size)
            // A data line is part of its event: the event limit bounds it,
            // plus room for the longest field name and separator.
            .with_max_line_length(self.max_event_size.saturating_add(16))
            .with_base64(self.base64)
            .with_fields(&self.fields)
            .with_comments(self.comments)
            .with_last_event_id(self.last_event_id.clone())
    }

    /// The reconnect policy chosen, or the default for this request.
    pub(crate) fn reconnect_policy(&self) -> ReconnectPolicy {
        self.reconnect
            .unwrap_or(if self.method == Method::GET && self.body.is_none() {
                ReconnectPolicy::Always
            } else {
                ReconnectPolicy::UntilAccepted
            })
    }

    /// Clamps a delay to the floor and cap, so `retry: 0` (or a strategy
    /// returning zero) cannot make the client spin.
    pub(crate) fn clamp_delay(&self, delay: Duration) -> Duration {
        delay.clamp(self.min_delay, self.max_delay.max(self.min_delay))
    }

    pub(crate) fn awc_client(&self) -> awc::Client {
        match &self.awc {
            Some(factory) => factory(),
            None => {
                let mut connector = awc::Connector::new();
                if let Some(rustls) = &self.rustls {
                    connector = connector.rustls_0_23(Arc::clone(rustls));
                }
                awc::Client::builder()
                    .connector(connector)
                    .timeout(self.response_timeout)
                    .max_redirects(self.max_redirects)
                    .finish()
            }
        }
    }
}

impl Client {
    /// A client for `url` with the default settings (`GET`, reconnecting
    /// forever with exponential backoff).
    pub fn new(url: impl Into<String>) -> Client {
        ClientBuilder::new(url).build()
    }

    /// A builder for `url`.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// The last event ID seen by any subscription of this client (or set with
    /// [`ClientBuilder::last_event_id`]); empty if none. Readable at any time.
    pub fn last_event_id(&self) -> ByteString {
        self.last_event_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The URL the client connects to.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// How many subscriptions, open connections and spawned tasks of this
    /// client are alive right now. All three return to zero once every
    /// stream is dropped and every subscription has ended: a leak check.
    pub fn live(&self) -> LiveCounts {
        self.live.counts()
    }
}

/// Configures a [`Client`]. Every option has a default; see each method.
pub struct ClientBuilder {
    config: Config,
    error: Option<String>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Default for [`max_event_size`](Self::max_event_size): 8 MiB.
    pub const DEFAULT_MAX_EVENT_SIZE: usize = Decoder::DEFAULT_MAX_EVENT_SIZE;
    /// Default for [`initial_delay`](Self::initial_delay): 1 s.
    pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
    /// Default floor of every reconnection delay: 100 ms.
    pub const DEFAULT_MIN_DELAY: Duration = Duration::from_millis(100);
    /// Default cap of every reconnection delay: 30 s.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
    /// Default for [`response_timeout`](Self::response_timeout): 30 s.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default for [`healthy_after`](Self::healthy_after): 60 s.
    pub const DEFAULT_HEALTHY_AFTER: Duration = Duration::from_secs(60);

    /// A builder for a `GET` of `url`.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            config: Config {
                url: url.into(),
                method: Method::GET,
                headers: Vec::new(),
                body: None,
                max_event_size: Self::DEFAULT_MAX_EVENT_SIZE,
                base64: false,
                fields: Vec::new(),
                comments: false,
                last_event_id: ByteString::new(),
                validator: None,
                idle_timeout: None,
                response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
                max_redirects: 10,
                initial_delay: Self::DEFAULT_INITIAL_DELAY,
                min_delay: Self::DEFAULT_MIN_DELAY,
                max_delay: Self::DEFAULT_MAX_DELAY,
                strategy: Box::new(|| Box::new(ExponentialBackoff::default())),
                http_errors: HttpErrorPolicy::default(),
                reconnect: None,
                healthy_after: Self::DEFAULT_HEALTHY_AFTER,
                on_connect: None,
                on_disconnect: None,
                reconnect_notify: None,
                awc: None,
                tls: TlsConfig::default(),
                rustls: None,
                invalid: None,
            },
            error: None,
        }
    }

    /// The request method (default `GET`). LLM streaming APIs use `POST`.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.config.method = method;
        self
    }

    /// A request body, sent again on every reconnection. With a body (or a
    /// method other than `GET`) the default [`ReconnectPolicy`] is
    /// [`UntilAccepted`](ReconnectPolicy::UntilAccepted).
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.config.body = Some(body.into());
        self
    }

    /// Adds a request header, sent on every connection. An invalid name or
    /// value makes [`try_build`](Self::try_build) fail.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => self.config.headers.push((name, value)),
            _ => {
                self.error
                    .get_or_insert_with(|| format!("invalid header {name:?}: {value:?}"));
            }
        }
        self
    }

    /// Largest event accepted, in bytes (the r3labs `ClientMaxBufferSize`;
    /// default 8 MiB). A larger event is discarded and reported as
    /// [`Error::Decode`]; the connection goes on. This bounds the memory a
    /// subscription uses for decoding.
    ///
    /// The default is deliberately far below what a hostile or broken server
    /// could send and far above what event streams carry; raise it for a
    /// source known to send larger events (LaunchDarkly's contract tests
    /// send a ~14 MB line, and our contract service raises it to 32 MiB).
    #[must_use]
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.config.max_event_size = bytes;
        self
    }

    /// Decode each event's data from base64 (r3labs `EncodingBase64`).
    #[must_use]
    pub fn base64(mut self, decode: bool) -> Self {
        self.config.base64 = decode;
        self
    }

    /// Keep these custom fields in [`Event::fields`](sse_proto::Event::fields)
    /// (r3labs `ResponseDataFields`).
    #[must_use]
    pub fn keep_fields<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.fields.extend(names.into_iter().map(Into::into));
        self
    }

    /// Report comments: as [`Frame::Comment`](sse_proto::Frame::Comment) in
    /// [`Client::frames`], and in [`Event::comment`](sse_proto::Event::comment).
    #[must_use]
    pub fn comments(mut self, report: bool) -> Self {
        self.config.comments = report;
        self
    }

    /// The last event ID to start from, sent as `Last-Event-ID` on the first
    /// connection (when non-empty).
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<ByteString>) -> Self {
        self.config.last_event_id = id.into();
        self
    }

    /// Checks each response after the built-in checks (2xx status,
    /// `text/event-stream`); an `Err` is reported as [`Error::Rejected`] and
    /// handled by the [`http_error_policy`](Self::http_error_policy).
    #[must_use]
    pub fn response_validator<F>(mut self, validator: F) -> Self
    where
        F: Fn(StatusCode, &HeaderMap) -> Result<(), String> + Send + Sync + 'static,
    {
        self.config.validator = Some(Box::new(validator));
        self
    }

    /// Reconnect when no byte arrived for this long (default: never).
    /// awc's own timeout only covers the wait for the response head, so a
    /// stream that goes silent needs this; set it above the server's
    /// keep-alive interval.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = Some(timeout);
        self
    }

    /// How long to wait for the response head (default 30 s).
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.config.response_timeout = timeout;
        self
    }

    /// Redirects followed per connection (default 10; 0 disables).
    #[must_use]
    pub fn max_redirects(mut self, max: u8) -> Self {
        self.config.max_redirects = max;
        self
    }

    /// The reconnection time before any `retry:` from the server (default 1 s).
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.config.initial_delay = delay;
        self
    }

    /// Floor and cap applied to every reconnection delay and to the server's
    /// `retry:` (defaults 100 ms and 30 s).
    #[must_use]
    pub fn delay_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.config.min_delay = min;
        self.config.max_delay = max;
        self
    }

    /// Replaces the reconnection strategy (default: [`ExponentialBackoff`],
    /// never giving up). The factory is called once per subscription.
    #[must_use]
    pub fn reconnect_strategy<F, S>(mut self, factory: F) -> Self
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: ReconnectStrategy + 'static,
    {
        self.config.strategy = Box::new(move || Box::new(factory()));
        self
    }

    /// Which refused responses are retried (default
    /// [`HttpErrorPolicy::RetryTransient`]: 5xx, 408 and 429, after their
    /// `Retry-After`; anything else stops the client).
    #[must_use]
    pub fn http_error_policy(mut self, policy: HttpErrorPolicy) -> Self {
        self.config.http_errors = policy;
        self
    }

    /// Which losses the client reconnects after (default: by the request;
    /// see [`ReconnectPolicy`]).
    #[must_use]
    pub fn reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = Some(policy);
        self
    }

    /// How long a connection must last to count as healthy (default 60 s).
    /// Only a healthy connection — one that lasted this long or delivered an
    /// event — resets the backoff, so a server that accepts and closes at
    /// once (whatever `retry:` it sends) sees the delay grow, not a storm.
    #[must_use]
    pub fn healthy_after(mut self, duration: Duration) -> Self {
        self.config.healthy_after = duration;
        self
    }

    /// Called each time a response is accepted (before any event arrives).
    #[must_use]
    pub fn on_connect(mut self, callback: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.on_connect = Some(Box::new(callback));
        self
    }

    /// Called on every loss of an accepted connection, with the reason.
    #[must_use]
    pub fn on_disconnect(mut self, callback: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.config.on_disconnect = Some(Box::new(callback));
        self
    }

    /// Called before each reconnection delay with the error that caused it
    /// and the delay (r3labs `ReconnectNotify`).
    #[must_use]
    pub fn reconnect_notify(
        mut self,
        callback: impl Fn(&Error, Duration) + Send + Sync + 'static,
    ) -> Self {
        self.config.reconnect_notify = Some(Box::new(callback));
        self
    }

    /// TLS settings for `https://` URLs (default: the bundled web PKI
    /// roots, no client certificate): a private CA, a client certificate.
    #[must_use]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.config.tls = tls;
        self
    }

    /// Builds the awc client used by each subscription, for a connector of
    /// your own. It then owns TLS (see
    /// [`TlsConfig::rustls_client_config`] for ours), the response timeout
    /// and redirects.
    #[must_use]
    pub fn awc_client(mut self, factory: impl Fn() -> awc::Client + Send + Sync + 'static) -> Self {
        self.config.awc = Some(Box::new(factory));
        self
    }

    fn check_url(&mut self) {
        let url = &self.config.url;
        let valid = awc::http::Uri::try_from(url.as_str())
            .is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some());
        if !valid {
            self.error
                .get_or_insert_with(|| format!("{url:?} is not an absolute http(s) URL"));
        }
    }

    fn prepare_tls(&mut self) {
        if self.config.awc.is_some() || self.config.rustls.is_some() {
            return;
        }
        match self.config.tls.rustls_client_config() {
            Ok(config) => self.config.rustls = Some(config),
            Err(error) => {
                self.error.get_or_insert_with(|| match error {
                    Error::InvalidRequest(message) => message,
                    other => other.to_string(),
                });
            }
        }
    }

    /// Builds the client, or reports an invalid URL, header or TLS setting.
    pub fn try_build(mut self) -> Result<Client, Error> {
        self.check_url();
        self.prepare_tls();
        match self.error.take() {
            Some(error) => Err(Error::InvalidRequest(error)),
            None => Ok(self.build()),
        }
    }

    /// Builds the client. An invalid header or TLS setting is reported by
    /// every subscription as [`Error::InvalidRequest`], after which it
    /// stops; use [`try_build`](Self::try_build) to catch it here.
    pub fn build(mut self) -> Client {
        self.check_url();
        self.prepare_tls();
        self.config.invalid = self.error;
        Client {
            last_event_id: Arc::new(Mutex::new(self.config.last_event_id.clone())),
            config: Arc::new(self.config),
            live: Arc::default(),
        }
    }
}
