//! What the browser and node tests share: an in-process hub that can be
//! killed and restarted on the same address (keeping its event server, so
//! clients reconnect and resume), a report endpoint for test pages, and the
//! hard payloads every client must receive exactly.
#![allow(dead_code)] // each test file uses its own subset

pub mod browser;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use sse_actix::server::Sse;
use sse_actors::{Event, Server};
use sse_hub::{Hub, HubConfig};
use tokio::sync::mpsc;

/// A failure guard: a browser starts in about a second; nothing here should
/// come close.
pub const GUARD: Duration = Duration::from_secs(30);

/// The reconnection delay the hub announces, so reconnect tests are quick.
pub const RETRY: Duration = Duration::from_millis(200);

type Pages = Vec<(&'static str, &'static str)>;

/// An in-process hub plus test pages and a `POST /test/report?kind=K`
/// endpoint whose JSON bodies the test reads with [`Harness::report`].
pub struct Harness {
    pub server: Server,
    pub addr: SocketAddr,
    /// The Last-Event-ID of every subscription, in order.
    pub last_event_ids: Arc<Mutex<Vec<Option<String>>>>,
    hub: Hub,
    pages: Pages,
    reports_tx: mpsc::UnboundedSender<(String, Value)>,
    reports: mpsc::UnboundedReceiver<(String, Value)>,
    handle: Option<ServerHandle>,
    /// Serve HTTPS (HTTP/2 by ALPN) with these settings instead of HTTP.
    tls: Option<rustls::ServerConfig>,
}

impl Harness {
    /// Starts on a fresh port, serving the hub (demo page included) and
    /// `pages` (path, HTML).
    pub async fn start(pages: Pages) -> Harness {
        Harness::start_with(pages, None, HubConfig::default()).await
    }

    /// [`start`](Harness::start) with the hub's settings `config`.
    pub async fn start_configured(pages: Pages, config: HubConfig) -> Harness {
        Harness::start_with(pages, None, config).await
    }

    /// [`start`](Harness::start) over HTTPS with `tls`.
    pub async fn start_tls(pages: Pages, tls: rustls::ServerConfig) -> Harness {
        Harness::start_with(pages, Some(tls), HubConfig::default()).await
    }

