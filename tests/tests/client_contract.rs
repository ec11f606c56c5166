//! Plays the `sse-contract-tests` harness against our contract service for a
//! few commands: create a stream pointing at a local SSE server, receive the
//! callbacks, restart, delete.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_service() -> (Service, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_contract_service"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the contract service");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    (Service(child), url)
}

type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// What the SSE endpoint saw of one request.
#[derive(Clone, Debug, Default, PartialEq)]
struct Seen {
    method: String,
    body: String,
    last_event_id: Option<String>,
    content_type: Option<String>,
    x_test: Option<String>,
}

type Requests = Arc<Mutex<Vec<Seen>>>;

/// The harness side: an SSE endpoint and the callback endpoint.
fn start_harness(callbacks: Log, requests: Requests) -> String {
    let server = HttpServer::new(move || {
        let callbacks = Arc::clone(&callbacks);
        let requests = Arc::clone(&requests);
        App::new()
            .route(
                "/stream",
                web::to(move |req: HttpRequest, body: bytes::Bytes| {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .map(|v| v.to_str().unwrap().to_owned())
                    };
                    requests.lock().unwrap().push(Seen {
                        method: req.method().to_string(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        last_event_id: header("last-event-id"),
                        content_type: header("content-type"),
                        x_test: header("x-test"),
                    });
                    async move {
                        let body = "\u{feff}: hi\r\nid: 1\r\nevent: put\r\ndata: hello\r\n\r\n";
                        let tail = futures_util::stream::pending::<
                            Result<bytes::Bytes, actix_web::Error>,
                        >();
                        let head = futures_util::stream::once(async move {
                            Ok::<_, actix_web::Error>(bytes::Bytes::from_static(body.as_bytes()))
                        });
                        use futures_util::StreamExt as _;
                        HttpResponse::Ok()
                            .content_type("text/event-stream")
                            .streaming(head.chain(tail))
                    }
                }),
            )
            .route(
                "/{callback}/{n}",
                web::post().to(
                    move |path: web::Path<(String, String)>, body: web::Json<Value>| {
                        let (callback, n) = path.into_inner();
                        // Only the first stream's callbacks are checked.
                        if callback == "callback" {
                            callbacks.lock().unwrap().push((n, body.into_inner()));
                        }
                        async { HttpResponse::Accepted().finish() }
                    },
                ),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    actix_rt::spawn(server.run());
    url
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[actix_web::test]
async fn harness_commands_drive_the_client() {
    let (_service, service_url) = start_service();
    let callbacks: Log = Arc::default();
    let requests: Requests = Arc::default();
    let harness = start_harness(Arc::clone(&callbacks), Arc::clone(&requests));
    let http = awc::Client::default();

    let mut status = http.get(&service_url).send().await.unwrap();
    let status: Value = status.json().await.unwrap();
    for capability in [
        "comments",
        "restart",
        "read-timeout",
        "last-event-id",
        "post",
    ] {
        assert!(
            status["capabilities"]
                .as_array()
                .unwrap()
                .contains(&json!(capability))
        );
    }

    let created = http
        .post(&service_url)
        .send_json(&json!({
            "streamUrl": format!("{harness}/stream"),
            "callbackUrl": format!("{harness}/callback"),
            "tag": "smoke",
            "initialDelayMs": 10,
            "headers": {"x-test": "1"},
        }))
        .await
        .unwrap();
    assert!(created.status().is_success());
    let location = created
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let stream_url = format!("{service_url}{location}");

    wait_for("two callbacks", || callbacks.lock().unwrap().len() >= 2).await;
    assert_eq!(
        callbacks.lock().unwrap()[..2],
        [
            ("1".to_owned(), json!({"kind": "comment", "comment": "hi"})),
            (
                "2".to_owned(),
                json!({"kind": "event", "event": {"type": "put", "data": "hello", "id": "1"}})
            ),
        ]
    );

    let restarted = http
        .post(&stream_url)
        .send_json(&json!({"command": "restart"}))
        .await
        .unwrap();
    assert!(restarted.status().is_success());
    wait_for("a second connection", || {
        requests.lock().unwrap().len() >= 2
    })
    .await;
    let seen = requests.lock().unwrap().clone();
    let get = Seen {
        method: "GET".into(),
        x_test: Some("1".into()),
        ..Seen::default()
    };
    let resumed = Seen {
        last_event_id: Some("1".into()),
        ..get.clone()
    };
    assert_eq!(seen[..2], [get, resumed]);

    let unknown = http
        .post(&stream_url)
        .send_json(&json!({"command": "dance"}))
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 400);
    let deleted = http.delete(&stream_url).send().await.unwrap();
    assert!(deleted.status().is_success());
    let again = http.delete(&stream_url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);

    // A REPORT with a body, an initial Last-Event-ID and a read timeout.
    let created = http
        .post(&service_url)
        .send_json(&json!({
            "streamUrl": format!("{harness}/stream"),
            "callbackUrl": format!("{harness}/callback2"),
            "method": "REPORT",
            "body": "{\"q\":1}",
            "lastEventId": "abc",
            "readTimeoutMs": 200,
        }))
        .await
        .unwrap();
    assert!(created.status().is_success());
    // The harness endpoint goes silent after its event: the read timeout
    // makes the client reconnect, resuming from the event's ID.
    wait_for("a read-timeout reconnection", || {
        requests.lock().unwrap().len() >= 4
    })
    .await;
    let seen = requests.lock().unwrap().clone();
    let report = Seen {
        method: "REPORT".into(),
        body: "{\"q\":1}".into(),
        last_event_id: Some("abc".into()),
        content_type: Some("text/plain".into()),
        x_test: None,
    };
    let resumed = Seen {
        last_event_id: Some("1".into()),
        ..report.clone()
    };
    assert_eq!(seen[2..4], [report, resumed]);

    let stopped = http.delete(&service_url).send().await.unwrap();
    assert!(stopped.status().is_success());
}
