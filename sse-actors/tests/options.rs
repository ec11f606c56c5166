//! The server options: auto-stream, callbacks, base64, headers, limits.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use sse_actors::{
    EndReason, Event, ManualClock, PublishError, StreamOptions, SubscribeError, SubscribeRequest,
};

#[actix_rt::test]
async fn auto_stream_creates_on_subscribe_and_removes_when_idle() {
    let server = server().auto_stream(true).auto_replay(false).build();
    let sub = server
        .subscribe("auto", SubscribeRequest::new())
        .await
        .unwrap();
    let info = server.streams().await;
    assert_eq!(info.len(), 1);
    assert!(info[0].auto_created);
    assert_eq!(info[0].subscribers, 1);
    drop(sub);
    eventually("the idle auto-stream to go", || server.stats().streams == 0).await;
    assert!(!server.stream_exists("auto").await);
    // And it comes back on the next subscription.
    let sub = server
        .subscribe("auto", SubscribeRequest::new())
        .await
        .unwrap();
    assert!(server.stream_exists("auto").await);
    server.close().await;
    drop(sub);
    all_freed(&server).await;
}

/// A client that reconnects within the idle time is replayed what it
/// missed; after it, the stream and its log are gone.
#[actix_rt::test]
async fn an_auto_stream_with_replay_stays_for_its_idle_time() {
    let clock = ManualClock::new();
    let idle = Duration::from_secs(60);
    let server = server()
        .auto_stream(true)
        .auto_replay(true)
        .auto_stream_idle(idle)
        .clock(clock.clone())
        .build();
    let sub = server
        .subscribe("auto", SubscribeRequest::new())
        .await
        .unwrap();
    server.publish("auto", Event::data("kept")).await.unwrap();
    drop(sub);
    let stream = server.stream("auto").unwrap();
    eventually("the subscriber to leave", || stream.info().subscribers == 0).await;
    clock.advance(idle - Duration::from_millis(1));
    let mut sub = server
        .subscribe("auto", SubscribeRequest::new())
        .await
        .unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 1\ndata: kept\n\n");
    drop(sub);
    eventually("the subscriber to leave", || stream.info().subscribers == 0).await;
    clock.advance(idle);
    eventually("the idle stream to go", || server.stats().streams == 0).await;
    assert!(stream.is_removed());
    let mut fresh = server
        .subscribe("auto", SubscribeRequest::new())
        .await
        .unwrap();
    server.publish("auto", Event::data("new")).await.unwrap();
    assert_eq!(
        by_seq(next_str(&mut fresh).await),
        "id: 1\ndata: new\n\n",
        "a new log"
    );
    server.close().await;
}

/// 1,000 invented names, each subscribed to and dropped at once, fill the
/// auto-stream limit only until they have been idle for the idle time.
#[actix_rt::test]
async fn invented_stream_names_fill_the_auto_stream_limit_only_while_idle() {
    let clock = ManualClock::new();
    let idle = Duration::from_secs(60);
    let server = server()
        .auto_stream(true)
        .auto_replay(true)
        .max_auto_streams(Some(1000))
        .auto_stream_idle(idle)
        .clock(clock.clone())
        .build();
    for i in 0..1000 {
        drop(
            server
                .subscribe(&format!("s{i}"), SubscribeRequest::new())
                .await
                .unwrap(),
        );
    }
    let refused = server.subscribe("one-more", SubscribeRequest::new()).await;
    assert!(matches!(
        refused,
        Err(SubscribeError::TooManyStreams { limit: 1000, .. })
    ));
    eventually("every subscriber to leave", || {
        server.stats().subscriber_records == 0
    })
    .await;
    clock.advance(idle);
    eventually("the idle streams to go", || server.stats().streams == 0).await;
    let _admitted = server
        .subscribe("one-more", SubscribeRequest::new())
        .await
        .unwrap();
    server.close().await;
}

