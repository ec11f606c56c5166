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
        .args(["--method", "POST", "--data", "{}"])
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
