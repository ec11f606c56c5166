//! `sse hub --auto-stream-idle`: streams invented by subscribers or
//! publishers go away once idle, so no client can fill `--max-auto-streams`
//! for good.

mod support;

use sse_testkit::{EventClient, client, until};
use support::hub_process::Hub;

#[actix_web::test]
async fn invented_stream_names_free_their_slots_once_idle() {
    let hub = Hub::start(&["--max-auto-streams", "50", "--auto-stream-idle", "20ms"]);
    // Replay is on (the hub's default): each stream keeps a log.
    for i in 0..50 {
        drop(EventClient::open(&hub.url(&format!("/events?stream=s{i}"))).await);
    }
    // Each stream goes 20 ms after its subscriber left; until then a new
    // name may be refused (503), never for good.
    let url = hub.url("/events?stream=one-more");
    until("a new stream name to be accepted", async || {
        let response = client().get(&url).send().await.expect("request");
        response.status() == 200
    })
    .await;
}

#[actix_web::test]
async fn streams_invented_by_publishers_free_their_slots_once_idle() {
    let hub = Hub::start(&["--max-auto-streams", "20", "--auto-stream-idle", "2s"]);
    let publish = async |name: &str| {
        let response = client()
            .post(hub.url(&format!("/events?stream={name}")))
            .send_body("x")
            .await
            .expect("publish request");
        response.status().as_u16()
    };
    let mut accepted = 0;
    for i in 0..60 {
        match publish(&format!("p{i}")).await {
            200 => accepted += 1,
            503 => {}
            other => panic!("publish answered {other}"),
        }
    }
    // Each stream may go 2 s after it was created, freeing its slot, so a
    // very slow run may accept a few more; never all of them.
    assert!((20..60).contains(&accepted), "{accepted} of 60 accepted");
    until("a new stream name to be accepted", async || {
        publish("one-more").await == 200
    })
    .await;
}
