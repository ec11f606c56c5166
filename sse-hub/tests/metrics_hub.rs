//! `GET /metrics`: Prometheus metrics of a running `sse hub` move with what
//! it does.

mod support;

use sse_testkit::jwt::{self, SECRET};
use sse_testkit::{EventClient, client, until};
use support::call;
use support::hub_process::Hub;
use tokio::io::AsyncWriteExt as _;

/// The scrape, as text.
async fn scrape(hub: &Hub, token: Option<&str>) -> (u16, String) {
    let mut request = client().get(hub.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let (status, body) = call(request, "").await;
    (status, body.as_str().unwrap_or_default().to_owned())
}

/// The value of the sample `name` (with its labels, as exposed).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[actix_web::test]
async fn counters_move_with_subscriptions_publications_and_refusals() {
    let hub = Hub::start(&["--subscriber-queue", "1"]);
    let (status, text) = scrape(&hub, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    assert_eq!(sample(&text, "sse_connections"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "sse_events_published_total"), Some(0.0));

    // Each event is read before the next is published: the queue holds one.
    let mut events = EventClient::open(&hub.url("/events?stream=m")).await;
    for data in ["one", "two"] {
        let (status, _) = call(client().post(hub.url("/events?stream=m")), data).await;
        assert_eq!(status, 200);
        assert_eq!(events.events(1).await[0].data, data);
    }
    let (status, _) = call(client().get(hub.url("/events?stream=%3C")), "").await;
    assert_eq!(status, 400);
    let (status, _) = call(client().post(hub.url("/events")), "x").await;
    assert_eq!(status, 400);

    let (_, text) = scrape(&hub, None).await;
    for (name, value) in [
        ("sse_connections", 1.0),
        ("sse_subscribers", 1.0),
        ("sse_events_published_total", 2.0),
        ("sse_frames_delivered_total", 2.0),
        ("sse_frames_replayed_total", 0.0),
        ("sse_subscriptions_opened_total", 1.0),
        (
            r#"sse_requests_refused_total{endpoint="subscribe",status="400"}"#,
            1.0,
        ),
        (
            r#"sse_requests_refused_total{endpoint="publish",status="400"}"#,
            1.0,
        ),
        ("sse_publish_duration_seconds_count", 2.0),
        (r#"sse_subscriptions_ended_total{reason="lagged"}"#, 0.0),
        (
            r#"sse_subscriptions_ended_total{reason="unsubscribed"}"#,
            0.0,
        ),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    assert!(
        sample(&text, "sse_streams").is_some_and(|n| n >= 2.0),
        "{text}"
    );
    // One sample per chunk written: the two events took one or two.
    assert!(
        sample(&text, "sse_delivery_latency_seconds_count")
            .is_some_and(|n| (1.0..=2.0).contains(&n)),
        "{text}"
    );
    assert!(!text.contains("stream=\"m\""), "no label per stream");
    drop(events);
    until("the subscriber that left is counted", async || {
        let (_, text) = scrape(&hub, None).await;
        sample(
            &text,
            r#"sse_subscriptions_ended_total{reason="unsubscribed"}"#,
        ) == Some(1.0)
    })
    .await;

    // A subscriber that reads nothing falls behind a one-frame queue once
    // the socket buffers are full, and is ended as lagged.
    let mut stalled = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    stalled
        .write_all(b"GET /events?stream=slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let big = "x".repeat(256 * 1024);
    let mut published = 0;
    until("the stalled subscriber is ended as lagged", async || {
        assert!(published < 400, "never lagged after {published} events");
        published += 1;
        call(client().post(hub.url("/events?stream=slow")), big.clone()).await;
        let (_, text) = scrape(&hub, None).await;
        sample(&text, r#"sse_subscriptions_ended_total{reason="lagged"}"#) == Some(1.0)
    })
    .await;
}

#[actix_web::test]
async fn metrics_need_the_metrics_token_when_one_is_set() {
    let hub = Hub::start(&["--metrics-token", "m3trics", "--subscribe-token", "sub"]);
    let (status, body) = scrape(&hub, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        scrape(&hub, Some("sub")).await.0,
        401,
        "only the metrics token"
    );
    assert_eq!(scrape(&hub, Some("m3trics")).await.0, 200);

    // Without a metrics token, /metrics follows /healthz's counts.
    let guarded = Hub::start(&["--subscribe-token", "sub"]);
    assert_eq!(scrape(&guarded, None).await.0, 401);
    assert_eq!(scrape(&guarded, Some("sub")).await.0, 200);
}

#[actix_web::test]
async fn subscriptions_ended_by_an_expired_token_are_counted() {
    let hub = Hub::start(&["--jwt-key", SECRET]);
    let token =
        jwt::mint(&serde_json::json!({ "exp": jwt::now() + 2, "mercure": { "subscribe": ["*"] } }));
    let mut events = EventClient::open(&hub.url(&format!("/events?stream=t&token={token}"))).await;
    assert_eq!(events.rest().await, []);
    let (status, text) = scrape(&hub, Some(&token)).await;
    assert_eq!(status, 401, "the expired token reads nothing: {text}");
    let fresh = jwt::subscriber(&["*"]);
    let (_, text) = scrape(&hub, Some(&fresh)).await;
    assert_eq!(
        sample(
            &text,
            r#"sse_subscriptions_ended_total{reason="token_expired"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"sse_requests_refused_total{endpoint="subscribe",status="401"}"#
        ),
        None,
        "no refusal yet: {text}"
    );
}

/// `sse_log_bytes` and `/healthz`'s `log_bytes` report what every replay
/// log holds together, which `--memory-budget` bounds however many streams
/// publishers invent.
#[actix_web::test]
async fn the_bytes_all_logs_hold_are_reported_and_bounded_by_the_memory_budget() {
    const BUDGET: f64 = 64.0 * 1024.0;
    let hub = Hub::start(&["--memory-budget", "64KiB"]);
    let data = "x".repeat(8 * 1024);
    for i in 0..20 {
        let (status, _) = call(
            client().post(hub.url(&format!("/events?stream=s{}", i % 4))),
            data.clone(),
        )
        .await;
        assert_eq!(status, 200, "publishing never fails because of the budget");
    }
    // 20 events of 8 KiB (160 KiB) in four logs of 8 MiB each: the budget
    // evicted the oldest, across the streams.
    until("the logs to hold what the budget allows", async || {
        let (_, text) = scrape(&hub, None).await;
        sample(&text, "sse_log_bytes").is_some_and(|bytes| bytes > BUDGET / 2.0 && bytes <= BUDGET)
    })
    .await;
    let (_, health) = call(client().get(hub.url("/healthz")), "").await;
    let held = health["log_bytes"].as_f64().expect("log_bytes in /healthz");
    assert!(held <= BUDGET, "{health}");
}

/// `sse_unlogged_bytes` and `/healthz`'s `unlogged_bytes` report the frames
/// a subscriber's queue still holds after its stream's log has dropped
/// them, and fall back once that subscriber is gone.
#[actix_web::test]
async fn frames_only_a_stalled_subscriber_still_holds_are_reported_until_it_leaves() {
    let hub = Hub::start(&[
        "--log-max-bytes",
        "64KiB",
        "--subscriber-queue-bytes",
        "64MiB",
    ]);
    // Sends its request, then reads nothing: once the socket buffers are
    // full, every further frame waits in its queue.
    let mut stalled = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    stalled
        .write_all(b"GET /events?stream=held HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    until("the stalled subscriber is registered", async || {
        let (_, text) = scrape(&hub, None).await;
        sample(&text, "sse_subscribers") == Some(1.0)
    })
    .await;
    // 25 MiB: more than loopback socket buffers take, far more than the log.
    let data = "x".repeat(64 * 1024);
    for _ in 0..400 {
        let (status, _) = call(client().post(hub.url("/events?stream=held")), data.clone()).await;
        assert_eq!(status, 200);
    }
    let (_, text) = scrape(&hub, None).await;
    let unlogged = sample(&text, "sse_unlogged_bytes").expect("sse_unlogged_bytes");
    assert!(unlogged > 4.0 * 1024.0 * 1024.0, "{text}");
    assert!(sample(&text, "sse_log_bytes").is_some_and(|b| b <= 64.0 * 1024.0));
    let (_, health) = call(client().get(hub.url("/healthz")), "").await;
    assert!(
        health["unlogged_bytes"].as_f64().is_some_and(|b| b > 0.0),
        "{health}"
    );

    drop(stalled);
    until(
        "the frames of the subscriber that left are freed",
        async || {
            let (_, text) = scrape(&hub, None).await;
            sample(&text, "sse_unlogged_bytes") == Some(0.0)
        },
    )
    .await;
}
