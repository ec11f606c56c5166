//! Several streams on one connection (`?stream=a&stream=b`), over real
//! sockets on 127.0.0.1: the union of their events, in order per stream,
//! each naming its stream; exact resume of every stream after a cut; the
//! limits; our own client reading it all.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use sse_actix::client::Client;
use sse_actix::server::Sse;
use sse_actors::{Event, Server};
use sse_proto::Decoder;
use sse_testkit::{GUARD, TestServer, client, refused, seq_of, until};

type Body = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, awc::error::PayloadError>>>>;

/// An event-stream response read with the `stream` field kept.
struct Reader {
    body: Body,
    decoder: Decoder,
}

impl Reader {
    async fn open(url: &str, last_event_id: Option<&str>) -> Reader {
        let mut request = client().get(url);
        if let Some(id) = last_event_id {
            request = request.insert_header(("Last-Event-ID", id));
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200, "GET {url}");
        Reader {
            body: Box::pin(response),
            decoder: Decoder::new().with_fields(["stream"]),
        }
    }

    /// The next event, or `None` once the response ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(frame) = self.decoder.next() {
                if let sse_proto::Frame::Event(event) = frame.expect("a valid event stream") {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(GUARD, self.body.next())
                .await
                .expect("an event within the guard time")?;
            self.decoder.feed(&chunk.expect("a body chunk"));
        }
    }

    async fn events(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next().await.expect("the response goes on"));
        }
        events
    }
}

/// (stream, data) of each event.
fn seen(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.field_value("stream").unwrap_or("").to_owned(),
                e.data.to_string(),
            )
        })
        .collect()
}

/// The data of each stream's events, in the order they arrived.
fn by_stream(events: &[Event]) -> BTreeMap<String, Vec<String>> {
    let mut streams = BTreeMap::<String, Vec<String>>::new();
    for (stream, data) in seen(events) {
        streams.entry(stream).or_default().push(data);
    }
    streams
}

async fn hub(streams: &[&str], max: usize) -> (Server, TestServer) {
    let (server, _, http) = hub_with_handler(streams, max).await;
    (server, http)
}

async fn hub_with_handler(streams: &[&str], max: usize) -> (Server, Sse, TestServer) {
    let server = Server::builder().arbiters(1).keep_alive(None).build();
    for name in streams {
        server.create_stream(name).await.unwrap();
    }
    let sse = Sse::new(server.clone()).max_streams_per_connection(max);
    let http = TestServer::start(sse.clone());
    (server, sse, http)
}

async fn publish(server: &Server, stream: &str, data: &str) {
    server.publish(stream, Event::data(data)).await.unwrap();
}

#[actix_web::test]
async fn several_streams_arrive_on_one_response_in_order_each_naming_its_stream() {
    let (server, sse, http) = hub_with_handler(&["a", "b", "c"], 4).await;
    let mut reader = Reader::open(&http.url("/events?stream=a&stream=b&stream=c"), None).await;
    until("three subscribers", async || {
        server.stats().subscriber_actors == 3
    })
    .await;
    for (stream, data) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("c", "c1"),
        ("b", "b2"),
    ] {
        publish(&server, stream, data).await;
    }
    server
        .publish("c", Event::new("kind", "two\nlines").id("mine"))
        .await
        .unwrap();
    let events = reader.events(6).await;
    assert_eq!(
        by_stream(&events),
        BTreeMap::from([
            ("a".to_owned(), vec!["a1".to_owned(), "a2".to_owned()]),
            ("b".to_owned(), vec!["b1".to_owned(), "b2".to_owned()]),
            (
                "c".to_owned(),
                vec!["c1".to_owned(), "two\nlines".to_owned()]
            ),
        ])
    );
    for event in &events {
        let index = ["a", "b", "c"]
            .iter()
            .position(|s| Some(*s) == event.field_value("stream"))
            .unwrap();
        let id = event.id.as_deref().unwrap();
        assert!(id.starts_with(&format!("{index}.")), "{id}");
    }
    let typed = events.iter().find(|e| e.data == "two\nlines").unwrap();
    assert_eq!(typed.event_type(), "kind");
    assert_eq!(
        (sse.open_connections(), server.stats().subscriber_actors),
        (1, 3),
        "one connection, a subscriber per stream"
    );

    // One stream on a handler that allows several is the plain response.
    let mut one = Reader::open(&http.url("/events?stream=a"), None).await;
    let first = one.next().await.unwrap();
    assert_eq!(
        (first.id.as_deref().map(seq_of), first.field_value("stream")),
        (Some("1"), None)
    );
    server.close().await;
}

