//! The contract service (`src/bin/contract_service.rs`) under LaunchDarkly's
//! `sse-contract-tests` harness, every test of it, and under our own
//! imitation of the harness for the service's commands: create a stream
//! pointing at a local SSE server, receive the callbacks, restart, delete,
//! stop.
//!
//! Run the harness alone: `cargo test -p sse-tests --test client_contract
//! -- launchdarkly --nocapture` (after `scripts/install-peers.sh`).

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use sse_tests::{Peer, free_port, peer};

/// Held by each test that makes the service carry a multi-megabyte event:
/// the harness allows 5 s per message, and a debug build of the service
/// needs over two seconds for its ~14 MB one; two at once on two cores
/// would make its timing depend on the machine.
static LARGE_EVENTS: Mutex<()> = Mutex::new(());

struct Service(Child);

impl Service {
    /// Waits (bounded) for the service to exit by itself.
    fn exits_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_within(&mut self.0, limit)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("polling a child process") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
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

/// The first callback of the stream reading `/large`.
type Large = Arc<Mutex<Option<Value>>>;

/// The harness side: an SSE endpoint and the callback endpoint.
fn start_harness(callbacks: Log, requests: Requests, large: Large) -> String {
    let server = HttpServer::new(move || {
        let callbacks = Arc::clone(&callbacks);
        let requests = Arc::clone(&requests);
        let large = Arc::clone(&large);
        App::new()
            .app_data(web::JsonConfig::default().limit(2 * LARGE))
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
                        sse_then_silence(vec![bytes::Bytes::from_static(body.as_bytes())])
                    }
                }),
            )
            .route(
                "/large",
                web::get().to(|| async {
                    // One data line over the library's 8 MiB default event
                    // limit, in two chunks, as the harness sends its largest.
                    let half = "x".repeat(LARGE / 2);
                    sse_then_silence(vec![
                        format!("data: {half}").into(),
                        format!("{half}\n\n").into(),
                    ])
                }),
            )
            .route(
                "/{callback}/{n}",
                web::post().to(
                    move |path: web::Path<(String, String)>, body: web::Json<Value>| {
                        let (callback, n) = path.into_inner();
                        // Only the first stream's callbacks are checked,
                        // and the large event of the third.
                        match callback.as_str() {
                            "callback" => callbacks.lock().unwrap().push((n, body.into_inner())),
                            "callback3" => *large.lock().unwrap() = Some(body.into_inner()),
                            _ => {}
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

/// A 200 event stream of `chunks`, then silence (the connection stays open).
fn sse_then_silence(chunks: Vec<bytes::Bytes>) -> HttpResponse {
    use futures_util::StreamExt as _;
    let chunks = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, actix_web::Error>));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(chunks.chain(futures_util::stream::pending()))
}

/// The size of `/large`'s event: above the client library's default limit.
const LARGE: usize = 10 << 20;

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn harness_commands_drive_the_client() {
    let _serial = LARGE_EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    actix_rt::System::new().block_on(harness_commands());
}

async fn harness_commands() {
    let (mut service, service_url) = start_service();
    let callbacks: Log = Arc::default();
    let requests: Requests = Arc::default();
    let large: Large = Arc::default();
    let harness = start_harness(
        Arc::clone(&callbacks),
        Arc::clone(&requests),
        Arc::clone(&large),
    );
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

    // An event larger than the library's default limit arrives whole.
    let created = http
        .post(&service_url)
        .send_json(&json!({
            "streamUrl": format!("{harness}/large"),
            "callbackUrl": format!("{harness}/callback3"),
        }))
        .await
        .unwrap();
    assert!(created.status().is_success());
    wait_for("the large event", || large.lock().unwrap().is_some()).await;
    let message = large.lock().unwrap().take().unwrap();
    let start: String = message.to_string().chars().take(200).collect();
    assert_eq!(message["kind"], "event", "{start}");
    let data = message["event"]["data"].as_str().unwrap();
    assert!(data.len() == LARGE && data.bytes().all(|b| b == b'x'));

    let stopped = http.delete(&service_url).send().await.unwrap();
    assert_eq!(stopped.status().as_u16(), 204);
    let exit = service.exits_within(Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()), "still running: {exit:?}");
}

/// What the harness printed, test by test.
#[derive(Debug, Default)]
struct HarnessReport {
    /// Leaf tests run (the harness also prints each group's name).
    tests: Vec<String>,
    failed: Vec<String>,
    skipped: Vec<String>,
    /// The harness said the service lacks some optional capability.
    capabilities_missing: bool,
}

impl HarnessReport {
    fn parse(output: &str) -> HarnessReport {
        let started: Vec<&str> = output
            .lines()
            .filter_map(|l| l.strip_prefix('[')?.strip_suffix(']'))
            .collect();
        let tests = started
            .iter()
            .filter(|id| {
                let group = format!("{id}/");
                !started.iter().any(|other| other.starts_with(&group))
            })
            .map(|id| (*id).to_owned())
            .collect();
        let after = |marker: &str| -> Vec<String> {
            output
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix(marker))
                .map(|rest| rest.split(" (").next().unwrap_or(rest).trim().to_owned())
                .collect()
        };
        HarnessReport {
            tests,
            failed: after("FAILED: "),
            skipped: after("SKIPPED: "),
            capabilities_missing: output.contains("does not support the following capabilities"),
        }
    }

    fn passed(&self) -> usize {
        self.tests.len() - self.failed.len() - self.skipped.len()
    }
}

