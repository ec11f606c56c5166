//! One subscription's life: connect, validate, read and decode, and on any
//! loss wait and reconnect, until the strategy gives up or the server says
//! stop. It is a plain state machine driven by whoever polls the stream, so
//! dropping the stream drops the connection and any pending sleep with it.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, TRANSFER_ENCODING,
};
use awc::http::{StatusCode, Version};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use sse_proto::{ByteString, Decoder, Frame};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::builder::Config;
use super::error::Error;
use super::live::{LiveCounters, LiveGuard, LiveKind};
use super::policy::{ReconnectPolicy, retry_after};
use super::strategy::ReconnectStrategy;
use super::stream::StopReason;
use super::tls::certificate_error;

/// What a subscription's handles can see of it while it runs.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    pub(crate) last_event_id: ByteString,
    /// Why the subscription stopped, once it has.
    pub(crate) stopped: Option<StopReason>,
    /// A response is accepted and being read (r3labs `Connected`).
    pub(crate) connected: bool,
}

/// The part of a subscription its handles share with it.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<SessionState>,
    /// Asks the session to drop what it is doing and connect again at once;
    /// a request made while it is not waiting is kept (one permit) until it is.
    restart: Notify,
}

pub(crate) type SharedSession = Arc<Shared>;

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, SessionState> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Asks the subscription sharing `shared` to reconnect now.
pub(crate) fn request_restart(shared: &Shared) {
    shared.restart.notify_one();
}

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

struct Connection {
    body: Body,
    idle: Option<(Pin<Box<Sleep>>, Duration)>,
    accepted_at: Instant,
    /// An event was dispatched from this connection.
    delivered: bool,
    _live: LiveGuard,
}

/// Why a connection attempt ended without a usable stream.
enum NotConnected {
    /// `204 No Content`: the server asks the client to stop.
    NoContent,
    Error(Error),
}

pub(crate) struct Session {
    config: Arc<Config>,
    url: String,
    live: Arc<LiveCounters>,
    client_last_id: Arc<Mutex<ByteString>>,
    shared: SharedSession,
    awc: Option<awc::Client>,
    decoder: Decoder,
    strategy: Box<dyn ReconnectStrategy>,
    conn: Option<Connection>,
    delay: Option<Duration>,
    done: bool,
    reconnect: ReconnectPolicy,
    _live: LiveGuard,
}

impl Session {
    pub(crate) fn new(client: &super::Client, stream: Option<&str>) -> (Session, SharedSession) {
        let config = Arc::clone(&client.config);
        let url = match stream {
            Some(name) => with_stream_param(&config.url, name),
            None => config.url.clone(),
        };
        let mut strategy = (config.strategy)();
        strategy.set_base_delay(config.clamp_delay(config.initial_delay));
        let shared = Arc::new(Shared {
            state: Mutex::new(SessionState {
                last_event_id: config.last_event_id.clone(),
                stopped: None,
                connected: false,
            }),
            restart: Notify::new(),
        });
        let session = Session {
            decoder: config.decoder(),
            url,
            live: Arc::clone(&client.live),
            client_last_id: Arc::clone(&client.last_event_id),
            shared: Arc::clone(&shared),
            awc: None,
            strategy,
            conn: None,
            delay: None,
            done: false,
            reconnect: config.reconnect_policy(),
            _live: client.live.track(LiveKind::Subscription),
            config,
        };
        (session, shared)
    }

