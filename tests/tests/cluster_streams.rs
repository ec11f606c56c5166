//! A thousand streams spread over two nodes sharing one `redis-server`: each
//! node reads all of its streams over one connection, and every subscriber
//! gets its stream's events and no other.

mod cluster_support;

use std::sync::Arc;

use futures_util::StreamExt as _;
use sse_actors::{Event, Server, SubscribeRequest};
use sse_redis::{RedisBackplane, RedisOptions};

use cluster_support::{GUARD, Redis};

const STREAMS: usize = 1000;

fn node(url: &str) -> (Server, RedisBackplane) {
    let backplane = RedisBackplane::new(url, RedisOptions::default()).expect("valid Redis URL");
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .backplane(Arc::new(backplane.clone()))
        .build();
    (server, backplane)
}

#[actix_rt::test]
async fn a_thousand_streams_across_two_nodes() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let nodes = [node(&redis.url()), node(&redis.url())];

    // Stream i is subscribed on node i % 2 and published on the other one.
    let mut subscriptions = Vec::with_capacity(STREAMS);
    for i in 0..STREAMS {
        let (server, _) = &nodes[i % 2];
        let subscription = server
            .subscribe(&format!("s{i}"), SubscribeRequest::new())
            .await
            .expect("subscribing");
        subscriptions.push(subscription);
    }
    assert_eq!(nodes[0].1.watched_streams(), STREAMS / 2);
    assert_eq!(nodes[1].1.watched_streams(), STREAMS / 2);

    let mut expected = Vec::with_capacity(STREAMS);
    for round in 0..2 {
        for i in 0..STREAMS {
            let (server, _) = &nodes[(i + 1) % 2];
            let data = format!("s{i} #{round}");
            let published = server
                .publish(&format!("s{i}"), Event::data(data.clone()))
                .await
                .expect("publishing");
            if round == 0 {
                expected.push(Vec::new());
            }
            expected[i].push(format!("id: {}\ndata: {data}\n\n", published.id));
        }
    }

    for (i, subscription) in subscriptions.iter_mut().enumerate() {
        for want in &expected[i] {
            let frame = tokio::time::timeout(GUARD, subscription.next())
                .await
                .expect("a frame within the guard time")
                .expect("the subscription is live");
            assert_eq!(std::str::from_utf8(&frame).unwrap(), want, "stream s{i}");
        }
        assert_eq!(subscription.queued(), 0, "stream s{i}: nothing extra");
    }
    for (server, _) in &nodes {
        server.close().await;
    }
}
