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
        .args(["publish", &hub.url(""), "--stream", "news"])
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