    /// The next frame or error; `None` once the subscription has stopped.
    pub(crate) async fn next(&mut self) -> Option<Result<Frame, Error>> {
        let shared = Arc::clone(&self.shared);
        loop {
            if self.done {
                return None;
            }
            if self.conn.is_some() {
                if let Some(frame) = self.decoder.next() {
                    return Some(self.on_frame(frame));
                }
                // An `id:` in a block without data changes the ID without
                // producing a frame: publish it before waiting for more.
                self.record_last_event_id();
                let read = tokio::select! {
                    biased;
                    () = shared.restart.notified() => None,
                    read = self.read() => Some(read),
                };
                let error = match read {
                    Some(Ok(())) => continue,
                    Some(Err(error)) => error,
                    None => {
                        // A requested restart is not a loss: no error, no
                        // delay, straight to a new connection.
                        self.disconnect();
                        continue;
                    }
                };
                if self.disconnect() {
                    // Only a connection that proved healthy starts the
                    // backoff again: one that ends at once makes it grow.
                    self.strategy.reset();
                }
                if let Some(callback) = &self.config.on_disconnect {
                    callback(&error);
                }
                if self.reconnect == ReconnectPolicy::UntilAccepted {
                    return match error {
                        Error::StreamEnded => {
                            self.stop(StopReason::Completed);
                            None
                        }
                        error => {
                            self.stop(StopReason::Error);
                            Some(Err(error))
                        }
                    };
                }
                return Some(Err(self.schedule(error, None)));
            }
            if let Some(delay) = self.delay.take() {
                tokio::select! {
                    biased;
                    () = shared.restart.notified() => {}
                    () = tokio::time::sleep(delay) => {}
                }
            }
            let connected = tokio::select! {
                biased;
                // Start the attempt over: the caller asked for a connection
                // made from now on.
                () = shared.restart.notified() => continue,
                connected = self.connect() => connected,
            };
            match connected {
                Ok(conn) => {
                    self.conn = Some(conn);
                    lock(&self.shared).connected = true;
                    if let Some(callback) = &self.config.on_connect {
                        callback();
                    }
                }
                Err(NotConnected::NoContent) => {
                    self.stop(StopReason::NoContent);
                    return None;
                }
                Err(NotConnected::Error(error)) => return Some(Err(self.refused(error))),
            }
        }
    }

    /// Drops the connection, saying whether it was healthy: it delivered an
    /// event or lasted `healthy_after`. An event it cut short is discarded
    /// (spec).
    fn disconnect(&mut self) -> bool {
        let healthy = self.conn.take().is_some_and(|conn| {
            conn.delivered || conn.accepted_at.elapsed() >= self.config.healthy_after
        });
        lock(&self.shared).connected = false;
        self.decoder.end_stream();
        healthy
    }

    fn on_frame(&mut self, frame: Result<Frame, sse_proto::DecodeError>) -> Result<Frame, Error> {
        match frame {
            Ok(Frame::Retry(delay)) => {
                self.strategy.set_base_delay(self.config.clamp_delay(delay));
                Ok(Frame::Retry(delay))
            }
            Ok(frame) => {
                if let (Frame::Event(_), Some(conn)) = (&frame, self.conn.as_mut()) {
                    conn.delivered = true;
                }
                self.record_last_event_id();
                Ok(frame)
            }
            Err(error) => Err(Error::Decode(error)),
        }
    }

    fn record_last_event_id(&mut self) {
        let id = self.decoder.last_event_id();
        let mut shared = lock(&self.shared);
        if shared.last_event_id != id {
            shared.last_event_id = ByteString::from(id);
            *self
                .client_last_id
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = shared.last_event_id.clone();
        }
    }

