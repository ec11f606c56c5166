//! Fan-out throughput of one stream to 1, 1k and 10k subscribers that drain
//! as fast as they can, in process (no HTTP), and the allocations each
//! delivery costs.
//!
//! Run: `cargo bench -p sse-actors --bench fanout`

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::Arbiter;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt as _;
use sse_actors::{Event, Server, StreamHandle, SubscribeRequest};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::sync::Notify;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Events published per measured batch.
const BATCH: u64 = 100;

/// The longest round (the allocation count with one subscriber). Subscriber
/// queues hold a whole round, so a consumer that falls behind the publisher
/// is measured rather than disconnected as lagged.
const LONGEST_ROUND: u64 = 10_000;

/// One stream on its own arbiter, `n` subscribers draining on another.
struct Rig {
    stream: StreamHandle,
    server: Server,
    consumers: Arbiter,
    delivered: Arc<AtomicU64>,
    expected: Arc<AtomicU64>,
    notify: Arc<Notify>,
    /// Subscriptions that ended early; any is a broken run, not a slow one.
    ended: Arc<AtomicU64>,
    subscribers: u64,
}

impl Rig {
    async fn new(subscribers: u64) -> Rig {
        let server = Server::builder()
            .arbiters(1)
            .keep_alive(None)
            .auto_replay(false)
            .subscriber_queue(LONGEST_ROUND as usize)
            .build();
        let stream = server.create_stream("bench").await.unwrap();
        let consumers = Arbiter::new();
        let delivered = Arc::new(AtomicU64::new(0));
        let expected = Arc::new(AtomicU64::new(u64::MAX));
        let notify = Arc::new(Notify::new());
        let ended = Arc::new(AtomicU64::new(0));
        for _ in 0..subscribers {
            let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
            let (delivered, expected, notify, ended) = (
                delivered.clone(),
                expected.clone(),
                notify.clone(),
                ended.clone(),
            );
            consumers.spawn(async move {
                while let Some(frame) = sub.next().await {
                    std::hint::black_box(frame);
                    if delivered.fetch_add(1, Ordering::AcqRel) + 1
                        == expected.load(Ordering::Acquire)
                    {
                        notify.notify_one();
                    }
                }
                ended.fetch_add(1, Ordering::AcqRel);
                notify.notify_one();
            });
        }
        Rig {
            stream,
            server,
            consumers,
            delivered,
            expected,
            notify,
            ended,
            subscribers,
        }
    }

    /// Publishes `events` and waits until every subscriber has read them.
    /// Panics if a subscription ends instead, rather than wait forever.
    async fn round(&self, events: u64, event: &Event) {
        assert!(events <= LONGEST_ROUND, "raise LONGEST_ROUND to {events}");
        let target = self.delivered.load(Ordering::Acquire) + events * self.subscribers;
        self.expected.store(target, Ordering::Release);
        for _ in 0..events {
            self.stream.publish(event.clone()).await.unwrap();
        }
        while self.delivered.load(Ordering::Acquire) < target {
            let ended = self.ended.load(Ordering::Acquire);
            assert_eq!(ended, 0, "{ended} subscriptions ended mid-benchmark");
            let notified = self.notify.notified();
            if self.delivered.load(Ordering::Acquire) >= target {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(5), notified).await;
        }
    }

    async fn close(self) {
        self.server.close().await;
        self.consumers.stop();
    }
}

fn fanout(c: &mut Criterion) {
    let system = actix::System::new();
    let event = Event::new(
        "tick",
        "a typical small payload of about sixty bytes, JSON or so..",
    );
    let mut group = c.benchmark_group("fanout");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    for subscribers in [1u64, 1_000, 10_000] {
        let rig = system.block_on(Rig::new(subscribers));
        // Warm the queues to their steady-state capacity with a round of
        // the measured size (events published together are queued together),
        // then count allocations over the measured run.
        let events = if subscribers == 1 { LONGEST_ROUND } else { 200 };
        system.block_on(rig.round(events, &event));
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        system.block_on(rig.round(events, &event));
        let elapsed = start.elapsed();
        let change = region.change();
        let deliveries = events * subscribers;
        println!(
            "fanout/{subscribers}: {:.0} deliveries/s; {:.3} allocations and {:.1} bytes per delivery \
             ({:.2} allocations and {:.0} bytes per event)",
            deliveries as f64 / elapsed.as_secs_f64(),
            change.allocations as f64 / deliveries as f64,
            change.bytes_allocated as f64 / deliveries as f64,
            change.allocations as f64 / events as f64,
            change.bytes_allocated as f64 / events as f64,
        );
        group.throughput(Throughput::Elements(BATCH * subscribers));
        group.bench_with_input(
            BenchmarkId::from_parameter(subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| system.block_on(rig.round(BATCH, &event)));
            },
        );
        system.block_on(rig.close());
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
