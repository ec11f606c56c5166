//! The actix-web handler seen from the wire: headers, status codes, and
//! every server behaviour of ARCHITECTURE.md ("Server semantics"), over real sockets on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::web;
use sse_actix::server::Sse;
use sse_actors::{LogLimits, ManualClock, Server};
use sse_proto::{Event, Frame};
use sse_testkit::{EventClient, GUARD, TestServer, refused, seen, seq_of, until};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn server() -> sse_actors::ServerBuilder {
    Server::builder().arbiters(1)
}

fn triple(id: &str, kind: &str, data: &str) -> (String, String, String) {
    (id.to_owned(), kind.to_owned(), data.to_owned())
}

#[actix_web::test]
async fn response_head_is_flushed_before_the_first_event() {
    let server = server().header("X-Server-Extra", "from-actors").build();
    server.create_stream("news").await.unwrap();
    let sse = Sse::new(server.clone()).header(
        HeaderName::from_static("x-handler-extra"),
        HeaderValue::from_static("from-sse"),
    );
    let http = TestServer::start(sse);

    // No event is ever published: the head and a first frame must still come.
    let mut events = EventClient::open(&http.url("/events?stream=news")).await;
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
    assert_eq!(header("x-server-extra").as_deref(), Some("from-actors"));
    assert_eq!(header("x-handler-extra").as_deref(), Some("from-sse"));
    assert_eq!(events.next_frame().await, Some(Frame::Comment("".into())));
}

#[actix_web::test]
async fn retry_option_is_the_first_frame() {
    let server = server().auto_stream(true).build();
    let http = TestServer::start(Sse::new(server).retry(Duration::from_millis(1500)));
    let mut events = EventClient::open(&http.url("/events?stream=s")).await;
    assert_eq!(
        events.next_frame().await,
        Some(Frame::Retry(Duration::from_millis(1500)))
    );
}

#[actix_web::test]
async fn publish_subscribe_round_trip_keeps_hard_payloads_exact() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()));
    let mut events = EventClient::open(&http.url("/events?stream=s")).await;

    let long = "x".repeat(256 * 1024);
    let payloads = [
        "plain",
        "multi\nline\rwith\r\nevery ending",
        "",
        "ünïcødé ✓ 日本語 🎉",
        ": looks like a comment",
        "data: looks like a field\n\nid: 99",
        " leading space",
        &long,
    ];
    for (i, data) in payloads.iter().enumerate() {
        let event = Event::new(format!("type{i}"), *data);
        server.publish("s", event).await.unwrap();
    }
    let received = events.events(payloads.len()).await;
    let expected: Vec<_> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| {
            // Line endings of any kind decode as LF, as every client sees them.
            let data = data.replace("\r\n", "\n").replace('\r', "\n");
            triple(&(i + 1).to_string(), &format!("type{i}"), &data)
        })
        .collect();
    assert_eq!(seen(&received), expected);
}

#[actix_web::test]
async fn base64_and_auto_replay_options_show_on_the_wire() {
    let server = server().base64(true).auto_replay(false).build();
    server.create_stream("s").await.unwrap();
    server
        .publish("s", Event::data("before anyone listened"))
        .await
        .unwrap();
    let http = TestServer::start(Sse::new(server.clone()));
    let mut events = EventClient::open(&http.url("/events?stream=s")).await;
    server.publish("s", Event::data("a\nb")).await.unwrap();
    // Without a log nothing is replayed; base64 turns the data into one line.
    assert_eq!(
        seen(&events.events(1).await),
        [triple("2", "message", "YQpi")]
    );
}

#[actix_web::test]
async fn compress_middleware_does_not_hold_events_back() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    let sse = Sse::new(server.clone());
    let http = TestServer::start_with(move |cfg| {
        cfg.service(
            web::scope("")
                .wrap(Compress::default())
                .service(sse.resource("/events")),
        );
    });
    let mut events = EventClient::open_with(
        &http.url("/events?stream=s"),
        &[("accept-encoding", "gzip, br, zstd")],
    )
    .await;
    assert_eq!(events.headers.get("content-encoding").unwrap(), "identity");
    // One small event must arrive on its own, long before any compression
    // buffer would fill.
    server.publish("s", Event::data("one")).await.unwrap();
    assert_eq!(
        seen(&events.events(1).await),
        [triple("1", "message", "one")]
    );
}