#[actix_web::test]
async fn a_reconnect_with_the_last_id_replays_exactly_what_each_stream_missed() {
    let (server, http) = hub(&["a", "b", "quiet"], 4).await;
    // `a` has history before the connection: a new subscriber gets it.
    publish(&server, "a", "a0").await;
    let url = http.url("/events?stream=a&stream=b&stream=quiet");
    let mut reader = Reader::open(&url, None).await;
    for i in 1..=5 {
        publish(&server, "a", &format!("a{i}")).await;
        publish(&server, "b", &format!("b{i}")).await;
    }
    let before = reader.events(7).await;
    // The cut: the connection goes away mid-flow, with events it was sent
    // but not read, and more are published meanwhile (to `quiet` too,
    // which had sent this client nothing).
    let last_id = before.last().unwrap().id.clone().unwrap();
    drop(reader);
    for i in 6..=7 {
        publish(&server, "a", &format!("a{i}")).await;
        publish(&server, "b", &format!("b{i}")).await;
    }
    publish(&server, "quiet", "q1").await;

    let mut resumed = Reader::open(&url, Some(&last_id)).await;
    let got = by_stream(&before);
    // 16 in all: a0-a7, b1-b7, q1.
    let after = resumed.events(16 - before.len()).await;
    let mut all = before.clone();
    all.extend(after.iter().cloned());
    let want = |name: &str, from: u32, to: u32| -> Vec<String> {
        (from..=to).map(|i| format!("{name}{i}")).collect()
    };
    assert_eq!(
        by_stream(&all),
        BTreeMap::from([
            ("a".to_owned(), want("a", 0, 7)),
            ("b".to_owned(), want("b", 1, 7)),
            ("quiet".to_owned(), vec!["q1".to_owned()]),
        ]),
        "each event once, in order, across the cut (before: {got:?})"
    );
    // Nothing more is owed.
    publish(&server, "b", "b8").await;
    assert_eq!(
        seen(&[resumed.next().await.unwrap()]),
        [("b".to_owned(), "b8".to_owned())]
    );
    server.close().await;
}

#[actix_web::test]
async fn a_stream_that_cannot_resume_sends_its_gap_event_naming_the_stream() {
    let (server, http) = hub(&["a", "b"], 4).await;
    let url = http.url("/events?stream=a&stream=b");
    let mut reader = Reader::open(&url, None).await;
    publish(&server, "a", "a1").await;
    publish(&server, "b", "b1").await;
    publish(&server, "b", "b2").await;
    let last_id = reader.events(3).await[2].id.clone().unwrap();
    drop(reader);
    // `b` starts a new life: the position the id holds for it is past its
    // end, so what it missed cannot be known.
    assert!(server.remove_stream("b").await);
    server.create_stream("b").await.unwrap();
    publish(&server, "b", "new1").await;

    let mut resumed = Reader::open(&url, Some(&last_id)).await;
    let events = resumed.events(2).await;
    assert_eq!(
        events[0].event_type(),
        sse_actors::GAP_EVENT,
        "{:?}",
        seen(&events)
    );
    assert_eq!(events[0].field_value("stream"), Some("b"));
    assert_eq!(events[0].id, None, "the gap moves no id");
    assert_eq!(
        seen(&events[1..]),
        [("b".to_owned(), "new1".to_owned())],
        "then what `b` holds"
    );
    server.close().await;
}

/// A stream created again may reach the position the id holds for it
/// with other events: the id's epoch tells the lives apart.
#[actix_web::test]
async fn a_stream_created_again_past_the_ids_position_sends_its_gap_event() {
    let (server, http) = hub(&["a", "b"], 4).await;
    let url = http.url("/events?stream=a&stream=b");
    let mut reader = Reader::open(&url, None).await;
    publish(&server, "a", "a1").await;
    publish(&server, "b", "b1").await;
    let last_id = reader.events(2).await[1].id.clone().unwrap();
    drop(reader);
    assert!(server.remove_stream("b").await);
    server.create_stream("b").await.unwrap();
    for data in ["new1", "new2", "new3"] {
        publish(&server, "b", data).await;
    }
    publish(&server, "a", "a2").await;

    let mut resumed = Reader::open(&url, Some(&last_id)).await;
    let events = resumed.events(5).await;
    let gap: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == sse_actors::GAP_EVENT)
        .map(|e| e.field_value("stream"))
        .collect();
    assert_eq!(gap, [Some("b")], "{:?}", seen(&events));
    let data: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() != sse_actors::GAP_EVENT)
        .cloned()
        .collect();
    assert_eq!(
        by_stream(&data),
        BTreeMap::from([
            ("a".to_owned(), vec!["a2".to_owned()]),
            (
                "b".to_owned(),
                vec!["new1".to_owned(), "new2".to_owned(), "new3".to_owned()]
            ),
        ]),
        "`a` resumes exactly, `b` replays what its new life holds"
    );
    server.close().await;
}