/// Publishing to invented names creates auto-streams: they count against
/// the limit with the subscribers' ones and go once idle for the idle time,
/// counted from their creation.
#[actix_rt::test]
async fn streams_created_for_publishers_fill_the_auto_stream_limit_only_while_idle() {
    let clock = ManualClock::new();
    let idle = Duration::from_secs(60);
    let server = server()
        .auto_stream(true)
        .auto_replay(true)
        .max_auto_streams(Some(3))
        .auto_stream_idle(idle)
        .clock(clock.clone())
        .build();
    let _subscriber = server
        .subscribe("watched", SubscribeRequest::new())
        .await
        .unwrap();
    for name in ["p1", "p2"] {
        let published = server
            .publish_creating(name, Event::data("x"))
            .await
            .unwrap();
        assert_eq!(published.seq, 1);
    }
    let streams = server.streams().await;
    assert!(streams.iter().all(|info| info.auto_created), "{streams:?}");
    assert_eq!(
        server.publish_creating("p3", Event::data("x")).await,
        Err(PublishError::TooManyStreams {
            stream: "p3".into(),
            limit: 3
        })
    );
    // An existing stream takes events past the limit; an invalid event
    // creates nothing.
    server
        .publish_creating("p1", Event::data("y"))
        .await
        .unwrap();
    let invalid = server
        .publish_creating("p4", Event::data("x").id("a\nb"))
        .await;
    assert!(
        matches!(invalid, Err(PublishError::Encode(_))),
        "{invalid:?}"
    );
    clock.advance(idle);
    eventually("the publishers' streams to go", || {
        server.stats().streams == 1
    })
    .await;
    assert!(
        server.stream_exists("watched").await,
        "a subscriber keeps it"
    );
    server
        .publish_creating("p3", Event::data("x"))
        .await
        .unwrap();
    server.close().await;
}

/// Without a log nothing is lost by removing a stream no one reads: a
/// publisher's goes once its event reached no one.
#[actix_rt::test]
async fn a_stream_created_for_a_publisher_without_a_log_goes_once_it_fanned_out() {
    let server = server()
        .auto_stream(true)
        .auto_replay(false)
        .max_auto_streams(Some(1))
        .build();
    for round in 0..3 {
        server
            .publish_creating("once", Event::data("x"))
            .await
            .unwrap();
        eventually("the stream to go", || server.stats().streams == 0).await;
        server
            .publish_creating(&format!("other{round}"), Event::data("x"))
            .await
            .unwrap();
        eventually("the stream to go", || server.stats().streams == 0).await;
    }
    server.close().await;
    all_freed(&server).await;
}

/// Without auto-stream, publishing to an unknown name is refused as by
/// `publish`.
#[actix_rt::test]
async fn publish_creating_without_auto_stream_creates_nothing() {
    let server = server().build();
    let refused = server.publish_creating("nope", Event::data("x")).await;
    assert!(
        matches!(refused, Err(PublishError::UnknownStream { .. })),
        "{refused:?}"
    );
    assert_eq!(server.stats().streams, 0);
    server.close().await;
}

#[actix_rt::test]
async fn explicit_streams_survive_their_last_subscriber_under_auto_stream() {
    let server = server().auto_stream(true).auto_replay(false).build();
    let stream = server.create_stream("manual").await.unwrap();
    drop(stream.subscribe(SubscribeRequest::new()).await.unwrap());
    eventually("the subscriber to leave", || stream.info().subscribers == 0).await;
    assert!(server.stream_exists("manual").await);
    server.close().await;
}

#[actix_rt::test]
async fn unknown_stream_without_auto_stream() {
    let server = server().build();
    let err = server
        .subscribe("nope", SubscribeRequest::new())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SubscribeError::UnknownStream {
            stream: "nope".into()
        }
    );
    assert_eq!(err.to_string(), "no stream named \"nope\"");
    server.close().await;
}

type Log = Arc<Mutex<Vec<(String, u64, Option<String>)>>>;

fn recorder(
    log: &Log,
    tag: &'static str,
) -> impl Fn(&str, &sse_actors::SubscriberInfo) + Send + Sync + 'static {
    let log = Arc::clone(log);
    move |stream, info| {
        log.lock()
            .unwrap()
            .push((format!("{tag}:{stream}"), info.id, info.label.clone()));
    }
}

/// Each callback fires exactly once per subscriber, whichever way it ends:
/// dropped, lagged, stream removed, server closed.
#[actix_rt::test]
async fn callbacks_fire_exactly_once_per_subscriber() {
    let log: Log = Arc::default();
    let server = server()
        .subscriber_queue(1)
        .on_subscribe(recorder(&log, "server+"))
        .on_unsubscribe(recorder(&log, "server-"))
        .build();
    let options = StreamOptions::new()
        .on_subscribe(recorder(&log, "stream+"))
        .on_unsubscribe(recorder(&log, "stream-"));
    let a = server
        .create_stream_with("a", options.clone())
        .await
        .unwrap();
    let b = server.create_stream_with("b", options).await.unwrap();
    let label = |l: &str| SubscribeRequest::new().label(l);
    let dropped = a.subscribe(label("dropped")).await.unwrap();
    let mut lagged = a.subscribe(label("lagged")).await.unwrap();
    let mut removed = b.subscribe(label("removed")).await.unwrap();
    assert_eq!(
        log.lock().unwrap().len(),
        6,
        "on_subscribe runs before subscribe returns"
    );

    drop(dropped);
    a.publish(Event::data("1")).await.unwrap();
    a.publish(Event::data("2")).await.unwrap();
    // `lagged` never reads: it overflows its one-frame queue.
    eventually("both events fanned out", || a.info().buffered == 0).await;
    drain(&mut lagged).await;
    assert_eq!(lagged.end_reason(), Some(EndReason::Lagged));
    server.remove_stream("b").await;
    assert_eq!(removed.end_reason(), Some(EndReason::StreamRemoved));
    drain(&mut removed).await;
    let mut closed = a.subscribe(label("closed")).await.unwrap();
    server.close().await;
    assert_eq!(closed.end_reason(), Some(EndReason::ServerClosed));
    drain(&mut closed).await;
    drop((lagged, removed, closed));
    all_freed(&server).await;

    let log = log.lock().unwrap();
    for label in ["dropped", "lagged", "removed", "closed"] {
        let events: Vec<_> = log
            .iter()
            .filter(|(_, _, l)| l.as_deref() == Some(label))
            .map(|(tag, _, _)| tag.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            events,
            ["server+", "stream+", "server-", "stream-"],
            "callbacks of {label}"
        );
    }
    assert_eq!(log.len(), 16);
}

