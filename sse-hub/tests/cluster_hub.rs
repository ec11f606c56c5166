//! `sse hub --redis` as an operator runs it: hub processes sharing one real
//! `redis-server` serve as one hub; one is killed mid-stream and its client
//! resumes on another with Last-Event-ID.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sse_testkit::{EventClient, GUARD, client, until};
use support::hub_process::Hub;

/// `redis-server`, located as `sse_tests::peer(Peer::RedisServer)` does
/// (that crate depends on this one, so it cannot be used here): under
/// `CI=true` a missing server fails the test, elsewhere it is skipped.
fn redis_server() -> Option<PathBuf> {
    let found = std::env::var_os("SSE_REDIS_SERVER")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or_else(|| Some(PathBuf::from("/usr/bin/redis-server")).filter(|p| p.exists()));
    if found.is_none() {
        let message = "redis-server is not installed (set SSE_REDIS_SERVER or run scripts/test.sh)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("SKIPPED: {message}");
    }
    found
}

struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Redis::start_on(port)
    }

    /// A fresh Redis on `port` (where one was stopped, say).
    fn start_on(port: u16) -> Option<Redis> {
        let binary = redis_server()?;
        let dir = tempfile::tempdir().expect("temporary directory");
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        let deadline = Instant::now() + GUARD;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Redis {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes `data` on `hub`'s stream `feed` and answers the assigned id.
async fn publish(hub: &Hub, data: &str) -> String {
    let mut response = client()
        .post(hub.url("/events?stream=feed"))
        .send_body(data.to_owned())
        .await
        .expect("publish request");
    assert_eq!(response.status().as_u16(), 200, "publishing {data:?}");
    let body: serde_json::Value = response.json().await.expect("JSON answer");
    body["id"].as_str().expect("an id").to_owned()
}

fn pairs(events: &[sse_proto::Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.id.as_deref().unwrap_or_default().to_owned(),
                e.data.to_string(),
            )
        })
        .collect()
}

#[actix_rt::test]
async fn killed_node_client_resumes_on_another_node() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let mut a = Hub::start(&["--redis", &url]);
    let b = Hub::start(&["--redis", &url]);

    let mut on_a = EventClient::open(&a.url("/events?stream=feed")).await;
    let mut sent = Vec::new();
    for n in 0..10 {
        let data = format!("event {n}");
        sent.push((publish(&b, &data).await, data));
    }
    let seen = pairs(&on_a.events(6).await);
    assert_eq!(seen, sent[..6], "published on B, delivered on A, in order");

    // A crashes mid-stream.
    let _ = a.child.kill();
    let _ = a.child.wait();
    drop(on_a);
    for n in 10..15 {
        let data = format!("event {n}");
        sent.push((publish(&b, &data).await, data));
    }

    let last = seen[5].0.as_str();
    let mut on_b =
        EventClient::open_with(&b.url("/events?stream=feed"), &[("Last-Event-ID", last)]).await;
    assert_eq!(
        pairs(&on_b.events(9).await),
        sent[6..],
        "exactly what it missed"
    );
    let end = publish(&b, "end").await;
    assert_eq!(pairs(&on_b.events(1).await), [(end, "end".to_owned())]);
}

#[actix_rt::test]
async fn three_processes_deliver_every_event_once_in_order() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let hubs: Vec<Hub> = (0..3).map(|_| Hub::start(&["--redis", &url])).collect();

    let mut on_a = EventClient::open(&hubs[0].url("/events?stream=feed")).await;
    let mut on_b = EventClient::open(&hubs[1].url("/events?stream=feed")).await;
    let mut sent = Vec::new();
    for n in 0..30 {
        // Publishers on B and C in turn; subscribers on A and B.
        let data = format!("event {n}");
        sent.push((publish(&hubs[1 + n % 2], &data).await, data));
    }
    // A last event proves nothing extra arrived in between.
    sent.push((publish(&hubs[2], "end").await, "end".to_owned()));

    assert_eq!(pairs(&on_a.events(sent.len()).await), sent, "on A");
    assert_eq!(pairs(&on_b.events(sent.len()).await), sent, "on B");
}

/// In a cluster, a name a publisher invents is an auto-stream of the node
/// it published on: the limit applies, so Redis keys stay bounded.
#[actix_rt::test]
async fn publishing_to_new_names_in_a_cluster_is_bounded_by_max_auto_streams() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let hub = Hub::start(&["--redis", &url, "--max-auto-streams", "20"]);
    let mut statuses = Vec::new();
    for i in 0..60 {
        let response = client()
            .post(hub.url(&format!("/events?stream=n{i}")))
            .send_body("x")
            .await
            .expect("publish request");
        statuses.push(response.status().as_u16());
    }
    let accepted = statuses.iter().filter(|status| **status == 200).count();
    assert_eq!(accepted, 20, "{statuses:?}");
    assert!(
        statuses[20..].iter().all(|status| *status == 503),
        "{statuses:?}"
    );
}

/// A sample of `hub`'s `/metrics`.
async fn metric(hub: &Hub, name: &str) -> Option<f64> {
    let mut response = client().get(hub.url("/metrics")).send().await.ok()?;
    let text = String::from_utf8(response.body().await.ok()?.to_vec()).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[actix_rt::test]
async fn redis_errors_and_reconnects_show_in_metrics() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let port = redis.port;
    let hub = Hub::start(&["--redis", &format!("redis://127.0.0.1:{port}")]);
    let mut watching = EventClient::open(&hub.url("/events?stream=feed")).await;
    let id = publish(&hub, "before").await;
    assert_eq!(
        pairs(&watching.events(1).await),
        [(id, "before".to_owned())]
    );
    assert_eq!(metric(&hub, "sse_backplane_errors_total").await, Some(0.0));
    assert_eq!(
        metric(&hub, "sse_backplane_reconnects_total").await,
        Some(0.0)
    );

    drop(redis);
    let mut refused = client()
        .post(hub.url("/events?stream=feed"))
        .send_body("while Redis is away")
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503, "{:?}", refused.body().await);
    assert_eq!(
        metric(&hub, "sse_backplane_publish_errors_total").await,
        Some(1.0)
    );
    until("failed commands are counted", async || {
        metric(&hub, "sse_backplane_errors_total").await >= Some(1.0)
    })
    .await;

    let _back = Redis::start_on(port).unwrap();
    until("the reader's reconnection is counted", async || {
        metric(&hub, "sse_backplane_reconnects_total").await >= Some(1.0)
    })
    .await;
}

/// The subscribers `hub` lists at `/.well-known/mercure/subscriptions`.
async fn listed_subscribers(hub: &Hub) -> Vec<String> {
    let mut response = client()
        .get(hub.url("/.well-known/mercure/subscriptions"))
        .bearer_auth("secret")
        .send()
        .await
        .expect("listing");
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.expect("a JSON-LD document");
    body["subscriptions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["subscriber"].as_str().expect("a subscriber").to_owned())
        .collect()
}

#[actix_rt::test]
async fn every_process_lists_the_mercure_subscriptions_of_every_process() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let flags = [
        "--redis",
        &url,
        "--subscriptions",
        "--subscribe-token",
        "secret",
    ];
    let (a, b) = (Hub::start(&flags), Hub::start(&flags));
    let on_b = EventClient::open(&b.url("/.well-known/mercure?topic=t&authorization=secret")).await;
    let listed = listed_subscribers(&a).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed_subscribers(&b).await, listed);
    drop(on_b);
    until("the end is unlisted on A", || async {
        listed_subscribers(&a).await.is_empty()
    })
    .await;
}
