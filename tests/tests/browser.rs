//! A real browser's EventSource against the server: headless Chromium opens
//! test pages whose JavaScript reports what it received to the test server.

mod interop_support;

use interop_support::browser::Browser;
use interop_support::{CUSTOM_TYPE, Harness, assert_same_events, expected, hard_events, numbered};
use serde_json::Value;
use sse_tests::{Peer, peer};

/// Subscribes to `?stream=` with EventSource (listening to the `message`
/// type and the `types` given), reports `open` on every connection, `event`
/// for each event and `done` with everything once `count` events arrived.
const EVENTS_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>EventSource test</title>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const expected = Number(params.get("count"));
const received = [];
let opens = 0;
function report(kind, body) {
  return fetch("/test/report?kind=" + kind, { method: "POST", body: JSON.stringify(body) });
}
const source = new EventSource("/events?stream=" + encodeURIComponent(params.get("stream")));
source.onopen = () => report("open", { opens: ++opens });
function onEvent(event) {
  const seen = { type: event.type, data: event.data, lastEventId: event.lastEventId };
  received.push(seen);
  report("event", seen);
  if (received.length === expected) {
    source.close();
    report("done", { opens, events: received });
  }
}
source.onmessage = onEvent;
for (const type of (params.get("types") || "").split(",").filter(Boolean)) {
  source.addEventListener(type, onEvent);
}
</script>"#;

/// Loads the hub's demo page in a same-origin frame and drives it like a
/// person: waits until it is connected, waits for an event the test
/// publishes, then publishes through the page's own form and waits for that
/// event to show up. Reports what the page displayed.
const DEMO_CHECK_PAGE: &str = r##"<!doctype html>
<meta charset="utf-8">
<title>demo page check</title>
<iframe id="demo" src="/" width="800" height="600"></iframe>
<script>
"use strict";
function report(kind, body) {
  return fetch("/test/report?kind=" + kind, { method: "POST", body: JSON.stringify(body) });
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition) {
  for (;;) {
    try { const value = condition(); if (value) return value; } catch (_) {}
    await sleep(20);
  }
}
const shown = (doc) => [...doc.querySelectorAll("#events li .data")].map((e) => e.textContent);
document.getElementById("demo").addEventListener("load", async () => {
  const doc = document.getElementById("demo").contentDocument;
  await until(() => doc.getElementById("state").textContent === "open");
  await report("demo-open", {});
  await until(() => shown(doc).includes("published by the test"));
  doc.getElementById("data").value = "typed into\nthe form";
  doc.getElementById("event").value = "form-event";
  doc.querySelector("#publish button").click();
  await until(() => shown(doc).includes("typed into\nthe form"));
  await until(() => doc.getElementById("result").textContent.startsWith("published"));
  await report("demo-done", {
    shown: shown(doc),
    types: [...doc.querySelectorAll("#events li")].map((e) => e.dataset.type),
    state: doc.getElementById("state").textContent,
    result: doc.getElementById("result").textContent,
    count: doc.getElementById("count").textContent,
  });
});
</script>"##;

fn events_of(report: &Value) -> Vec<Value> {
    report["events"].as_array().cloned().unwrap_or_default()
}

#[actix_web::test]
async fn browser_receives_hard_payloads_exactly() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut harness = Harness::start(vec![("/test/events.html", EVENTS_PAGE)]).await;
    harness.server.create_stream("hard").await.unwrap();
    let events = hard_events();
    let url = harness.url(&format!(
        "/test/events.html?stream=hard&count={}&types={CUSTOM_TYPE}",
        events.len()
    ));
    let _browser = Browser::open(&chromium, &url);
    harness.report("open").await;

    harness.publish_all("hard", &events).await;
    let done = harness.report("done").await;
    assert_same_events(&events_of(&done), &expected(&events));
    assert_eq!(done["opens"], 1, "one connection, no reconnect");
}