#[actix_web::test]
async fn an_id_of_another_stream_list_counts_as_none() {
    let (server, http) = hub(&["a", "b"], 4).await;
    publish(&server, "a", "a1").await;
    publish(&server, "b", "b1").await;
    let mut reader = Reader::open(&http.url("/events?stream=a&stream=b"), None).await;
    let last_id = reader.events(2).await[1].id.clone().unwrap();
    // The same id on the streams in another order: not this request's.
    let mut other = Reader::open(&http.url("/events?stream=b&stream=a"), Some(&last_id)).await;
    let events = other.events(2).await;
    assert_eq!(
        by_stream(&events).len(),
        2,
        "both logs replayed: {:?}",
        seen(&events)
    );
    // A single-stream id is not one either: every stream treats the
    // client as new (it does not resume `b` after `b`'s own event 1).
    let mut plain = Reader::open(&http.url("/events?stream=a&stream=b"), Some("1")).await;
    assert_eq!(plain.events(2).await.len(), 2);
    server.close().await;
}

#[actix_web::test]
async fn more_streams_than_allowed_or_a_name_twice_is_a_400() {
    let (server, http) = hub(&["a", "b", "c"], 2).await;
    assert_eq!(
        refused(&http.url("/events?stream=a&stream=b&stream=c")).await,
        (
            400,
            "too many streams in one request: 3 named, at most 2 per connection\n".to_owned()
        )
    );
    assert_eq!(
        refused(&http.url("/events?stream=a&stream=a")).await,
        (400, "stream \"a\" is named more than once\n".to_owned())
    );
    assert_eq!(
        refused(&http.url("/events?stream=a&stream=nope")).await,
        (404, "unknown stream \"nope\"\n".to_owned())
    );
    assert_eq!(
        server.stats().subscriber_actors,
        0,
        "a refused request leaves nothing"
    );
    let (default, http) = hub(&["a", "b"], 1).await;
    assert_eq!(
        refused(&http.url("/events?stream=a&stream=b")).await,
        (
            400,
            "bad request: query parameter `stream` is given more than once\n".to_owned()
        ),
        "one stream per connection unless the handler allows more"
    );
    server.close().await;
    default.close().await;
}

#[actix_web::test]
async fn our_client_reads_several_streams_and_resumes_them_after_a_cut() {
    let (server, http) = hub(&["a", "b"], 4).await;
    let client = sse_testkit::scripted::fast(
        Client::builder(http.url("/events?stream=a&stream=b")).keep_fields(["stream"]),
    )
    .build();
    // Published before the client connects: a new subscriber is replayed
    // each stream's log.
    publish(&server, "a", "a1").await;
    publish(&server, "b", "b1").await;
    let mut events = Box::pin(client.stream());
    let mut received = Vec::new();
    // The cut shows as an error item (the stream ended); the client goes on.
    let mut next = async || loop {
        let item = tokio::time::timeout(GUARD, events.next())
            .await
            .expect("an event within the guard time")
            .expect("the client goes on");
        if let Ok(event) = item {
            return event;
        }
    };
    received.push(next().await);
    received.push(next().await);
    // The server cuts the connection: the client reconnects with the last
    // id and each stream replays what followed.
    http.kill().await;
    publish(&server, "a", "a2").await;
    publish(&server, "b", "b2").await;
    let http = TestServer::listen(std::net::TcpListener::bind(http.addr).unwrap(), {
        let sse = Sse::new(server.clone()).max_streams_per_connection(4);
        move |cfg: &mut actix_web::web::ServiceConfig| {
            cfg.service(sse.resource("/events"));
        }
    });
    received.push(next().await);
    received.push(next().await);
    assert_eq!(
        by_stream(&received),
        BTreeMap::from([
            ("a".to_owned(), vec!["a1".to_owned(), "a2".to_owned()]),
            ("b".to_owned(), vec!["b1".to_owned(), "b2".to_owned()]),
        ])
    );
    drop(events);
    drop(http);
    server.close().await;
}
