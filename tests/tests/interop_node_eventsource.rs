//! A client from another ecosystem: the npm `eventsource` package under
//! node, driven by tests/peers/eventsource_client.cjs, which prints what it
//! receives as JSON lines.

mod interop_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use interop_support::{
    CUSTOM_TYPE, GUARD, Harness, assert_same_events, expected, hard_events, numbered,
};
use serde_json::Value;
use sse_tests::{Peer, peer};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

struct NodeClient {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl NodeClient {
    fn start(modules: &Path, url: &str, count: usize) -> NodeClient {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/eventsource_client.cjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg(modules)
            .arg(url)
            .arg(count.to_string())
            .arg(CUSTOM_TYPE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting node");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        NodeClient {
            _child: child,
            lines,
        }
    }

    /// The next line the client printed.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(GUARD, self.lines.next_line())
            .await
            .expect("node prints within the guard time")
            .unwrap()
            .expect("node is still running");
        serde_json::from_str(&line).unwrap_or_else(|error| {
            let start: String = line.chars().take(200).collect();
            panic!("not JSON ({error}): {start}… ({} bytes)", line.len())
        })
    }

    /// Events until `n` arrived, counting connections opened on the way.
    async fn events(&mut self, n: usize) -> (Vec<Value>, usize) {
        let (mut events, mut opens) = (Vec::new(), 0);
        while events.len() < n {
            let line = self.next().await;
            if line.get("open").is_some() {
                opens += 1;
            } else if line.get("type").is_some() {
                events.push(line);
            }
        }
        (events, opens)
    }

    async fn opened(&mut self) {
        while self.next().await.get("open").is_none() {}
    }
}

#[actix_web::test]
async fn node_eventsource_receives_hard_payloads_exactly() {
    let Some(modules) = peer(Peer::NodeEventSource) else {
        return;
    };
    let harness = Harness::start(vec![]).await;
    harness.server.create_stream("hard").await.unwrap();
    let events = hard_events();
    let mut node = NodeClient::start(&modules, &harness.url("/events?stream=hard"), events.len());
    node.opened().await;
    harness.publish_all("hard", &events).await;
    let (received, reopened) = node.events(events.len()).await;
    assert_same_events(&received, &expected(&events));
    assert_eq!(reopened, 0, "no reconnect");
}

#[actix_web::test]
async fn node_eventsource_reconnects_and_receives_exactly_the_missed_events() {
    let Some(modules) = peer(Peer::NodeEventSource) else {
        return;
    };
    let mut harness = Harness::start(vec![]).await;
    harness.server.create_stream("resume").await.unwrap();
    let mut node = NodeClient::start(&modules, &harness.url("/events?stream=resume"), 6);
    node.opened().await;
    harness.publish_all("resume", &numbered(1..=3)).await;
    let (first, _) = node.events(3).await;

    harness.kill().await;
    harness.subscribers("resume", 0).await;
    harness.publish_all("resume", &numbered(4..=6)).await;
    harness.restart();

    let (rest, reopened) = node.events(3).await;
    let all: Vec<Value> = first.into_iter().chain(rest).collect();
    assert_same_events(&all, &expected(&numbered(1..=6)));
    assert_eq!(reopened, 1, "the client reconnected once");
    let ids: Vec<Option<String>> = harness
        .last_event_ids
        .lock()
        .unwrap()
        .iter()
        .map(|id| id.as_deref().map(|id| sse_testkit::seq_of(id).to_owned()))
        .collect();
    assert_eq!(
        ids,
        [None, Some("3".to_owned())],
        "the reconnect sent Last-Event-ID: 3"
    );
}
