//! A real browser's `EventSource` as a Mercure subscriber: it subscribes
//! with a URI template at `/.well-known/mercure`, receives a form-published
//! public update and, through its `mercureAuthorization` cookie, a private
//! one, and after the server goes away resumes exactly after the last
//! update it got.

mod interop_support;

use interop_support::Harness;
use interop_support::browser::Browser;
use serde_json::json;
use sse_actors::{Event, Topics};
use sse_hub::{HubConfig, JwtKey};
use sse_testkit::EventClient;
use sse_testkit::event_page;
use sse_testkit::jwt::{SECRET, publisher, subscriber};
use sse_tests::{Peer, peer};

/// Sets the cookie from `?token=`, subscribes to every book and follows
/// the updates (see [`event_page`]).
fn page() -> &'static str {
    event_page(
        "Mercure subscriber",
        r#"
document.cookie = "mercureAuthorization=" + params.get("token") + "; path=/";
const url = new URL("/.well-known/mercure", location);
url.searchParams.append("topic", "https://example.com/books/{id}");
follow(new EventSource(url), (event) => ({ data: event.data, id: event.lastEventId }));
"#,
    )
}

/// Publishes a form update through the hub; answers its id.
async fn post(harness: &Harness, form: &str) -> String {
    let mut response = sse_testkit::client()
        .post(harness.url("/.well-known/mercure"))
        .bearer_auth(publisher(&["*"]))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(form.to_owned())
        .await
        .expect("publish");
    assert_eq!(response.status(), 200);
    String::from_utf8(response.body().await.unwrap().to_vec()).unwrap()
}

#[actix_web::test]
async fn eventsource_gets_public_and_private_updates_and_resumes_after_a_cut() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let key = JwtKey::new("HS256", SECRET.as_bytes()).unwrap();
    let config = HubConfig {
        subscribe_jwt: Some(key.clone()),
        publish_jwt: Some(key),
        ..HubConfig::default()
    };
    let mut harness = Harness::start_configured(vec![("/test/mercure.html", page())], config).await;
    let subscriber = subscriber(&["https://example.com/books/2"]);
    let page = format!("/test/mercure.html?count=3&token={subscriber}");
    let _browser = Browser::open(&chromium, &harness.url(&page));
    harness.report("open").await;

    let public = post(&harness, "topic=https://example.com/books/1&data=public").await;
    post(
        &harness,
        "topic=https://example.com/authors/1&data=not%20selected",
    )
    .await;
    post(
        &harness,
        "topic=https://example.com/books/3&data=not%20allowed&private=on",
    )
    .await;
    let private = post(
        &harness,
        "topic=https://example.com/books/2&data=private&private=on",
    )
    .await;
    for _ in 0..2 {
        harness.report("event").await;
    }
    // The server goes away with the connection; updates go on.
    harness.kill().await;
    harness.subscribers(sse_hub::mercure::STREAM, 0).await;
    harness
        .server
        .publish_tagged(
            sse_hub::mercure::STREAM,
            Event::data("missed").id("missed-1"),
            Topics::new(["https://example.com/books/4"]),
        )
        .await
        .unwrap();
    harness.restart();

    let done = harness.report("done").await;
    assert_eq!(
        done["events"],
        json!([
            { "data": "public", "id": public },
            { "data": "private", "id": private },
            { "data": "missed", "id": "missed-1" },
        ]),
        "{done}"
    );
    assert_eq!(done["opens"], 2, "one reconnect");
    let ids = harness.last_event_ids.lock().unwrap().clone();
    assert_eq!(
        ids,
        [None, Some(private)],
        "resumed after the last update it got"
    );
}

/// Sets the cookie from `?token=` and follows every subscription update
/// (see [`event_page`]).
fn presence_page() -> &'static str {
    event_page(
        "Mercure presence",
        r#"
document.cookie = "mercureAuthorization=" + params.get("token") + "; path=/";
const url = new URL("/.well-known/mercure", location);
url.searchParams.append("topic", "/.well-known/mercure/subscriptions/{topic}/{subscriber}");
follow(new EventSource(url), (event) => {
  const update = JSON.parse(event.data);
  return { topic: update.topic, subscriber: update.subscriber, active: update.active };
});
"#,
    )
}

#[actix_web::test]
async fn eventsource_sees_another_subscriber_arrive_and_leave() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let key = JwtKey::new("HS256", SECRET.as_bytes()).unwrap();
    let config = HubConfig {
        subscribe_jwt: Some(key.clone()),
        publish_jwt: Some(key),
        mercure_subscriptions: true,
        ..HubConfig::default()
    };
    let mut harness =
        Harness::start_configured(vec![("/test/presence.html", presence_page())], config).await;
    let watcher = subscriber(&["/.well-known/mercure/subscriptions/{topic}/{subscriber}"]);
    let page = format!("/test/presence.html?count=3&token={watcher}");
    let _browser = Browser::open(&chromium, &harness.url(&page));
    harness.report("open").await;
    // Its own subscription's opening.
    harness.report("event").await;

    let book = "https://example.com/books/1";
    let other = subscriber(&[book]);
    let url = harness.url(&format!("/.well-known/mercure?topic={}", encoded(book)));
    let client =
        EventClient::open_with(&url, &[("authorization", &format!("Bearer {other}"))]).await;
    harness.report("event").await;
    drop(client);

    let done = harness.report("done").await;
    let events = done["events"].as_array().unwrap();
    assert_eq!(events[0]["active"], json!(true), "{done}");
    assert_eq!(
        events[0]["topic"],
        json!("/.well-known/mercure/subscriptions/{topic}/{subscriber}")
    );
    let arrived = &events[1];
    assert_eq!(
        (&arrived["topic"], &arrived["active"]),
        (&json!(book), &json!(true)),
        "{done}"
    );
    let left = &events[2];
    assert_eq!(
        (&left["topic"], &left["active"]),
        (&json!(book), &json!(false)),
        "{done}"
    );
    assert_eq!(left["subscriber"], arrived["subscriber"]);
    assert_ne!(arrived["subscriber"], events[0]["subscriber"]);
}

fn encoded(topic: &str) -> String {
    topic
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
