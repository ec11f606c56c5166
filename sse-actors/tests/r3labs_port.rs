//! Every scenario of r3labs/sse server_test.go, stream_test.go and
//! event_log_test.go, against this crate's API.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use sse_actors::{
    Event, LogLimits, PublishError, StreamOptions, SubscribeRequest, TryPublishError,
};

// server_test.go: TestServerCreateStream
#[actix_rt::test]
async fn server_create_stream() {
    let server = server().build();
    server.create_stream("test").await.unwrap();
    assert!(server.stream_exists("test").await);
    server.close().await;
}

// server_test.go: TestServerWithCallback
#[actix_rt::test]
async fn server_with_callback() {
    let subscribed = Arc::new(AtomicUsize::new(0));
    let unsubscribed = Arc::new(AtomicUsize::new(0));
    let (s, u) = (Arc::clone(&subscribed), Arc::clone(&unsubscribed));
    let server = server()
        .on_subscribe(move |_, _| {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .on_unsubscribe(move |_, _| {
            u.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    server.create_stream("test").await.unwrap();
    let sub = server
        .subscribe("test", SubscribeRequest::new())
        .await
        .unwrap();
    assert_eq!(subscribed.load(Ordering::SeqCst), 1);
    drop(sub);
    eventually("on_unsubscribe", || {
        unsubscribed.load(Ordering::SeqCst) == 1
    })
    .await;
    server.close().await;
}

// server_test.go: TestServerCreateExistingStream (no new actor, same stream)
#[actix_rt::test]
async fn server_create_existing_stream() {
    let server = server().build();
    let first = server.create_stream("test").await.unwrap();
    let actors = server.stats().stream_actors;
    let again = server
        .create_stream_with("test", StreamOptions::new().buffer_size(1))
        .await
        .unwrap();
    assert_eq!(server.stats().stream_actors, actors);
    first.publish(Event::data("x")).await.unwrap();
    assert_eq!(again.info().published, 1, "both handles drive one stream");
    assert_eq!(server.streams().await.len(), 1);
    server.close().await;
}

// server_test.go: TestServerRemoveStream
#[actix_rt::test]
async fn server_remove_stream() {
    let server = server().build();
    server.create_stream("test").await.unwrap();
    assert!(server.remove_stream("test").await);
    assert!(!server.stream_exists("test").await);
    assert!(server.stream("test").is_none());
    server.close().await;
    all_freed(&server).await;
}

// server_test.go: TestServerRemoveNonExistentStream
#[actix_rt::test]
async fn server_remove_non_existent_stream() {
    let server = server().build();
    assert!(!server.remove_stream("test").await);
    assert!(!server.remove_stream("test").await);
    server.close().await;
}

// server_test.go: TestServerExistingStreamPublish
#[actix_rt::test]
async fn server_existing_stream_publish() {
    let server = server().build();
    server.create_stream("test").await.unwrap();
    let mut sub = server
        .subscribe("test", SubscribeRequest::new())
        .await
        .unwrap();
    server.publish("test", Event::data("test")).await.unwrap();
    assert_eq!(next_str(&mut sub).await, "id: 1\ndata: test\n\n");
    server.close().await;
}

// server_test.go: TestServerNonExistentStreamPublish (an error, not a panic)
#[actix_rt::test]
async fn server_non_existent_stream_publish() {
    let server = server().build();
    server.remove_stream("test").await;
    let err = server
        .publish("test", Event::data("test"))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::UnknownStream { ref stream } if stream == "test"));
    let err = server.try_publish("test", Event::data("test")).unwrap_err();
    assert!(matches!(err, TryPublishError::UnknownStream { .. }));
    server.close().await;
}

// stream_test.go: TestStreamAddSubscriber (replays the log, then live events)
#[actix_rt::test]
async fn stream_add_subscriber() {
    let server = server().build();
    let stream = server.create_stream("test").await.unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(stream.info().subscribers, 1);
    assert_eq!(
        next_str(&mut sub).await,
        "id: 1\ndata: test\n\n",
        "the event log"
    );
    stream.publish(Event::data("test")).await.unwrap();
    assert_eq!(next_str(&mut sub).await, "id: 2\ndata: test\n\n");
    assert_eq!(sub.queued(), 0);
    server.close().await;
}

// stream_test.go: TestStreamRemoveSubscriber / TestStreamSubscriberClose
#[actix_rt::test]
async fn stream_remove_subscriber() {
    let server = server().build();
    let stream = server.create_stream("test").await.unwrap();
    let sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(stream.info().subscribers, 1);
    drop(sub);
    eventually("the subscriber to be removed", || {
        stream.info().subscribers == 0
    })
    .await;
    server.close().await;
    all_freed(&server).await;
}

// stream_test.go: TestStreamDisableAutoReplay
#[actix_rt::test]
async fn stream_disable_auto_replay() {
    let server = server().auto_replay(false).build();
    let stream = server.create_stream("test").await.unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    stream.publish(Event::data("live")).await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(sub.queued(), 0, "no log replayed");
    assert_eq!(stream.info().logged_events, 0);
    stream.publish(Event::data("after")).await.unwrap();
    assert_eq!(next_str(&mut sub).await, "id: 3\ndata: after\n\n");
    server.close().await;
}

// stream_test.go: per-stream override of auto replay
#[actix_rt::test]
async fn stream_options_override_auto_replay() {
    let server = server().auto_replay(true).build();
    let stream = server
        .create_stream_with("test", StreamOptions::new().auto_replay(false))
        .await
        .unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    let sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(sub.queued(), 0);
    server.close().await;
}

// stream_test.go: TestStreamMultipleSubscribers (all receive; all end on close)
#[actix_rt::test]
async fn stream_multiple_subscribers() {
    let server = server().build();
    let stream = server.create_stream("test").await.unwrap();
    let mut subs = Vec::new();
    for _ in 0..10 {
        subs.push(stream.subscribe(SubscribeRequest::new()).await.unwrap());
    }
    stream.publish(Event::data("test")).await.unwrap();
    for sub in &mut subs {
        assert_eq!(next_str(sub).await, "id: 1\ndata: test\n\n");
    }
    server.close().await;
    assert_eq!(stream.info().subscribers, 0);
    for sub in &mut subs {
        assert!(drain(sub).await.is_empty());
    }
    drop(subs);
    all_freed(&server).await;
}

// event_log_test.go: TestEventLog (add, clear, add twice)
#[actix_rt::test]
async fn event_log_add_clear() {
    let server = server().build();
    let stream = server.create_stream("test").await.unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    eventually("the log to hold it", || stream.info().logged_events == 1).await;
    // Clearing a log is removing its stream: the state goes with it.
    server.remove_stream("test").await;
    let stream = server.create_stream("test").await.unwrap();
    assert_eq!(stream.info().logged_events, 0);
    stream.publish(Event::data("test")).await.unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    eventually("the log to hold both", || stream.info().logged_events == 2).await;
    server.close().await;
}

// event_log_test.go: TestEventLogMaxEntries
#[actix_rt::test]
async fn event_log_max_entries() {
    let limits = LogLimits {
        max_events: 2,
        ..LogLimits::default()
    };
    let server = server().log_limits(limits).build();
    let stream = server.create_stream("test").await.unwrap();
    for _ in 0..3 {
        stream.publish(Event::data("test")).await.unwrap();
    }
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(stream.info().logged_events, 2);
    assert_eq!(next_str(&mut sub).await, "id: 2\ndata: test\n\n");
    assert_eq!(next_str(&mut sub).await, "id: 3\ndata: test\n\n");
    server.close().await;
}
