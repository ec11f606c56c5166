//! `sse listen` against a scripted server: JSON lines, reconnection, headers.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use sse_testkit::scripted::{End, Reply, ScriptedServer, within};

#[actix_web::test]
async fn listen_prints_json_lines_and_reconnects_with_last_event_id() {
    let server = ScriptedServer::start(|req, _| {
        let chunks = match req.last_event_id.as_deref() {
            None => vec!["id: 1\nevent: greet\ndata: hello\n\n".to_owned()],
            Some(_) => vec!["data: two\ndata: lines\n\n".to_owned()],
        };
        Reply::sse(chunks, End::Eof)
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_sse"))
        .args([
            "listen",
            &server.url,
            "--stream",
            "news",
            "-H",
            "X-Token: abc",
        ])
        .args(["-X", "POST", "-d", "{}", "--reconnect"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running sse");
    let stdout = child.stdout.take().unwrap();
    // Read on a thread so the test's runtime keeps serving.
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .take(2)
            .collect::<Result<Vec<_>, _>>()
    });
    let lines = within("two lines", async {
        loop {
            if lines.is_finished() {
                break lines.join().unwrap().unwrap();
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        lines,
        [
            r#"{"type":"greet","data":"hello","id":"1"}"#,
            r#"{"type":"message","data":"two\nlines","id":"1"}"#,
        ]
    );
    let first = &server.requests()[0];
    assert_eq!(
        (first.method.as_str(), first.query.as_str()),
        ("POST", "stream=news")
    );
    assert_eq!(first.header("x-token"), Some("abc"));
    assert_eq!(server.requests()[1].last_event_id.as_deref(), Some("1"));
}

/// Runs `sse ARGS` to its end (bounded), while the test's runtime serves.
async fn run_sse(args: &[&str]) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_sse"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running sse");
    let output = std::thread::spawn(move || child.wait_with_output());
    within("sse to exit", async {
        while !output.is_finished() {
            actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    output.join().unwrap().unwrap()
}

#[actix_web::test]
async fn listen_once_stops_when_the_first_response_ends() {
    let server =
        ScriptedServer::start(|_, _| Reply::sse(vec!["data: only\n\n".to_owned()], End::Eof));
    let output = run_sse(&["listen", &server.url, "--once"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"type\":\"message\",\"data\":\"only\",\"id\":\"\"}\n"
    );
    assert!(stderr.contains("the stream ended"), "{stderr}");
    assert_eq!(server.request_count(), 1);
}

#[actix_web::test]
async fn listen_retries_a_503_and_ends_on_a_401_with_the_reason() {
    let server = ScriptedServer::start(|_, index| match index {
        0 => Reply {
            headers: vec![("retry-after".into(), "0".into())],
            ..Reply::status(503)
        },
        _ => Reply::status(401),
    });
    let output = run_sse(&["listen", &server.url]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 503"), "{stderr}");
    assert!(stderr.contains("reconnecting in"), "{stderr}");
    assert!(
        stderr.contains("HTTP 401 Unauthorized, expected 200 (check the credentials"),
        "{stderr}"
    );
    assert_eq!(server.request_count(), 2);
}

#[actix_web::test]
async fn listen_backs_off_from_a_server_that_ends_every_response_at_once() {
    let server = ScriptedServer::start(|_, _| Reply::sse(vec!["retry: 100\n".into()], End::Eof));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sse"))
        .args(["listen", &server.url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running sse");
    actix_rt::time::sleep(std::time::Duration::from_secs(2)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    // Delays of 100 ms growing 1.5× (±50 % jitter) fit at most 9
    // connections in 2 s, however fast the machine; a constant 100 ms
    // would make about 20.
    let connections = server.request_count();
    assert!((1..=10).contains(&connections), "{connections} connections");
}