    async fn start_with(
        pages: Pages,
        tls: Option<rustls::ServerConfig>,
        config: HubConfig,
    ) -> Harness {
        let last_event_ids = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&last_event_ids);
        let server = Server::builder()
            .arbiters(1)
            .auto_stream(true)
            .on_subscribe(move |_, info| seen.lock().unwrap().push(info.last_event_id.clone()))
            .build();
        server.create_stream("demo").await.unwrap();
        // Several streams per connection, as `sse hub` allows.
        let sse = Sse::new(server.clone())
            .retry(RETRY)
            .max_streams_per_connection(32);
        let hub = Hub::new(sse, config);
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut harness = Harness {
            server,
            addr,
            last_event_ids,
            hub,
            pages,
            reports_tx,
            reports,
            handle: None,
            tls,
        };
        harness.serve(listener);
        harness
    }

    fn serve(&mut self, listener: TcpListener) {
        let (hub, pages, tx) = (
            self.hub.clone(),
            self.pages.clone(),
            self.reports_tx.clone(),
        );
        let http = HttpServer::new(move || {
            let (hub, tx) = (hub.clone(), tx.clone());
            let mut app = App::new()
                .configure(move |cfg| hub.configure(cfg))
                .route(
                    "/test/report",
                    web::post().to(move |req: HttpRequest, body: web::Bytes| {
                        let tx = tx.clone();
                        async move {
                            let kind = req.query_string().trim_start_matches("kind=").to_owned();
                            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let _ = tx.send((kind, value));
                            HttpResponse::NoContent().finish()
                        }
                    }),
                )
                // The protocol a page's requests travel over: `HTTP/2.0`, say.
                .route(
                    "/test/http-version",
                    web::get().to(|req: HttpRequest| async move { format!("{:?}", req.version()) }),
                );
            for (path, html) in &pages {
                let html = *html;
                app = app.route(
                    path,
                    web::get().to(move || async move {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body(html)
                    }),
                );
            }
            app
        })
        .workers(1)
        .h1_allow_half_closed(false)
        .disable_signals()
        .shutdown_timeout(1);
        let http = match &self.tls {
            Some(tls) => http.listen_rustls_0_23(listener, tls.clone()),
            None => http.listen(listener),
        }
        .unwrap()
        .run();
        self.handle = Some(http.handle());
        actix_web::rt::spawn(http);
    }

    pub fn url(&self, path_and_query: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.addr, path_and_query)
    }

    /// Drops every connection and stops listening, as a crashed or
    /// restarted server would; the event server (and its logs) live on.
    pub async fn kill(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same address.
    pub fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).expect("rebinding the same address");
        self.serve(listener);
    }

    /// The next report of `kind` (others are skipped).
    pub async fn report(&mut self, kind: &str) -> Value {
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

    /// Waits (bounded) until `stream` has `n` subscribers.
    pub async fn subscribers(&self, stream: &str, n: usize) {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            let count = self
                .server
                .streams()
                .await
                .into_iter()
                .find(|s| s.name == stream)
                .map_or(0, |s| s.subscribers);
            if count == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{stream} never had {n} subscribers (has {count})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn publish_all(&self, stream: &str, events: &[Event]) {
        for event in events {
            self.server.publish(stream, event.clone()).await.unwrap();
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            #[allow(clippy::let_underscore_future)]
            let _ = handle.stop(false);
        }
    }
}

/// The custom event type the hard payloads use besides `message`.
pub const CUSTOM_TYPE: &str = "custom-type";

/// Payloads that break naive encoders and parsers.
pub fn hard_events() -> Vec<Event> {
    let long = "0123456789abcdef".repeat(8 * 1024); // 128 KiB in one line
    let datas: Vec<String> = vec![
        "plain".into(),
        "line feed\nsecond line".into(),
        "carriage return\rsecond line".into(),
        "crlf\r\nsecond line\r\nthird".into(),
        String::new(),
        "\n".into(),
        "ends with a newline\n".into(),
        "ünïcødé ✓ 日本語 🎉 \u{FEFF}mid-stream BOM".into(),
        ": a data line starting with a colon".into(),
        ":".into(),
        "data: fake field\n\nevent: fake\nid: fake\nretry: 1".into(),
        " leading space and trailing space ".into(),
        "\ttabs\t".into(),
        long,
    ];
    datas
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let event = Event::data(data);
            match i % 3 {
                0 => event,
                1 => event.event(CUSTOM_TYPE),
                _ => event.event(CUSTOM_TYPE).id(format!("user-id-{i}-ü")),
            }
        })
        .collect()
}

/// What an EventSource reports for `events` published in order to a fresh
/// stream: `{type, data, lastEventId}`, line endings normalised to LF.
pub fn expected(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let data = event.data.replace("\r\n", "\n").replace('\r', "\n");
            let id = event
                .id
                .as_deref()
                .map_or_else(|| (i + 1).to_string(), str::to_owned);
            json!({ "type": event.event_type(), "data": data, "lastEventId": id })
        })
        .collect()
}

/// Compares received events with expected ones, naming the first mismatch
/// (a 128 KiB payload makes whole-list diffs unreadable).
/// A generated id (`EPOCH-SEQ`, the epoch differing each run) is compared
/// by its sequence number.
pub fn assert_same_events(received: &[Value], expected: &[Value]) {
    let received: Vec<Value> = received
        .iter()
        .map(|event| {
            let mut event = event.clone();
            if let Some(id) = event["lastEventId"].as_str() {
                event["lastEventId"] = json!(sse_testkit::seq_of(id));
            }
            event
        })
        .collect();
    for (i, (got, want)) in received.iter().zip(expected).enumerate() {
        if got != want {
            let short = |v: &Value| {
                let text = v.to_string();
                if text.len() > 300 {
                    format!("{}… ({} bytes)", &text[..300], text.len())
                } else {
                    text
                }
            };
            panic!(
                "event {i} differs:\n got  {}\n want {}",
                short(got),
                short(want)
            );
        }
    }
    assert_eq!(received.len(), expected.len(), "number of events");
}

/// Reconnect scenario events: numbered, all of the default type.
pub fn numbered(range: std::ops::RangeInclusive<usize>) -> Vec<Event> {
    range.map(|i| Event::data(format!("event {i}"))).collect()
}
