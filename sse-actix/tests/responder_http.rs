//! The per-request responder seen from the wire (awc and the crate's own
//! client): head, first frame, events, keep-alive, how a response ends, the
//! channel form and resuming with the `LastEventId` extractor.

use std::future::ready;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::middleware::Compress;
use actix_web::{Responder as _, web};
use futures_util::{StreamExt as _, stream};
use sse_actix::client::Client;
use sse_actix::extract::LastEventId;
use sse_actix::responder::{SendError, SseResponse, SseSender};
use sse_proto::{EncodeError, Event, Frame};
use sse_testkit::scripted::fast;
use sse_testkit::{EventClient, GUARD, TestServer, client, seen};
use tokio::sync::mpsc;

/// Serves `respond()` at `GET /events`.
fn serve(respond: impl Fn() -> SseResponse + Clone + Send + 'static) -> TestServer {
    TestServer::start_with(move |cfg| {
        let respond = respond.clone();
        cfg.route("/events", web::get().to(move || ready(respond())));
    })
}

/// Every frame until the end, events reduced to their data (a decoded event
/// also carries the comments and `retry:` of its block).
async fn all_frames(events: &mut EventClient) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(frame) = events.next_frame().await {
        frames.push(match frame {
            Frame::Event(event) => Frame::Event(Event::data(event.data)),
            other => other,
        });
    }
    frames
}

/// A stream that never yields (nor ends).
fn silent() -> SseResponse {
    SseResponse::from_stream(stream::pending::<Event>())
}

