//! Hub nodes sharing one real `redis-server` serve as one: every event
//! published on any node reaches subscribers on every node exactly once, in
//! order, and a client resumes on any node after its node dies or Redis
//! restarts.

mod cluster_support;

use cluster_support::{GUARD, Listener, Node, Redis, client, publish};
use sse_actors::GlobalId;

/// Publishes `data` and insists it was accepted; answers its id.
async fn published(client: &awc::Client, node: &Node, stream: &str, data: &str) -> String {
    let (status, id) = publish(client, node, stream, data).await;
    assert_eq!(status, 200, "publishing {data:?}");
    id.expect("a published event has an id")
}

#[actix_rt::test]
async fn three_nodes_deliver_every_event_once_in_order() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&redis.url())).collect();
    let client = client();
    let mut on_a = Listener::open(&client, &nodes[0].events_url("orders"), None).await;
    let mut on_b = Listener::open(&client, &nodes[1].events_url("orders"), None).await;

    let mut sent = Vec::new();
    for n in 0..60 {
        // Alternate between B and C: publishers on two other nodes.
        let node = &nodes[1 + n % 2];
        let data = format!("event {n}");
        let id = published(&client, node, "orders", &data).await;
        sent.push((id, data));
    }
    // A sentinel after the last event proves nothing extra came in between.
    let end = published(&client, &nodes[2], "orders", "end").await;
    sent.push((end, "end".to_owned()));

    for listener in [&mut on_a, &mut on_b] {
        let received = listener.take(sent.len()).await;
        assert_eq!(received, sent, "same events, same ids, same order");
    }
    let ids: Vec<GlobalId> = sent.iter().map(|(id, _)| id.parse().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "global ids increase: {ids:?}"
    );
}

#[actix_rt::test]
async fn a_client_resumes_on_another_node_after_its_node_dies() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let mut a = Node::start(&redis.url());
    let b = Node::start(&redis.url());
    let client = client();
    let mut listener = Listener::open(&client, &a.events_url("feed"), None).await;

    let mut sent = Vec::new();
    for n in 0..10 {
        let data = format!("before {n}");
        sent.push((published(&client, &b, "feed", &data).await, data));
    }
    let seen = listener.take(5).await;
    assert_eq!(seen, sent[..5]);
    let last_seen = seen[4].0.clone();

    a.kill();
    drop(listener);
    for n in 0..10 {
        let data = format!("after {n}");
        sent.push((published(&client, &b, "feed", &data).await, data));
    }

    // B never served this client: it replays from Redis what A did not
    // deliver, then goes on live.
    let mut resumed = Listener::open(&client, &b.events_url("feed"), Some(&last_seen)).await;
    let missed = resumed.take(15).await;
    assert_eq!(missed, sent[5..], "exactly the events after Last-Event-ID");
    let end = published(&client, &b, "feed", "end").await;
    assert_eq!(resumed.take(1).await, [(end, "end".to_owned())]);
}

/// Redis runs with `appendonly yes` and `appendfsync always`, so every
/// acknowledged publish survives its restart; publishes while it is down
/// are refused with 503 (not queued), so nothing can be lost silently.
#[actix_rt::test]
async fn a_redis_restart_loses_and_repeats_nothing() {
    let Some(mut redis) = Redis::start(true) else {
        return;
    };
    let a = Node::start(&redis.url());
    let b = Node::start(&redis.url());
    let client = client();
    let mut listener = Listener::open(&client, &a.events_url("ticks"), None).await;

    let mut sent = Vec::new();
    for n in 0..5 {
        let data = format!("tick {n}");
        sent.push((published(&client, &b, "ticks", &data).await, data));
    }
    assert_eq!(listener.take(5).await, sent);

    redis.kill();
    let (status, _) = publish(&client, &b, "ticks", "while down").await;
    assert_eq!(status, 503, "publishing without Redis is refused");
    redis.restart();

    // The node reconnects by itself; until it has, publishing still fails.
    let deadline = std::time::Instant::now() + GUARD;
    let first_after = loop {
        match publish(&client, &b, "ticks", "tick 5").await {
            (200, Some(id)) => break id,
            (503, _) if std::time::Instant::now() < deadline => {
                actix_rt::time::sleep(std::time::Duration::from_millis(50)).await
            }
            other => panic!("publishing after the restart: {other:?}"),
        }
    };
    sent.push((first_after, "tick 5".to_owned()));
    for n in 6..10 {
        let data = format!("tick {n}");
        sent.push((published(&client, &b, "ticks", &data).await, data));
    }
    // The subscriber stayed connected to A all along.
    assert_eq!(listener.take(5).await, sent[5..]);
}
