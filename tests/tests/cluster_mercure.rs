//! The Mercure endpoint in a cluster: an update published on one node
//! reaches the subscribers of another whose selectors match it (exact,
//! URI template, `*`), private ones only with matching claims, and
//! reconciliation (`Last-Event-ID`, `lastEventID`, `earliest`, the gap
//! signal) works on any node, across topics, from what Redis holds.

mod cluster_support;

use sse_hub::{HubConfig, JwtKey};
use sse_redis::RedisOptions;
use sse_testkit::jwt::{SECRET, publisher, subscriber};

use cluster_support::{Listener, Node, Redis, client, publish as publish_event};

const PATH: &str = "/.well-known/mercure";
/// Every subscriber below also selects it: the update published last, after
/// which nothing more of what came before arrives.
const MARKER: &str = "urn:test:marker";

/// A hub node on `redis` checking JWTs, open to anonymous subscribers for
/// public updates.
fn node(redis: &Redis, options: RedisOptions) -> Node {
    let key = JwtKey::new("HS256", SECRET.as_bytes()).unwrap();
    let config = HubConfig {
        subscribe_jwt: Some(key.clone()),
        publish_jwt: Some(key),
        mercure_anonymous: true,
        ..HubConfig::default()
    };
    Node::start_hub(&redis.url(), options, config)
}

fn two_nodes(redis: &Redis) -> (Node, Node) {
    (
        node(redis, RedisOptions::default()),
        node(redis, RedisOptions::default()),
    )
}

/// The subscribe URL for `selectors` (and the marker), with `extra` query
/// pairs (`authorization`, `lastEventID`).
fn subscribe_url(node: &Node, selectors: &[&str], extra: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for selector in selectors.iter().chain([&MARKER]) {
        query.append_pair("topic", selector);
    }
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    node.url(&format!("{PATH}?{}", query.finish()))
}

/// Publishes `data` about `topics` on `node`; answers the update's id.
async fn publish(node: &Node, topics: &[&str], data: &str, private: bool) -> String {
    let mut form: Vec<(&str, &str)> = topics.iter().map(|topic| ("topic", *topic)).collect();
    form.push(("data", data));
    if private {
        form.push(("private", "on"));
    }
    let mut response = client()
        .post(node.url(PATH))
        .bearer_auth(publisher(&["*"]))
        .send_form(&form)
        .await
        .expect("publish request");
    let body = response.body().await.expect("publish answer");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(response.status().as_u16(), 200, "publishing {data}: {body}");
    body
}

/// The `(type, data)` of what `listener` gets before the marker.
async fn until_marker(listener: &mut Listener) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    loop {
        let event = listener.next().await;
        if event.data == "marker" {
            return seen;
        }
        let kind = event.event.as_deref().unwrap_or("message").to_owned();
        seen.push((kind, event.data.to_string()));
    }
}

/// The data of what `listener` gets before the marker (no gap signal).
async fn data_until_marker(listener: &mut Listener) -> Vec<String> {
    let seen = until_marker(listener).await;
    assert!(
        seen.iter().all(|(kind, _)| kind == "message"),
        "only updates: {seen:?}"
    );
    seen.into_iter().map(|(_, data)| data).collect()
}

#[actix_rt::test]
async fn an_update_published_on_one_node_reaches_the_matching_selectors_on_another() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = two_nodes(&redis);
    let client = client();
    let selectors: [&[&str]; 5] = [
        &["https://example.com/books/1"],
        &["https://example.com/books/{id}"],
        &["*"],
        &["raw string"],
        &[
            "https://example.com/authors/1",
            "https://example.com/{kind}/1/x",
        ],
    ];
    let mut listeners = Vec::new();
    for selectors in selectors {
        let url = subscribe_url(&b, selectors, &[]);
        listeners.push(Listener::open(&client, &url, None).await);
    }
    publish(&a, &["https://example.com/books/1"], "book 1", false).await;
    publish(&a, &["https://example.com/authors/2"], "author 2", false).await;
    publish(&a, &["raw string"], "raw", false).await;
    let both = ["https://example.com/books/2", "raw string"];
    publish(&a, &both, "book 2 and raw", false).await;
    publish(&a, &[MARKER], "marker", false).await;

    let expected: [&[&str]; 5] = [
        &["book 1"],
        &["book 1", "book 2 and raw"],
        &["book 1", "author 2", "raw", "book 2 and raw"],
        &["raw", "book 2 and raw"],
        &[],
    ];
    for ((listener, expected), selectors) in listeners.iter_mut().zip(expected).zip(selectors) {
        assert_eq!(data_until_marker(listener).await, expected, "{selectors:?}");
    }
}

#[actix_rt::test]
async fn a_private_update_crosses_nodes_only_to_subscribers_whose_claims_match() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = two_nodes(&redis);
    let client = client();
    let books = "https://example.com/books/{id}";
    let cases: [(Option<String>, &[&str]); 4] = [
        (None, &[]),
        (Some(subscriber(&[books])), &["private book 1"]),
        (
            Some(subscriber(&["https://example.com/books/1"])),
            &["private book 1"],
        ),
        (Some(subscriber(&["https://example.com/authors/1"])), &[]),
    ];
    let mut listeners = Vec::new();
    for (token, _) in &cases {
        let auth: Vec<(&str, &str)> = token
            .iter()
            .map(|t| ("authorization", t.as_str()))
            .collect();
        let url = subscribe_url(&b, &["*"], &auth);
        listeners.push(Listener::open(&client, &url, None).await);
    }
    publish(&a, &["https://example.com/books/1"], "private book 1", true).await;
    publish(&a, &["https://example.com/books/2"], "public book 2", false).await;
    publish(&a, &[MARKER], "marker", false).await;
    for (listener, (token, private)) in listeners.iter_mut().zip(&cases) {
        let mut expected = private.to_vec();
        expected.push("public book 2");
        assert_eq!(data_until_marker(listener).await, expected, "{token:?}");
    }
}

