//! Event ids in a cluster follow the single-node rules: a publisher's own id
//! is the wire id and resumes on any node, an id Redis no longer holds is a
//! visible gap, and a repeated own id is stored once. What Redis keeps for
//! the ids is trimmed with the stream.

mod cluster_support;

use serde_json::json;
use sse_actors::GlobalId;
use sse_redis::RedisOptions;

use cluster_support::{Listener, Node, Redis, client, publish_json};

/// Publishes `event` and insists it was accepted; answers the hub's answer.
async fn accepted(
    client: &awc::Client,
    node: &Node,
    stream: &str,
    event: serde_json::Value,
) -> serde_json::Value {
    let (status, answer) = publish_json(client, node, stream, event.clone()).await;
    assert_eq!(status, 200, "publishing {event} answered {answer}");
    answer
}

/// A node keeping `max_len` events per stream in Redis.
fn node_keeping(redis: &Redis, max_len: usize) -> Node {
    let mut options = RedisOptions::default();
    options.max_len = max_len;
    Node::start_with(&redis.url(), options)
}

#[actix_rt::test]
async fn a_publishers_own_id_is_the_wire_id_and_resumes_on_any_node() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = (Node::start(&redis.url()), Node::start(&redis.url()));
    let client = client();
    let mut on_a = Listener::open(&client, &a.events_url("orders"), None).await;

    let first = accepted(
        &client,
        &b,
        "orders",
        json!({"id": "order-1", "data": "one"}),
    )
    .await;
    assert_eq!(first["id"], "order-1", "the answer names the own id");
    let second = accepted(&client, &b, "orders", json!({"data": "two"})).await;
    let generated = second["id"].as_str().unwrap().to_owned();
    assert!(
        generated.parse::<GlobalId>().is_ok(),
        "without an own id the Redis id is the wire id: {generated}"
    );
    accepted(
        &client,
        &a,
        "orders",
        json!({"id": "order-3", "data": "three"}),
    )
    .await;

    let sent = [
        ("order-1".to_owned(), "one".to_owned()),
        (generated.clone(), "two".to_owned()),
        ("order-3".to_owned(), "three".to_owned()),
    ];
    assert_eq!(on_a.take(3).await, sent, "own ids on the wire");

    // A client that saw order-1 on A resumes on B by that id, and one that
    // saw the generated id resumes on A by it.
    let mut on_b = Listener::open(&client, &b.events_url("orders"), Some("order-1")).await;
    assert_eq!(on_b.take(2).await, sent[1..]);
    let mut again = Listener::open(&client, &a.events_url("orders"), Some(&generated)).await;
    assert_eq!(again.take(1).await, sent[2..]);
}

#[actix_rt::test]
async fn an_own_id_of_the_redis_id_form_is_refused() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let node = Node::start(&redis.url());
    let (status, answer) = publish_json(
        &client(),
        &node,
        "orders",
        json!({"id": "1700000000000-0", "data": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("MILLIS-SEQ"),
        "the reason is given: {answer}"
    );
}

#[actix_rt::test]
async fn a_resume_from_an_id_redis_no_longer_holds_sees_the_gap_event_first() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = (node_keeping(&redis, 3), node_keeping(&redis, 3));
    let client = client();
    let mut generated = None;
    for n in 1..=5 {
        let event = match n {
            1 => json!({"data": "e1"}),
            n => json!({"id": format!("e{n}"), "data": format!("e{n}")}),
        };
        let answer = accepted(&client, &a, "feed", event).await;
        generated.get_or_insert(answer["id"].as_str().unwrap().to_owned());
    }
    let held = [("e3", "e3"), ("e4", "e4"), ("e5", "e5")]
        .map(|(id, data)| (id.to_owned(), data.to_owned()));

    // Trimmed: a generated id, an own id; never seen: an own id.
    for last_event_id in [generated.as_deref().unwrap(), "e2", "never-published"] {
        let mut on_b = Listener::open(&client, &b.events_url("feed"), Some(last_event_id)).await;
        let gap = on_b.next().await;
        assert_eq!(
            (gap.event.as_deref(), &gap.data[..], gap.id.as_deref()),
            (Some("sse-gap"), "e3", None),
            "resuming from {last_event_id:?}: the gap event names the first replayed"
        );
        assert_eq!(on_b.take(3).await, held, "then what Redis holds");
    }

    // A held id resumes without a gap.
    let mut on_b = Listener::open(&client, &b.events_url("feed"), Some("e3")).await;
    assert_eq!(on_b.take(2).await, held[1..]);
}

#[actix_rt::test]
async fn a_repeated_own_id_in_a_cluster_is_stored_once_and_answered_as_a_duplicate() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = (Node::start(&redis.url()), Node::start(&redis.url()));
    let client = client();
    let mut on_a = Listener::open(&client, &a.events_url("orders"), None).await;

    let first = accepted(
        &client,
        &a,
        "orders",
        json!({"id": "order-7", "data": "first"}),
    )
    .await;
    assert_eq!(first["duplicate"], false);
    // A publisher retrying on another node (after a timeout, say).
    let retry = accepted(
        &client,
        &b,
        "orders",
        json!({"id": "order-7", "data": "retry"}),
    )
    .await;
    assert_eq!(
        (&retry["id"], &retry["duplicate"]),
        (&json!("order-7"), &json!(true)),
        "the retry names the first event: {retry}"
    );
    accepted(&client, &b, "orders", json!({"id": "end", "data": "end"})).await;

    let received = on_a.take(2).await;
    assert_eq!(
        received,
        [("order-7", "first"), ("end", "end")].map(|(id, data)| (id.to_owned(), data.to_owned())),
        "the retry was not stored"
    );
    assert_eq!(redis.integer(&["XLEN", "sse:orders"]), 2);
}

#[actix_rt::test]
async fn the_own_id_map_in_redis_is_trimmed_with_the_stream() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let node = node_keeping(&redis, 4);
    let client = client();
    for n in 0..20 {
        let event = match n % 3 {
            0 => json!({"data": "no own id"}),
            _ => json!({"id": format!("id-{n}"), "data": "x"}),
        };
        accepted(&client, &node, "s", event).await;
    }
    assert_eq!(redis.integer(&["XLEN", "sse:s"]), 4, "entries kept exactly");
    // The last four are 16 (own id), 17 (own id), 18 (none), 19 (own id).
    assert_eq!(
        redis.integer(&["HLEN", "sse-id:s"]),
        3,
        "only held entries' ids"
    );
    assert_eq!(redis.integer(&["HEXISTS", "sse-id:s", "id-17"]), 1);
    assert_eq!(redis.integer(&["HEXISTS", "sse-id:s", "id-14"]), 0);
    assert_eq!(redis.integer(&["DBSIZE"]), 2, "one stream, one id map");
}
