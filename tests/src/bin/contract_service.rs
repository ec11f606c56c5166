//! A test service for LaunchDarkly's `sse-contract-tests` harness, driving
//! the `sse-actix` client.
//!
//! Run: `cargo run -p sse-tests --bin contract_service -- --port 8000`, then
//! point the harness at `http://localhost:8000`. Port 0 picks a free port;
//! the first stdout line names the address either way.
//!
//! The client is configured as a long-running application would configure
//! it, which is what the harness expects:
//! - every unacceptable response is retried (`HttpErrorPolicy::Retry`); the
//!   library's default retries only 5xx, 408 and 429;
//! - every loss is reconnected after, `POST` and `REPORT` streams too
//!   (`ReconnectPolicy::Always`); the library's default for a request with a
//!   body stops after the response ends, so that a completion is not bought
//!   twice;
//! - events up to 32 MiB are accepted: the harness's largest message is a
//!   ~14 MB `data:` line, over the library's 8 MiB default, which bounds the
//!   memory a hostile server can make each subscription hold.
//!
//! `DELETE /` stops the service (after answering 204): `-stop-service-at-end`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sse_actix::client::{ClientBuilder, Frame, HttpErrorPolicy, ReconnectPolicy};
use tokio::sync::mpsc;

/// The largest event the service's client accepts (see the module docs).
const MAX_EVENT_SIZE: usize = 32 << 20;

const CAPABILITIES: &[&str] = &[
    "bom",
    "comments",
    "headers",
    "last-event-id",
    "post",
    "report",
    "read-timeout",
    "restart",
    "event-type-listeners",
    "server-directed-shutdown-request",
];

/// The "create stream" request body.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamOptions {
    stream_url: String,
    callback_url: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    initial_delay_ms: Option<u64>,
    #[serde(default)]
    read_timeout_ms: Option<u64>,
    #[serde(default)]
    last_event_id: Option<String>,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CommandRequest {
    command: String,
}

enum Command {
    Restart,
}

#[derive(Default)]
struct State {
    next_id: AtomicU64,
    /// Each running stream's command channel; dropping it stops the stream.
    streams: Mutex<HashMap<u64, mpsc::UnboundedSender<Command>>>,
    /// The HTTP server, stopped by `DELETE /`.
    server: OnceLock<ServerHandle>,
}

fn main() -> std::io::Result<()> {
    let port = port_from_args()?;
    actix_rt::System::new().block_on(async move {
        let state = web::Data::new(State::default());
        let server = HttpServer::new({
            let state = state.clone();
            move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(web::JsonConfig::default().limit(1 << 20))
                    .route("/", web::get().to(status))
                    .route("/", web::delete().to(shutdown))
                    .route("/", web::post().to(create))
                    .route("/streams/{id}", web::post().to(command))
                    .route("/streams/{id}", web::delete().to(close))
            }
        })
        .workers(1)
        // In-flight requests get this long once `DELETE /` stopped the
        // server; the harness's idle keep-alive connections are not waited for.
        .shutdown_timeout(1)
        .bind(("127.0.0.1", port))?;
        println!("contract service listening on http://{}", server.addrs()[0]);
        let server = server.run();
        let _ = state.server.set(server.handle());
        server.await
    })
}

fn port_from_args() -> std::io::Result<u16> {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("PORT").ok();
    while let Some(arg) = args.next() {
        if arg == "--port" {
            port = args.next();
        }
    }
    port.as_deref()
        .unwrap_or("8000")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--port: {e}")))
}

async fn status() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "name": "sse-actix", "capabilities": CAPABILITIES }))
}

async fn shutdown(state: web::Data<State>) -> HttpResponse {
    if let Some(server) = state.server.get().cloned() {
        // A graceful stop lets this response be written first; then `run`'s
        // future ends, `main` returns and every stream's task goes with it.
        actix_rt::spawn(async move { server.stop(true).await });
    }
    HttpResponse::NoContent().finish()
}

