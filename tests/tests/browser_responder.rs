//! A real browser's EventSource against per-request responses
//! (`SseResponse`): headless Chromium receives hard payloads exactly, its
//! `close()` drops the producer on the server, and its reconnection resumes
//! through the `LastEventId` extractor.

mod interop_support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::{StreamExt as _, stream};
use interop_support::browser::Browser;
use interop_support::{CUSTOM_TYPE, GUARD, assert_same_events, expected, hard_events};
use serde_json::Value;
use sse_actix::extract::LastEventId;
use sse_actix::{Event, SseResponse};
use sse_tests::{Peer, peer};
use tokio::sync::mpsc;

/// Opens EventSource on `?src=`, listens to `message` and the `types`
/// given, reports `open` on every connection and, once `count` events
/// arrived, closes it and reports `done` with everything it received.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>SseResponse test</title>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const expected = Number(params.get("count"));
const received = [];
let opens = 0;
function report(kind, body) {
  return fetch("/test/report?kind=" + kind, { method: "POST", body: JSON.stringify(body) });
}
const source = new EventSource(params.get("src"));
source.onopen = () => report("open", { opens: ++opens });
function onEvent(event) {
  received.push({ type: event.type, data: event.data, lastEventId: event.lastEventId });
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

/// The hard payloads, each with an id so the browser's `lastEventId` is
/// known for every one.
fn hard_events_with_ids() -> Vec<Event> {
    hard_events()
        .into_iter()
        .enumerate()
        .map(|(i, event)| match event.id {
            Some(_) => event,
            None => event.id((i + 1).to_string()),
        })
        .collect()
}

/// The test server: the page, the report endpoint and two event routes.
struct Site {
    addr: std::net::SocketAddr,
    /// Producers (streams given to a response) alive.
    producers: Arc<AtomicUsize>,
    /// The `LastEventId` of every `/feed` request, in order.
    resumed_from: Arc<Mutex<Vec<Option<String>>>>,
    reports: mpsc::UnboundedReceiver<(String, Value)>,
    handle: ServerHandle,
}

/// Counts a producer alive until dropped.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Site {
    fn start() -> Site {
        let producers = Arc::new(AtomicUsize::new(0));
        let resumed_from = Arc::new(Mutex::new(Vec::new()));
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (counted, resumes) = (Arc::clone(&producers), Arc::clone(&resumed_from));
        let http = HttpServer::new(move || {
            let (counted, resumes, tx) = (counted.clone(), resumes.clone(), reports_tx.clone());
            App::new()
                .route(
                    "/test/page.html",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body(PAGE)
                    }),
                )
                .route(
                    "/test/report",
                    web::post().to(move |req: HttpRequest, body: web::Bytes| {
                        let kind = req.query_string().trim_start_matches("kind=").to_owned();
                        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let _ = tx.send((kind, value));
                        async { HttpResponse::NoContent().finish() }
                    }),
                )
                // Every hard payload, then silence until the browser leaves.
                .route(
                    "/hard",
                    web::get().to(move || {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let alive = Alive(Arc::clone(&counted));
                        let events = stream::iter(hard_events_with_ids())
                            .chain(stream::pending())
                            .map(move |event| {
                                let _ = &alive;
                                event
                            });
                        async {
                            SseResponse::from_stream(events).keep_alive(Duration::from_millis(50))
                        }
                    }),
                )
                // Three numbered events after the resume point, then the end.
                .route(
                    "/feed",
                    web::get().to(move |LastEventId(resume): LastEventId| {
                        resumes.lock().unwrap().push(resume.clone());
                        let after: u64 = resume.and_then(|id| id.parse().ok()).unwrap_or(0);
                        let events = (after + 1..=after + 3)
                            .map(|i| Event::data(format!("event {i}")).id(i.to_string()));
                        async move {
                            SseResponse::from_stream(stream::iter(events))
                                .retry(Duration::from_millis(100))
                        }
                    }),
                )
        })
        .workers(1)
        .h1_allow_half_closed(false)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = http.handle();
        actix_web::rt::spawn(http);
        Site {
            addr,
            producers,
            resumed_from,
            reports,
            handle,
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// The next report of `kind` (others are skipped).
    async fn report(&mut self, kind: &str) -> Value {
        loop {
            let (got, value) = tokio::time::timeout(GUARD, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind:?} report within the guard time"))
                .expect("report channel open");
            if got == kind {
                return value;
            }
        }
    }

    fn producers(&self) -> usize {
        self.producers.load(Ordering::SeqCst)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        #[allow(clippy::let_underscore_future)]
        let _ = self.handle.stop(false);
    }
}

fn events_of(report: &Value) -> Vec<Value> {
    report["events"].as_array().cloned().unwrap_or_default()
}

#[actix_web::test]
async fn browser_receives_hard_payloads_and_its_close_drops_the_producer() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut site = Site::start();
    let events = hard_events_with_ids();
    let _browser = Browser::open(
        &chromium,
        &site.url(&format!(
            "/test/page.html?src=/hard&count={}&types={CUSTOM_TYPE}",
            events.len()
        )),
    );
    site.report("open").await;
    assert_eq!(site.producers(), 1);

    let done = site.report("done").await;
    assert_same_events(&events_of(&done), &expected(&events));
    assert_eq!(done["opens"], 1, "one connection, no reconnect");
    // The page called `source.close()` with the stream still open.
    let deadline = tokio::time::Instant::now() + GUARD;
    while site.producers() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the producer outlived the browser's connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn browser_reconnects_after_the_end_and_resumes_through_last_event_id() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let mut site = Site::start();
    let _browser = Browser::open(&chromium, &site.url("/test/page.html?src=/feed&count=6"));
    let done = site.report("done").await;
    let want: Vec<Event> = (1..=6)
        .map(|i| Event::data(format!("event {i}")).id(i.to_string()))
        .collect();
    assert_same_events(&events_of(&done), &expected(&want));
    assert_eq!(done["opens"], 2, "one reconnection after the first end");
    let resumed = site.resumed_from.lock().unwrap().clone();
    assert_eq!(
        resumed[..2],
        [None, Some("3".to_owned())],
        "the reconnection sent Last-Event-ID: 3"
    );
}