/// Runs the harness against the service at `url`, with a bound; retries on
/// another port if the one picked was taken meanwhile (the harness cannot
/// be given port 0).
fn run_harness(harness: &std::path::Path, url: &str) -> (Option<ExitStatus>, String) {
    for _ in 0..3 {
        let mut child = Command::new(harness)
            .args(["-url", url, "-port", &free_port().to_string()])
            .arg("-stop-service-at-end")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sse-contract-tests");
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let status = wait_within(&mut child, Duration::from_secs(150));
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let output = out.join().unwrap() + &err.join().unwrap();
        if status.is_some() && output.contains("address already in use") {
            continue;
        }
        return (status, output);
    }
    panic!("sse-contract-tests found no free port in 3 tries");
}

#[test]
fn launchdarkly_contract_tests_all_pass_with_every_capability() {
    let Some(harness) = peer(Peer::LdContractTests) else {
        return;
    };
    let _serial = LARGE_EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    let (mut service, url) = start_service();
    let (status, output) = run_harness(&harness, &url);
    let report = HarnessReport::parse(&output);
    let summary = format!(
        "LaunchDarkly sse-contract-tests: {} passed, {} failed, {} skipped, of {}",
        report.passed(),
        report.failed.len(),
        report.skipped.len(),
        report.tests.len()
    );
    eprintln!("{summary}");
    // scripts/test.sh prints it after the run (cargo test hides the output
    // of passing tests).
    if let Some(folder) = harness.parent() {
        let _ = std::fs::write(folder.join("last-run.txt"), format!("{summary}\n"));
    }
    assert!(status.is_some(), "the harness did not finish:\n{output}");
    assert!(
        report.failed.is_empty() && report.skipped.is_empty(),
        "failed: {:?}, skipped: {:?}\n{output}",
        report.failed,
        report.skipped
    );
    assert!(
        !report.capabilities_missing,
        "the service lacks capabilities:\n{output}"
    );
    assert!(status.unwrap().success(), "{output}");
    assert!(report.passed() > 0, "{output}");
    // `-stop-service-at-end` sent `DELETE /`: the service must exit.
    let exit = service.exits_within(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "the service did not stop: {exit:?}"
    );
}

#[test]
fn harness_report_counts_leaf_tests_failures_and_skips() {
    let report = HarnessReport::parse(
        "[a]\n[a/one]\n[a/two]\n  received an unexpected message\n  FAILED: a/two\n[b]\n\
         [b/x]\n  SKIPPED: b/x (test service does not have capability \"restart\")\n[c]\n",
    );
    assert_eq!(report.tests, ["a/one", "a/two", "b/x", "c"]);
    assert_eq!(report.failed, ["a/two"]);
    assert_eq!(report.skipped, ["b/x"]);
    assert_eq!(report.passed(), 2);
    assert!(!report.capabilities_missing);
}
