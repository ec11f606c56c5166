//! `sse hub --subscriptions`: Mercure's active subscriptions. Each
//! subscription's opening and end is a private update to
//! `/.well-known/mercure/subscriptions/{topic}/{subscriber}`, and
//! `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]` lists
//! the open ones, for tokens allowed to see them.

mod support;

use serde_json::{Value, json};
use sse_testkit::jwt::{SECRET, mint, now, publisher, subscriber};
use sse_testkit::{EventClient, client, until};
use support::hub_process::Hub;

/// The topic selector matching every subscription update.
const EVERY_SUBSCRIPTION: &str = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";

fn hub(extra: &[&str]) -> Hub {
    let mut args = vec!["--jwt-key", SECRET, "--anonymous"];
    args.extend_from_slice(extra);
    Hub::start(&args)
}

fn query(selectors: &[&str]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for selector in selectors {
        query.append_pair("topic", selector);
    }
    format!("/.well-known/mercure?{}", query.finish())
}

fn encoded(text: &str) -> String {
    // RFC 6570 simple expansion: only the unreserved characters stay.
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

async fn subscribe(hub: &Hub, selectors: &[&str], token: Option<&str>) -> EventClient {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<_> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    EventClient::open_with(&hub.url(&query(selectors)), &headers).await
}

async fn publish(hub: &Hub, topic: &str, data: &str) -> String {
    let mut response = client()
        .post(hub.url("/.well-known/mercure"))
        .bearer_auth(publisher(&["*"]))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(format!("topic={topic}&data={data}"))
        .await
        .expect("publish");
    assert_eq!(response.status(), 200);
    String::from_utf8(response.body().await.unwrap().to_vec()).unwrap()
}

/// The next subscription update `watcher` gets about a selector other than
/// those in `skip` (its own subscription's, say).
async fn next_update(watcher: &mut EventClient, skip: &[&str]) -> Value {
    loop {
        let event = watcher.next_event().await.expect("the stream goes on");
        let update: Value = serde_json::from_str(&event.data).expect("a JSON-LD document");
        if !skip.contains(&update["topic"].as_str().unwrap()) {
            assert_eq!(
                event.id.as_deref().map(|id| id.starts_with("urn:uuid:")),
                Some(true)
            );
            return update;
        }
    }
}

/// GET `path` with `token`: the status and the body as JSON (or text).
async fn get(hub: &Hub, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client().get(hub.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut response = request.send().await.expect("request");
    let status = response.status().as_u16();
    if status == 200 {
        let content_type = response.headers().get("content-type").unwrap();
        assert_eq!(content_type, "application/ld+json");
    }
    let body = response.body().await.unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}

#[actix_web::test]
async fn a_subscription_opening_and_ending_is_published_privately_with_its_payload() {
    let hub = hub(&["--subscriptions"]);
    let watching = subscriber(&[EVERY_SUBSCRIPTION]);
    let mut watcher = subscribe(&hub, &[EVERY_SUBSCRIPTION], Some(&watching)).await;
    let mut anonymous = subscribe(&hub, &[EVERY_SUBSCRIPTION, "m"], None).await;
    let own = [EVERY_SUBSCRIPTION, "m"];

    let alice = mint(&json!({ "mercure": {
        "subscribe": ["https://example.com/books/1"],
        "payload": { "user": "alice" },
    } }));
    let books = "https://example.com/books/{id}";
    let client = subscribe(
        &hub,
        &[books, "https://example.com/authors/1"],
        Some(&alice),
    )
    .await;
    let opened = [
        next_update(&mut watcher, &own).await,
        next_update(&mut watcher, &own).await,
    ];
    let id = opened[0]["subscriber"].as_str().unwrap().to_owned();
    assert!(id.starts_with("urn:uuid:"), "{id}");
    for (update, selector) in opened.iter().zip([books, "https://example.com/authors/1"]) {
        let topic = format!(
            "/.well-known/mercure/subscriptions/{}/{}",
            encoded(selector),
            encoded(&id)
        );
        assert_eq!(
            *update,
            json!({
                "@context": "https://mercure.rocks/",
                "id": topic,
                "type": "Subscription",
                "topic": selector,
                "subscriber": id,
                "active": true,
                "payload": { "user": "alice" },
            })
        );
    }

    // The connection goes away: its end follows, one update per selector.
    drop(client);
    for selector in [books, "https://example.com/authors/1"] {
        let ended = next_update(&mut watcher, &own).await;
        assert_eq!(
            (&ended["topic"], &ended["subscriber"], &ended["active"]),
            (&json!(selector), &json!(id), &json!(false)),
            "{ended}"
        );
        assert_eq!(ended["payload"], json!({ "user": "alice" }));
    }

    // Private: an anonymous subscriber to the same topics got none of it.
    publish(&hub, "m", "marker").await;
    let first = anonymous.next_event().await.unwrap();
    assert_eq!(first.data, "marker");
}

#[actix_web::test]
async fn the_listing_shows_open_subscriptions_by_topic_and_subscriber_until_they_end() {
    let hub = hub(&["--subscriptions"]);
    let all = subscriber(&["*"]);
    let (status, empty) = get(&hub, "/.well-known/mercure/subscriptions", Some(&all)).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        empty,
        json!({
            "@context": "https://mercure.rocks/",
            "id": "/.well-known/mercure/subscriptions",
            "type": "Subscriptions",
            "lastEventID": "earliest",
            "subscriptions": [],
        })
    );

    let alice = mint(&json!({ "mercure": { "subscribe": [], "payload": { "user": "alice" } } }));
    let first = subscribe(&hub, &["a", "b"], Some(&alice)).await;
    let _second = subscribe(&hub, &["a"], None).await;
    let last = publish(&hub, "elsewhere", "x").await;

    let (_, listed) = get(&hub, "/.well-known/mercure/subscriptions", Some(&all)).await;
    assert_eq!(listed["lastEventID"], json!(last), "{listed}");
    let subscriptions = listed["subscriptions"].as_array().unwrap();
    assert_eq!(subscriptions.len(), 3, "{listed}");
    assert!(subscriptions.iter().all(|s| s["active"] == json!(true)));
    let alices: Vec<_> = subscriptions
        .iter()
        .filter(|s| s["payload"] == json!({ "user": "alice" }))
        .collect();
    assert_eq!(alices.len(), 2, "{listed}");
    let alice_id = alices[0]["subscriber"].as_str().unwrap().to_owned();

    let on_a = format!("/.well-known/mercure/subscriptions/{}", encoded("a"));
    let (_, by_topic) = get(&hub, &on_a, Some(&all)).await;
    assert_eq!(by_topic["id"], json!(on_a));
    let topics: Vec<_> = by_topic["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["a", "a"], "{by_topic}");

    let one = format!(
        "/.well-known/mercure/subscriptions/{}/{}",
        encoded("b"),
        encoded(&alice_id)
    );
    let (status, document) = get(&hub, &one, Some(&all)).await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(
        document,
        json!({
            "@context": "https://mercure.rocks/",
            "id": one,
            "type": "Subscription",
            "topic": "b",
            "subscriber": alice_id,
            "active": true,
            "payload": { "user": "alice" },
            "lastEventID": last,
        })
    );
    let unknown = format!("{}/{}", on_a, encoded("urn:uuid:nobody"));
    assert_eq!(get(&hub, &unknown, Some(&all)).await.0, 404);

    // Once it ends, nothing of it is kept.
    drop(first);
    until("alice's subscriptions end", async || {
        get(&hub, &one, Some(&all)).await.0 == 404
    })
    .await;
    let (_, listed) = get(&hub, "/.well-known/mercure/subscriptions", Some(&all)).await;
    assert_eq!(
        listed["subscriptions"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
}

#[actix_web::test]
async fn the_listing_needs_a_token_whose_subscribe_claims_match_it_claim_by_claim() {
    let hub = hub(&["--subscriptions"]);
    let _open = subscribe(&hub, &["a"], None).await;
    let collection = "/.well-known/mercure/subscriptions";
    let on_a = format!("{collection}/a");

    let (status, body) = get(&hub, collection, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(get(&hub, collection, Some("not-a-jwt")).await.0, 401);
    let elsewhere = subscriber(&["https://example.com/{id}"]);
    let (status, body) = get(&hub, collection, Some(&elsewhere)).await;
    assert_eq!(status, 403, "{body}");

    // The template of subscription updates covers single subscriptions, not
    // the collections.
    let updates_only = subscriber(&[EVERY_SUBSCRIPTION]);
    assert_eq!(get(&hub, collection, Some(&updates_only)).await.0, 403);
    assert_eq!(get(&hub, &on_a, Some(&updates_only)).await.0, 403);

    // A collection's URL admits the request; each subscription listed needs
    // its own topic matched too.
    let url_only = subscriber(&[&on_a]);
    let (status, listed) = get(&hub, &on_a, Some(&url_only)).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["subscriptions"], json!([]));
    let with_items = subscriber(&[&on_a, "/.well-known/mercure/subscriptions/a/{subscriber}"]);
    let (_, listed) = get(&hub, &on_a, Some(&with_items)).await;
    assert_eq!(
        listed["subscriptions"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    let id = listed["subscriptions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = get(&hub, &id, Some(&updates_only)).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn subscriptions_are_published_and_listed_only_with_the_flag() {
    let everything = subscriber(&["*"]);
    for flag in [true, false] {
        let hub = hub(if flag { &["--subscriptions"] } else { &[] });
        let mut watcher = subscribe(&hub, &["*"], Some(&everything)).await;
        drop(subscribe(&hub, &["a"], None).await);
        publish(&hub, "m", "marker").await;
        let mut seen = Vec::new();
        loop {
            let event = watcher.next_event().await.unwrap();
            if event.data == "marker" {
                break;
            }
            let update: Value = serde_json::from_str(&event.data).unwrap();
            seen.push(update["topic"].as_str().unwrap().to_owned());
        }
        let (status, _) = get(
            &hub,
            "/.well-known/mercure/subscriptions",
            Some(&everything),
        )
        .await;
        if flag {
            // The watcher's own opening, then the other's (its end may follow the marker).
            assert_eq!(seen[..2], ["*", "a"], "{seen:?}");
            assert_eq!(status, 200);
        } else {
            assert!(seen.is_empty(), "{seen:?}");
            assert_eq!(status, 404);
        }
    }
}

#[actix_web::test]
async fn a_subscription_ended_by_its_token_expiring_publishes_its_end() {
    let hub = hub(&["--subscriptions"]);
    let watching = subscriber(&[EVERY_SUBSCRIPTION]);
    let mut watcher = subscribe(&hub, &[EVERY_SUBSCRIPTION], Some(&watching)).await;
    let own = [EVERY_SUBSCRIPTION];
    let short = mint(&json!({ "exp": now() + 2, "mercure": { "subscribe": ["t"] } }));
    // Kept open by the client: only the expiry ends it.
    let _client = subscribe(&hub, &["t"], Some(&short)).await;
    let opened = next_update(&mut watcher, &own).await;
    assert_eq!(
        (&opened["topic"], &opened["active"]),
        (&json!("t"), &json!(true))
    );
    let ended = next_update(&mut watcher, &own).await;
    assert_eq!(
        (&ended["topic"], &ended["active"]),
        (&json!("t"), &json!(false))
    );
    assert_eq!(ended["subscriber"], opened["subscriber"]);
}
