//! Many publishers and subscribers on several threads: every subscriber sees
//! every event exactly once and in sequence order, or is disconnected by the
//! slow-subscriber policy and told so (having seen a gapless prefix).

mod common;

use std::collections::HashMap;

use actix::Arbiter;
use bytes::Bytes;
use common::*;
use futures_util::StreamExt as _;
use sse_actors::{EndReason, Event, Server, SubscribeRequest, Subscription};
use tokio::sync::oneshot;

const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 250;
const TOTAL: usize = PUBLISHERS * PER_PUBLISHER;

/// Parses `id: EPOCH-N\ndata: p-i\n\n`.
fn parse(frame: &Bytes) -> (u64, usize, usize) {
    let text = std::str::from_utf8(frame).unwrap();
    let mut lines = text.lines();
    let id = lines.next().unwrap().strip_prefix("id: ").unwrap();
    let seq = id.rsplit_once('-').unwrap().1.parse().unwrap();
    let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
    let (p, i) = data.split_once('-').unwrap();
    (seq, p.parse().unwrap(), i.parse().unwrap())
}

/// Checks a subscriber's frames: sequence 1, 2, 3…, and each publisher's
/// events in the order it published them.
fn check_in_order(frames: &[Bytes]) {
    let mut next_of: HashMap<usize, usize> = HashMap::new();
    for (n, frame) in frames.iter().enumerate() {
        let (seq, p, i) = parse(frame);
        assert_eq!(seq, n as u64 + 1, "gap or duplicate at frame {n}");
        let expected = next_of.entry(p).or_insert(0);
        assert_eq!(i, *expected, "publisher {p} out of order");
        *expected += 1;
    }
}

async fn run(
    server: Server,
    subscribers: usize,
    take: usize,
) -> Vec<(Vec<Bytes>, Option<EndReason>)> {
    let stream = server.create_stream("s").await.unwrap();
    // Consumers on their own arbiters, as HTTP workers would be.
    let consumer_arbiters: Vec<Arbiter> = (0..2).map(|_| Arbiter::new()).collect();
    let mut results = Vec::new();
    for n in 0..subscribers {
        let mut sub: Subscription = stream.subscribe(SubscribeRequest::new()).await.unwrap();
        let (tx, rx) = oneshot::channel();
        consumer_arbiters[n % 2].spawn(async move {
            let mut frames = Vec::new();
            while frames.len() < take {
                match sub.next().await {
                    Some(frame) => frames.push(frame),
                    None => break,
                }
            }
            let _ = tx.send((frames, sub.end_reason()));
        });
        results.push(rx);
    }
    let publisher_arbiters: Vec<Arbiter> = (0..PUBLISHERS).map(|_| Arbiter::new()).collect();
    let mut published = Vec::new();
    for (p, arbiter) in publisher_arbiters.iter().enumerate() {
        let stream = stream.clone();
        let (tx, rx) = oneshot::channel();
        arbiter.spawn(async move {
            for i in 0..PER_PUBLISHER {
                stream
                    .publish(Event::data(format!("{p}-{i}")))
                    .await
                    .unwrap();
            }
            let _ = tx.send(());
        });
        published.push(rx);
    }
    for done in published {
        guarded("publishers", done).await.unwrap();
    }
    let mut out = Vec::new();
    for rx in results {
        out.push(guarded("subscribers", rx).await.unwrap());
    }
    for arbiter in consumer_arbiters.iter().chain(&publisher_arbiters) {
        arbiter.stop();
    }
    server.close().await;
    all_freed(&server).await;
    out
}

#[actix_rt::test]
async fn every_subscriber_sees_every_event_exactly_once_in_order() {
    let server = Server::builder()
        .arbiters(2)
        .keep_alive(None)
        .subscriber_queue(TOTAL)
        .build();
    for (frames, end) in run(server, 50, TOTAL).await {
        assert_eq!(end, None);
        assert_eq!(frames.len(), TOTAL);
        check_in_order(&frames);
    }
}

#[actix_rt::test]
async fn slow_subscribers_are_disconnected_and_told() {
    let server = Server::builder()
        .arbiters(2)
        .keep_alive(None)
        .subscriber_queue(8)
        .build();
    for (frames, end) in run(server, 20, TOTAL).await {
        check_in_order(&frames);
        if frames.len() < TOTAL {
            assert_eq!(
                end,
                Some(EndReason::Lagged),
                "a short subscriber must be told why"
            );
        }
    }
}

/// Auto-streams retire when their last subscriber leaves and are created
/// again by the next subscriber: under concurrent churn on several threads
/// every subscribe still succeeds and nothing is left behind.
#[actix_rt::test]
async fn auto_stream_churn_never_fails_a_subscribe() {
    let server = Server::builder()
        .arbiters(2)
        .keep_alive(None)
        .auto_stream(true)
        .auto_replay(false)
        .build();
    let arbiters: Vec<Arbiter> = (0..2).map(|_| Arbiter::new()).collect();
    let mut done = Vec::new();
    for task in 0..8 {
        let server = server.clone();
        let (tx, rx) = oneshot::channel();
        arbiters[task % 2].spawn(async move {
            let mut failures = Vec::new();
            for round in 0..50 {
                let name = if round % 2 == 0 { "shared" } else { "other" };
                match server.subscribe(name, SubscribeRequest::new()).await {
                    Ok(sub) => drop(sub),
                    Err(e) => failures.push(e),
                }
            }
            let _ = tx.send(failures);
        });
        done.push(rx);
    }
    for rx in done {
        assert_eq!(guarded("churn", rx).await.unwrap(), []);
    }
    for arbiter in &arbiters {
        arbiter.stop();
    }
    eventually("idle auto-streams to retire", || {
        server.stats().streams == 0
    })
    .await;
    server.close().await;
    all_freed(&server).await;
}
