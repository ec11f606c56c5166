//! The per-request responder peers: one route, `GET /events`, written three
//! ways — with sse-actix's `SseResponse`, actix-web-lab's `Sse` and axum's
//! `Sse` — around the same producer, so the load tool measures the
//! responders and not the apps.
//!
//! The query says what to send: `stream` (a number copied into the data),
//! `events` (how many, then the response ends; 0 = until the client
//! leaves), `rate` (events per second; 0 = as fast as the client reads) and
//! `size` (bytes of data). Each event's data is what
//! [`payload`](crate::load::payload)`(stream, seq, now, size)` makes, so the tool
//! checks order and loss and measures latency from when the event was made.
//! Every peer sends a keep-alive comment every 15 s and sets `TCP_NODELAY`.

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{Stream, StreamExt as _, stream};
use serde::Deserialize;

/// The responder under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// `sse_actix::SseResponse::from_stream` on actix-web.
    SseActix,
    /// `actix_web_lab::sse::Sse::from_infallible_stream` on actix-web.
    ActixWebLab,
    /// `axum::response::sse::Sse` on axum (hyper, tokio).
    Axum,
}

/// The keep-alive interval of every peer.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What a request asks the producer for.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Params {
    /// A number copied into each event's data (the tool's connection).
    #[serde(default)]
    pub stream: u32,
    /// Events to send before ending the response; 0 = no end.
    #[serde(default)]
    pub events: u64,
    /// Events per second; 0 = as fast as the client reads.
    #[serde(default)]
    pub rate: f64,
    /// Bytes of data per event.
    #[serde(default = "default_size")]
    pub size: usize,
}

fn default_size() -> usize {
    64
}

/// [`payload`](crate::load::payload)'s format, written without `fmt` and
/// padded from a constant: the producer should cost next to nothing beside
/// the responders it feeds.
fn event_data(stream: u32, seq: u64, size: usize) -> String {
    const PADDING: &str = match std::str::from_utf8(&[b'x'; 4096]) {
        Ok(padding) => padding,
        Err(_) => "",
    };
    let mut data = String::with_capacity(size.max(48));
    let mut number = itoa::Buffer::new();
    for field in [u64::from(stream), seq, now_ns()] {
        data.push_str(number.format(field));
        data.push(' ');
    }
    let mut missing = size.saturating_sub(data.len());
    while missing > 0 {
        let pad = missing.min(PADDING.len());
        data.push_str(&PADDING[..pad]);
        missing -= pad;
    }
    data
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The data of the events `params` asks for, made when polled: at the
/// requested rate, or as fast as the response takes them.
pub fn producer(params: Params) -> impl Stream<Item = String> + Send + 'static {
    let Params {
        stream: id,
        events,
        rate,
        size,
    } = params;
    let limit = if events == 0 { u64::MAX } else { events };
    let paced = (rate > 0.0).then(|| {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    stream::unfold((0u64, paced), move |(seq, mut paced)| async move {
        if seq >= limit {
            return None;
        }
        if let Some(ticks) = &mut paced {
            ticks.tick().await;
        }
        Some((event_data(id, seq, size), (seq + 1, paced)))
    })
}

/// The sse-actix route.
async fn sse_actix_events(query: actix_web::web::Query<Params>) -> impl actix_web::Responder {
    let events = producer(query.into_inner()).map(sse_actix::Event::data);
    sse_actix::SseResponse::from_stream(events).keep_alive(KEEP_ALIVE)
}

/// The actix-web-lab route.
async fn actix_web_lab_events(query: actix_web::web::Query<Params>) -> impl actix_web::Responder {
    use actix_web_lab::sse;
    let events = producer(query.into_inner()).map(|data| sse::Event::from(sse::Data::new(data)));
    sse::Sse::from_infallible_stream(events).with_keep_alive(KEEP_ALIVE)
}

/// The axum route.
async fn axum_events(
    axum::extract::Query(params): axum::extract::Query<Params>,
) -> impl axum::response::IntoResponse {
    use axum::response::sse;
    let events = producer(params).map(|data| Ok::<_, Infallible>(sse::Event::default().data(data)));
    sse::Sse::new(events).keep_alive(sse::KeepAlive::new().interval(KEEP_ALIVE))
}

/// A listener on `addr` whose backlog holds a thousand connections arriving
/// at once (the standard library's holds 128).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Serves `peer` on `listener` with `workers` threads until the process
/// ends.
pub fn serve(peer: Peer, listener: TcpListener, workers: usize) -> io::Result<()> {
    let workers = workers.max(1);
    match peer {
        Peer::SseActix | Peer::ActixWebLab => actix_rt::System::new().block_on(async move {
            use actix_web::{App, HttpServer, web};
            let http = HttpServer::new(move || {
                let route = match peer {
                    Peer::SseActix => web::get().to(sse_actix_events),
                    _ => web::get().to(actix_web_lab_events),
                };
                App::new().route("/events", route)
            })
            .workers(workers)
            .tcp_nodelay(true)
            .h1_allow_half_closed(false)
            .listen(listener)?;
            http.run().await
        }),
        Peer::Axum => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
            .block_on(async move {
                use axum::serve::ListenerExt as _;
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let app = axum::Router::new().route("/events", axum::routing::get(axum_events));
                axum::serve(listener, app).await
            }),
    }
}