#[actix_web::test]
async fn status_codes_say_what_is_wrong() {
    let server = server().max_subscribers_per_stream(Some(1)).build();
    server.create_stream("known").await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()).max_stream_name_len(16));

    let cases = [
        ("/events", 400, "missing stream name"),
        ("/events?other=1", 400, "missing stream name"),
        ("/events?stream=", 400, "it is empty"),
        ("/events?stream=a%20b", 400, "not allowed"),
        ("/events?stream=%FF%FE", 400, "not allowed"),
        ("/events?stream=%zz", 400, "not allowed"),
        ("/events?stream=%", 400, "not allowed"),
        ("/events?stream=a&stream=b", 400, "more than once"),
        ("/events?stream=seventeen-bytes-x", 400, "the limit is 16"),
        ("/events?stream=nope", 404, "unknown stream \"nope\""),
    ];
    for (path, status, message) in cases {
        let (got, body) = refused(&http.url(path)).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body.contains(message),
            "{path}: {body:?} should mention {message:?}"
        );
    }

    let _first = EventClient::open(&http.url("/events?stream=known")).await;
    let (status, body) = refused(&http.url("/events?stream=known")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too many subscribers"), "{body}");
}

#[actix_web::test]
async fn connection_limit_answers_503_and_frees_slots() {
    let server = server().auto_stream(true).build();
    let sse = Sse::new(server).max_connections(2);
    let http = TestServer::start(sse.clone());
    let first = EventClient::open(&http.url("/events?stream=a")).await;
    let _second = EventClient::open(&http.url("/events?stream=b")).await;
    let (status, body) = refused(&http.url("/events?stream=c")).await;
    assert_eq!(status, 503);
    assert!(body.contains("the limit of 2 open event streams"), "{body}");

    drop(first);
    until("the dropped connection's slot is free", async || {
        sse.open_connections() == 1
    })
    .await;
    let _third = EventClient::open(&http.url("/events?stream=c")).await;
}

#[actix_web::test]
async fn auto_stream_limit_answers_503() {
    let server = server().auto_stream(true).max_auto_streams(Some(1)).build();
    let http = TestServer::start(Sse::new(server));
    let _first = EventClient::open(&http.url("/events?stream=a")).await;
    let (status, body) = refused(&http.url("/events?stream=b")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("limit of 1 auto-created streams"), "{body}");
}

#[actix_web::test]
async fn path_segment_names_the_stream() {
    let server = server().build();
    server.create_stream("room-1").await.unwrap();
    let sse = Sse::new(server.clone()).stream_path_segment("stream");
    let http = TestServer::start_with(move |cfg| {
        cfg.service(sse.resource("/rooms/{stream}/events"));
    });
    let mut events = EventClient::open(&http.url("/rooms/room-1/events")).await;
    server.publish("room-1", Event::data("hi")).await.unwrap();
    assert_eq!(
        seen(&events.events(1).await),
        [triple("1", "message", "hi")]
    );
    assert_eq!(refused(&http.url("/rooms/other/events")).await.0, 404);
}

#[actix_web::test]
async fn replay_after_last_event_id_is_exclusive() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    let mut ids = Vec::new();
    for i in 1..=5 {
        let published = server
            .publish("s", Event::data(format!("e{i}")))
            .await
            .unwrap();
        ids.push(published.id.to_string());
    }
    server
        .publish("s", Event::data("custom").id("opaque-id"))
        .await
        .unwrap();
    server.publish("s", Event::data("e7")).await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()));

    let mut header =
        EventClient::open_with(&http.url("/events?stream=s"), &[("last-event-id", &ids[2])]).await;
    assert_eq!(
        seen(&header.events(4).await),
        [
            triple("4", "message", "e4"),
            triple("5", "message", "e5"),
            triple("opaque-id", "message", "custom"),
            triple("7", "message", "e7"),
        ]
    );

    // The query parameter serves polyfills that cannot set headers; a
    // non-numeric ID is just another opaque ID.
    let mut query = EventClient::open(&http.url("/events?stream=s&lastEventId=opaque-id")).await;
    assert_eq!(seen(&query.events(1).await), [triple("7", "message", "e7")]);

    // The header wins over the query parameter.
    let mut both = EventClient::open_with(
        &http.url(&format!("/events?stream=s&lastEventId={}", ids[0])),
        &[("last-event-id", &ids[4])],
    )
    .await;
    assert_eq!(seen(&both.events(1).await)[0].2, "custom");

    // An ID the log does not hold is a visible gap naming the first event
    // replayed, then everything the log holds, in order.
    let mut unknown = EventClient::open_with(
        &http.url("/events?stream=s"),
        &[("last-event-id", "never-sent")],
    )
    .await;
    let all = unknown.events(8).await;
    assert_eq!(
        (all[0].event_type(), &*all[0].data, all[0].id.as_deref()),
        ("sse-gap", &*ids[0], None)
    );
    assert_eq!(
        all.get(1).map(|e| e.data.to_string()).as_deref(),
        Some("e1")
    );
    assert_eq!(
        all.last().map(|e| e.data.to_string()).as_deref(),
        Some("e7")
    );

    // Live events follow the replay without a gap or a duplicate.
    server.publish("s", Event::data("live")).await.unwrap();
    assert_eq!(
        seen(&header.events(1).await),
        [triple("8", "message", "live")]
    );
}

