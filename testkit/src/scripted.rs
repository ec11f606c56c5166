//! A scriptable actix-web SSE server for client tests: each request is
//! recorded and answered by a closure, and open response streams are counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub last_event_id: Option<String>,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The number in `Last-Event-ID`, 0 when absent.
    pub fn last_number(&self) -> u64 {
        self.last_event_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0)
    }
}

/// How a response body ends after its chunks.
#[derive(Clone, Copy, Debug)]
pub enum End {
    /// A clean end of the chunked body.
    Eof,
    /// A clean end this long after the chunks.
    EofAfter(Duration),
    /// An error shortly after the chunks: actix aborts the connection.
    Abort,
    /// Nothing more, ever (a silent stream).
    Hang,
    /// A `:` comment at this interval, forever (liveness and disconnect detection).
    KeepAlive(Duration),
}

/// The answer to one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    /// More response headers, `(name, value)`.
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<String>,
    pub end: End,
}

impl Reply {
    pub fn sse(chunks: Vec<String>, end: End) -> Reply {
        Reply {
            status: 200,
            content_type: Some("text/event-stream".into()),
            location: None,
            headers: Vec::new(),
            chunks,
            end,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            content_type: None,
            location: None,
            headers: Vec::new(),
            chunks: Vec::new(),
            end: End::Eof,
        }
    }
}

/// Events numbered `after+1 ..= min(after+n, total)`, as `id: N` / `data: event N`.
pub fn numbered(after: u64, n: u64, total: u64) -> Vec<String> {
    (after + 1..=(after + n).min(total))
        .map(|i| format!("id: {i}\ndata: event {i}\n\n"))
        .collect()
}

type Script = dyn Fn(&Req, usize) -> Reply + Send + Sync;

/// A server answering every request as its script says, stopped by
/// [`ScriptedServer::stop`].
pub struct ScriptedServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Req>>>,
    open: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl ScriptedServer {
    /// Starts a server on 127.0.0.1:0 answering every path with `script`
    /// (given the request and its index, from 0).
    pub fn start(script: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> ScriptedServer {
        Self::start_with(None, script)
    }

    /// [`start`](Self::start) over HTTPS with these rustls settings; `url`
    /// is then `https://localhost:PORT`.
    pub fn start_tls(
        tls: rustls::ServerConfig,
        script: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static,
    ) -> ScriptedServer {
        Self::start_with(Some(tls), script)
    }

    fn start_with(
        tls: Option<rustls::ServerConfig>,
        script: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static,
    ) -> ScriptedServer {
        let script: Arc<Script> = Arc::new(script);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let state = (
            Arc::clone(&script),
            Arc::clone(&requests),
            Arc::clone(&open),
        );
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: Bytes| {
                let (script, requests, open) = state.clone();
                async move { handle(req, body, &*script, &requests, open) }
            }))
        })
        .workers(1)
        .disable_signals();
        let (server, scheme, host) = match tls {
            None => (server.bind(("127.0.0.1", 0)), "http", "127.0.0.1"),
            Some(tls) => (
                server.bind_rustls_0_23(("127.0.0.1", 0), tls),
                "https",
                "localhost",
            ),
        };
        let server = server.expect("binding 127.0.0.1:0");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        ScriptedServer {
            url: format!("{scheme}://{host}:{port}"),
            requests,
            open,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Response bodies still being streamed.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn handle(
    req: HttpRequest,
    body: Bytes,
    script: &Script,
    requests: &Mutex<Vec<Req>>,
    open: Arc<AtomicUsize>,
) -> HttpResponse {
    let seen = Req {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        last_event_id: req
            .headers()
            .get("last-event-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        body,
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    let index = {
        let mut requests = requests.lock().unwrap();
        requests.push(seen.clone());
        requests.len() - 1
    };
    let reply = script(&seen, index);
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(reply.status).expect("valid status"),
    );
    if let Some(content_type) = &reply.content_type {
        response.insert_header(("content-type", content_type.as_str()));
    }
    if let Some(location) = &reply.location {
        response.insert_header(("location", location.as_str()));
    }
    for (name, value) in &reply.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    if reply.status == 204 || reply.content_type.is_none() {
        return response.finish();
    }
    response.streaming(body_stream(reply, open))
}

struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn body_stream(
    reply: Reply,
    open: Arc<AtomicUsize>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    open.fetch_add(1, Ordering::SeqCst);
    let guard = OpenGuard(open);
    let chunks = stream::iter(reply.chunks.into_iter().map(|c| Ok(Bytes::from(c))));
    let tail: stream::LocalBoxStream<'static, Result<Bytes, actix_web::Error>> = match reply.end {
        End::Eof => stream::empty().boxed_local(),
        End::EofAfter(after) => stream::once(tokio::time::sleep(after))
            .filter_map(|()| async { None })
            .boxed_local(),
        End::Abort => stream::once(async {
            // Give the chunks before it a chance to be flushed, so the
            // client sees a connection cut in the middle of an event.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(actix_web::error::ErrorInternalServerError("abort"))
        })
        .boxed_local(),
        End::Hang => stream::pending().boxed_local(),
        End::KeepAlive(every) => stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(b":\n")), ()))
        })
        .boxed_local(),
    };
    chunks.chain(tail).map(move |item| {
        let _ = &guard;
        item
    })
}

/// Waits (bounded, as a failure guard) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A failure guard around a future.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Fast reconnection settings for tests.
pub fn fast(builder: sse_actix::client::ClientBuilder) -> sse_actix::client::ClientBuilder {
    builder
        .initial_delay(Duration::from_millis(5))
        .delay_bounds(Duration::from_millis(1), Duration::from_millis(50))
}
