//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use sse_actors::{Server, StatsProbe, Subscription};

/// A failure guard, never a timing assertion.
pub const GUARD: Duration = Duration::from_secs(10);

pub async fn guarded<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(GUARD, f).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The next frame, failing the test if none comes.
pub async fn next(sub: &mut Subscription) -> Option<Bytes> {
    guarded("a frame", sub.next()).await
}

pub async fn next_str(sub: &mut Subscription) -> String {
    let frame = next(sub).await.expect("subscription ended early");
    String::from_utf8(frame.to_vec()).expect("frames are UTF-8")
}

/// Waits until the subscription ends, returning what it delivered meanwhile.
pub async fn drain(sub: &mut Subscription) -> Vec<Bytes> {
    guarded("the subscription to end", sub.collect_frames()).await
}

pub trait CollectFrames {
    fn collect_frames(&mut self) -> impl Future<Output = Vec<Bytes>>;
}

impl CollectFrames for Subscription {
    async fn collect_frames(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(frame) = self.next().await {
            out.push(frame);
        }
        out
    }
}

/// Polls until `done` holds (state settles on other arbiters).
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    guarded(what, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// Waits until every live object of `server` is gone.
pub async fn all_freed(server: &Server) {
    all_freed_probe(&server.stats_probe()).await;
}

/// Waits until every live object counted by `probe` is gone.
pub async fn all_freed_probe(probe: &StatsProbe) {
    let freed = async {
        while probe.stats().live_objects() != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    if tokio::time::timeout(GUARD, freed).await.is_err() {
        panic!("leak: {:?}", probe.stats());
    }
}

/// A test server on the test's own arbiter plus one more, no keep-alive.
pub fn server() -> sse_actors::ServerBuilder {
    Server::builder().arbiters(1).keep_alive(None)
}

// The workspace's one rule for generated ids in tests, shared with
// `sse-testkit` (which these tests cannot depend on: it is built on
// `sse-actix`, above this crate).
#[path = "../../../testkit/src/generated_id.rs"]
mod generated_id;
pub use generated_id::seq_of;

/// A frame as text, its generated `id: EPOCH-SEQ` line (if any) written
/// `id: SEQ`: tests name events by their sequence number, the epoch (a
/// server's start) being different each run.
pub fn by_seq(frame: impl AsRef<[u8]>) -> String {
    let text = String::from_utf8(frame.as_ref().to_vec()).expect("frames are UTF-8");
    let Some(rest) = text.strip_prefix("id: ") else {
        return text;
    };
    let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
    format!("id: {}\n{after}", seq_of(line))
}

/// The id of a frame that leads with one.
pub fn id_of(frame: impl AsRef<[u8]>) -> String {
    let text = std::str::from_utf8(frame.as_ref()).expect("frames are UTF-8");
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("id: ").expect("an id line").to_owned()
}
