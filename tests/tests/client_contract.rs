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

/// The harness side: an SSE endpoint and the callback endpoint.
fn start_harness(callbacks: Log, requests: Arc<Mutex<Vec<Option<String>>>>) -> String {
    let server = HttpServer::new(move || {
        let callbacks = Arc::clone(&callbacks);
        let requests = Arc::clone(&requests);
        App::new()
            .route(
                "/stream",
                web::to(move |req: HttpRequest| {
                    let last = req
                        .headers()
                        .get("last-event-id")
                        .map(|v| v.to_str().unwrap().to_owned());
                    requests.lock().unwrap().push(last);
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
                "/callback/{n}",
                web::post().to(move |n: web::Path<String>, body: web::Json<Value>| {
                    callbacks
                        .lock()
                        .unwrap()
                        .push((n.into_inner(), body.into_inner()));
                    async { HttpResponse::Accepted().finish() }
                }),
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
    let requests = Arc::default();
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
    assert_eq!(requests.lock().unwrap()[..2], [None, Some("1".to_owned())]);

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

    let stopped = http.delete(&service_url).send().await.unwrap();
    assert!(stopped.status().is_success());
}
