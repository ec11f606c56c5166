//! Clients resuming from the same id on one node, one after another (as
//! they reconnect over their retry delays), share one copy of what was read
//! from a real `redis-server`: a later one reads only what Redis got since.

mod cluster_support;

use std::sync::Arc;

use futures_util::StreamExt as _;
use sse_actors::{Event, Server, SubscribeRequest, Subscription};
use sse_redis::{RedisBackplane, RedisOptions};

use cluster_support::{GUARD, Redis};

fn node(url: &str) -> Server {
    let backplane = RedisBackplane::new(url, RedisOptions::default()).expect("valid Redis URL");
    Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .backplane(Arc::new(backplane))
        .build()
}

/// The frames a new subscription was replayed.
async fn replayed(subscription: &mut Subscription) -> Vec<bytes::Bytes> {
    let mut frames = Vec::new();
    for _ in 0..subscription.queued() {
        let frame = tokio::time::timeout(GUARD, subscription.next())
            .await
            .expect("a frame within the guard time")
            .expect("the subscription is live");
        frames.push(frame);
    }
    frames
}

#[actix_rt::test]
async fn clients_resuming_one_after_another_share_one_copy_of_the_redis_read() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    // Published on one node, resumed on another that never read the stream.
    let (publisher, resumer) = (node(&redis.url()), node(&redis.url()));
    let publish = |data: String| {
        let publisher = publisher.clone();
        async move { publisher.publish("feed", Event::data(data)).await.unwrap() }
    };
    let first = publish("0".repeat(100)).await.id;
    for n in 1..50 {
        publish(format!("{n:0>100}")).await;
    }
    let resume = || SubscribeRequest::new().last_event_id(first.to_string());
    let mut early = resumer.subscribe("feed", resume()).await.unwrap();
    let early_frames = replayed(&mut early).await;
    assert_eq!(early_frames.len(), 49);

    let newest = publish("new".to_owned()).await.id;
    let mut later = resumer.subscribe("feed", resume()).await.unwrap();
    let later_frames = replayed(&mut later).await;
    assert_eq!(
        later_frames.len(),
        50,
        "what it missed, the newest event too"
    );
    assert_eq!(
        later_frames[49],
        format!("id: {newest}\ndata: new\n\n").as_bytes()
    );
    for (early, later) in early_frames.iter().zip(&later_frames) {
        assert_eq!(
            early.as_ptr(),
            later.as_ptr(),
            "one copy of each frame read"
        );
    }
    publisher.close().await;
    resumer.close().await;
}
