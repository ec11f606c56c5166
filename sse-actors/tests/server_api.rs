//! The server's registry and stream API, one behaviour per test: creating,
//! removing and publishing to streams, subscribers, callbacks and the log.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use sse_actors::{
    Event, LogLimits, PublishError, StreamOptions, SubscribeRequest, TryPublishError,
};

#[actix_rt::test]
async fn create_stream_makes_it_exist() {
    let server = server().build();
    server.create_stream("test").await.unwrap();
    assert!(server.stream_exists("test").await);
    server.close().await;
}

#[actix_rt::test]
async fn callbacks_see_each_subscribe_and_unsubscribe() {
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

// no new actor, same stream
#[actix_rt::test]
async fn creating_an_existing_stream_keeps_it() {
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

#[actix_rt::test]
async fn remove_stream_makes_it_unknown() {
    let server = server().build();
    server.create_stream("test").await.unwrap();
    assert!(server.remove_stream("test").await);
    assert!(!server.stream_exists("test").await);
    assert!(server.stream("test").is_none());
    server.close().await;
    all_freed(&server).await;
}

#[actix_rt::test]
async fn removing_an_unknown_stream_is_harmless() {
    let server = server().build();
    assert!(!server.remove_stream("test").await);
    assert!(!server.remove_stream("test").await);
    server.close().await;
}

#[actix_rt::test]
async fn publish_to_a_stream_reaches_its_subscriber() {
    let server = server().build();
    server.create_stream("test").await.unwrap();
    let mut sub = server
        .subscribe("test", SubscribeRequest::new())
        .await
        .unwrap();
    server.publish("test", Event::data("test")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 1\ndata: test\n\n");
    server.close().await;
}

// an error, not a panic
#[actix_rt::test]
async fn publish_to_an_unknown_stream_is_an_error() {
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

// replays the log, then live events
#[actix_rt::test]
async fn a_subscriber_is_counted_while_subscribed() {
    let server = server().build();
    let stream = server.create_stream("test").await.unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(stream.info().subscribers, 1);
    assert_eq!(
        by_seq(next_str(&mut sub).await),
        "id: 1\ndata: test\n\n",
        "the event log"
    );
    stream.publish(Event::data("test")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: test\n\n");
    assert_eq!(sub.queued(), 0);
    server.close().await;
}

#[actix_rt::test]
async fn dropping_a_subscription_unsubscribes_it() {
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

#[actix_rt::test]
async fn without_auto_replay_a_new_subscriber_gets_only_new_events() {
    let server = server().auto_replay(false).build();
    let stream = server.create_stream("test").await.unwrap();
    stream.publish(Event::data("test")).await.unwrap();
    stream.publish(Event::data("live")).await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(sub.queued(), 0, "no log replayed");
    assert_eq!(stream.info().logged_events, 0);
    stream.publish(Event::data("after")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 3\ndata: after\n\n");
    server.close().await;
}

#[actix_rt::test]
async fn stream_options_override_the_server_replay_setting() {
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

// all receive; all end on close
#[actix_rt::test]
async fn every_subscriber_gets_every_event() {
    let server = server().build();
    let stream = server.create_stream("test").await.unwrap();
    let mut subs = Vec::new();
    for _ in 0..10 {
        subs.push(stream.subscribe(SubscribeRequest::new()).await.unwrap());
    }
    stream.publish(Event::data("test")).await.unwrap();
    for sub in &mut subs {
        assert_eq!(by_seq(next_str(sub).await), "id: 1\ndata: test\n\n");
    }
    server.close().await;
    assert_eq!(stream.info().subscribers, 0);
    for sub in &mut subs {
        assert!(drain(sub).await.is_empty());
    }
    drop(subs);
    all_freed(&server).await;
}

// add, clear, add twice
#[actix_rt::test]
async fn clearing_the_log_empties_replay() {
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

#[actix_rt::test]
async fn event_log_keeps_its_newest_entries() {
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
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: test\n\n");
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 3\ndata: test\n\n");
    server.close().await;
}