#[actix_web::test]
async fn head_and_first_frame_arrive_before_any_event() {
    let http = TestServer::start_with(|cfg| {
        cfg.route(
            "/events",
            web::get().to(|| async { silent().customize().insert_header(("x-app", "mine")) }),
        );
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    let header = |name: &str| {
        events
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-cache, no-transform")
    );
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(header("content-encoding").as_deref(), Some("identity"));
    assert_eq!(header("x-app").as_deref(), Some("mine"));
    assert_eq!(events.next_frame().await, Some(Frame::Comment("".into())));
}

#[actix_web::test]
async fn retry_option_is_the_first_frame() {
    let http = serve(|| silent().retry(Duration::from_millis(1500)));
    let mut events = EventClient::open(&http.url("/events")).await;
    assert_eq!(
        events.next_frame().await,
        Some(Frame::Retry(Duration::from_millis(1500)))
    );
}

#[actix_web::test]
async fn keep_alive_comments_are_sent_while_the_stream_is_silent() {
    let http = serve(|| silent().keep_alive(Duration::from_millis(10)));
    let mut events = EventClient::open(&http.url("/events")).await;
    // The first frame, then one comment per interval.
    for _ in 0..4 {
        assert_eq!(events.next_frame().await, Some(Frame::Comment("".into())));
    }
}

fn hard_events() -> Vec<Event> {
    let long = "x".repeat(100 * 1024);
    [
        "plain",
        "multi\nline\rwith\r\nevery ending",
        "",
        "ünïcødé ✓ 日本語 🎉",
        ": looks like a comment",
        "data: looks like a field\n\nid: 99",
        " leading space",
        &long,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, data)| Event::new(format!("type-{i}"), data).id(format!("id-{i}")))
    .collect()
}

#[actix_web::test]
async fn stream_events_arrive_exactly_and_the_response_ends_with_the_stream() {
    let http = serve(|| SseResponse::from_stream(stream::iter(hard_events())));
    let mut events = EventClient::open(&http.url("/events")).await;
    let got = events.rest().await;
    let expected: Vec<Event> = hard_events()
        .into_iter()
        .map(|mut event| {
            event.data = event.data.replace("\r\n", "\n").replace('\r', "\n").into();
            event
        })
        .collect();
    assert_eq!(seen(&got), seen(&expected));
}

#[actix_web::test]
async fn frames_stream_sends_comments_and_retry_in_order() {
    let http = serve(|| {
        SseResponse::from_stream(stream::iter([
            Frame::Comment("hello".into()),
            Frame::Retry(Duration::from_millis(250)),
            Frame::Event(Event::data("one")),
        ]))
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    let frames = all_frames(&mut events).await;
    assert_eq!(
        frames,
        [
            Frame::Comment("".into()),
            Frame::Comment("hello".into()),
            Frame::Retry(Duration::from_millis(250)),
            Frame::Event(Event::data("one")),
        ]
    );
}

#[actix_web::test]
async fn stream_error_ends_the_response_cleanly_after_the_events_before_it() {
    let http = serve(|| {
        SseResponse::from_stream(stream::iter([
            Ok(Event::data("one")),
            Ok(Event::data("two")),
            Err("the model went away"),
            Ok(Event::data("never sent")),
        ]))
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    // `rest` fails on a broken body: the end is a clean one.
    let data: Vec<_> = events.rest().await.into_iter().map(|e| e.data).collect();
    assert_eq!(data, ["one", "two"]);
}

#[actix_web::test]
async fn unencodable_event_ends_the_response_cleanly() {
    let http = serve(|| {
        SseResponse::from_stream(stream::iter([
            Event::data("one"),
            Event::data("bad id").id("line\nbreak"),
            Event::data("never sent"),
        ]))
    });
    let mut events = EventClient::open(&http.url("/events")).await;
    let data: Vec<_> = events.rest().await.into_iter().map(|e| e.data).collect();
    assert_eq!(data, ["one"]);
}

#[actix_web::test]
async fn compress_middleware_passes_events_at_once() {
    let http = TestServer::start_with(|cfg| {
        cfg.service(web::scope("").wrap(Compress::default()).route(
            "/events",
            web::get().to(|| async {
                let first = stream::iter([Event::data("at once")]);
                SseResponse::from_stream(first.chain(stream::pending()))
            }),
        ));
    });
    let mut events =
        EventClient::open_with(&http.url("/events"), &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(
        events.headers.get("content-encoding").unwrap(),
        "identity",
        "Compress left the body alone"
    );
    // The stream stays open: the event must not wait for a buffer to fill.
    assert_eq!(events.next_event().await.unwrap().data, "at once");
}

/// Serves `GET /events` answered by a channel whose sender the test gets.
fn serve_channel(capacity: usize) -> (TestServer, mpsc::UnboundedReceiver<SseSender>) {
    let (senders_tx, senders) = mpsc::unbounded_channel();
    let http = TestServer::start_with(move |cfg| {
        let senders_tx = senders_tx.clone();
        cfg.route(
            "/events",
            web::get().to(move || {
                let (sender, response) = SseResponse::channel(capacity);
                senders_tx.send(sender).unwrap();
                ready(response)
            }),
        );
    });
    (http, senders)
}

async fn next_sender(senders: &mut mpsc::UnboundedReceiver<SseSender>) -> SseSender {
    tokio::time::timeout(GUARD, senders.recv())
        .await
        .expect("a request within the guard time")
        .unwrap()
}

#[actix_web::test]
async fn channel_sender_learns_when_the_client_leaves() {
    let (http, mut senders) = serve_channel(4);
    let mut events = EventClient::open(&http.url("/events")).await;
    let sender = next_sender(&mut senders).await;
    sender.send(Event::data("hello")).await.unwrap();
    assert_eq!(events.next_event().await.unwrap().data, "hello");
    assert!(!sender.is_closed());

    drop(events);
    tokio::time::timeout(GUARD, sender.closed())
        .await
        .expect("closed() resolves once the client has gone");
    assert!(sender.is_closed());
    assert_eq!(
        sender.send(Event::data("nobody")).await,
        Err(SendError::Disconnected)
    );
    assert_eq!(
        sender.try_send(Event::data("nobody")),
        Err(SendError::Disconnected)
    );
}

#[actix_web::test]
async fn channel_refuses_an_unencodable_event_and_the_response_goes_on() {
    let (http, mut senders) = serve_channel(4);
    let mut events = EventClient::open(&http.url("/events")).await;
    let sender = next_sender(&mut senders).await;
    let refused = sender.send(Event::data("bad").id("a\nb")).await;
    assert!(
        matches!(
            refused,
            Err(SendError::Encode(EncodeError::InvalidId { .. }))
        ),
        "{refused:?}"
    );
    sender
        .send(Frame::Comment("a comment".into()))
        .await
        .unwrap();
    sender.send(Event::data("good")).await.unwrap();
    drop(sender);
    let frames = all_frames(&mut events).await;
    assert_eq!(
        frames,
        [
            Frame::Comment("".into()),
            Frame::Comment("a comment".into()),
            Frame::Event(Event::data("good")),
        ],
        "the refused event was never sent, and dropping the sender ended the response"
    );
}

#[actix_web::test]
async fn full_channel_is_reported_by_try_send() {
    let (http, mut senders) = serve_channel(1);
    // Nobody reads this response: its frames pile up in the socket, then in
    // actix-web's buffer, then in the channel.
    let request = client().get(http.url("/events")).send();
    let _response = request.await.unwrap();
    let sender = next_sender(&mut senders).await;
    let big = "x".repeat(64 * 1024);
    let mut full = false;
    for _ in 0..10_000 {
        match sender.try_send(Event::data(big.clone())) {
            Ok(()) => tokio::task::yield_now().await,
            Err(SendError::Full) => {
                full = true;
                break;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert!(full, "a client that does not read fills the channel");
}

#[actix_web::test]
async fn post_handler_streams_tokens_of_its_request_body() {
    let http = TestServer::start_with(|cfg| {
        cfg.route(
            "/complete",
            web::post().to(|prompt: String| async move {
                let words: Vec<Event> = prompt
                    .split_whitespace()
                    .map(|word| Event::new("token", word.to_owned()))
                    .chain([Event::new("done", "")])
                    .collect();
                SseResponse::from_stream(stream::iter(words))
            }),
        );
    });
    let response = client()
        .post(http.url("/complete"))
        .send_body("once upon a time")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response;
    let mut decoder = sse_proto::Decoder::new();
    let mut got = Vec::new();
    while let Some(chunk) = tokio::time::timeout(GUARD, body.next()).await.unwrap() {
        decoder.feed(&chunk.unwrap());
        for frame in decoder.by_ref() {
            if let Frame::Event(event) = frame.unwrap() {
                got.push((event.event_type().to_owned(), event.data.to_string()));
            }
        }
    }
    let want: Vec<(String, String)> = [
        ("token", "once"),
        ("token", "upon"),
        ("token", "a"),
        ("token", "time"),
        ("done", ""),
    ]
    .map(|(t, d)| (t.to_owned(), d.to_owned()))
    .into();
    assert_eq!(got, want);
}

#[actix_web::test]
async fn crate_client_resumes_through_the_last_event_id_extractor() {
    // Each response sends the next three numbered events, then ends; the
    // client reconnects with the last ID it saw.
    let resumed_from = Arc::new(Mutex::new(Vec::new()));
    let seen_ids = Arc::clone(&resumed_from);
    let http = TestServer::start_with(move |cfg| {
        let seen_ids = Arc::clone(&seen_ids);
        cfg.route(
            "/feed",
            web::get().to(move |LastEventId(resume): LastEventId| {
                seen_ids.lock().unwrap().push(resume.clone());
                let after: u64 = resume.and_then(|id| id.parse().ok()).unwrap_or(0);
                let events = (after + 1..=after + 3)
                    .map(|i| Event::data(format!("event {i}")).id(i.to_string()));
                ready(SseResponse::from_stream(stream::iter(events)))
            }),
        );
    });
    let client = fast(Client::builder(http.url("/feed"))).build();
    // Each clean end is reported (`Error::StreamEnded`), then it reconnects.
    let events: Vec<Event> = tokio::time::timeout(
        GUARD,
        client
            .stream()
            .filter_map(|item| {
                ready(match item {
                    Ok(event) => Some(event),
                    Err(sse_actix::client::Error::StreamEnded) => None,
                    Err(other) => panic!("unexpected {other}"),
                })
            })
            .take(7)
            .collect(),
    )
    .await
    .expect("seven events within the guard time");
    let ids: Vec<_> = events.iter().map(|e| e.id.as_deref().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(events[6].data, "event 7");
    let resumed = resumed_from.lock().unwrap().clone();
    assert_eq!(
        resumed[..3],
        [None, Some("3".to_owned()), Some("6".to_owned())]
    );
}
