//! A per-request response stops its producer when the client goes away:
//! the stream is dropped (never polled again), counted by drop guards, mid
//! stream, while silent, and over 1,000 concurrent responses.

use std::future::ready;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::web;
use futures_util::{Stream, StreamExt as _, future, stream};
use sse_actix::responder::SseResponse;
use sse_proto::{Decoder, Event, Frame};
use sse_testkit::{EventClient, GUARD, TestServer, until};

/// How many producers (streams given to a response) are alive.
#[derive(Clone, Default)]
struct Producers(Arc<AtomicUsize>);

/// Held by one producer; counts it alive until dropped.
struct Alive(Arc<AtomicUsize>);

impl Producers {
    fn alive(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// `stream`, counted alive until it is dropped.
    fn counted<S: Stream>(&self, stream: S) -> impl Stream<Item = S::Item> + use<S> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let alive = Alive(Arc::clone(&self.0));
        stream.map(move |item| {
            let _ = &alive;
            item
        })
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One event, then nothing: only the client can end such a response.
fn one_then_silence() -> impl Stream<Item = Event> {
    stream::iter([Event::data("hello")]).chain(stream::pending())
}

/// A numbered event every 5 ms, for ever.
fn ticking() -> impl Stream<Item = Event> {
    stream::unfold(0u64, |i| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Some((Event::data(i.to_string()), i + 1))
    })
}

#[actix_web::test]
async fn producer_is_dropped_when_the_client_leaves_mid_stream() {
    let producers = Producers::default();
    let counted = producers.clone();
    let http = TestServer::start_with(move |cfg| {
        let counted = counted.clone();
        cfg.route(
            "/events",
            web::get().to(move || {
                let events = counted.counted(ticking());
                ready(SseResponse::from_stream(events).keep_alive(Duration::from_millis(50)))
            }),
        );
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    let data: Vec<_> = events.events(3).await.into_iter().map(|e| e.data).collect();
    assert_eq!(data, ["0", "1", "2"]);
    assert_eq!(producers.alive(), 1);

    drop(events);
    until("the producer is dropped", async || producers.alive() == 0).await;
}

#[actix_web::test]
async fn silent_producer_is_dropped_by_keep_alive_writes_when_half_close_is_allowed() {
    // With half-closed connections allowed (actix-web's default) the server
    // does not stop at the client's FIN: only a failing write shows the
    // client is gone, and a silent producer never writes. The keep-alive
    // comments do.
    let producers = Producers::default();
    let counted = producers.clone();
    let http = TestServer::start_with_half_close_allowed(move |cfg| {
        let counted = counted.clone();
        cfg.route(
            "/events",
            web::get().to(move || {
                let events = counted.counted(one_then_silence());
                ready(SseResponse::from_stream(events).keep_alive(Duration::from_millis(20)))
            }),
        );
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    assert_eq!(events.next_event().await.unwrap().data, "hello");
    assert_eq!(producers.alive(), 1);

    drop(events);
    until("the silent producer is dropped", async || {
        producers.alive() == 0
    })
    .await;
}

#[actix_web::test]
async fn channel_producer_task_stops_when_the_client_leaves() {
    // A background task feeding the channel until `send` fails, as the
    // progress example does; it holds a drop guard.
    let producers = Producers::default();
    let counted = producers.clone();
    let http = TestServer::start_with(move |cfg| {
        let counted = counted.clone();
        cfg.route(
            "/events",
            web::get().to(move || {
                let (sender, response) = SseResponse::channel(2);
                let mut ticks = Box::pin(counted.counted(ticking()));
                actix_web::rt::spawn(async move {
                    while let Some(event) = ticks.next().await {
                        if sender.send(event).await.is_err() {
                            return;
                        }
                    }
                });
                ready(response)
            }),
        );
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    assert_eq!(events.events(2).await.len(), 2);
    assert_eq!(producers.alive(), 1);
    drop(events);
    until("the producing task has stopped", async || {
        producers.alive() == 0
    })
    .await;
}

const CONCURRENT: usize = 1_000;

#[actix_web::test]
async fn thousand_concurrent_streams_leave_no_producer_alive() {
    let producers = Producers::default();
    let counted = producers.clone();
    let http = TestServer::start_with(move |cfg| {
        let counted = counted.clone();
        cfg.route(
            "/events",
            web::get().to(move || {
                ready(SseResponse::from_stream(
                    counted.counted(one_then_silence()),
                ))
            }),
        );
    });
    // awc pools at most 100 connections unless told otherwise.
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(GUARD)
        .finish();
    let url = http.url("/events");
    let responses = future::join_all((0..CONCURRENT).map(|_| {
        let request = client.get(&url).send();
        async move {
            let mut response = request.await.expect("request");
            assert_eq!(response.status(), 200);
            // Read up to the event, keeping the response open.
            let mut decoder = Decoder::new();
            loop {
                if let Some(frame) = decoder.next() {
                    assert_eq!(frame.unwrap(), Frame::Event(Event::data("hello")));
                    return response;
                }
                let chunk = tokio::time::timeout(GUARD, response.next()).await;
                decoder.feed(&chunk.expect("an event in time").unwrap().unwrap());
            }
        }
    }));
    let responses = tokio::time::timeout(GUARD * 3, responses)
        .await
        .expect("every stream opened in time");
    assert_eq!(producers.alive(), CONCURRENT);

    drop(responses);
    until("every producer is dropped", async || producers.alive() == 0).await;
}
