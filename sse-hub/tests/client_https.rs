//! `sse listen` and `sse publish` over HTTPS, against `sse hub --tls-cert`
//! with a certificate authority made by the test.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sse_testkit::test_ca::TestCa;
use support::hub_process::Hub;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn tls_hub(dir: &Path, ca: &TestCa) -> Hub {
    let cert = write(dir, "server.pem", &ca.server.cert_pem);
    let key = write(dir, "server.key", &ca.server.key_pem);
    Hub::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
}

#[test]
fn listen_and_publish_speak_https_to_a_hub_whose_root_was_added() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("sse-rs test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.ca_pem);
    let hub = tls_hub(dir.path(), &ca);
    assert_eq!(hub.scheme, "https");
    let mut listen = Command::new(env!("CARGO_BIN_EXE_sse"))
        .args(["listen", &hub.url("/events"), "--stream", "news"])
        .arg("--cacert")
        .arg(&ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Publish once the listener is connected, so it gets the event live.
    let stderr = BufReader::new(listen.stderr.take().unwrap());
    let connected = std::thread::spawn(move || {
        stderr
            .lines()
            .map_while(Result::ok)
            .any(|line| line == "sse: connected")
    });
    let started = Instant::now();
    while !connected.is_finished() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        connected.is_finished() && connected.join().unwrap(),
        "sse listen did not connect"
    );

    let published = Command::new(env!("CARGO_BIN_EXE_sse"))
        .args(["publish", &hub.url(""), "news"])
        .arg("--cacert")
        .arg(&ca_file)
        .arg("over TLS")
        .output()
        .unwrap();
    assert!(published.status.success(), "{published:?}");
    let id = String::from_utf8(published.stdout).unwrap();

    let mut line = String::new();
    let stdout = listen.stdout.take().unwrap();
    let reader =
        std::thread::spawn(move || BufReader::new(stdout).read_line(&mut line).map(|_| line));
    let started = Instant::now();
    while !reader.is_finished() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = listen.kill();
    let _ = listen.wait();
    let line = reader.join().unwrap().unwrap();
    assert_eq!(
        line.trim(),
        format!(
            r#"{{"type":"message","data":"over TLS","id":"{}"}}"#,
            id.trim()
        )
    );
}

#[test]
fn listen_stops_at_once_on_a_certificate_it_does_not_trust() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("sse-rs test CA");
    let hub = tls_hub(dir.path(), &ca);
    let mut listen = Command::new(env!("CARGO_BIN_EXE_sse"))
        .args(["listen", &hub.url("/events")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = listen.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = listen.kill();
            panic!("sse listen kept retrying an untrusted certificate");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut listen.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("TLS certificate refused"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
}

/// The README's `sse listen https://…` example, against a local TLS server.
#[actix_web::test]
async fn the_readme_llm_example_streams_one_completion_over_https() {
    use sse_testkit::scripted::{End, Reply, ScriptedServer, within};
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("sse-rs test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.ca_pem);
    let server = ScriptedServer::start_tls(ca.server_config(false), |_, _| {
        Reply::sse(
            vec!["data: Hel\n\n".into(), "data: lo\n\n".into()],
            End::Eof,
        )
    });
    let args = vec![
        "listen".to_owned(),
        format!("{}/v1/chat", server.url),
        "-H".into(),
        "Authorization: Bearer KEY".into(),
        "-H".into(),
        "Content-Type: application/json".into(),
        "-d".into(),
        r#"{"stream":true}"#.into(),
        "--idle-timeout".into(),
        "60s".into(),
        "--cacert".into(),
        ca_file.display().to_string(),
    ];
    let run = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_sse"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    });
    within("sse listen to exit", async {
        while !run.is_finished() {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let output = run.join().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"type\":\"message\",\"data\":\"Hel\",\"id\":\"\"}\n\
         {\"type\":\"message\",\"data\":\"lo\",\"id\":\"\"}\n"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "the completion is requested once");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/v1/chat");
    assert_eq!(requests[0].header("authorization"), Some("Bearer KEY"));
    assert_eq!(&requests[0].body[..], br#"{"stream":true}"#);
}
