//! `sse hub` as a Mercure hub: `/.well-known/mercure` subscribe and
//! publish, topic selectors, private updates, reconciliation and the JWT
//! rules, case by case, with our own client.

mod support;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use sse_testkit::jwt::{SECRET, mint, mint_with, now, publisher, subscriber};
use sse_testkit::{EventClient, client};
use support::hub_process::Hub;

/// A hub checking JWTs, letting anonymous subscribers see public updates.
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

/// Posts the form `fields` with `token`; the status and the body as text.
async fn post(hub: &Hub, token: Option<&str>, fields: &[(&str, &str)]) -> (u16, String) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let mut request = client()
        .post(hub.url("/.well-known/mercure"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut response = request.send_body(form.finish()).await.expect("request");
    let body = response.body().await.expect("body");
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Publishes `data` about `topics` (private if asked); answers its id.
async fn publish(hub: &Hub, topics: &[&str], data: &str, private: bool) -> String {
    let mut fields: Vec<_> = topics.iter().map(|topic| ("topic", *topic)).collect();
    fields.push(("data", data));
    if private {
        fields.push(("private", "on"));
    }
    let (status, id) = post(hub, Some(&publisher(&["*"])), &fields).await;
    assert_eq!(status, 200, "{id}");
    id
}

async fn subscribe(hub: &Hub, selectors: &[&str], token: Option<&str>) -> EventClient {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<_> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    EventClient::open_with(&hub.url(&query(selectors)), &headers).await
}

/// The data of the events `client` gets up to and including the marker
/// update published last about `marker_topic` (every subscriber below
/// selects it): what was not delivered before it never will be.
async fn until_marker(hub: &Hub, client: &mut EventClient, marker_topic: &str) -> Vec<String> {
    publish(hub, &[marker_topic], "marker", false).await;
    let mut seen = Vec::new();
    loop {
        let event = client.next_event().await.expect("the stream goes on");
        if event.data == "marker" {
            return seen;
        }
        seen.push(event.data.to_string());
    }
}

async fn status_of(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = request.send().await.expect("request");
    let body = response.body().await.unwrap_or_default();
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_web::test]
async fn selectors_match_raw_strings_uris_and_uri_templates_each_update_once() {
    let hub = hub(&[]);
    let book = "https://example.com/books/1";
    let template = "https://example.com/books/{id}";
    let mut raw = subscribe(&hub, &["a raw string", "m"], None).await;
    let mut uri = subscribe(&hub, &[book, "m"], None).await;
    let mut templated = subscribe(&hub, &[template, "m"], None).await;
    // Two selectors matching one update: delivered once.
    let mut several = subscribe(&hub, &[book, template, "other", "m"], None).await;
    let mut everything = subscribe(&hub, &["*"], None).await;

    publish(&hub, &["a raw string"], "raw", false).await;
    publish(&hub, &["a raw strin"], "near miss", false).await;
    publish(&hub, &[book], "book 1", false).await;
    publish(&hub, &["https://example.com/books/12"], "book 12", false).await;
    publish(&hub, &["https://example.com/authors/1"], "author", false).await;
    // One update about several topics.
    publish(
        &hub,
        &["other", "https://example.com/books/2"],
        "two topics",
        false,
    )
    .await;

    assert_eq!(until_marker(&hub, &mut raw, "m").await, ["raw"]);
    assert_eq!(until_marker(&hub, &mut uri, "m").await, ["book 1"]);
    assert_eq!(
        until_marker(&hub, &mut templated, "m").await,
        ["book 1", "book 12", "two topics"]
    );
    assert_eq!(
        until_marker(&hub, &mut several, "m").await,
        ["book 1", "book 12", "two topics"]
    );
    let all = until_marker(&hub, &mut everything, "m").await;
    assert_eq!(
        all,
        [
            "raw",
            "near miss",
            "book 1",
            "book 12",
            "author",
            "two topics"
        ],
        "`*` gets every public update"
    );
}

#[actix_web::test]
async fn private_updates_reach_only_subscribers_whose_claims_match_a_topic() {
    let hub = hub(&[]);
    let book = "https://example.com/books/1";
    let selectors = ["a raw string", book, "m"];
    let mut anonymous = subscribe(&hub, &selectors, None).await;
    let exact = subscriber(&["a raw string", book]);
    let mut by_exact = subscribe(&hub, &selectors, Some(&exact)).await;
    let templated = subscriber(&["https://example.com/books/{id}"]);
    let mut by_template = subscribe(&hub, &selectors, Some(&templated)).await;
    let other = subscriber(&["https://example.com/authors/{id}"]);
    let mut not_allowed = subscribe(&hub, &selectors, Some(&other)).await;

    publish(&hub, &["a raw string"], "private string", true).await;
    publish(&hub, &[book], "private uri", true).await;
    publish(&hub, &[book], "public", false).await;

    assert_eq!(until_marker(&hub, &mut anonymous, "m").await, ["public"]);
    assert_eq!(
        until_marker(&hub, &mut by_exact, "m").await,
        ["private string", "private uri", "public"]
    );
    assert_eq!(
        until_marker(&hub, &mut by_template, "m").await,
        ["private uri", "public"]
    );
    assert_eq!(until_marker(&hub, &mut not_allowed, "m").await, ["public"]);
}

#[actix_web::test]
async fn a_private_update_is_selected_by_one_topic_and_allowed_by_another() {
    let hub = hub(&[]);
    let token = subscriber(&["https://example.com/users/dunglas"]);
    let mut client = subscribe(&hub, &["https://example.com/books/{id}", "m"], Some(&token)).await;
    let topics = [
        "https://example.com/books/1",
        "https://example.com/users/dunglas",
    ];
    publish(&hub, &topics, "for dunglas", true).await;
    publish(
        &hub,
        &["https://example.com/books/1"],
        "for someone else",
        true,
    )
    .await;
    assert_eq!(until_marker(&hub, &mut client, "m").await, ["for dunglas"]);
}

#[actix_web::test]
async fn reconciliation_resumes_after_an_update_across_topics_or_from_the_earliest() {
    let hub = hub(&[]);
    publish(&hub, &["a"], "a1", false).await;
    let b1 = publish(&hub, &["b"], "b1", false).await;
    publish(&hub, &["a"], "a2", false).await;
    publish(&hub, &["c"], "c1", false).await;
    publish(&hub, &["b"], "b2", false).await;

    // Without an id: only what comes next.
    let mut fresh = subscribe(&hub, &["a", "b", "m"], None).await;
    assert!(until_marker(&hub, &mut fresh, "m").await.is_empty());

    // Each stops at the first marker held, that of `fresh`.
    let url = hub.url(&query(&["a", "b", "m"]));
    let mut by_header = EventClient::open_with(&url, &[("last-event-id", &b1)]).await;
    assert_eq!(until_marker(&hub, &mut by_header, "m").await, ["a2", "b2"]);
    let by_query = format!("{url}&lastEventID={}", urlencode(&b1));
    let mut by_query = EventClient::open(&by_query).await;
    assert_eq!(until_marker(&hub, &mut by_query, "m").await, ["a2", "b2"]);

    let mut earliest = EventClient::open(&format!("{url}&lastEventID=earliest")).await;
    let all = until_marker(&hub, &mut earliest, "m").await;
    assert_eq!(all, ["a1", "b1", "a2", "b2"]);
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[actix_web::test]
async fn an_id_the_hub_no_longer_holds_gets_the_gap_signal() {
    let hub = hub(&["--log-max-events", "2"]);
    let evicted = publish(&hub, &["a"], "a1", false).await;
    for data in ["a2", "a3", "a4"] {
        publish(&hub, &["a"], data, false).await;
    }
    let url = hub.url(&query(&["a", "m"]));
    let mut client = EventClient::open_with(&url, &[("last-event-id", &evicted)]).await;
    let gap = client.next_event().await.unwrap();
    assert_eq!(gap.event_type(), "sse-gap");
    assert_eq!(until_marker(&hub, &mut client, "m").await, ["a3", "a4"]);
}

#[actix_web::test]
async fn publishing_answers_the_id_as_text_and_a_repeated_id_once() {
    let hub = hub(&["--max-retry", "10s"]);
    let mut listener = subscribe(&hub, &["t"], None).await;
    let token = publisher(&["*"]);
    let mut response = client()
        .post(hub.url("/.well-known/mercure"))
        .bearer_auth(&token)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body("topic=t&data=first")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").unwrap();
    assert!(content_type.to_str().unwrap().starts_with("text/plain"));
    let id = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    let uuid = id
        .strip_prefix("urn:uuid:")
        .expect("a generated urn:uuid id");
    assert_eq!(uuid.len(), 36, "{id}");
    assert_eq!(uuid.as_bytes()[14], b'4', "version 4: {id}");

    let fields = [
        ("topic", "t"),
        ("data", "line 1\nline 2"),
        ("id", "my-id"),
        ("type", "book-updated"),
        ("retry", "5000"),
    ];
    assert_eq!(
        post(&hub, Some(&token), &fields).await,
        (200, "my-id".to_owned())
    );
    // An idempotent retry: the same answer, stored once.
    assert_eq!(
        post(&hub, Some(&token), &fields).await,
        (200, "my-id".to_owned())
    );
    let (status, reason) = post(&hub, Some(&token), &[("topic", "t"), ("retry", "60000")]).await;
    assert_eq!(status, 400, "{reason}");
    let (status, reason) = post(&hub, Some(&token), &[("data", "no topic")]).await;
    assert_eq!(status, 400);
    assert!(reason.contains("topic"), "{reason}");

    let first = listener.next_event().await.unwrap();
    assert_eq!((first.id.as_deref(), &*first.data), (Some(&*id), "first"));
    let second = listener.next_event().await.unwrap();
    assert_eq!(second.id.as_deref(), Some("my-id"));
    assert_eq!(second.event_type(), "book-updated");
    assert_eq!(second.data, "line 1\nline 2");
    publish(&hub, &["t"], "after", false).await;
    assert_eq!(
        listener.next_event().await.unwrap().data,
        "after",
        "not twice"
    );
}

#[actix_web::test]
async fn jwt_rules_claim_by_claim() {
    let hub = Hub::start(&["--jwt-key", SECRET]);
    let url = hub.url(&query(&["t"]));
    // No token, no --anonymous: 401.
    let (status, body) = status_of(&url, &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("no token"), "{body}");
    let (status, body) = status_of(&url, &[("authorization", "Bearer not-a-jwt")]).await;
    assert_eq!(status, 401);
    assert!(body.contains("not a valid JWT"), "{body}");
    let expired = mint(&json!({ "exp": now() - 60, "mercure": { "subscribe": ["*"] } }));
    let (status, body) = status_of(&url, &[("authorization", &format!("Bearer {expired}"))]).await;
    assert_eq!(status, 401);
    assert!(body.contains("expired"), "{body}");
    let wrong_key = mint_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another secret").unwrap(),
        &json!({ "mercure": { "subscribe": ["*"] } }),
    );
    let (status, body) =
        status_of(&url, &[("authorization", &format!("Bearer {wrong_key}"))]).await;
    assert_eq!(status, 401);
    assert!(body.contains("signature"), "{body}");

    // The cookie and the query parameter carry a token too.
    let token = subscriber(&["t"]);
    let cookie = format!("mercureAuthorization={token}");
    let mut by_cookie = EventClient::open_with(&url, &[("cookie", &cookie)]).await;
    let mut by_query = EventClient::open(&format!("{url}&authorization={token}")).await;
    publish(&hub, &["t"], "private", true).await;
    assert_eq!(by_cookie.next_event().await.unwrap().data, "private");
    assert_eq!(by_query.next_event().await.unwrap().data, "private");

    // Publishing: a token, whose claims cover every topic of the update.
    let (status, _) = post(&hub, None, &[("topic", "t")]).await;
    assert_eq!(status, 401);
    let only_t = mint(&json!({ "mercure": { "publish": ["t"] } }));
    assert_eq!(post(&hub, Some(&only_t), &[("topic", "t")]).await.0, 200);
    let (status, body) = post(&hub, Some(&only_t), &[("topic", "t"), ("topic", "u")]).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("\\\"u\\\"") || body.contains("\"u\""),
        "{body}"
    );
    let books = mint(&json!({ "mercure": { "publish": ["https://example.com/books/{id}"] } }));
    let book = [("topic", "https://example.com/books/7")];
    assert_eq!(post(&hub, Some(&books), &book).await.0, 200);
    let author = [("topic", "https://example.com/authors/7")];
    assert_eq!(post(&hub, Some(&books), &author).await.0, 403);
    let subscribe_only = subscriber(&["*"]);
    assert_eq!(post(&hub, Some(&subscribe_only), &book).await.0, 403);
}

#[actix_web::test]
async fn a_subscription_ends_when_its_token_expires() {
    let hub = Hub::start(&["--jwt-key", SECRET]);
    let token = mint(&json!({ "exp": now() + 2, "mercure": { "subscribe": ["t"] } }));
    let mut client = subscribe(&hub, &["t"], Some(&token)).await;
    publish(&hub, &["t"], "before", false).await;
    assert_eq!(client.next_event().await.unwrap().data, "before");
    // Ends cleanly at `exp` (within the client's guard time).
    let rest = client.rest().await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[actix_web::test]
async fn a_subscription_needs_a_topic() {
    let hub = hub(&[]);
    let (status, body) = status_of(&hub.url("/.well-known/mercure"), &[]).await;
    assert_eq!(status, 400);
    assert!(body.contains("topic"), "{body}");
}

#[actix_web::test]
async fn topics_per_update_and_selectors_per_subscription_are_bounded_by_the_flag() {
    let hub = hub(&["--mercure-max-topics", "2"]);
    let (status, body) = status_of(&hub.url(&query(&["a", "b", "c"])), &[]).await;
    assert_eq!(status, 400);
    assert!(body.contains("the limit is 2"), "{body}");
    let _two = subscribe(&hub, &["a", "b"], None).await;

    let token = publisher(&["*"]);
    let three = [
        ("topic", "a"),
        ("topic", "b"),
        ("topic", "c"),
        ("data", "x"),
    ];
    let (status, body) = post(&hub, Some(&token), &three).await;
    assert_eq!(status, 400);
    assert!(body.contains("the limit is 2"), "{body}");
    let (status, body) = post(&hub, Some(&token), &three[1..]).await;
    assert_eq!(status, 200, "{body}");
}

/// The `Last-Event-ID` header of the answer to a subscription with
/// `headers` (the stream itself is left unread).
async fn answered_last_event_id(hub: &Hub, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = client().get(hub.url(path));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 200);
    let value = response.headers().get("last-event-id");
    value
        .expect("a Last-Event-ID header")
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn the_subscribe_answer_names_the_update_before_the_first_one_sent_or_earliest() {
    let hub = hub(&[]);
    let path = query(&["a"]);
    // Nothing held yet.
    assert_eq!(answered_last_event_id(&hub, &path, &[]).await, "earliest");
    let a1 = publish(&hub, &["a"], "a1", false).await;
    let b1 = publish(&hub, &["b"], "b1", false).await;
    // Without an id: what comes next follows the last update held, on any topic.
    assert_eq!(answered_last_event_id(&hub, &path, &[]).await, b1);
    // Resuming after a1: a1 precedes what is sent.
    let resume = [("last-event-id", a1.as_str())];
    assert_eq!(answered_last_event_id(&hub, &path, &resume).await, a1);
    let by_query = format!("{path}&lastEventID={}", urlencode(&a1));
    assert_eq!(answered_last_event_id(&hub, &by_query, &[]).await, a1);
    // Everything held, or an id not held: nothing precedes the replay.
    let earliest = format!("{path}&lastEventID=earliest");
    assert_eq!(
        answered_last_event_id(&hub, &earliest, &[]).await,
        "earliest"
    );
    let unknown = [("last-event-id", "urn:uuid:not-held")];
    assert_eq!(
        answered_last_event_id(&hub, &path, &unknown).await,
        "earliest"
    );
}

/// The CORS headers of `method path` from the page at `origin`.
async fn cors_of(hub: &Hub, method: &str, path: &str, origin: &str) -> (Option<String>, bool) {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client()
        .request(method.clone(), hub.url(path))
        .insert_header(("origin", origin));
    if method == actix_web::http::Method::OPTIONS {
        request = request.insert_header(("access-control-request-method", "GET"));
    }
    let response = request.send().await.expect("request");
    let headers = response.headers();
    let allowed = headers
        .get("access-control-allow-origin")
        .map(|value| value.to_str().unwrap().to_owned());
    let credentials = headers
        .get("access-control-allow-credentials")
        .is_some_and(|value| value == "true");
    (allowed, credentials)
}

#[actix_web::test]
async fn listed_origins_may_send_cookies_to_the_mercure_endpoint_a_wildcard_never() {
    let app = "http://app.example";
    let listed = hub(&["--cors-origin", app]);
    let path = query(&["t"]);
    let credentialed = (Some(app.to_owned()), true);
    assert_eq!(cors_of(&listed, "GET", &path, app).await, credentialed);
    assert_eq!(cors_of(&listed, "OPTIONS", &path, app).await, credentialed);
    // `/events` keeps its policy: the origin, no credentials.
    let events = "/events?stream=s";
    assert_eq!(
        cors_of(&listed, "GET", events, app).await,
        (Some(app.to_owned()), false)
    );

    let any = hub(&["--cors-origin", "*"]);
    assert_eq!(
        cors_of(&any, "GET", &path, app).await,
        (Some("*".to_owned()), false)
    );
    assert_eq!(
        cors_of(&any, "OPTIONS", &path, app).await,
        (Some("*".to_owned()), false)
    );
}
