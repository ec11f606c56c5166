//! Allocations of the fan-out itself, without the runtime's wake-ups: the
//! subscribers do not read (so no consumer task is woken), their queues
//! were grown (and emptied) beforehand, and the allocations of 100 events to N
//! subscribers are counted. Whatever grows with N would be a per-delivery
//! cost of this crate.
//!
//! Run: `cargo run --release -p sse-actors --example alloc_per_delivery [N]`

use std::alloc::System;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sse_actors::{Event, Server, StreamHandle, SubscribeRequest};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const EVENTS: usize = 100;

async fn publish_and_settle(stream: &StreamHandle, events: usize) {
    for _ in 0..events {
        stream
            .publish(Event::data("x"))
            .await
            .expect("stream is open");
    }
    while stream.info().buffered > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    actix::System::new().block_on(async move {
        let server = Server::builder()
            .arbiters(1)
            .keep_alive(None)
            .auto_replay(false)
            .build();
        let stream = server.create_stream("s").await.expect("server is open");
        let mut subs = Vec::with_capacity(n);
        for _ in 0..n {
            subs.push(
                stream
                    .subscribe(SubscribeRequest::new())
                    .await
                    .expect("subscribe"),
            );
        }
        // Grow every queue past what the measured run needs, then empty it
        // (it keeps its capacity).
        publish_and_settle(&stream, 2 * EVENTS).await;
        let mut cx = Context::from_waker(Waker::noop());
        let mut frames = Vec::new();
        for sub in &mut subs {
            while let Poll::Ready(1..) = sub.poll_next_many(&mut cx, &mut frames, usize::MAX) {
                frames.clear();
            }
        }
        let region = Region::new(GLOBAL);
        publish_and_settle(&stream, EVENTS).await;
        let change = region.change();
        let deliveries = (EVENTS * n) as f64;
        println!(
            "{n} subscribers, {EVENTS} events: {:.2} allocations and {:.0} bytes per event, \
             {:.5} allocations and {:.3} bytes per delivery",
            change.allocations as f64 / EVENTS as f64,
            change.bytes_allocated as f64 / EVENTS as f64,
            change.allocations as f64 / deliveries,
            change.bytes_allocated as f64 / deliveries,
        );
        drop(subs);
        server.close().await;
    });
}