    /// Reads one chunk into the decoder.
    async fn read(&mut self) -> Result<(), Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::StreamEnded);
        };
        let chunk = match &mut conn.idle {
            None => conn.body.next().await,
            Some((sleep, timeout)) => {
                tokio::select! {
                    biased;
                    chunk = conn.body.next() => {
                        sleep.as_mut().reset(Instant::now() + *timeout);
                        chunk
                    }
                    () = sleep.as_mut() => return Err(Error::IdleTimeout(*timeout)),
                }
            }
        };
        match chunk {
            Some(Ok(bytes)) => {
                self.decoder.feed(&bytes);
                Ok(())
            }
            Some(Err(error)) => Err(Error::Body(error.to_string())),
            None => Err(Error::StreamEnded),
        }
    }

    /// A connection attempt failed: stop or schedule a retry per policy.
    fn refused(&mut self, error: Error) -> Error {
        let policy = self.config.http_errors;
        let (retry, at_least) = match &error {
            Error::InvalidRequest(_) | Error::Certificate(_) => (false, None),
            Error::Status {
                status,
                retry_after,
            } => (policy.retries_status(*status), *retry_after),
            error if error.is_http_error() => (policy.retries_other(), None),
            _ => (true, None),
        };
        if !retry {
            self.stop(StopReason::Error);
            return error;
        }
        self.schedule(error, at_least)
    }

    fn stop(&mut self, reason: StopReason) {
        self.done = true;
        lock(&self.shared).stopped = Some(reason);
    }

    /// Chooses the delay before the next attempt — the strategy's, or
    /// longer if the server asked for longer (`Retry-After`), always within
    /// the floor and cap — or stops if the strategy gives up.
    fn schedule(&mut self, error: Error, at_least: Option<Duration>) -> Error {
        match self.strategy.next_delay() {
            None => self.stop(StopReason::Error),
            Some(delay) => {
                let delay = self
                    .config
                    .clamp_delay(at_least.map_or(delay, |asked| delay.max(asked)));
                if let Some(callback) = &self.config.reconnect_notify {
                    callback(&error, delay);
                }
                self.delay = Some(delay);
            }
        }
        error
    }

    async fn connect(&mut self) -> Result<Connection, NotConnected> {
        let config = &*self.config;
        if let Some(invalid) = &config.invalid {
            return Err(NotConnected::Error(Error::InvalidRequest(invalid.clone())));
        }
        let awc = self.awc.get_or_insert_with(|| config.awc_client());
        let mut request = awc
            .request(config.method.clone(), self.url.as_str())
            .insert_header((ACCEPT, "text/event-stream"))
            .insert_header((CACHE_CONTROL, "no-cache"));
        for (name, value) in &config.headers {
            request = request.insert_header((name.clone(), value.clone()));
        }
        let last_id = self.decoder.last_event_id();
        // Spec: send the ID only when non-empty (an empty `id:` clears it).
        // An ID that is not a valid header value cannot be sent at all.
        if let Ok(value) = HeaderValue::from_str(last_id)
            && !last_id.is_empty()
        {
            request = request.insert_header(("last-event-id", value));
        }
        let sent = match &config.body {
            Some(body) => request.send_body(body.clone()).await,
            None => request.send().await,
        };
        let response = sent.map_err(|e| NotConnected::Error(send_error(e)))?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Err(NotConnected::NoContent);
        }
        if !status.is_success() {
            return Err(NotConnected::Error(Error::Status {
                status,
                retry_after: retry_after(response.headers(), SystemTime::now()),
            }));
        }
        let content_type = response.headers().get(CONTENT_TYPE);
        if !content_type.is_some_and(is_event_stream) {
            return Err(NotConnected::Error(Error::ContentType {
                content_type: content_type
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            }));
        }
        let headers = response.headers();
        if response.version() == Version::HTTP_11
            && !headers.contains_key(CONTENT_LENGTH)
            && !headers.contains_key(TRANSFER_ENCODING)
        {
            return Err(NotConnected::Error(Error::CloseDelimitedBody));
        }
        if let Some(validator) = &config.validator {
            validator(status, response.headers())
                .map_err(|e| NotConnected::Error(Error::Rejected(e)))?;
        }
        Ok(Connection {
            accepted_at: Instant::now(),
            delivered: false,
            body: Box::pin(response),
            idle: config
                .idle_timeout
                .map(|t| (Box::pin(tokio::time::sleep(t)), t)),
            _live: self.live.track(LiveKind::Connection),
        })
    }
}

/// Errors that retrying cannot fix are request and certificate errors
/// (fatal); the others are connection errors (retried).
fn send_error(error: SendRequestError) -> Error {
    if let Some(reason) = certificate_error(&error) {
        return Error::Certificate(reason);
    }
    match error {
        SendRequestError::Url(e) => Error::InvalidRequest(format!("invalid URL: {e}")),
        SendRequestError::Connect(ConnectError::SslIsNotSupported) => Error::InvalidRequest(
            "https needs a TLS-enabled awc client; the awc_client factory made one without TLS"
                .to_owned(),
        ),
        other => Error::Connect(other.to_string()),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The connection goes with the session.
        lock(&self.shared).connected = false;
    }
}

fn is_event_stream(value: &HeaderValue) -> bool {
    let essence = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"text/event-stream")
}

/// `url` with `stream=NAME` added to its query (percent-encoded).
pub(crate) fn with_stream_param(url: &str, name: &str) -> String {
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(b, f)| (b, Some(f)));
    let mut out = String::with_capacity(url.len() + name.len() + 8);
    out.push_str(base);
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    if !after_scheme.contains(['/', '?']) {
        // `http://host?stream=x` has an empty path, which is not valid on the
        // request line: make it `/`.
        out.push('/');
    }
    out.push(if base.contains('?') { '&' } else { '?' });
    out.push_str("stream=");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_param_is_added_and_encoded() {
        assert_eq!(
            with_stream_param("http://h/e", "a b"),
            "http://h/e?stream=a%20b"
        );
        assert_eq!(
            with_stream_param("http://h/e?x=1#f", "t"),
            "http://h/e?x=1&stream=t#f"
        );
        assert_eq!(with_stream_param("http://h:1", "t"), "http://h:1/?stream=t");
    }

    #[test]
    fn content_type_essence_is_compared_case_insensitively() {
        assert!(is_event_stream(&HeaderValue::from_static(
            "Text/Event-Stream; charset=utf-8"
        )));
        assert!(!is_event_stream(&HeaderValue::from_static("text/plain")));
    }
}
