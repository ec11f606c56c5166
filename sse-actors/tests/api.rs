//! The basic API end to end.

mod common;

use common::*;
use sse_actors::{EndReason, Event, SubscribeError, SubscribeRequest};

#[actix_rt::test]
async fn publish_reaches_subscriber_and_remove_ends_it() {
    let server = server().build();
    server.create_stream("news").await.unwrap();
    let mut sub = server
        .subscribe("news", SubscribeRequest::new())
        .await
        .unwrap();
    let p = server.publish("news", Event::data("hi")).await.unwrap();
    assert_eq!((p.seq, seq_of(&p.id)), (1, "1"));
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 1\ndata: hi\n\n");
    assert!(server.remove_stream("news").await);
    assert_eq!(next(&mut sub).await, None);
    assert_eq!(sub.end_reason(), Some(EndReason::StreamRemoved));
    assert_eq!(
        server
            .subscribe("news", SubscribeRequest::new())
            .await
            .unwrap_err(),
        SubscribeError::UnknownStream {
            stream: "news".into()
        }
    );
    server.close().await;
    drop(sub);
    all_freed(&server).await;
}

/// Transports share the server between worker threads and poll a
/// subscription on whichever thread serves the response.
#[test]
fn handles_cross_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    fn owned<T: Send + Unpin + 'static>() {}
    shared::<sse_actors::Server>();
    shared::<sse_actors::StreamHandle>();
    owned::<sse_actors::Subscription>();
    shared::<sse_actors::PublishError>();
    shared::<sse_actors::SubscribeError>();
}

#[actix_rt::test]
async fn last_id_names_the_newest_held_event_without_subscribing() {
    let subscribed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = subscribed.clone();
    let server = server()
        .on_subscribe(move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .build();
    let stream = server.create_stream("news").await.unwrap();
    assert_eq!(stream.last_id().await, None, "an empty stream holds no id");
    stream.publish(Event::data("a").id("own")).await.unwrap();
    assert_eq!(stream.last_id().await.as_deref(), Some("own"));
    let generated = stream.publish(Event::data("b")).await.unwrap();
    assert_eq!(
        stream.last_id().await.as_deref(),
        Some(&*generated.id),
        "a generated id is named as the wire carries it"
    );
    assert_eq!(
        subscribed.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "asking subscribes nobody"
    );
    assert_eq!(stream.info().subscribers, 0);
    server.close().await;
    all_freed(&server).await;
}
