//! A real browser's `EventSource` following two streams on one connection
//! (`/events?stream=x&stream=y`): it receives both, tells them apart by the
//! id's stream index, and after the server goes away resumes each stream
//! exactly where it was.

mod interop_support;

use interop_support::Harness;
use interop_support::browser::Browser;
use serde_json::{Value, json};
use sse_actors::Event;
use sse_testkit::event_page;
use sse_tests::{Peer, peer};

/// One EventSource on `?stream=x&stream=y`, following its events (see
/// [`event_page`]), each with the stream its id's index names.
fn page() -> &'static str {
    event_page(
        "two streams, one EventSource",
        r#"
const streams = ["x", "y"];
const source = new EventSource("/events?" + streams.map((s) => "stream=" + s).join("&"));
follow(source, (event) => ({
  stream: streams[Number(event.lastEventId.split(".")[0])],
  data: event.data,
}));
"#,
    )
}

/// The data of each stream's events, in arrival order, checking that the
/// id's index named the right stream (`x2` is stream `x`'s).
fn by_stream(events: &[Value]) -> Value {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for event in events {
        let data = event["data"].as_str().unwrap().to_owned();
        assert_eq!(event["stream"].as_str(), Some(&data[..1]), "{event}");
        if data.starts_with('x') {
            &mut x
        } else {
            &mut y
        }
        .push(data);
    }
    json!({ "x": x, "y": y })
}

#[actix_web::test]
async fn eventsource_follows_two_streams_on_one_connection_and_resumes_both_after_a_cut() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut harness = Harness::start(vec![("/test/two.html", page())]).await;
    for name in ["x", "y"] {
        harness.server.create_stream(name).await.unwrap();
    }
    let _browser = Browser::open(&chromium, &harness.url("/test/two.html?count=7"));
    harness.report("open").await;
    for data in ["x1", "y1", "x2", "y2"] {
        let stream = &data[..1];
        harness.publish_all(stream, &[Event::data(data)]).await;
    }
    for _ in 0..4 {
        harness.report("event").await;
    }
    // The server goes away with the connection; both streams go on.
    harness.kill().await;
    harness.subscribers("x", 0).await;
    harness.subscribers("y", 0).await;
    for data in ["y3", "x3", "y4"] {
        let stream = &data[..1];
        harness.publish_all(stream, &[Event::data(data)]).await;
    }
    harness.restart();

    let done = harness.report("done").await;
    assert_eq!(
        by_stream(done["events"].as_array().unwrap()),
        json!({ "x": ["x1", "x2", "x3"], "y": ["y1", "y2", "y3", "y4"] }),
        "each event once, in order per stream: {done}"
    );
    assert_eq!(done["opens"], 2, "one reconnect, one connection each time");
    let ids = harness.last_event_ids.lock().unwrap().clone();
    assert_eq!(
        ids.len(),
        4,
        "a subscriber per stream per connection: {ids:?}"
    );
    assert_eq!((&ids[0], &ids[1]), (&None, &None), "a first connection");
    let resumed_with = ids[2].as_deref().expect("the reconnect sent its last id");
    assert_eq!(
        ids[3].as_deref(),
        Some(resumed_with),
        "one id for both streams"
    );
    assert!(
        resumed_with.starts_with("0.") || resumed_with.starts_with("1."),
        "{resumed_with}"
    );
}
