//! Mercure's active subscriptions in a cluster (`--redis --subscriptions`):
//! the updates about a subscription opened on one node reach the watchers
//! of another (they are private updates on the shared log like any), while
//! each node lists only its own subscriptions.

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

/// The selectors of the subscriptions `node` lists.
async fn listed(node: &Node, token: &str) -> Vec<String> {
    let mut response = client()
        .get(node.url("/.well-known/mercure/subscriptions"))
        .bearer_auth(token)
        .send()
        .await
        .expect("listing");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("a JSON-LD document");
    body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["topic"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_subscription_on_one_node_is_seen_arriving_and_leaving_on_another_which_lists_its_own() {
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
    assert_eq!(listed(&a, &watching).await, [EVERY_SUBSCRIPTION]);
    assert_eq!(listed(&b, &watching).await, ["t"]);

    drop(other);
    let left = next_update(&mut watcher).await;
    assert_eq!(
        (&left["topic"], &left["active"]),
        (&json!("t"), &json!(false))
    );
    assert_eq!(left["subscriber"], arrived["subscriber"]);
}
