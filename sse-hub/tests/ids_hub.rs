//! Ids across a restart of `sse hub`, and what a subscriber gets first:
//! a browser that resumes with an id from before the restart is told it
//! missed events (`event: sse-gap`) instead of silently resuming after
//! another event of the same number; a new subscriber gets live events only
//! by default (as Mercure), every held event with `--first-replay all`.

mod support;

use sse_testkit::{EventClient, seq_of};
use support::call;
use support::hub_process::Hub;

async fn publish(hub: &Hub, data: &str) -> String {
    let request = sse_testkit::client().post(hub.url("/events?stream=demo"));
    let (status, answer) = call(request, data.to_owned()).await;
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_str().expect("an id").to_owned()
}

#[actix_web::test]
async fn an_id_from_before_a_restart_gets_the_gap_event_then_what_is_held() {
    let before = Hub::start(&[]);
    let mut seen = Vec::new();
    for data in ["a", "b", "c"] {
        seen.push(publish(&before, data).await);
    }
    drop(before);

    let after = Hub::start(&[]);
    let mut now = Vec::new();
    for data in ["x", "y", "z", "w"] {
        now.push(publish(&after, data).await);
    }
    assert_eq!(
        seq_of(&now[2]),
        seq_of(&seen[2]),
        "the same sequence number"
    );
    assert_ne!(now[2], seen[2], "a generated id repeated after a restart");
    let mut resumed = EventClient::open_with(
        &after.url("/events?stream=demo"),
        &[("last-event-id", &seen[2])],
    )
    .await;
    let got = resumed.events(5).await;
    assert_eq!(
        (got[0].event_type(), &*got[0].data),
        ("sse-gap", now[0].as_str())
    );
    let replayed: Vec<_> = got[1..].iter().map(|e| e.data.to_string()).collect();
    assert_eq!(replayed, ["x", "y", "z", "w"], "not only what follows z");

    // A current id resumes exactly, without the gap event.
    let mut exact = EventClient::open_with(
        &after.url("/events?stream=demo"),
        &[("last-event-id", &now[2])],
    )
    .await;
    assert_eq!(exact.events(1).await[0].data, "w");
}

#[actix_web::test]
async fn a_new_subscriber_gets_live_events_only_unless_the_operator_chooses() {
    let hub = Hub::start(&[]);
    publish(&hub, "old").await;
    let mut new = EventClient::open(&hub.url("/events?stream=demo")).await;
    publish(&hub, "live").await;
    assert_eq!(new.events(1).await[0].data, "live");

    let hub = Hub::start(&["--first-replay", "1", "--on-resume-gap", "live-only"]);
    for data in ["a", "b"] {
        publish(&hub, data).await;
    }
    let mut new = EventClient::open(&hub.url("/events?stream=demo")).await;
    assert_eq!(new.events(1).await[0].data, "b", "the newest one");
    let mut gap = EventClient::open_with(
        &hub.url("/events?stream=demo"),
        &[("last-event-id", "gone")],
    )
    .await;
    publish(&hub, "c").await;
    let got = gap.events(2).await;
    let got: Vec<_> = got
        .iter()
        .map(|e| (e.event_type().to_owned(), e.data.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("sse-gap".to_owned(), String::new()),
            ("message".to_owned(), "c".to_owned())
        ]
    );
}