#[actix_rt::test]
async fn a_subscriber_resumes_on_another_node_after_an_update_of_any_topic() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = two_nodes(&redis);
    let client = client();
    let first = publish(&a, &["urn:a"], "a 1", false).await;
    let second = publish(&a, &["urn:b"], "b 1", false).await;
    publish(&a, &["urn:a"], "a 2", false).await;
    publish(&a, &["urn:b"], "b 2", false).await;
    publish(&a, &["urn:c"], "c 1", false).await;
    publish(&a, &[MARKER], "marker", false).await;

    let selects = ["urn:a", "urn:c"];
    // By the header, after an update it selects.
    let url = subscribe_url(&b, &selects, &[]);
    let mut by_header = Listener::open(&client, &url, Some(&first)).await;
    assert_eq!(data_until_marker(&mut by_header).await, ["a 2", "c 1"]);
    // By the query parameter, after one it does not select, on the node
    // that published too.
    for node in [&b, &a] {
        let url = subscribe_url(node, &selects, &[("lastEventID", &second)]);
        let mut by_query = Listener::open(&client, &url, None).await;
        assert_eq!(data_until_marker(&mut by_query).await, ["a 2", "c 1"]);
    }
}

#[actix_rt::test]
async fn earliest_on_another_node_replays_the_matching_updates_redis_holds() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = two_nodes(&redis);
    let client = client();
    publish(&a, &["urn:a"], "a 1", false).await;
    publish(&a, &["urn:b"], "b 1", false).await;
    publish(&a, &["urn:a"], "a secret", true).await;
    publish(&a, &["urn:a", "urn:b"], "a and b", false).await;
    publish(&a, &[MARKER], "marker", false).await;

    let url = subscribe_url(&b, &["urn:a"], &[("lastEventID", "earliest")]);
    let mut anonymous = Listener::open(&client, &url, None).await;
    assert_eq!(data_until_marker(&mut anonymous).await, ["a 1", "a and b"]);
    let token = subscriber(&["urn:a"]);
    let auth = [
        ("lastEventID", "earliest"),
        ("authorization", token.as_str()),
    ];
    let url = subscribe_url(&b, &["urn:a"], &auth);
    let mut allowed = Listener::open(&client, &url, None).await;
    assert_eq!(
        data_until_marker(&mut allowed).await,
        ["a 1", "a secret", "a and b"]
    );
}

#[actix_rt::test]
async fn an_update_redis_no_longer_holds_is_a_gap_on_another_node() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let keeping_three = || {
        let mut options = RedisOptions::default();
        options.max_len = 3;
        node(&redis, options)
    };
    let (a, b) = (keeping_three(), keeping_three());
    let client = client();
    let trimmed = publish(&a, &["urn:a"], "a 1", false).await;
    publish(&a, &["urn:a"], "a 2", false).await;
    publish(&a, &["urn:b"], "b 1", false).await;
    let held = publish(&a, &["urn:a"], "a 3", false).await;
    publish(&a, &[MARKER], "marker", false).await;

    let url = subscribe_url(&b, &["urn:a"], &[]);
    let mut resumed = Listener::open(&client, &url, Some(&trimmed)).await;
    let gap = ("sse-gap".to_owned(), held);
    let after = ("message".to_owned(), "a 3".to_owned());
    assert_eq!(
        until_marker(&mut resumed).await,
        [gap, after],
        "the gap names the first update replayed: the held one it selects"
    );
}

/// What Redis holds is the documented layout: an untagged event's entry is
/// its frame alone, as before topics existed; a tagged one adds its topics
/// (`LEN:TOPIC` each) and the private flag.
#[actix_rt::test]
async fn redis_holds_an_untagged_entry_as_before_and_a_tagged_one_with_its_topics() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    // Without keys anyone may publish, to /events as to Mercure.
    let a = Node::start(&redis.url());
    let (status, _) = publish_event(&client(), &a, "news", "plain").await;
    assert_eq!(status, 200);
    let form = [
        ("topic", "https://example.com/books/1"),
        ("topic", "a:b"),
        ("data", "x"),
        ("private", "on"),
    ];
    let mut response = client()
        .post(a.url(PATH))
        .send_form(&form)
        .await
        .expect("publish request");
    assert_eq!(response.status().as_u16(), 200);
    let id = response.body().await.expect("the update's id");
    let id = String::from_utf8(id.to_vec()).unwrap();
    let first_entry = "local e = redis.call('XRANGE', KEYS[1], '-', '+')[1][2] ";
    let untagged =
        format!("{first_entry} return (#e == 2 and e[1] == 'f' and e[2] == ARGV[1]) and 1 or 0");
    let frame = "data: plain\n\n";
    assert_eq!(
        redis.integer(&["EVAL", &untagged, "1", "sse:news", frame]),
        1
    );
    let tagged = format!(
        "{first_entry} return (#e == 8 and e[1] == 'f' and e[2] == ARGV[1] \
         and e[3] == 'u' and e[4] == ARGV[2] and e[5] == 't' and e[6] == ARGV[3] \
         and e[7] == 'p' and e[8] == '1') and 1 or 0"
    );
    let topics = "27:https://example.com/books/13:a:b";
    let key = format!("sse:{PATH}");
    let args = ["EVAL", &tagged, "1", &key, "data: x\n\n", &id, topics];
    assert_eq!(redis.integer(&args), 1, "f, u, t, p");
}