#[actix_rt::test]
async fn base64_data() {
    let server = server().base64(true).build();
    server.create_stream("s").await.unwrap();
    let mut sub = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    server.publish("s", Event::data("hi\nthere")).await.unwrap();
    assert_eq!(
        by_seq(next_str(&mut sub).await),
        "id: 1\ndata: aGkKdGhlcmU=\n\n"
    );
    server.close().await;
}

#[actix_rt::test]
async fn extra_headers_are_carried() {
    let server = server()
        .header("X-Foo", "bar")
        .header("X-Baz", "qux")
        .build();
    assert_eq!(
        server.headers(),
        [
            ("X-Foo".to_owned(), "bar".to_owned()),
            ("X-Baz".to_owned(), "qux".to_owned())
        ]
    );
    server.close().await;
}

#[actix_rt::test]
async fn max_subscribers_per_stream() {
    let server = server().max_subscribers_per_stream(Some(2)).build();
    server.create_stream("s").await.unwrap();
    let one = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    let _two = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    let err = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SubscribeError::TooManySubscribers {
            stream: "s".into(),
            limit: 2
        }
    );
    drop(one);
    let stream = server.stream("s").unwrap();
    eventually("a slot to free", || stream.info().subscribers == 1).await;
    let _three = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    server.close().await;
}

#[actix_rt::test]
async fn build_outside_a_system_is_an_error() {
    let result = std::thread::spawn(|| sse_actors::Server::builder().try_build().map(|_| ()))
        .join()
        .unwrap();
    assert_eq!(result, Err(sse_actors::BuildError::NoSystem));
}

/// Streams are spread over the arbiters, round robin: each runs (and calls
/// its callbacks) on its own thread, not the caller's.
#[actix_rt::test]
async fn streams_spread_over_arbiters() {
    let threads: Arc<Mutex<Vec<(String, std::thread::ThreadId)>>> = Arc::default();
    let record = Arc::clone(&threads);
    let server = server()
        .arbiters(2)
        .on_subscribe(move |stream, _| {
            record
                .lock()
                .unwrap()
                .push((stream.to_owned(), std::thread::current().id()));
        })
        .build();
    for name in ["a", "b", "c"] {
        server.create_stream(name).await.unwrap();
        drop(
            server
                .subscribe(name, SubscribeRequest::new())
                .await
                .unwrap(),
        );
    }
    let threads = threads.lock().unwrap().clone();
    let id = |name: &str| threads.iter().find(|(s, _)| s == name).unwrap().1;
    let here = std::thread::current().id();
    assert!(threads.iter().all(|(_, t)| *t != here));
    assert_ne!(id("a"), id("b"));
    assert_eq!(id("a"), id("c"));
    server.close().await;
}

#[actix_rt::test]
async fn max_auto_streams_bounds_invented_names() {
    let server = server().auto_stream(true).max_auto_streams(Some(2)).build();
    let _a = server
        .subscribe("a", SubscribeRequest::new())
        .await
        .unwrap();
    let _b = server
        .subscribe("b", SubscribeRequest::new())
        .await
        .unwrap();
    let err = server
        .subscribe("c", SubscribeRequest::new())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SubscribeError::TooManyStreams {
            stream: "c".into(),
            limit: 2
        }
    );
    // Explicit streams are not limited, and existing ones still accept subscribers.
    server.create_stream("c").await.unwrap();
    let _c = server
        .subscribe("c", SubscribeRequest::new())
        .await
        .unwrap();
    let _a2 = server
        .subscribe("a", SubscribeRequest::new())
        .await
        .unwrap();
    // Removing an auto-created stream frees its slot.
    server.remove_stream("a").await;
    let _d = server
        .subscribe("d", SubscribeRequest::new())
        .await
        .unwrap();
    server.close().await;
}