#[actix_web::test]
async fn browser_reconnects_and_receives_exactly_the_missed_events() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut harness = Harness::start(vec![("/test/events.html", EVENTS_PAGE)]).await;
    harness.server.create_stream("resume").await.unwrap();
    let _browser = Browser::open(
        &chromium,
        &harness.url("/test/events.html?stream=resume&count=6"),
    );
    harness.report("open").await;

    harness.publish_all("resume", &numbered(1..=3)).await;
    for _ in 0..3 {
        harness.report("event").await;
    }
    // The server goes away with the connection; events keep being published.
    harness.kill().await;
    harness.subscribers("resume", 0).await;
    harness.publish_all("resume", &numbered(4..=6)).await;
    harness.restart();

    let done = harness.report("done").await;
    assert_same_events(&events_of(&done), &expected(&numbered(1..=6)));
    assert_eq!(done["opens"], 2, "the browser reconnected once");
    let ids: Vec<Option<String>> = harness
        .last_event_ids
        .lock()
        .unwrap()
        .iter()
        .map(|id| id.as_deref().map(|id| sse_testkit::seq_of(id).to_owned()))
        .collect();
    assert_eq!(
        ids,
        [None, Some("3".to_owned())],
        "the reconnect sent Last-Event-ID: 3"
    );
}

/// The stream is created again while the browser is away (as after a
/// restart): its Last-Event-ID names an event of the earlier life, so it is
/// told with `sse-gap` (naming the first event replayed) before the replay.
#[actix_web::test]
async fn browser_resuming_from_an_earlier_life_of_the_stream_sees_the_gap_event() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut harness = Harness::start(vec![("/test/events.html", EVENTS_PAGE)]).await;
    harness.server.create_stream("gap").await.unwrap();
    let _browser = Browser::open(
        &chromium,
        &harness.url("/test/events.html?stream=gap&count=6&types=sse-gap"),
    );
    harness.report("open").await;
    harness.publish_all("gap", &numbered(1..=2)).await;
    for _ in 0..2 {
        harness.report("event").await;
    }
    harness.kill().await;
    harness.subscribers("gap", 0).await;
    assert!(harness.server.remove_stream("gap").await);
    harness.server.create_stream("gap").await.unwrap();
    let mut ids = Vec::new();
    for event in numbered(3..=5) {
        ids.push(harness.server.publish("gap", event).await.unwrap().id);
    }
    harness.restart();

    let done = harness.report("done").await;
    let events = events_of(&done);
    let gap = serde_json::json!({"type": "sse-gap", "data": &*ids[0], "lastEventId": events[1]["lastEventId"]});
    assert_eq!(events[2], gap, "told before the replay: {events:?}");
    let replayed: Vec<_> = events[3..].iter().map(|e| e["data"].clone()).collect();
    assert_eq!(replayed, ["event 3", "event 4", "event 5"]);
    assert_eq!(done["opens"], 2);
}

#[actix_web::test]
async fn demo_page_shows_events_and_publishes_from_its_form() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut harness = Harness::start(vec![("/test/demo-check.html", DEMO_CHECK_PAGE)]).await;
    let _browser = Browser::open(&chromium, &harness.url("/test/demo-check.html"));
    harness.report("demo-open").await;

    // Published over HTTP like `curl -d` would.
    let mut response = awc::Client::default()
        .post(harness.url("/events?stream=demo"))
        .send_body("published by the test")
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.body().await);

    let done = harness.report("demo-done").await;
    assert_eq!(done["state"], "open");
    assert_eq!(done["count"], "2");
    // Newest first, as the page lists them.
    assert_eq!(
        done["shown"],
        serde_json::json!(["typed into\nthe form", "published by the test"])
    );
    assert_eq!(done["types"], serde_json::json!(["form-event", "message"]));
    let result = done["result"].as_str().unwrap_or_default();
    let id = result.strip_prefix("published, id ").unwrap_or_default();
    assert_eq!(sse_testkit::seq_of(id), "2", "{result}");
}
