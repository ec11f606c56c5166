//! An in-process actix-web server on 127.0.0.1:0 and a client that decodes
//! its event streams, for the server tests.
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use sse_actix::server::Sse;
use sse_proto::{Decoder, Event, Frame};

use crate::generated_id::seq_of;

/// A failure guard, never a measurement: every wait in these tests is
/// expected to finish in milliseconds.
pub const GUARD: Duration = Duration::from_secs(10);

/// An HTTP server serving `sse` (plus whatever `extra` mounts) on a fresh
/// port, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
}

impl TestServer {
    /// Serves `sse` at `/events` (and `/events/{stream}` for path tests).
    pub fn start(sse: Sse) -> TestServer {
        TestServer::start_with(move |cfg| {
            cfg.service(sse.resource("/events"));
        })
    }

    /// Serves whatever `configure` mounts.
    pub fn start_with<F>(configure: F) -> TestServer
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        TestServer::listen(listener, configure)
    }

    /// Serves on `listener`.
    pub fn listen<F>(listener: TcpListener, configure: F) -> TestServer
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        TestServer::listen_with(listener, configure, false)
    }

    /// Serves `sse` with actix-web's default of allowing half-closed
    /// connections, as an app that did not opt out would.
    pub fn start_allowing_half_close(sse: Sse) -> TestServer {
        TestServer::start_with_half_close_allowed(move |cfg| {
            cfg.service(sse.resource("/events"));
        })
    }

    /// Serves whatever `configure` mounts, allowing half-closed connections
    /// (actix-web's default).
    pub fn start_with_half_close_allowed<F>(configure: F) -> TestServer
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        TestServer::listen_with(listener, configure, true)
    }

    fn listen_with<F>(listener: TcpListener, configure: F, allow_half_closed: bool) -> TestServer
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let addr = listener.local_addr().expect("local address");
        let server = HttpServer::new(move || App::new().configure(configure.clone()))
            .workers(1)
            .h1_allow_half_closed(allow_half_closed)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .expect("listen")
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestServer { addr, handle }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Stops accepting and drops every connection at once.
    pub async fn kill(&self) {
        self.handle.stop(false).await;
    }

    /// Stops gracefully: waits for open responses to finish.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        #[allow(clippy::let_underscore_future)]
        let _ = self.handle.stop(false);
    }
}

/// An event-stream response being read and decoded.
pub struct EventClient {
    pub headers: awc::http::header::HeaderMap,
    body: Pin<Box<dyn Stream<Item = Result<Bytes, awc::error::PayloadError>>>>,
    decoder: Decoder,
    ended: bool,
}

pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(GUARD)
        .disable_redirects()
        .finish()
}

impl EventClient {
    /// Opens `url`, which must answer 200.
    pub async fn open(url: &str) -> EventClient {
        EventClient::open_with(url, &[]).await
    }

    pub async fn open_with(url: &str, headers: &[(&str, &str)]) -> EventClient {
        let mut request = client().get(url);
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200, "GET {url}");
        EventClient {
            headers: response.headers().clone(),
            body: Box::pin(response),
            decoder: Decoder::new().with_comments(true),
            ended: false,
        }
    }

    /// The next frame, or `None` when the response ended cleanly.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.decoder.next() {
                return Some(frame.expect("valid event stream"));
            }
            if self.ended {
                return None;
            }
            let chunk = tokio::time::timeout(GUARD, self.body.next())
                .await
                .expect("a frame or the end of the stream within the guard time");
            match chunk {
                Some(chunk) => self.decoder.feed(&chunk.expect("body chunk")),
                None => {
                    self.ended = true;
                    self.decoder.end_stream();
                }
            }
        }
    }

    /// The next event, skipping comments and retry frames; `None` at the end.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.next_frame().await? {
                Frame::Event(event) => return Some(event),
                Frame::Comment(_) | Frame::Retry(_) => {}
            }
        }
    }

    /// The next `n` events.
    pub async fn events(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next_event().await.expect("the stream to go on"));
        }
        events
    }

    /// Reads until the response ends, returning the events before the end.
    pub async fn rest(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await {
            events.push(event);
        }
        events
    }
}

/// Status and body of a request expected to fail.
pub async fn refused(url: &str) -> (u16, String) {
    let mut response = client().get(url).send().await.expect("request");
    let body: Bytes = response.body().await.expect("body");
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Waits (bounded by [`GUARD`]) until `condition` holds.
pub async fn until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + GUARD;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Events as (id, type, data), the part a client sees; a generated id is
/// written as its sequence number ([`seq_of`]).
pub fn seen(events: &[Event]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                seq_of(e.id.as_deref().unwrap_or("")).to_owned(),
                e.event_type().to_owned(),
                e.data.to_string(),
            )
        })
        .collect()
}
