//! Mercure's active subscriptions in a cluster (`--redis --subscriptions`):
//! the updates about a subscription opened on one node reach the watchers
//! of another (they are private updates on the shared log like any), and
//! every node lists every node's subscriptions (from Redis).

mod cluster_support;

use serde_json::{Value, json};
use sse_hub::{HubConfig, JwtKey};
use sse_redis::RedisOptions;
use sse_testkit::jwt::{SECRET, subscriber};

use cluster_support::{Listener, Node, Redis, client};

/// The topic selector matching every subscription update.
const EVERY_SUBSCRIPTION: &str = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";

fn node(redis: &Redis) -> Node {
    let key = JwtKey::new("HS256", SECRET.as_bytes()).unwrap();
    let config = HubConfig {
        subscribe_jwt: Some(key.clone()),
        publish_jwt: Some(key),
        mercure_subscriptions: true,
        ..HubConfig::default()
    };
    Node::start_hub(&redis.url(), RedisOptions::default(), config)
}

/// A subscription on `node` to `selector` with `token` (in the query).
async fn subscribe(node: &Node, selector: &str, token: &str) -> Listener {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("topic", selector)
        .append_pair("authorization", token)
        .finish();
    Listener::open(
        &client(),
        &node.url(&format!("/.well-known/mercure?{query}")),
        None,
    )
    .await
}

async fn next_update(watcher: &mut Listener) -> Value {
    serde_json::from_str(&watcher.next().await.data).expect("a JSON-LD document")
}

/// The listing at `path` on `node`, by `token`.
async fn listing(node: &Node, path: &str, token: &str) -> (u16, Value) {
    let mut response = client()
        .get(node.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("listing");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The (selector, subscriber) pairs `node` lists, sorted.
async fn listed(node: &Node, token: &str) -> Vec<(String, String)> {
    let (status, body) = listing(node, "/.well-known/mercure/subscriptions", token).await;
    assert_eq!(status, 200, "{body}");
    let mut pairs: Vec<_> = body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let pair = (s["topic"].as_str(), s["subscriber"].as_str());
            (pair.0.unwrap().to_owned(), pair.1.unwrap().to_owned())
        })
        .collect();
    pairs.sort();
    pairs
}

fn pair(update: &Value) -> (String, String) {
    let text = |field: &str| update[field].as_str().unwrap().to_owned();
    (text("topic"), text("subscriber"))
}

#[actix_web::test]
async fn a_subscription_on_one_node_is_seen_arriving_and_leaving_and_listed_on_every_node() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let watching = subscriber(&["*"]);
    let mut watcher = subscribe(&a, EVERY_SUBSCRIPTION, &watching).await;
    let own = next_update(&mut watcher).await;
    assert_eq!(own["topic"], json!(EVERY_SUBSCRIPTION), "{own}");

    let other = subscribe(&b, "t", &subscriber(&["t"])).await;
    let arrived = next_update(&mut watcher).await;
    assert_eq!(
        (&arrived["topic"], &arrived["active"]),
        (&json!("t"), &json!(true))
    );
    let mut both = vec![pair(&own), pair(&arrived)];
    both.sort();
    assert_eq!(listed(&a, &watching).await, both);
    assert_eq!(listed(&b, &watching).await, both);

    // One subscription, by its topic, on the node that does not hold it.
    let path = arrived["id"].as_str().unwrap();
    let (status, one) = listing(&a, path, &watching).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(
        (&one["type"], &one["subscriber"], &one["active"]),
        (&json!("Subscription"), &arrived["subscriber"], &json!(true))
    );
    // A token allowed only `t`'s subscriptions sees only those, on either node.
    let only_t = subscriber(&["/.well-known/mercure/subscriptions/t{/subscriber}"]);
    let (status, by_topic) = listing(&b, "/.well-known/mercure/subscriptions/t", &only_t).await;
    assert_eq!(status, 200, "{by_topic}");
    assert_eq!(by_topic["subscriptions"].as_array().unwrap().len(), 1);
    assert_eq!(
        by_topic["subscriptions"][0]["subscriber"],
        arrived["subscriber"]
    );

    drop(other);
    let left = next_update(&mut watcher).await;
    assert_eq!(
        (&left["topic"], &left["active"]),
        (&json!("t"), &json!(false))
    );
    assert_eq!(left["subscriber"], arrived["subscriber"]);
    // Unlisted before its end was published: gone from every node's listing.
    assert_eq!(listed(&a, &watching).await, [pair(&own)]);
    assert_eq!(listed(&b, &watching).await, [pair(&own)]);
    assert_eq!(listing(&a, path, &watching).await.0, 404);
}

#[actix_web::test]
async fn each_node_keeps_its_subscriptions_in_one_expiring_redis_hash() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let _on_a = subscribe(&a, "t", &subscriber(&["t"])).await;
    let _on_b = subscribe(&b, "u", &subscriber(&["u"])).await;
    let _also_on_b = subscribe(&b, "v", &subscriber(&["v"])).await;
    assert_eq!(redis.integer(&["ZCARD", "sse-mercure-nodes"]), 2);
    // Over the nodes' hashes: `what` of each (`HLEN`, expiring within 30 s), summed.
    let over_nodes = |what: &str| {
        let script = format!(
            "local n = 0 for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do {what} end return n"
        );
        redis.integer(&["EVAL", &script, "1", "sse-mercure-nodes"])
    };
    assert_eq!(over_nodes("n = n + redis.call('HLEN', key)"), 3);
    assert_eq!(
        over_nodes("n = math.max(n, redis.call('HLEN', key))"),
        2,
        "one node's two"
    );
    let expiring =
        "local ttl = redis.call('PTTL', key) if ttl > 0 and ttl <= 30000 then n = n + 1 end";
    assert_eq!(over_nodes(expiring), 2);
}

#[actix_web::test]
async fn the_listing_answers_503_while_redis_cannot_be_read() {
    let Some(mut redis) = Redis::start(false) else {
        return;
    };
    let a = node(&redis);
    let watching = subscriber(&["*"]);
    let _open = subscribe(&a, "t", &subscriber(&["t"])).await;
    assert_eq!(listed(&a, &watching).await.len(), 1);
    redis.kill();
    let (status, body) = listing(&a, "/.well-known/mercure/subscriptions", &watching).await;
    assert_eq!(status, 503, "{body}");
}
