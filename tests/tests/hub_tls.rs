//! The hub over HTTPS and HTTP/2 as browsers and curl use it: a page opens
//! ten `EventSource`s to one origin at once (over HTTP/1.1 a browser holds
//! at most six connections per origin, so the seventh would wait), and
//! `curl --http2` subscribes and publishes.

mod interop_support;

use std::path::Path;
use std::process::Stdio;

use interop_support::browser::Browser;
use interop_support::{GUARD, Harness};
use serde_json::json;
use sse_hub::TlsCertificate;
use sse_tests::{Peer, peer};
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// Opens `sources` EventSources on `many-0` … `many-N`, reports `all-open`
/// once every one is open and `done` with which ones received an event and
/// the protocol the page's requests use.
const MANY_SOURCES_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>many EventSources</title>
<script>
"use strict";
const sources = Number(new URLSearchParams(location.search).get("sources"));
function report(kind, body) {
  return fetch("/test/report?kind=" + kind, { method: "POST", body: JSON.stringify(body) });
}
let opened = 0;
const received = new Map();
for (let i = 0; i < sources; i++) {
  const source = new EventSource("/events?stream=many-" + i);
  source.onopen = () => { if (++opened === sources) report("all-open", { opened }); };
  source.onmessage = async (event) => {
    received.set(i, event.data);
    source.close();
    if (received.size === sources) {
      const version = await (await fetch("/test/http-version")).text();
      const data = [...received.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
      report("done", { data, version });
    }
  };
}
</script>"#;

/// A self-signed certificate for 127.0.0.1 in `dir`, loaded.
fn certificate(dir: &Path) -> std::sync::Arc<TlsCertificate> {
    let generated =
        rcgen::generate_simple_self_signed(["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let (cert, key) = (dir.join("hub.crt"), dir.join("hub.key"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    TlsCertificate::load(cert, key).unwrap()
}

#[actix_web::test]
async fn browser_opens_ten_event_sources_to_one_origin_over_http2() {
    let Some(chromium) = peer(Peer::Chromium) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path()).server_config();
    let mut harness = Harness::start_tls(vec![("/test/many.html", MANY_SOURCES_PAGE)], tls).await;
    let _browser = Browser::open_with(
        &chromium,
        &harness.url("/test/many.html?sources=10"),
        &["--ignore-certificate-errors"],
    );
    assert_eq!(harness.report("all-open").await["opened"], 10);
    for i in 0..10 {
        harness.subscribers(&format!("many-{i}"), 1).await;
    }
    for i in 0..10 {
        let stream = format!("many-{i}");
        harness
            .publish_all(&stream, &[sse_actors::Event::data(format!("to {i}"))])
            .await;
    }
    let done = harness.report("done").await;
    let data: Vec<String> = (0..10).map(|i| format!("to {i}")).collect();
    assert_eq!(done, json!({ "data": data, "version": "HTTP/2.0" }));
}

#[actix_web::test]
async fn curl_subscribes_and_publishes_over_http2() {
    let Some(curl) = peer(Peer::Curl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path()).server_config();
    let harness = Harness::start_tls(Vec::new(), tls).await;
    let url = harness.url("/events?stream=curl");

    // -k: the certificate is self-signed; -N: print each event as it comes;
    // -D -: the response head first.
    let mut subscriber = tokio::process::Command::new(&curl)
        .args(["--http2", "-k", "-sS", "-N", "-D", "-", &url])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    let status = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("curl prints the status line")
        .unwrap();
    assert_eq!(status.as_deref().map(str::trim), Some("HTTP/2 200"));
    harness.subscribers("curl", 1).await;

    let published = tokio::process::Command::new(&curl)
        .args([
            "--http2",
            "-k",
            "-sS",
            "-w",
            "\n%{http_version}",
            "-d",
            "via curl",
            &url,
        ])
        .output()
        .await
        .unwrap();
    assert!(published.status.success(), "{published:?}");
    let output = String::from_utf8_lossy(&published.stdout);
    let (answer, version) = output.rsplit_once('\n').expect("body, then the version");
    assert_eq!(version, "2", "curl used HTTP/2: {output}");
    let answer = serde_json::from_str::<serde_json::Value>(answer).unwrap();
    let id = answer["id"].as_str().unwrap_or_default();
    assert_eq!(sse_testkit::seq_of(id), "1", "{answer}");
    assert_eq!(
        answer,
        json!({"stream": "curl", "id": id, "seq": 1, "duplicate": false})
    );

    let event = tokio::time::timeout(GUARD, async {
        let mut seen = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "data: via curl" {
                return seen;
            }
            seen.push(line);
        }
        panic!("the stream ended before the event: {seen:?}")
    })
    .await
    .expect("the event reaches curl");
    assert_eq!(
        event.last().and_then(|line| line.strip_prefix("id: ")),
        Some(id),
        "{event:?}"
    );
    subscriber.kill().await.unwrap();
}
