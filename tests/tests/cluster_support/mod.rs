//! A throwaway `redis-server`, hub nodes in this process sharing it, and an
//! SSE reader, for the cluster tests.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpMessage as _, HttpServer};
use futures_util::StreamExt as _;
use sse_actix::server::Sse;
use sse_actors::{FirstReplay, Server};
use sse_hub::{Hub, HubConfig};
use sse_proto::{Decoder, Event, Frame};
use sse_redis::{RedisBackplane, RedisOptions};
use sse_tests::{Peer, free_port, peer};

/// Failure guard for every wait; never a measured duration.
pub const GUARD: Duration = Duration::from_secs(20);

/// A `redis-server` on its own port and directory, killed on drop.
pub struct Redis {
    binary: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    durable: bool,
    child: Option<Child>,
}

impl Redis {
    /// Starts one, or `None` (test skipped) when redis-server is missing.
    /// `durable` turns on the append-only file with an fsync per write, so
    /// a restart keeps every acknowledged event.
    pub fn start(durable: bool) -> Option<Redis> {
        let binary = peer(Peer::RedisServer)?;
        let mut redis = Redis {
            binary,
            port: free_port(),
            dir: tempfile::tempdir().expect("temporary directory"),
            durable,
            child: None,
        };
        redis.spawn();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(self.dir.path());
        if self.durable {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        self.child = Some(child);
        wait_for_pong(self.port, self.dir.path());
    }

    /// Kills the server (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The answer to a command answered with an integer (`XLEN`, `HLEN`),
    /// over a plain connection: the tests look at what Redis holds.
    pub fn integer(&self, args: &[&str]) -> i64 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to Redis");
        stream.set_read_timeout(Some(GUARD)).expect("read timeout");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).expect("send to Redis");
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            stream.read_exact(&mut byte).expect("Redis answers");
            reply.push(byte[0]);
        }
        let reply = String::from_utf8(reply).expect("a text answer");
        reply
            .strip_prefix(':')
            .and_then(|n| n.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("{args:?} answered {reply:?}, not an integer"))
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for_pong(port: u16, dir: &Path) {
    let deadline = Instant::now() + GUARD;
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut reply = [0u8; 7];
            if stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && &reply == b"+PONG\r\n"
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on port {port} (dir {}) did not answer PING",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One hub node: an actix System on its own thread, as `sse hub --redis`
/// runs it.
pub struct Node {
    pub port: u16,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    pub fn start(redis_url: &str) -> Node {
        Node::start_with(redis_url, RedisOptions::default())
    }

    /// A node whose backplane has `options`.
    pub fn start_with(redis_url: &str, options: RedisOptions) -> Node {
        Node::start_hub(redis_url, options, HubConfig::default())
    }

    /// A node whose backplane has `options` and whose hub has `config`.
    pub fn start_hub(redis_url: &str, options: RedisOptions, config: HubConfig) -> Node {
        let url = redis_url.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let backplane = RedisBackplane::new(&url, options).expect("valid Redis URL");
                let server = Server::builder()
                    .auto_stream(true)
                    .arbiters(1)
                    .keep_alive(Some(Duration::from_secs(1)))
                    // `sse hub`'s default: a new client gets live events only.
                    .first_replay(FirstReplay::Nothing)
                    .backplane(Arc::new(backplane))
                    .build();
                // Several streams per connection, as `sse hub` allows.
                let sse = Sse::new(server.clone()).max_streams_per_connection(32);
                let hub = Hub::new(sse, config);
                // As `sse hub --redis` does: with `--subscriptions`, listed cluster-wide.
                hub.share_subscriptions(&url).expect("valid Redis URL");
                let listener =
                    std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
                let port = listener.local_addr().expect("local address").port();
                let http = HttpServer::new(move || {
                    let hub = hub.clone();
                    App::new().configure(move |cfg| hub.configure(cfg))
                })
                .workers(1)
                .disable_signals()
                .h1_allow_half_closed(false)
                .shutdown_timeout(1)
                .listen(listener)
                .expect("listening")
                .run();
                let handle = http.handle();
                let _ = ready_tx.send(port);
                actix_rt::spawn(async move {
                    // Wait for the stop request off the runtime's thread.
                    let _ = actix_web::rt::task::spawn_blocking(move || stop_rx.recv()).await;
                    server.close().await;
                    handle.stop(false).await;
                });
                let _ = http.await;
            });
        });
        let port = ready_rx.recv_timeout(GUARD).expect("hub node started");
        Node {
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn events_url(&self, stream: &str) -> String {
        format!("http://127.0.0.1:{}/events?stream={stream}", self.port)
    }

    /// `path` (with its query) on this node.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the node as a crash would look to its clients: every
    /// connection ends at once.
    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> awc::Client {
    awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(GUARD)
        .finish()
}

/// Publishes `data` to `stream` on `node`: the HTTP status and the event id.
pub async fn publish(
    client: &awc::Client,
    node: &Node,
    stream: &str,
    data: &str,
) -> (u16, Option<String>) {
    let mut response = client
        .post(node.events_url(stream))
        .send_body(data.to_owned())
        .await
        .expect("publish request");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON answer");
    let id = body["id"].as_str().map(str::to_owned);
    (status, id)
}

/// Publishes the JSON `event` (`{"data","event","id","retry"}`) to
/// `stream` on `node`: the HTTP status and the hub's JSON answer.
pub async fn publish_json(
    client: &awc::Client,
    node: &Node,
    stream: &str,
    event: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut response = client
        .post(node.events_url(stream))
        .send_json(&event)
        .await
        .expect("publish request");
    let status = response.status().as_u16();
    let body = response.json().await.expect("JSON answer");
    (status, body)
}

/// A response body as awc hands it over.
type Body =
    futures_util::stream::LocalBoxStream<'static, Result<bytes::Bytes, awc::error::PayloadError>>;

/// An open event stream and its decoder.
pub struct Listener {
    body: Body,
    decoder: Decoder,
}

impl Listener {
    /// Subscribes; returns once the response head arrived, so the node
    /// already reads the stream.
    pub async fn open(client: &awc::Client, url: &str, last_event_id: Option<&str>) -> Listener {
        let mut request = client.get(url);
        if let Some(id) = last_event_id {
            request = request.insert_header(("Last-Event-ID", id));
        }
        let mut response = request.send().await.expect("subscribe request");
        assert_eq!(response.status().as_u16(), 200, "subscribe to {url}");
        Listener {
            body: response.take_payload().boxed_local(),
            decoder: Decoder::new(),
        }
    }

    /// The next event (comments and retry fields skipped); panics past the
    /// guard or when the stream ends.
    pub async fn next(&mut self) -> Event {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            for frame in self.decoder.by_ref() {
                if let Ok(Frame::Event(event)) = frame {
                    return event;
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event within the guard time")
                .expect("the event stream ended")
                .expect("reading the event stream");
            self.decoder.feed(&chunk);
        }
    }

    /// The next `n` events' `(id, data)`.
    pub async fn take(&mut self, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let event = self.next().await;
            out.push((
                event.id.as_deref().unwrap_or_default().to_owned(),
                event.data.to_string(),
            ));
        }
        out
    }
}
