//! `publish` really waits for buffer space and `try_publish` really refuses:
//! the buffer is a semaphore in front of the Stream actor, not actix's
//! mailbox capacity (which `do_send` ignores).
//!
//! With `arbiters(0)` the stream runs on the test's own thread, so it cannot
//! drain its buffer until the test yields: what is pending is deterministic.

mod common;

use std::pin::pin;

use common::*;
use futures_util::FutureExt as _;
use sse_actors::{Event, PublishError, Server, StreamOptions, SubscribeRequest, TryPublishError};

fn local_server() -> Server {
    Server::builder()
        .arbiters(0)
        .keep_alive(None)
        .buffer_size(2)
        .build()
}

#[actix_rt::test]
async fn try_publish_refuses_when_the_buffer_is_full() {
    let server = local_server();
    let stream = server.create_stream("s").await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(server.try_publish("s", Event::data("1")).unwrap().seq, 1);
    assert_eq!(server.try_publish("s", Event::data("2")).unwrap().seq, 2);
    let err = server.try_publish("s", Event::data("3")).unwrap_err();
    assert!(
        matches!(err, TryPublishError::Full { ref stream, capacity: 2 } if stream == "s"),
        "{err}"
    );
    assert_eq!(stream.info().buffered, 2);
    // Once the stream drains its buffer, there is room again.
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 1\ndata: 1\n\n");
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: 2\n\n");
    assert_eq!(stream.info().buffered, 0);
    assert_eq!(server.try_publish("s", Event::data("4")).unwrap().seq, 3);
    assert_eq!(
        by_seq(next_str(&mut sub).await),
        "id: 3\ndata: 4\n\n",
        "the refused event is gone"
    );
    server.close().await;
}

/// A retry of a publication the stream already took is answered as such,
/// full buffer or not: it needs no room, as nothing is stored again.
#[actix_rt::test]
async fn a_repeated_id_is_answered_as_a_duplicate_even_when_the_buffer_is_full() {
    let server = local_server();
    let stream = server.create_stream("s").await.unwrap();
    let first = stream.try_publish(Event::data("1").id("order-7")).unwrap();
    stream.try_publish(Event::data("2")).unwrap();
    assert!(matches!(
        stream.try_publish(Event::data("3")),
        Err(TryPublishError::Full { .. })
    ));
    let retry = stream
        .try_publish(Event::data("1").id("order-7"))
        .expect("a duplicate, not Full");
    assert_eq!((retry.seq, retry.duplicate), (first.seq, true));
    let waited = server
        .publish("s", Event::data("1").id("order-7"))
        .now_or_never()
        .expect("publish does not wait for room for a duplicate")
        .unwrap();
    assert_eq!((waited.seq, waited.duplicate), (first.seq, true));
    assert_eq!(stream.info().published, 2);
    server.close().await;
}

#[actix_rt::test]
async fn publish_waits_for_buffer_space() {
    let server = local_server();
    let stream = server.create_stream("s").await.unwrap();
    stream.try_publish(Event::data("1")).unwrap();
    stream.try_publish(Event::data("2")).unwrap();
    let mut third = pin!(server.publish("s", Event::data("3")));
    assert!(
        third.as_mut().now_or_never().is_none(),
        "publish must wait while the buffer is full"
    );
    // Yielding lets the stream drain; then the waiting publish goes through.
    let published = guarded("the waiting publish", third).await.unwrap();
    assert_eq!(published.seq, 3);
    server.close().await;
}

#[actix_rt::test]
async fn waiting_publish_fails_when_the_stream_is_removed() {
    let server = local_server();
    let stream = server
        .create_stream_with("s", StreamOptions::new().buffer_size(1))
        .await
        .unwrap();
    stream.try_publish(Event::data("1")).unwrap();
    let mut waiting = pin!(stream.publish(Event::data("2")));
    assert!(waiting.as_mut().now_or_never().is_none());
    // Removing closes the buffer before the stream drains it.
    let (removed, result) = futures_util::future::join(server.remove_stream("s"), waiting).await;
    assert!(removed);
    match result {
        Err(PublishError::StreamRemoved { stream }) => assert_eq!(stream, "s"),
        // The stream may have drained before the removal reached it.
        Ok(published) => assert_eq!(published.seq, 2),
        Err(other) => panic!("unexpected {other}"),
    }
    let err = stream.try_publish(Event::data("3")).unwrap_err();
    assert!(
        matches!(err, TryPublishError::StreamRemoved { .. }),
        "{err}"
    );
    server.close().await;
}

#[actix_rt::test]
async fn invalid_events_fail_at_the_caller() {
    let server = local_server();
    server.create_stream("s").await.unwrap();
    let err = server
        .publish("s", Event::data("x").id("a\nb"))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::InvalidId(_)), "{err}");
    let err = server
        .try_publish("s", Event::new("bad\rtype", "x"))
        .unwrap_err();
    assert!(matches!(err, TryPublishError::Encode(_)), "{err}");
    assert_eq!(
        server.stream("s").unwrap().info().published,
        0,
        "no sequence number used"
    );
    server.close().await;
    let err = server.publish("s", Event::data("x")).await.unwrap_err();
    assert!(matches!(err, PublishError::ServerClosed), "{err}");
}
