//! Several streams on one connection in a cluster (`sse hub --redis`): a
//! client following three streams on one node resumes every one of them
//! exactly on another node after its node dies, each from its own
//! position in Redis, a stream that had sent it nothing included.

mod cluster_support;

use std::collections::BTreeMap;

use cluster_support::{Listener, Node, Redis, client, publish};

/// The data of each stream's events (`a3` is stream `a`), in arrival order.
fn by_stream(events: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut streams = BTreeMap::<String, Vec<String>>::new();
    for (_, data) in events {
        streams
            .entry(data[..1].to_owned())
            .or_default()
            .push(data.clone());
    }
    streams
}

async fn published(client: &awc::Client, node: &Node, stream: &str, data: &str) {
    let (status, _) = publish(client, node, stream, data).await;
    assert_eq!(status, 200, "publishing {data:?}");
}

#[actix_rt::test]
async fn a_multi_stream_client_resumes_every_stream_exactly_on_another_node() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let mut a = Node::start(&redis.url());
    let b = Node::start(&redis.url());
    let client = client();
    // `q` has history before the client connects; it publishes nothing
    // more until the client is gone.
    published(&client, &b, "q", "q0").await;

    let streams = "a&stream=b&stream=q";
    let mut listener = Listener::open(&client, &a.events_url(streams), None).await;
    for i in 1..=5 {
        published(&client, &b, "a", &format!("a{i}")).await;
        published(&client, &b, "b", &format!("b{i}")).await;
    }
    let before = listener.take(6).await;
    let last_id = before.last().unwrap().0.clone();
    assert!(
        last_id.starts_with("0.") || last_id.starts_with("1."),
        "the id names the event's stream: {last_id}"
    );

    a.kill();
    drop(listener);
    for i in 6..=7 {
        published(&client, &b, "a", &format!("a{i}")).await;
        published(&client, &b, "b", &format!("b{i}")).await;
    }
    published(&client, &b, "q", "q1").await;

    // B never served this client: one XRANGE per stream from the position
    // the id holds for it, then live.
    let mut resumed = Listener::open(&client, &b.events_url(streams), Some(&last_id)).await;
    let after = resumed.take(15 - before.len()).await;
    let mut all = before;
    all.extend(after);
    let want =
        |name: &str, to: u32| -> Vec<String> { (1..=to).map(|i| format!("{name}{i}")).collect() };
    assert_eq!(
        by_stream(&all),
        BTreeMap::from([
            ("a".to_owned(), want("a", 7)),
            ("b".to_owned(), want("b", 7)),
            ("q".to_owned(), want("q", 1)),
        ]),
        "every event once, in order per stream; q0 was before the client"
    );
    // Nothing else is owed: the next event is the next one published.
    published(&client, &b, "b", "b8").await;
    assert_eq!(resumed.take(1).await[0].1, "b8");
}
