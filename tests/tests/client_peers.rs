//! The client against servers from other ecosystems, started by the test:
//! Python's sse-starlette under uvicorn, and nginx with the nchan module.
//! Each test skips (or, under CI=true, fails) when its peer is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::{Client, Error, Event, Frame, FrameStream};
use sse_tests::{Peer, free_port, peer};

/// Kills the peer when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_port(port: u16, child: &mut Running) {
    for _ in 0..1000 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("the peer exited before listening: {status}");
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the peer never listened on port {port}");
}

/// What the client saw, errors rendered by kind, until `events` events.
#[derive(Debug, PartialEq)]
enum Seen {
    Frame(Frame),
    Error(String),
}

async fn collect(frames: &mut FrameStream, events: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    let work = async {
        while seen
            .iter()
            .filter(|s| matches!(s, Seen::Frame(Frame::Event(_))))
            .count()
            < events
        {
            match frames.next().await.expect("the client never stops here") {
                Ok(frame) => seen.push(Seen::Frame(frame)),
                Err(error) => seen.push(Seen::Error(kind(&error))),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .is_err()
    {
        seen.truncate(20);
        panic!("timed out; saw (first 20) {seen:?}");
    }
    seen
}

fn kind(error: &Error) -> String {
    let debug = format!("{error:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn fast(url: String) -> sse_actix::client::ClientBuilder {
    Client::builder(url)
        .comments(true)
        .initial_delay(Duration::from_millis(5))
        .delay_bounds(Duration::from_millis(1), Duration::from_millis(100))
}

#[actix_web::test]
async fn python_sse_starlette_under_uvicorn() {
    let Some(python) = peer(Peer::Python) else {
        return;
    };
    let port = free_port();
    let app_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
    let mut server = Running(
        Command::new(python)
            .args([
                "-m",
                "uvicorn",
                "sse_starlette_app:app",
                "--host",
                "127.0.0.1",
            ])
            .args([
                "--port",
                &port.to_string(),
                "--log-level",
                "warning",
                "--app-dir",
            ])
            .arg(&app_dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting uvicorn"),
    );
    wait_for_port(port, &mut server).await;

    let client = fast(format!("http://127.0.0.1:{port}/events")).build();
    let mut frames = client.frames();
    let seen = collect(&mut frames, 3).await;
    let event = |id: &str, data: &str| Event::data(data).id(id);
    assert_eq!(
        seen,
        [
            Seen::Frame(Frame::Comment("hello".into())),
            Seen::Frame(Frame::Retry(Duration::from_millis(50))),
            Seen::Frame(Frame::Event(
                event("1", "line1\nline2")
                    .event("greet")
                    .retry(Duration::from_millis(50))
            )),
            Seen::Frame(Frame::Event(event("2", "two"))),
            // The app ends the first response: the client resumes from 2.
            Seen::Error("StreamEnded".into()),
            Seen::Frame(Frame::Event(event("3", "three"))),
        ]
    );
    assert_eq!(frames.last_event_id(), "3");
}

struct Nginx {
    dir: PathBuf,
    port: u16,
    _process: Running,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_nginx(nginx: &Path) -> Option<Nginx> {
    let module = std::env::var_os("SSE_NCHAN_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/nginx/modules/ngx_nchan_module.so"));
    if !module.exists() {
        let message = format!("the nchan module is not at {module:?} (set SSE_NCHAN_MODULE)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("sse-client-nchan-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let config = format!(
        r#"load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /pub {{ nchan_publisher; nchan_channel_id test; }}
    location = /sub {{
      nchan_subscriber eventsource;
      nchan_channel_id test;
      nchan_subscriber_first_message oldest;
      nchan_eventsource_ping_interval 0;
    }}
    # nchan writes a close-delimited body, which awc cannot read
    # (actix/actix-web#2287); nginx's own proxy re-chunks it.
    location = /sse {{
      proxy_pass http://127.0.0.1:{port}/sub;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }}
  }}
}}
"#,
        module = module.display()
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let mut process = Running(
        Command::new(nginx)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx"),
    );
    wait_for_port(port, &mut process).await;
    Some(Nginx {
        dir,
        port,
        _process: process,
    })
}

/// Publishes through nchan's publisher location; returns the message ID.
async fn publish(port: u16, event: Option<&str>, data: &'static str) -> String {
    let http = awc::Client::default();
    let mut request = http.post(format!("http://127.0.0.1:{port}/pub"));
    if let Some(event) = event {
        request = request.insert_header(("X-EventSource-Event", event));
    }
    let mut response = request.send_body(data).await.expect("publishing");
    assert!(response.status().is_success(), "{}", response.status());
    let body = response.body().await.unwrap();
    let body = String::from_utf8_lossy(&body);
    body.lines()
        .find_map(|l| l.strip_prefix("last message id: "))
        .unwrap_or_else(|| panic!("no message id in {body:?}"))
        .to_owned()
}

#[actix_web::test]
async fn nginx_nchan_eventsource() {
    let Some(nginx) = peer(Peer::NginxNchan) else {
        return;
    };
    let Some(server) = start_nginx(&nginx).await else {
        return;
    };
    // nchan keeps the CR of a CRLF inside data, which makes that data line
    // end in CRLF on the wire; the other lines end in LF.
    let first = publish(server.port, None, "hello\r\nworld").await;
    let second = publish(server.port, Some("greet"), "two").await;

    // Silence is the only way nchan's stream ends here: the idle timeout
    // makes the client reconnect, and Last-Event-ID must stop nchan from
    // replaying its buffer ("first message: oldest") from the start.
    let client = fast(format!("http://127.0.0.1:{}/sse", server.port))
        .idle_timeout(Duration::from_millis(300))
        .build();
    let mut frames = client.frames();
    let seen = collect(&mut frames, 2).await;
    assert_eq!(
        seen,
        [
            Seen::Frame(Frame::Comment("hi".into())),
            Seen::Frame(Frame::Event(Event::data("hello\nworld").id(first.as_str()))),
            Seen::Frame(Frame::Event(Event::new("greet", "two").id(second.as_str()))),
        ]
    );
    // Publish only once the connection is gone, so the third event can only
    // arrive through the resumed connection.
    let next = tokio::time::timeout(Duration::from_secs(10), frames.next()).await;
    assert!(
        matches!(next, Ok(Some(Err(Error::IdleTimeout(_))))),
        "{next:?}"
    );
    let third = publish(server.port, None, "three").await;
    let seen = collect(&mut frames, 1).await;
    assert_eq!(
        seen,
        [
            Seen::Frame(Frame::Comment("hi".into())),
            Seen::Frame(Frame::Event(Event::data("three").id(third.as_str()))),
        ]
    );
}

#[actix_web::test]
async fn nchan_close_delimited_body_is_a_clear_error() {
    let Some(nginx) = peer(Peer::NginxNchan) else {
        return;
    };
    let Some(server) = start_nginx(&nginx).await else {
        return;
    };
    let client = fast(format!("http://127.0.0.1:{}/sub", server.port)).build();
    let result = tokio::time::timeout(Duration::from_secs(10), client.subscribe_raw(|_| {}))
        .await
        .expect("the client stops");
    assert!(
        matches!(result, Err(Error::CloseDelimitedBody)),
        "{result:?}"
    );
}
