//! A fixed fan-out for instruction counting (valgrind callgrind counts the
//! same on a busy machine as on a quiet one): `EVENTS` events published to
//! `N` subscribers that drain on another arbiter, as in the `fanout` bench.
//! Two runs with different `EVENTS` and the same `N` give, by difference,
//! the instructions of one event and one delivery without the set-up.
//!
//! Run: `valgrind --tool=callgrind target/release/examples/fanout_count N EVENTS`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::Arbiter;
use futures_util::StreamExt as _;
use sse_actors::{Event, Server, SubscribeRequest};
use tokio::sync::Notify;

/// Events published between two waits for the subscribers, so that queues
/// stay short and no subscriber is cut as lagged.
const ROUND: u64 = 100;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().ok());
    let n = args.next().flatten().unwrap_or(1_000);
    let events = args.next().flatten().unwrap_or(1_000);
    actix::System::new().block_on(async move {
        let server = Server::builder()
            .arbiters(1)
            .keep_alive(None)
            .auto_replay(false)
            .subscriber_queue(10_000)
            .build();
        let stream = server.create_stream("count").await.expect("server is open");
        let consumers = Arbiter::new();
        let delivered = Arc::new(AtomicU64::new(0));
        let expected = Arc::new(AtomicU64::new(u64::MAX));
        let notify = Arc::new(Notify::new());
        for _ in 0..n {
            let mut sub = stream
                .subscribe(SubscribeRequest::new())
                .await
                .expect("subscribe");
            let (delivered, expected, notify) =
                (delivered.clone(), expected.clone(), notify.clone());
            consumers.spawn(async move {
                while let Some(frame) = sub.next().await {
                    std::hint::black_box(frame);
                    if delivered.fetch_add(1, Ordering::AcqRel) + 1
                        == expected.load(Ordering::Acquire)
                    {
                        notify.notify_one();
                    }
                }
            });
        }
        let event = Event::new(
            "tick",
            "a typical small payload of about sixty bytes, JSON or so..",
        );
        let mut published = 0;
        while published < events {
            let round = ROUND.min(events - published);
            expected.store((published + round) * n, Ordering::Release);
            for _ in 0..round {
                stream.publish(event.clone()).await.expect("stream is open");
            }
            published += round;
            while delivered.load(Ordering::Acquire) < published * n {
                notify.notified().await;
            }
        }
        println!("{n} subscribers, {events} events delivered");
        server.close().await;
        consumers.stop();
    });
}
