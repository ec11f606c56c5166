//! `sse hub` serving several streams on one connection
//! (`/events?stream=a&stream=b`): counted and logged as one connection,
//! bounded by `--max-streams-per-connection`, and a JWT must allow every
//! stream it names.

mod support;

use serde_json::{Value, json};
use sse_testkit::jwt::{SECRET, subscriber};
use sse_testkit::{EventClient, client, until};
use support::call;
use support::hub_process::Hub;

async fn get(hub: &Hub, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client().get(hub.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    call(request, "").await
}

async fn publish(hub: &Hub, stream: &str, data: &str) {
    let (status, body) = call(
        client().post(hub.url(&format!("/events?stream={stream}"))),
        data.to_owned(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The value of the sample `name` in a scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn log_lines(hub: &Hub, message: &str) -> Vec<Value> {
    hub.log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
        .collect()
}

#[actix_web::test]
async fn one_connection_follows_several_streams_counted_and_logged_once() {
    let hub = Hub::start(&["--log-format", "json"]);
    let mut events = EventClient::open(&hub.url("/events?stream=a&stream=b")).await;
    publish(&hub, "a", "to a").await;
    publish(&hub, "b", "to b").await;
    let mut got: Vec<String> = events
        .events(2)
        .await
        .into_iter()
        .map(|e| e.data.to_string())
        .collect();
    got.sort();
    assert_eq!(got, ["to a", "to b"]);

    let (_, metrics) = get(&hub, "/metrics", None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    for (name, value) in [
        ("sse_connections", 1.0),
        ("sse_subscribers", 2.0),
        ("sse_subscriptions_opened_total", 1.0),
    ] {
        assert_eq!(sample(&metrics, name), Some(value), "{name} in\n{metrics}");
    }

    drop(events);
    until("the end is logged", async || {
        !log_lines(&hub, "event stream closed").is_empty()
    })
    .await;
    let opened = log_lines(&hub, "event stream opened");
    let closed = log_lines(&hub, "event stream closed");
    assert_eq!((opened.len(), closed.len()), (1, 1), "one connection");
    assert_eq!(opened[0]["stream"], "a,b");
    assert_eq!(closed[0]["stream"], "a,b");
    assert_eq!(closed[0]["frames"], 2, "{}", closed[0]);
}

#[actix_web::test]
async fn the_streams_per_connection_limit_and_repeated_names_are_400s() {
    let hub = Hub::start(&["--max-streams-per-connection", "2"]);
    let (status, body) = get(&hub, "/events?stream=a&stream=b&stream=c", None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "too many streams in one request: 3 named, at most 2 per connection"
    );
    let (status, body) = get(&hub, "/events?stream=a&stream=a", None).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("stream \"a\" is named more than once"))
    );

    // The default is 32.
    let hub = Hub::start(&[]);
    let query = |n: usize| {
        (0..n)
            .map(|i| format!("stream=s{i}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let (status, body) = get(&hub, &format!("/events?{}", query(33)), None).await;
    assert_eq!(status, 400, "{body}");
    let _all = EventClient::open(&hub.url(&format!("/events?{}", query(32)))).await;
}

#[actix_web::test]
async fn a_jwt_must_allow_every_stream_a_request_names() {
    let hub = Hub::start(&["--jwt-key", SECRET, "--subscribe-token", "static"]);
    let only_a = subscriber(&["a"]);
    let (status, body) = get(&hub, "/events?stream=a&stream=b", Some(&only_a)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"],
        "forbidden: the token does not allow subscribing to stream \"b\""
    );
    let (status, _) = get(&hub, "/events?stream=b&stream=a", Some(&only_a)).await;
    assert_eq!(status, 403, "whatever the order");

    // Allowed by exact names, a prefix, or the static token: 200.
    for (query, token) in [
        ("stream=a&stream=b", subscriber(&["a", "b"])),
        (
            "stream=a&stream=user-1&stream=user-2",
            subscriber(&["user-*", "a"]),
        ),
        ("stream=a&stream=b&stream=c", "static".to_owned()),
    ] {
        let url = hub.url(&format!("/events?{query}"));
        let bearer = format!("Bearer {token}");
        let _open = EventClient::open_with(&url, &[("authorization", &bearer)]).await;
    }
    let (status, _) = get(&hub, "/events?stream=a&stream=b", None).await;
    assert_eq!(status, 401, "no token");
}

/// A multi-stream id names each stream's life: after a restart, every
/// stream it names sends its gap event (naming the first event it replays)
/// and then what it holds, though the new lives' positions have passed the
/// old ones.
#[actix_web::test]
async fn a_multi_stream_id_from_before_a_restart_gets_each_streams_gap_event() {
    let before = Hub::start(&[]);
    let mut reader = EventClient::open(&before.url("/events?stream=a&stream=b")).await;
    publish(&before, "a", "a1").await;
    publish(&before, "b", "b1").await;
    let last_id = reader.events(2).await[1].id.clone().expect("an id");
    drop(reader);
    drop(before);

    let after = Hub::start(&[]);
    let mut first_ids = Vec::new();
    for (stream, data) in [("a", "x1"), ("a", "x2"), ("b", "y1"), ("b", "y2")] {
        let request = client().post(after.url(&format!("/events?stream={stream}")));
        let (status, answer) = call(request, data.to_owned()).await;
        assert_eq!(status, 200, "{answer}");
        if data.ends_with('1') {
            first_ids.push(answer["id"].as_str().expect("an id").to_owned());
        }
    }
    let mut resumed = EventClient::open_with(
        &after.url("/events?stream=a&stream=b"),
        &[("last-event-id", &last_id)],
    )
    .await;
    let events = resumed.events(6).await;
    let mut gaps: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == "sse-gap")
        .map(|e| e.data.to_string())
        .collect();
    gaps.sort_unstable();
    first_ids.sort_unstable();
    assert_eq!(gaps, first_ids, "{events:?}");
    let mut data: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() != "sse-gap")
        .map(|e| e.data.to_string())
        .collect();
    data.sort_unstable();
    assert_eq!(data, ["x1", "x2", "y1", "y2"], "what each new life holds");
}
