//! The baseline peer: SSE fan-out as actix-web users write it by hand today,
//! with `actix-web-lab`'s `sse` responder over a `tokio::sync::broadcast`
//! channel per stream.
//!
//! It is deliberately the straightforward version: each subscriber's copy of
//! an event is formatted by the responder, and a subscriber that lags behind
//! the channel's capacity silently skips what it missed (the load tool
//! reports those events as lost).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, Responder, web};
use actix_web_lab::sse;
use serde::Deserialize;
use sse_proto::ByteString;
use tokio::sync::broadcast::{self, error::RecvError};

/// Named broadcast channels, created on first use.
#[derive(Debug)]
pub struct Hub {
    streams: Mutex<HashMap<String, broadcast::Sender<ByteString>>>,
    capacity: usize,
}

impl Hub {
    /// A hub whose channels hold `capacity` events for slow receivers.
    pub fn new(capacity: usize) -> Self {
        Hub {
            streams: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn sender(&self, stream: &str) -> broadcast::Sender<ByteString> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams
            .entry(stream.to_owned())
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .clone()
    }

    /// Subscribes to `stream`.
    pub fn subscribe(&self, stream: &str) -> broadcast::Receiver<ByteString> {
        self.sender(stream).subscribe()
    }

    /// Sends `data` to every current subscriber of `stream`; returns how many.
    pub fn publish(&self, stream: &str, data: ByteString) -> usize {
        self.sender(stream).send(data).unwrap_or(0)
    }
}

/// The `?stream=NAME` query.
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    /// The stream name.
    pub stream: String,
}

/// `GET /events?stream=NAME`: an event stream of everything published to it.
pub async fn subscribe(hub: web::Data<Hub>, query: web::Query<StreamQuery>) -> impl Responder {
    let rx = hub.subscribe(&query.stream);
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(data) => return Some((sse::Data::new(data).into(), rx)),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    sse::Sse::from_infallible_stream(events).with_keep_alive(Duration::from_secs(15))
}

/// `POST /events?stream=NAME`: the body is the event data.
pub async fn publish(
    hub: web::Data<Hub>,
    query: web::Query<StreamQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let data = match ByteString::try_from(body) {
        Ok(data) => data,
        Err(_) => return HttpResponse::BadRequest().body("data must be UTF-8"),
    };
    let receivers = hub.publish(&query.stream, data);
    HttpResponse::Ok().body(receivers.to_string())
}

/// Registers both routes on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(subscribe))
        .route("/events", web::post().to(publish));
}

/// Binds the baseline server; run the returned server on an actix system.
pub fn server(
    addr: SocketAddr,
    workers: usize,
    capacity: usize,
) -> io::Result<(Server, SocketAddr)> {
    let hub = web::Data::new(Hub::new(capacity));
    let http = HttpServer::new(move || App::new().app_data(hub.clone()).configure(configure))
        .workers(workers.max(1))
        .backlog(4096)
        .bind(addr)?;
    let bound = http.addrs()[0];
    Ok((http.run(), bound))
}
