//! `sse hub` against clients that stop reading (a 4 KiB receive buffer,
//! then nothing): what each may pin is bounded by `--subscriber-queue-bytes`,
//! and `--write-timeout` ends its connection. Counted from `/healthz`, not
//! from the hub's memory.

mod support;

use sse_testkit::{client, stalled_client, until};
use support::hub_process::Hub;

async fn healthz(hub: &Hub) -> serde_json::Value {
    let mut response = client().get(hub.url("/healthz")).send().await.unwrap();
    response.json().await.unwrap()
}

/// Publishes `count` events of `size` bytes of data to `stream`.
async fn publish(hub: &Hub, stream: &str, count: usize, size: usize) {
    let data = "x".repeat(size);
    for _ in 0..count {
        let response = client()
            .post(hub.url(&format!("/events?stream={stream}")))
            .send_body(data.clone())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[actix_web::test]
async fn a_stalled_subscriber_is_cut_once_its_queue_holds_its_bytes() {
    let hub = Hub::start(&[
        "--subscriber-queue-bytes",
        "256KiB",
        "--write-timeout",
        "0",
        "--no-auto-replay",
    ]);
    let _stalled = stalled_client(hub.addr, "/events?stream=feed").await;
    until("the subscriber to join", async || {
        healthz(&hub).await["subscribers"] == 1
    })
    .await;
    // 16 MiB in 64 frames: far under the 1,024 frames of --subscriber-queue,
    // far over what the sockets and 256 KiB hold.
    publish(&hub, "feed", 64, 256 * 1024).await;
    until("the stalled subscriber to be cut", async || {
        healthz(&hub).await["lagged"] == 1
    })
    .await;
}

#[actix_web::test]
async fn stalled_connections_end_after_the_write_timeout() {
    let hub = Hub::start(&["--write-timeout", "300ms", "--keep-alive", "100ms"]);
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(stalled_client(hub.addr, "/events?stream=feed").await);
    }
    until("the subscribers to join", async || {
        healthz(&hub).await["connections"] == 4
    })
    .await;
    publish(&hub, "feed", 16, 64 * 1024).await;
    until("every stalled connection to end", async || {
        let health = healthz(&hub).await;
        health["connections"] == 0 && health["subscribers"] == 0 && health["queues"] == 0
    })
    .await;
}