#[actix_web::test]
async fn expired_events_are_not_replayed() {
    let clock = ManualClock::new();
    let server = server()
        .event_ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .build();
    server.create_stream("s").await.unwrap();
    server.publish("s", Event::data("stale")).await.unwrap();
    clock.advance(Duration::from_millis(1001));
    server.publish("s", Event::data("fresh")).await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()));
    let mut events = EventClient::open(&http.url("/events?stream=s")).await;
    assert_eq!(
        seen(&events.events(1).await),
        [triple("2", "message", "fresh")]
    );
}

#[actix_web::test]
async fn keep_alive_comments_arrive() {
    let server = server().keep_alive(Some(Duration::from_millis(50))).build();
    server.create_stream("s").await.unwrap();
    let http = TestServer::start(Sse::new(server));
    let mut events = EventClient::open(&http.url("/events?stream=s")).await;
    let mut comments = 0;
    while comments < 3 {
        match events.next_frame().await.expect("the stream to go on") {
            Frame::Comment(text) if !text.is_empty() => comments += 1,
            Frame::Comment(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[actix_web::test]
async fn removing_the_stream_or_closing_the_server_ends_responses() {
    let server = server().build();
    server.create_stream("a").await.unwrap();
    server.create_stream("b").await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()));
    let mut on_a = EventClient::open(&http.url("/events?stream=a")).await;
    let mut on_b = EventClient::open(&http.url("/events?stream=b")).await;
    server.publish("a", Event::data("before")).await.unwrap();
    assert_eq!(
        seen(&on_a.events(1).await),
        [triple("1", "message", "before")]
    );

    assert!(server.remove_stream("a").await);
    // The response ends cleanly: a complete chunked body, no error.
    assert_eq!(on_a.rest().await, []);
    assert_eq!(refused(&http.url("/events?stream=a")).await.0, 404);

    server.close().await;
    assert_eq!(on_b.rest().await, []);
    let (status, body) = refused(&http.url("/events?stream=b")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting down"), "{body}");
}

#[actix_web::test]
async fn a_vanished_client_is_unsubscribed_within_a_second() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = server()
        .on_unsubscribe(move |stream, _| {
            let _ = tx.send(stream.to_owned());
        })
        .build();
    server.create_stream("s").await.unwrap();
    let sse = Sse::new(server.clone());
    let http = TestServer::start(sse.clone());

    let mut socket = tokio::net::TcpStream::connect(http.addr).await.unwrap();
    socket
        .write_all(b"GET /events?stream=s HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 1024];
    let read = tokio::time::timeout(GUARD, socket.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert!(head[..read].starts_with(b"HTTP/1.1 200 OK"));
    until("the subscriber is registered", async || {
        server.streams().await[0].subscribers == 1
    })
    .await;

    drop(socket);
    // No event and no keep-alive is due: the closed socket alone must end it.
    let stream = tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("on_unsubscribe within a second of the socket closing");
    assert_eq!(stream.as_deref(), Some("s"));
    until("the subscriber is gone", async || {
        server.streams().await[0].subscribers == 0
    })
    .await;
    until("the connection slot is free", async || {
        sse.open_connections() == 0
    })
    .await;
    assert!(rx.try_recv().is_err(), "on_unsubscribe fires once");
}

#[actix_web::test]
async fn keep_alive_writes_detect_a_vanished_client_when_half_close_is_allowed() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = server()
        .keep_alive(Some(Duration::from_millis(100)))
        .on_unsubscribe(move |stream, _| {
            let _ = tx.send(stream.to_owned());
        })
        .build();
    server.create_stream("s").await.unwrap();
    let http = TestServer::start_allowing_half_close(Sse::new(server.clone()));
    let mut socket = tokio::net::TcpStream::connect(http.addr).await.unwrap();
    socket
        .write_all(b"GET /events?stream=s HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 1024];
    let read = tokio::time::timeout(GUARD, socket.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert!(head[..read].starts_with(b"HTTP/1.1 200 OK"));
    until("the subscriber is registered", async || {
        server.streams().await[0].subscribers == 1
    })
    .await;
    drop(socket);
    // actix-web keeps a half-closed connection's response going; the write
    // of a keep-alive to the closed socket is what ends it.
    let stream = tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("on_unsubscribe within a second of the socket closing");
    assert_eq!(stream.as_deref(), Some("s"));
}

#[actix_web::test]
async fn a_slow_client_is_disconnected_while_fast_ones_get_everything() {
    let count = 160;
    let server = server()
        .subscriber_queue(8)
        .log_limits(LogLimits {
            max_events: 1000,
            max_bytes: 64 * 1024 * 1024,
            max_age: None,
        })
        .build();
    server.create_stream("s").await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()));

    let mut fast = EventClient::open(&http.url("/events?stream=s")).await;
    // A client that sends its request and then never reads: once the socket
    // buffers fill, its queue overflows.
    let mut slow = tokio::net::TcpStream::connect(http.addr).await.unwrap();
    slow.write_all(b"GET /events?stream=s HTTP/1.0\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    until("both subscribers are registered", async || {
        server.streams().await[0].subscribers == 2
    })
    .await;

    let payload = "p".repeat(64 * 1024);
    // The publisher stays at most half a queue ahead of the fast client, so
    // only the client that stopped reading can fall a whole queue behind.
    let (progress, mut acked) = tokio::sync::watch::channel(0usize);
    let publisher = {
        let server = server.clone();
        actix_web::rt::spawn(async move {
            for i in 1..=count {
                acked.wait_for(|&done| done + 4 >= i).await.unwrap();
                server
                    .publish("s", Event::data(format!("{i}:{payload}")))
                    .await
                    .unwrap();
            }
        })
    };
    for i in 1..=count {
        let event = fast
            .next_event()
            .await
            .expect("the fast client keeps receiving");
        assert!(
            event.data.starts_with(&format!("{i}:")),
            "event {i} out of order"
        );
        progress.send_replace(i);
    }
    publisher.await.unwrap();
    until("the slow subscriber is disconnected", async || {
        server.stats().lagged == 1
    })
    .await;

    // What the slow client got ends early and cleanly (HTTP/1.0: the body
    // ends with the connection); resuming from its last ID gets the rest.
    let mut wire = Vec::new();
    tokio::time::timeout(GUARD, slow.read_to_end(&mut wire))
        .await
        .unwrap()
        .unwrap();
    let body_at = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut decoder = sse_proto::Decoder::new();
    decoder.feed(&wire[body_at..]);
    let got: Vec<Event> = decoder
        .by_ref()
        .filter_map(|f| match f.unwrap() {
            Frame::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(got.len() < count, "the slow client was cut off");
    let last_id = got.last().and_then(|e| e.id.clone()).unwrap_or_default();
    let last = seq_of(&last_id).parse::<usize>().unwrap_or(0);
    assert_eq!(last, got.len(), "no gap before the cut");
    let mut resumed = EventClient::open_with(
        &http.url("/events?stream=s"),
        &[("last-event-id", &last_id)],
    )
    .await;
    let rest = resumed.events(count - last).await;
    assert_eq!(
        rest.first().and_then(|e| e.id.as_deref()).map(seq_of),
        Some(&*(last + 1).to_string())
    );
    assert_eq!(
        rest.last().and_then(|e| e.id.as_deref()).map(seq_of),
        Some(&*count.to_string())
    );
}

#[actix_web::test]
async fn graceful_shutdown_ends_every_response_cleanly() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    let http = TestServer::start(Sse::new(server.clone()));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(EventClient::open(&http.url("/events?stream=s")).await);
    }
    server
        .publish("s", Event::data("last words"))
        .await
        .unwrap();
    for client in &mut clients {
        assert_eq!(
            seen(&client.events(1).await),
            [triple("1", "message", "last words")]
        );
    }
    // The hub's order: close the event server, then stop HTTP gracefully;
    // the stop waits for open responses, so it returns only if they ended.
    server.close().await;
    tokio::time::timeout(GUARD, http.stop())
        .await
        .expect("graceful stop to finish");
    for mut client in clients {
        assert_eq!(client.rest().await, []);
    }
}

#[actix_web::test]
async fn many_connections_opened_and_dropped_leave_nothing_behind() {
    let unsubscribed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&unsubscribed);
    let server = server()
        .auto_stream(true)
        .on_unsubscribe(move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .build();
    let sse = Sse::new(server.clone());
    let http = TestServer::start(sse.clone());
    let n = 500;
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let mut socket = tokio::net::TcpStream::connect(http.addr).await.unwrap();
        let request = format!("GET /events?stream=s{} HTTP/1.1\r\nHost: t\r\n\r\n", i % 10);
        socket.write_all(request.as_bytes()).await.unwrap();
        sockets.push(socket);
    }
    until("every connection is subscribed", async || {
        sse.open_connections() == n
    })
    .await;
    drop(sockets);
    until("every connection is gone", async || {
        sse.open_connections() == 0
    })
    .await;
    until("every subscriber is unsubscribed", async || {
        unsubscribed.load(Ordering::Relaxed) == n
    })
    .await;
    let stats = server.stats();
    assert_eq!((stats.subscriber_actors, stats.queues), (0, 0), "{stats:?}");
    // The server still serves.
    let mut events = EventClient::open(&http.url("/events?stream=after")).await;
    server
        .publish("after", Event::data("still here"))
        .await
        .unwrap();
    assert_eq!(
        seen(&events.events(1).await),
        [triple("1", "message", "still here")]
    );
}