async fn create(state: web::Data<State>, options: web::Json<StreamOptions>) -> HttpResponse {
    let options = options.into_inner();
    let client = match client_for(&options) {
        Ok(client) => client,
        Err(error) => return HttpResponse::BadRequest().body(error),
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let (commands, receiver) = mpsc::unbounded_channel();
    state
        .streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, commands);
    eprintln!(
        "stream {id} ({}) started",
        options.tag.as_deref().unwrap_or("")
    );
    actix_rt::spawn(run_stream(client, options, receiver));
    HttpResponse::Created()
        .insert_header(("location", format!("/streams/{id}")))
        .finish()
}

async fn command(
    state: web::Data<State>,
    id: web::Path<u64>,
    request: web::Json<CommandRequest>,
) -> HttpResponse {
    let streams = state.streams.lock().unwrap_or_else(|e| e.into_inner());
    let Some(stream) = streams.get(&id) else {
        return HttpResponse::NotFound().finish();
    };
    match request.command.as_str() {
        // Our client delivers every event type without registration.
        "listen" => HttpResponse::Ok().finish(),
        "restart" => {
            let _ = stream.send(Command::Restart);
            HttpResponse::Ok().finish()
        }
        _ => HttpResponse::BadRequest().finish(),
    }
}

async fn close(state: web::Data<State>, id: web::Path<u64>) -> HttpResponse {
    let removed = state
        .streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    match removed {
        Some(_) => HttpResponse::NoContent().finish(),
        None => HttpResponse::NotFound().finish(),
    }
}

fn client_for(options: &StreamOptions) -> Result<sse_actix::Client, String> {
    let mut builder = ClientBuilder::new(&options.stream_url)
        .comments(true)
        .max_event_size(MAX_EVENT_SIZE)
        .http_error_policy(HttpErrorPolicy::Retry)
        .reconnect_policy(ReconnectPolicy::Always);
    if let Some(method) = &options.method {
        let method = awc::http::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("invalid method {method:?}"))?;
        builder = builder.method(method);
    }
    for (name, value) in &options.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &options.body {
        if !options
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "text/plain");
        }
        builder = builder.body(body.clone());
    }
    if let Some(ms) = options.initial_delay_ms {
        let delay = Duration::from_millis(ms);
        builder = builder.initial_delay(delay).delay_bounds(
            delay.min(ClientBuilder::DEFAULT_MIN_DELAY),
            ClientBuilder::DEFAULT_MAX_DELAY,
        );
    }
    if let Some(ms) = options.read_timeout_ms {
        builder = builder.idle_timeout(Duration::from_millis(ms));
    }
    if let Some(id) = &options.last_event_id {
        builder = builder.last_event_id(id.as_str());
    }
    builder.try_build().map_err(|e| e.to_string())
}

/// Runs one client until its command channel closes (DELETE), posting each
/// frame and error to the callback URL, numbered from 1.
async fn run_stream(
    client: sse_actix::Client,
    options: StreamOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let callbacks = awc::Client::default();
    let counter = Arc::new(AtomicU64::new(0));
    let post = |message: Value| {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let url = format!("{}/{n}", options.callback_url.trim_end_matches('/'));
        // Encoded once, here: the harness allows 5 s per message, and its
        // ~14 MB event takes over a second to encode in a debug build.
        let request = callbacks
            .post(url)
            .content_type("application/json")
            .send_body(serde_json::to_vec(&message).unwrap_or_default());
        async move {
            if let Err(error) = request.await {
                eprintln!("callback {n} failed: {error}");
            }
        }
    };
    let mut frames = client.frames();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Restart) => frames.restart(),
            },
            item = frames.next() => match item {
                None => return,
                Some(Ok(Frame::Event(event))) => {
                    let mut body = json!({ "type": event.event_type(), "data": &*event.data });
                    if let Some(id) = &event.id {
                        body["id"] = json!(&**id);
                    }
                    post(json!({ "kind": "event", "event": body })).await;
                }
                Some(Ok(Frame::Comment(text))) => {
                    post(json!({ "kind": "comment", "comment": &*text })).await;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    post(json!({ "kind": "error", "comment": error.to_string() })).await;
                }
            },
        }
    }
}
