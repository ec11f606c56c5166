//! `sse hub` on SIGTERM: every event accepted before it reaches the
//! connected subscribers, every response ends cleanly, the process exits 0.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use sse_testkit::{EventClient, GUARD, client};
use support::hub_process::Hub;

#[actix_web::test]
async fn sigterm_delivers_what_was_accepted_then_ends_every_response() {
    let mut hub = Hub::start(&[]);
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        subscribers.push(EventClient::open(&hub.url("/events?stream=demo")).await);
    }
    // Nobody reads while these are published and the hub is told to stop.
    for i in 1..=50 {
        let response = client()
            .post(hub.url("/events?stream=demo"))
            .send_body(i.to_string())
            .await
            .expect("publish");
        assert_eq!(response.status(), 200);
    }
    let killed = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(killed.success());

    let expected: Vec<String> = (1..=50).map(|i| i.to_string()).collect();
    for subscriber in &mut subscribers {
        let received: Vec<String> = subscriber
            .rest()
            .await
            .into_iter()
            .map(|e| e.data.to_string())
            .collect();
        assert_eq!(received, expected);
    }
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = hub.child.try_wait().expect("the hub's status") {
            break status;
        }
        assert!(Instant::now() < deadline, "the hub did not exit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "{status}; log:\n{}", hub.log());
}
